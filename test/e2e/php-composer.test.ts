/**
 * clients/php as a Composer package, installed as a PHP app installs it before it is on a public
 * registry: Debian's composer, a `path` repository, Packagist turned off, no network. The app then
 * calls GatewayClient\Gateway through vendor/autoload.php alone (PSR-4), configured as a
 * GatewayClient app is (its register address), against a loopback stand-in for Lambda; the
 * package's Laravel discovery entry is in the installed metadata. `composer validate --strict`
 * accepts its composer.json, and a `vcs` repository installs it from a branch whose root is
 * clients/php (`git subtree split`, as docs/guides/php.md says: Composer reads a VCS repository's
 * composer.json at its root only).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const PACKAGE = fileURLToPath(new URL('../../clients/php', import.meta.url));
const execFileAsync = promisify(execFile);

let server: Server;
let endpoint: string;
const invocations: Array<{ url: string; body: string; authorization: string }> = [];
const project = mkdtempSync(join(tmpdir(), 'php-composer-app-'));

before(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      invocations.push({ url: req.url!, body, authorization: String(req.headers.authorization) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, result: 3 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server?.close();
  rmSync(project, { recursive: true, force: true });
});

test('composer installs clients/php from a path repository with Packagist off; the app calls it through vendor/autoload.php', {
  timeout: 120_000,
}, async () => {
  writeFileSync(
    join(project, 'composer.json'),
    JSON.stringify({
      name: 'example/gatewayclient-app',
      repositories: [{ type: 'path', url: PACKAGE, options: { symlink: false } }, { 'packagist.org': false }],
      require: { 'serverless-gateway-worker/gatewayclient': '*@dev' },
    }),
  );
  const composerHome = mkdtempSync(join(tmpdir(), 'php-composer-home-'));
  const env = { PATH: '/usr/bin:/bin', HOME: composerHome, COMPOSER_HOME: composerHome, COMPOSER_ALLOW_SUPERUSER: '1', COMPOSER_NO_INTERACTION: '1' };
  const install = await execFileAsync('/usr/bin/composer', ['install', '--no-progress', '--no-ansi'], { cwd: project, env });
  assert.match(install.stderr, /Installing serverless-gateway-worker\/gatewayclient/);
  rmSync(composerHome, { recursive: true, force: true });

  const installed = JSON.parse(readFileSync(join(project, 'vendor/composer/installed.json'), 'utf8')) as {
    packages: Array<{ name: string; extra?: { laravel?: { providers?: string[] } } }>;
  };
  const entry = installed.packages.find((p) => p.name === 'serverless-gateway-worker/gatewayclient');
  assert.deepEqual(entry?.extra?.laravel?.providers, ['GatewayClient\\Laravel\\GatewayServiceProvider'], 'Laravel package discovery');

  writeFileSync(
    join(project, 'push.php'),
    `<?php
require __DIR__ . '/vendor/autoload.php';

use GatewayClient\\Gateway;

Gateway::$registerAddress = '127.0.0.1:1236';
echo json_encode([
    'count' => Gateway::getAllClientCount(),
    'loaded' => array_values(array_filter(get_included_files(), static fn ($f) => str_contains($f, '/vendor/serverless-gateway-worker/'))) !== [],
    'chain' => class_exists(GatewayClient\\Credentials\\CredentialChain::class),
]);
`,
  );
  const { stdout } = await execFileAsync('php', ['push.php'], {
    cwd: project,
    env: {
      PATH: '/usr/bin:/bin',
      HOME: project,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_REGION: 'eu-west-3',
      AWS_ACCESS_KEY_ID: 'AKIDCOMPOSER',
      AWS_SECRET_ACCESS_KEY: 'secret',
      GATEWAY_API_FUNCTION: 'gateway-api',
      AWS_ENDPOINT_URL_LAMBDA: endpoint,
    },
  });
  assert.deepEqual(JSON.parse(stdout), { count: 3, loaded: true, chain: true });
  assert.equal(invocations.length, 1);
  assert.equal(invocations[0]!.url, '/2015-03-31/functions/gateway-api/invocations');
  assert.deepEqual(JSON.parse(invocations[0]!.body), { method: 'getAllClientCount', args: [] });
  assert.match(invocations[0]!.authorization, /Credential=AKIDCOMPOSER\//);
});

/** Debian's composer with a private home, no prompts, nothing from Packagist. */
function composerEnv(home: string): Record<string, string> {
  return { PATH: '/usr/bin:/bin', HOME: home, COMPOSER_HOME: home, COMPOSER_ALLOW_SUPERUSER: '1', COMPOSER_NO_INTERACTION: '1' };
}

