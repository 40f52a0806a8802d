/**
 * The Laravel fixture (test/fixtures/laravel-app) set up as a user sets up an app: a private copy,
 * the GatewayClient package installed by Debian's composer from a path repository (no registry), the
 * framework from Debian's php-laravel-framework, the JavaScript modules the page imports (laravel-echo
 * from node_modules, the connector and the browser client from clients/) under public/js, and
 * `php -S` serving it with the environment `npm start` prints.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

const ROOT = resolve(import.meta.dirname, '../..');

export interface LaravelApp {
  readonly url: string;
  readonly dir: string;
  log(): string;
  stop(): void;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** Copies the fixture, installs the package with composer and starts `php -S` on a free port. */
export async function startLaravelApp(env: Readonly<Record<string, string>>): Promise<LaravelApp> {
  const dir = mkdtempSync(join(tmpdir(), 'sgw-laravel-'));
  cpSync(join(ROOT, 'test/fixtures/laravel-app'), dir, { recursive: true });
  const composerJson = join(dir, 'composer.json');
  writeFileSync(composerJson, readFileSync(composerJson, 'utf8').replace('GATEWAYCLIENT_PATH', join(ROOT, 'clients/php')));
  for (const sub of ['storage/framework/sessions', 'storage/framework/views', 'bootstrap/cache', 'resources/views'])
    mkdirSync(join(dir, sub), { recursive: true });
  const install = spawnSync('composer', ['install', '--no-interaction', '--no-progress'], {
    cwd: dir,
    encoding: 'utf8',
    env: { PATH: '/usr/bin:/bin', HOME: dir, COMPOSER_ALLOW_SUPERUSER: '1' },
  });
  if (install.status !== 0) throw new Error(`composer install failed:\n${install.stdout}\n${install.stderr}`);
  // What the page imports, at the paths of its import map.
  cpSync(join(ROOT, 'node_modules/laravel-echo/dist/echo.js'), join(dir, 'public/js/laravel-echo/echo.js'));
  cpSync(join(ROOT, 'clients/echo'), join(dir, 'public/js/clients/echo'), { recursive: true });
  cpSync(join(ROOT, 'clients/browser'), join(dir, 'public/js/clients/browser'), { recursive: true });
  writeFileSync(join(dir, '.env'), `APP_KEY=base64:${randomBytes(32).toString('base64')}\nBROADCAST_DRIVER=gateway\n`);

  const port = await freePort();
  let log = '';
  const child: ChildProcess = spawn('php', ['-S', `127.0.0.1:${port}`, '-t', 'public', 'public/index.php'], {
    cwd: dir,
    env: { PATH: '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    // The body is read: an unread body php -S ends with the connection trips Node 22's fetch.
    const ok = await fetch(`${url}/js/laravel-echo/echo.js`).then(
      async (r) => (await r.arrayBuffer(), r.ok),
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`php -S did not start:\n${log}`);
    await new Promise((done) => setTimeout(done, 50));
  }
  return {
    url,
    dir,
    log: () => log,
    stop() {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
