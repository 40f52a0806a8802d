/**
 * GatewayClient in ThinkPHP and webman, tested with plain PHP (neither framework can be installed
 * here; test/helpers/php/framework-standins.php defines the few classes the glue touches, as the
 * frameworks do): a config file in their style (think-worker's config/gateway_worker.php as it is,
 * and the package's own template) applied by GatewayClient\ThinkPHP\GatewayService or
 * GatewayClient\Webman\GatewayBootstrap; calls through the ThinkPHP facade and through webman's
 * `GatewayWorker\Lib\Gateway` name. A loopback stand-in for Lambda records each invocation.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const STANDINS = fileURLToPath(new URL('../helpers/php/framework-standins.php', import.meta.url));
const TEMPLATE = fileURLToPath(new URL('../../clients/php/config/gateway_worker.php', import.meta.url));
const execFileAsync = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'php-frameworks-'));

let server: Server;
let endpoint: string;
let invocations: Array<{ functionName: string; method: string; args: unknown[] }> = [];

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const event = JSON.parse(body) as { method: string; args: unknown[] };
      invocations.push({ functionName: decodeURIComponent(/\/functions\/([^/]+)\//.exec(req.url!)![1]!), ...event });
      const result = event.method.startsWith('send')
        ? { recipients: 1, sent: ['AAAAAAAAAAAAAAA='], gone: [], failed: [] }
        : event.method === 'isOnline'
          ? true
          : null;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, result }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server?.close());

/** Runs a PHP app script (the stand-ins loaded first) and returns what it printed as JSON. */
async function app(name: string, code: string, env: Record<string, string> = {}): Promise<Record<string, string>> {
  invocations = [];
  const file = join(dir, `${name}.php`);
  writeFileSync(file, `<?php\nrequire ${JSON.stringify(STANDINS)};\n${code}`);
  const { stdout } = await execFileAsync('php', [file], {
    env: {
      PATH: '/usr/bin:/bin',
      HOME: dir,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_REGION: 'eu-west-3',
      AWS_ACCESS_KEY_ID: 'AKIDAPP',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_ENDPOINT_URL_LAMBDA: endpoint,
      GATEWAY_API_FUNCTION: 'gateway-api',
      ...env,
    },
  });
  return JSON.parse(stdout) as Record<string, string>;
}

test("ThinkPHP: think-worker's config/gateway_worker.php as it is, the service at boot, calls through the facade", async () => {
  // think-worker's file: GatewayWorker's own process settings beside the register address.
  writeFileSync(
    join(dir, 'think-worker-gateway_worker.php'),
    `<?php return ['protocol' => 'websocket', 'host' => '0.0.0.0', 'port' => 2348, 'socket' => '', 'context' => [], 'name' => 'thinkphp', 'count' => 1,
      'daemonize' => false, 'pidFile' => '', 'register_deploy' => true, 'businessWorker' => ['name' => 'BusinessWorker', 'count' => 1, 'eventHandler' => 'think\\\\worker\\\\Events'],
      'gateway_deploy' => true, 'lanIp' => '127.0.0.1', 'startPort' => 2000, 'registerAddress' => '127.0.0.1:1236', 'pingInterval' => 30, 'pingNotResponseLimit' => 0, 'pingData' => '{"type":"ping"}', 'secretKey' => ''];`,
  );
  const out = await app(
    'thinkphp',
    `$app = new think\\App(['gateway_worker' => require ${JSON.stringify(join(dir, 'think-worker-gateway_worker.php'))}]);
(new GatewayClient\\ThinkPHP\\GatewayService($app))->boot();

use GatewayClient\\ThinkPHP\\Gateway;

echo json_encode([
    'sendToUid' => var_export(Gateway::sendToUid(42, '{"type":"say"}'), true),
    'isOnline' => var_export(Gateway::isOnline('AAAAAAAAAAAAAAA='), true),
    'registerAddress' => GatewayClient\\Gateway::$registerAddress,
]);`,
  );
  assert.deepEqual(out, { sendToUid: 'NULL', isOnline: '1', registerAddress: '127.0.0.1:1236' });
  assert.deepEqual(invocations, [
    { functionName: 'gateway-api', method: 'sendToUid', args: ['42', '{"type":"say"}'] },
    { functionName: 'gateway-api', method: 'isOnline', args: ['AAAAAAAAAAAAAAA='] },
  ]);
});

test("ThinkPHP: the package's config template, its function and strict keys", async () => {
  const out = await app(
    'thinkphp-template',
    `$config = require ${JSON.stringify(TEMPLATE)};
$config['strict'] = true;
(new GatewayClient\\ThinkPHP\\GatewayService(new think\\App(['gateway_worker' => $config])))->boot();
echo json_encode(['sendToGroup' => GatewayClient\\ThinkPHP\\Gateway::sendToGroup('room-1', 'hi'), 'strict' => GatewayClient\\Gateway::isStrict()]);`,
    { GATEWAY_API_FUNCTION: 'arn:aws:lambda:eu-west-3:123456789012:function:from-template' },
  );
  assert.deepEqual(out, { sendToGroup: { recipients: 1, sent: ['AAAAAAAAAAAAAAA='], gone: [], failed: [] }, strict: true }, 'strict: the delivery report');
  assert.deepEqual(
    invocations.map((i) => i.functionName),
    ['arn:aws:lambda:eu-west-3:123456789012:function:from-template'],
  );
});

test('webman: the bootstrap applies config/gateway_worker.php; GatewayWorker\\Lib\\Gateway, as the gateway-worker plugin had controllers write, reaches this gateway', async () => {
  const out = await app(
    'webman',
    `$GLOBALS['webman_config'] = ['gateway_worker' => ['registerAddress' => ['127.0.0.1:1236', '127.0.0.1:1237'], 'function' => 'webman-gateway-api', 'timeout' => 10]];
GatewayClient\\Webman\\GatewayBootstrap::start(null);

use GatewayWorker\\Lib\\Gateway;

echo json_encode([
    'sendToGroup' => var_export(Gateway::sendToGroup('room-1', 'hi', 'AAAAAAAAAAAAAAA='), true),
    'sendToClient' => var_export(Gateway::sendToClient('AAAAAAAAAAAAAAA=', 'hi'), true),
    'alias' => (new ReflectionClass(Gateway::class))->getName(),
    'timeout' => GatewayClient\\Gateway::$timeout,
]);`,
  );
  assert.deepEqual(out, { sendToGroup: 'NULL', sendToClient: 'true', alias: 'GatewayClient\\Gateway', timeout: 10 });
  assert.deepEqual(invocations, [
    { functionName: 'webman-gateway-api', method: 'sendToGroup', args: ['room-1', 'hi', ['AAAAAAAAAAAAAAA=']] },
    { functionName: 'webman-gateway-api', method: 'sendToClient', args: ['AAAAAAAAAAAAAAA=', 'hi'] },
  ]);
});