test('composer validate --strict accepts clients/php/composer.json', { timeout: 60_000 }, async () => {
  const home = mkdtempSync(join(tmpdir(), 'php-composer-home-'));
  try {
    const { stdout, stderr } = await execFileAsync('/usr/bin/composer', ['validate', '--strict', '--no-check-publish', '--no-ansi'], {
      cwd: PACKAGE,
      env: composerEnv(home),
    });
    assert.match(stdout + stderr, /composer\.json is valid/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('a vcs repository: the branch `git subtree split --prefix=clients/php` makes installs as the package', { timeout: 120_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'php-composer-vcs-'));
  const git = (args: string[], cwd: string) =>
    execFileAsync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid', '-c', 'init.defaultBranch=main', ...args], {
      cwd,
      env: { PATH: '/usr/bin:/bin', HOME: work },
    });
  try {
    // A checkout of the project as far as the split is concerned: clients/php in a subdirectory.
    const checkout = join(work, 'serverless-gateway-worker');
    cpSync(PACKAGE, join(checkout, 'clients/php'), { recursive: true });
    await git(['init', '-q'], checkout);
    await git(['add', '-A'], checkout);
    await git(['commit', '-q', '-m', 'clients/php'], checkout);
    await git(['subtree', 'split', '-q', '--prefix=clients/php', '-b', 'gatewayclient-php'], checkout);

    const app = join(work, 'app');
    mkdirSync(app);
    writeFileSync(
      join(app, 'composer.json'),
      JSON.stringify({
        name: 'example/gatewayclient-vcs-app',
        repositories: [{ type: 'vcs', url: checkout }, { 'packagist.org': false }],
        require: { 'serverless-gateway-worker/gatewayclient': 'dev-gatewayclient-php' },
      }),
    );
    const install = await execFileAsync('/usr/bin/composer', ['install', '--no-progress', '--no-ansi'], {
      cwd: app,
      env: composerEnv(join(work, 'composer-home')),
    });
    assert.match(install.stderr, /Installing serverless-gateway-worker\/gatewayclient \(dev-gatewayclient-php [0-9a-f]+\)/);
    // PSR-4 from the split's root: the drop-in loads; the Laravel provider (which needs Laravel to
    // load) is found under src/.
    const script =
      "$loader = require 'vendor/autoload.php'; echo json_encode([class_exists(GatewayClient\\Gateway::class), realpath((string) $loader->findFile('GatewayClient\\Laravel\\GatewayServiceProvider'))]);";
    const { stdout } = await execFileAsync('php', ['-r', script], { cwd: app, env: { PATH: '/usr/bin:/bin', HOME: work } });
    const [loaded, providerFile] = JSON.parse(stdout) as [boolean, string | false];
    assert.equal(loaded, true);
    assert.match(String(providerFile), /\/vendor\/serverless-gateway-worker\/gatewayclient\/src\/Laravel\/GatewayServiceProvider\.php$/);
    const installed = JSON.parse(readFileSync(join(app, 'vendor/composer/installed.json'), 'utf8')) as {
      packages: Array<{ name: string; extra?: { laravel?: { providers?: string[] } } }>;
    };
    assert.deepEqual(installed.packages.find((p) => p.name === 'serverless-gateway-worker/gatewayclient')?.extra?.laravel?.providers, [
      'GatewayClient\\Laravel\\GatewayServiceProvider',
    ]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
