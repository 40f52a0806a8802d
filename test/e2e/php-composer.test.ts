/**
 * clients/php as a Composer package, installed as a PHP app installs it before it is on a public
 * registry: Debian's composer, a `path` repository, Packagist turned off, no network. The app then
 * calls GatewayClient\Gateway through vendor/autoload.php alone (PSR-4), configured as a
 * GatewayClient app is (its register address), against a loopback stand-in for Lambda; the
 * package's Laravel discovery entry is in the installed metadata.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

test('composer installs clients/php from a path repository with Packagist off; the app calls it through vendor/autoload.php', { timeout: 120_000 }, async () => {
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

  const installed = JSON.parse(readFileSync(join(project, 'vendor/composer/installed.json'), 'utf8')) as { packages: Array<{ name: string; extra?: { laravel?: { providers?: string[] } } }> };
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
    env: { PATH: '/usr/bin:/bin', HOME: project, AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'eu-west-3', AWS_ACCESS_KEY_ID: 'AKIDCOMPOSER', AWS_SECRET_ACCESS_KEY: 'secret', GATEWAY_API_FUNCTION: 'gateway-api', AWS_ENDPOINT_URL_LAMBDA: endpoint },
  });
  assert.deepEqual(JSON.parse(stdout), { count: 3, loaded: true, chain: true });
  assert.equal(invocations.length, 1);
  assert.equal(invocations[0]!.url, '/2015-03-31/functions/gateway-api/invocations');
  assert.deepEqual(JSON.parse(invocations[0]!.body), { method: 'getAllClientCount', args: [] });
  assert.match(invocations[0]!.authorization, /Credential=AKIDCOMPOSER\//);
});
