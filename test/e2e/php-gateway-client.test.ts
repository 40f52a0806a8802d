/**
 * PHP's GatewayClient (clients/php/Gateway.php) in strict mode (GATEWAY_STRICT=1), run by Debian's
 * php-cli against the local gateway serving cdk.out, configured only by the environment `npm start`
 * prints: GatewayClient's calls and return shapes (keyed lists, 0/1, integer keys for numeric uids,
 * null and [] sessions), the exceptions strict mode throws where GatewayClient echoes and carries on
 * (the default, GatewayClient's own behaviour, is test/e2e/php-gatewayclient-compat.test.ts), configuration failures, batches,
 * the function's own crash (X-Amz-Function-Error), and Lambda's 429 (from a stand-in endpoint: the
 * local gateway does not throttle invocations).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startGatewayApiApp, type GatewayApiApp } from '../../testkit/gatewayApiApp.ts';
import { unknownId } from '../helpers/dynamo.ts';

const DRIVER = fileURLToPath(new URL('../helpers/php/gateway-calls.php', import.meta.url));
const run = promisify(execFile);

type Outcome =
  | { ok: true; value: unknown; export: string; notices: Array<{ level: number; message: string }> }
  | {
      ok: false;
      class: string;
      errorCode?: string;
      message: string;
      details?: Record<string, unknown>;
      index?: number | null;
      results?: unknown[];
      notices: unknown[];
    };

/** An empty home: no ~/.aws files are read. */
const HOME = mkdtempSync(join(tmpdir(), 'php-gateway-client-home-'));

/**
 * Runs the calls in one php-cli process in strict mode with exactly `env` (plus PATH, an empty HOME,
 * and instance metadata off: the credential chain must never reach 169.254.169.254) and returns each outcome.
 */
async function php(env: Record<string, string>, calls: unknown[][], statics: Record<string, unknown> = {}): Promise<Outcome[]> {
  const child = run('php', [DRIVER], { env: { PATH: '/usr/bin:/bin', HOME, AWS_EC2_METADATA_DISABLED: 'true', GATEWAY_STRICT: '1', ...env } });
  child.child.stdin!.end(JSON.stringify({ statics, calls }));
  const { stdout } = await child;
  return JSON.parse(stdout) as Outcome[];
}

function value(outcome: Outcome | undefined): unknown {
  assert.ok(outcome?.ok, `the call failed: ${JSON.stringify(outcome)}`);
  return outcome.value;
}

function exported(outcome: Outcome | undefined): string {
  assert.ok(outcome?.ok, `the call failed: ${JSON.stringify(outcome)}`);
  return outcome.export.replace(/\s+/g, ' ');
}

function failure(outcome: Outcome | undefined): Extract<Outcome, { ok: false }> {
  assert.ok(outcome && !outcome.ok, `the call succeeded: ${JSON.stringify(outcome)}`);
  return outcome;
}

describe("PHP's GatewayClient against the local gateway", { timeout: 180_000 }, () => {
  let app: GatewayApiApp;
  before(async () => {
    app = await startGatewayApiApp('php-gateway-client', {
      functions: {
        crashingGatewayApi: async () => {
          throw new TypeError('a bug in the function');
        },
      },
    });
  });
  after(() => app?.stop());

  test("bind.php's calls and send_message.php's pushes, with GatewayClient's signatures", async () => {
    const alice = await app.connect();
    const bob = await app.connect();
    const out = await php(app.env, [
      ['bindUid', alice.id, 'alice'],
      ['joinGroup', alice.id, 'room-1'],
      ['bindUid', bob.id, 123],
      ['joinGroup', bob.id, 'room-1'],
      ['sendToUid', 'alice', 'for alice'],
      ['sendToUid', 123, 'for bob'],
      ['sendToGroup', 'room-1', '{"type":"say","text":"to the room"}', bob.id],
      ['sendToGroup', ['room-1'], 'to everyone in the room'],
      ['sendToClient', bob.id, 'direct'],
      ['sendToAll', 'to all listed', [alice.id]],
    ]);
    for (const outcome of out) value(outcome);
    assert.deepEqual(await app.sdk.getClientIdByUid('123'), [bob.id], 'an integer uid is bound as its string');
    await alice.message(4);
    await bob.message(3);
    assert.deepEqual(alice.messages, ['for alice', '{"type":"say","text":"to the room"}', 'to everyone in the room', 'to all listed']);
    assert.deepEqual(bob.messages, ['for bob', 'to everyone in the room', 'direct']);
    const report = value(out[4]) as { recipients: number; sent: string[] };
    assert.deepEqual(report.sent, [alice.id], 'sends return the delivery report');
    await alice.close();
    await bob.close();
  });

  test("queries keep GatewayClient's PHP shapes", async () => {
    const a = await app.connect();
    const b = await app.connect();
    const missing = unknownId(21);
    await app.sdk.bindUid(a.id, '42');
    await app.sdk.joinGroup(a.id, 'shapes');
    await app.sdk.joinGroup(b.id, 'shapes');
    const out = await php(app.env, [
      ['isOnline', a.id],
      ['isOnline', missing],
      ['isUidOnline', '42'],
      ['isUidsOnline', ['42', 'nobody']],
      ['getClientIdListByGroup', 'shapes'],
      ['getUidListByGroup', 'shapes'],
      ['getUidByClientId', b.id],
      ['getSession', missing],
      ['getSession', a.id],
      ['getClientIdCountByGroup', 'shapes'],
      ['getClientIdCountByGroup'],
      ['getAllClientIdCount'],
      ['batchGetClientIdByUid', [42, 'nobody']],
      ['getClientIdByUid', '42'],
      ['getAllGroupUidList'],
      ['getAllGroupClientIdList'],
      ['batchGetClientIdCountByGroup', ['shapes', 'none']],
      ['getGroupsByClientId', a.id],
    ]);
    assert.equal(exported(out[0]), '1');
    assert.equal(exported(out[1]), '0');
    assert.equal(exported(out[2]), '1');
    assert.equal(exported(out[3]), "array ( 42 => 1, 'nobody' => 0, )", 'numeric uids become integer keys, as in PHP');
    assert.equal(
      exported(out[4]),
      `array ( '${[a.id, b.id].sort()[0]}' => '${[a.id, b.id].sort()[0]}', '${[a.id, b.id].sort()[1]}' => '${[a.id, b.id].sort()[1]}', )`.replace(/\s+/g, ' '),
    );
    assert.equal(exported(out[5]), "array ( 42 => '42', )");
    assert.equal(exported(out[6]), 'NULL');
    assert.equal(exported(out[7]), 'NULL', 'getSession of a client that is not connected');
    assert.equal(exported(out[8]), 'array ( )', 'getSession of a client without a session');
    assert.equal(exported(out[9]), '2');
    assert.equal(value(out[10]), value(out[11]), "getClientIdCountByGroup('') counts every connection");
    assert.equal(exported(out[12]), `array ( 42 => array ( 0 => '${a.id}', ), 'nobody' => array ( ), )`);
    assert.equal(exported(out[13]), `array ( 0 => '${a.id}', )`);
    assert.match(exported(out[14]), /'shapes' => array \( 42 => '42', \)/);
    assert.deepEqual((value(out[15]) as Record<string, unknown>).shapes, { [a.id]: a.id, [b.id]: b.id });
    assert.equal(exported(out[16]), "array ( 'shapes' => 2, 'none' => 0, )");
    assert.equal(exported(out[17]), "array ( 0 => 'shapes', )");
    await a.close();
    await b.close();
  });

  test('sessions: PHP arrays in and out, [] included; updateSession merges nested arrays', async () => {
    const a = await app.connect();
    const out = await php(app.env, [
      ['setSession', a.id, []],
      ['getSession', a.id],
      ['setSession', a.id, { user: { name: 'Ann', roles: ['admin'] }, n: 1 }],
      ['updateSession', a.id, { user: { lang: 'fr' } }],
      ['getSession', a.id],
      ['getAllClientSessions', 'no-such-group-here'],
    ]);
    assert.equal(exported(out[1]), 'array ( )');
    assert.deepEqual(value(out[3]), { user: { name: 'Ann', roles: ['admin'], lang: 'fr' }, n: 1 });
    assert.deepEqual(value(out[4]), value(out[3]));
    assert.equal(exported(out[5]), 'array ( )');
    await a.close();
  });

  test('where GatewayClient echoes a warning and carries on, a GatewayException with a stable code', async () => {
    const a = await app.connect();
    const gone = unknownId(22);
    const out = await php(app.env, [
      ['isOnline', 'not-a-client-id'],
      ['sendToGroup', '', 'x'],
      ['bindUid', a.id, ''],
      ['bindUid', gone, 'u'],
      ['sendToAll', 'x', null, null, true],
      ['destoryCurrentClient'],
      ['setSocketSession', a.id, 'a:0:{}'],
      ['sendToClient', a.id, { $binary: Buffer.from([0xff, 0xfe, 0x00]).toString('base64') }],
      ['sendToClient', a.id, 'x'.repeat(131073)],
      ['getAllClientInfo'],
    ]);
    const codes = out.slice(0, 9).map((o) => [failure(o).class, failure(o).errorCode]);
    assert.deepEqual(codes, [
      ['GatewayClient\\GatewayException', 'VALIDATION'],
      ['GatewayClient\\GatewayException', 'VALIDATION'],
      ['GatewayClient\\GatewayException', 'VALIDATION'],
      ['GatewayClient\\GatewayException', 'CONNECTION_GONE'],
      ['GatewayClient\\GatewayException', 'UNSUPPORTED'],
      ['GatewayClient\\GatewayException', 'UNSUPPORTED'],
      ['GatewayClient\\GatewayException', 'UNSUPPORTED'],
      ['GatewayClient\\GatewayException', 'VALIDATION'],
      ['GatewayClient\\GatewayException', 'PAYLOAD_TOO_LARGE'],
    ]);
    assert.match(failure(out[0]).message, /client_id must be an API Gateway connection id/);
    assert.deepEqual(failure(out[3]).details, { connectionId: gone });
    assert.match(failure(out[7]).message, /UTF-8/);
    assert.deepEqual(failure(out[8]).details, { size: 131073, limit: 131072 });
    // The deprecated alias works and says so through PHP's own channel, as GatewayClient's echo does.
    assert.ok(out[9]!.ok);
    assert.deepEqual(out[9]!.notices, [{ level: 16384, message: 'Gateway::getAllClientInfo is deprecated; use getAllClientSessions' }]);
    await a.close();
  });

  test('batch: one invocation for several calls; checked whole first; the first failure stops it and is thrown with its index', async () => {
    const a = await app.connect();
    const gone = unknownId(23);
    const out = await php(app.env, [
      [
        'batch',
        [
          ['bindUid', a.id, 'batched'],
          ['joinGroup', a.id, 'batch-room'],
          ['isOnline', a.id],
          ['getClientIdListByGroup', 'batch-room'],
        ],
      ],
      [
        'batch',
        [
          ['joinGroup', a.id, 'never-joined'],
          ['joinGroup', a.id, ''],
        ],
      ],
      [
        'batch',
        [
          ['leaveGroup', a.id, 'batch-room'],
          ['bindUid', gone, 'x'],
          ['joinGroup', a.id, 'not-reached'],
        ],
      ],
      ['batch', [['destoryCurrentClient']]],
    ]);
    assert.deepEqual(value(out[0]), [null, null, 1, { [a.id]: a.id }]);
    const refused = failure(out[1]);
    assert.equal(refused.errorCode, 'VALIDATION');
    assert.equal(refused.index, 1);
    assert.deepEqual(refused.results, []);
    const stopped = failure(out[2]);
    assert.equal(stopped.errorCode, 'CONNECTION_GONE');
    assert.equal(stopped.index, 1);
    assert.deepEqual(stopped.results, [null]);
    assert.equal(failure(out[3]).errorCode, 'VALIDATION');
    assert.deepEqual(await app.sdk.getGroupsByClientId(a.id), [], 'never-joined refused, batch-room left, not-reached never run');
    assert.equal(await app.sdk.getUidByClientId(a.id), 'batched');
    await a.close();
  });

  test('configuration: the printed environment or $registerAddress; missing settings and wrong names fail clearly', async () => {
    const { GATEWAY_API_FUNCTION: functionName, ...withoutFunction } = app.env;
    const { AWS_ENDPOINT_URL_LAMBDA: endpoint, ...withoutLambdaEndpoint } = app.env;
    const { AWS_ACCESS_KEY_ID: _key, ...withoutCredentials } = app.env;
    const { AWS_REGION: _region, AWS_DEFAULT_REGION: _defaultRegion, ...withoutRegion } = app.env;
    const [unset] = await php(withoutFunction, [['getAllClientCount']]);
    assert.equal(failure(unset).errorCode, 'CONFIGURATION');
    assert.match(failure(unset).message, /GATEWAY_API_FUNCTION/);
    const [configured] = await php(withoutFunction, [['getAllClientCount']], { registerAddress: functionName });
    assert.equal(typeof value(configured), 'number');
    const [asArray] = await php(withoutFunction, [['getAllClientCount']], { registerAddress: [functionName] });
    assert.equal(typeof value(asArray), 'number');
    const [generalEndpoint] = await php({ ...withoutLambdaEndpoint, AWS_ENDPOINT_URL: endpoint! }, [['getAllClientCount']]);
    assert.equal(typeof value(generalEndpoint), 'number', 'AWS_ENDPOINT_URL serves when AWS_ENDPOINT_URL_LAMBDA is unset');
    const [noCredentials] = await php(withoutCredentials, [['getAllClientCount']]);
    assert.equal(failure(noCredentials).errorCode, 'CONFIGURATION');
    const [noRegion] = await php(withoutRegion, [['getAllClientCount']]);
    assert.equal(failure(noRegion).errorCode, 'CONFIGURATION');
    const [wrongName] = await php(app.env, [['getAllClientCount']], { registerAddress: 'NoSuchFunction' });
    assert.equal(failure(wrongName).errorCode, 'SERVICE_ERROR');
    assert.deepEqual(failure(wrongName).details, { statusCode: 404, errorType: 'ResourceNotFoundException' });
    const [unreachable] = await php({ ...app.env, AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:9' }, [['getAllClientCount']]);
    assert.equal(failure(unreachable).errorCode, 'NETWORK');
  });

  test('a crash of the function itself (X-Amz-Function-Error) is a FUNCTION_ERROR', async () => {
    const [crashed] = await php(app.env, [['getAllClientCount']], { registerAddress: 'crashingGatewayApi' });
    assert.equal(failure(crashed).errorCode, 'FUNCTION_ERROR');
    assert.match(failure(crashed).message, /a bug in the function/);
  });

  test("composer.json's PSR-4 autoload finds every class, each file on its own", async () => {
    const script = `
      $composer = json_decode(file_get_contents('clients/php/composer.json'), true);
      foreach ($composer['autoload']['psr-4'] as $prefix => $dirs) {
        foreach ((array) $dirs as $dir) {
          spl_autoload_register(static function (string $class) use ($prefix, $dir): void {
            $file = 'clients/php/' . $dir . str_replace('\\\\', '/', substr($class, strlen($prefix))) . '.php';
            if (str_starts_with($class, $prefix) && is_file($file)) require $file;
          });
        }
      }
      foreach (['GatewayClient\\\\GatewayException', 'GatewayClient\\\\SigV4Signer', 'GatewayClient\\\\GatewayApiClient', 'GatewayClient\\\\GatewayCompat', 'GatewayClient\\\\Credentials\\\\CredentialChain', 'GatewayClient\\\\Gateway'] as $class) {
        echo $class, ' ', class_exists($class) ? 'found' : 'missing', "\\n";
      }`;
    const { stdout } = await run('php', ['-r', script]);
    assert.equal(
      stdout,
      ['GatewayException', 'SigV4Signer', 'GatewayApiClient', 'GatewayCompat', 'Credentials\\CredentialChain', 'Gateway']
        .map((c) => `GatewayClient\\${c} found\n`)
        .join(''),
    );
  });

  test("Lambda's 429 is retried (the invocation did not run), and reported as THROTTLED when it persists; requests are signed for lambda", async () => {
    const seen: IncomingMessage[] = [];
    let throttleFirst = 1;
    const server = createServer((req, res) => {
      seen.push(req);
      req.resume();
      if (throttleFirst-- > 0 || req.url!.includes('always-throttled')) {
        res.writeHead(429, { 'x-amzn-ErrorType': 'TooManyRequestsException', 'content-type': 'application/json' });
        res.end(JSON.stringify({ Type: 'User', message: 'Rate exceeded', Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, result: 7 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const env = {
        AWS_REGION: 'eu-west-3',
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'secret',
        AWS_SESSION_TOKEN: 'token-1',
        AWS_ENDPOINT_URL_LAMBDA: endpoint,
      };
      const arn = 'arn:aws:lambda:eu-west-3:123456789012:function:gateway-api';
      const [retried] = await php({ ...env, GATEWAY_API_FUNCTION: arn }, [['getAllClientCount']]);
      assert.equal(value(retried), 7);
      assert.equal(seen.length, 2, 'one 429, then the retry');
      const request = seen[1]!;
      assert.equal(request.url, `/2015-03-31/functions/${encodeURIComponent(arn)}/invocations`);
      assert.match(
        String(request.headers.authorization),
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-3\/lambda\/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-invocation-type;x-amz-security-token, Signature=[0-9a-f]{64}$/,
      );
      assert.equal(request.headers['x-amz-security-token'], 'token-1');
      assert.equal(request.headers.expect, undefined, 'no 100-continue round trip');
      const [throttled] = await php({ ...env, GATEWAY_API_FUNCTION: 'always-throttled' }, [['getAllClientCount']]);
      assert.equal(failure(throttled).errorCode, 'THROTTLED');
      assert.deepEqual(failure(throttled).details, { statusCode: 429, errorType: 'TooManyRequestsException' });
      assert.equal(seen.length, 5, 'the first try and two retries');
    } finally {
      server.close();
    }
  });
});

describe("PHP's GatewayClient with bind tokens required (the construct default)", { timeout: 120_000 }, () => {
  let app: GatewayApiApp;
  before(async () => {
    app = await startGatewayApiApp('php-gateway-client-bind-tokens', { requireBindToken: true });
  });
  after(() => app?.stop());

  test("bindUid / joinGroup($client_id, $key, $bind_token) bind with the init message's token; without it, a BIND_TOKEN exception", async () => {
    const a = await app.connect();
    const b = await app.connect();
    const out = await php(app.env, [
      ['bindUid', a.id, 'php-token-user'],
      ['joinGroup', a.id, 'php-token-room', b.bindToken],
      ['bindUid', a.id, 'php-token-user', a.bindToken],
      ['joinGroup', a.id, 'php-token-room', a.bindToken],
      [
        'batch',
        [
          ['bindUid', b.id, 'php-token-b', b.bindToken],
          ['joinGroup', b.id, 'php-token-room', b.bindToken],
        ],
      ],
      ['verifyBindToken', a.id, a.bindToken],
      ['verifyBindToken', a.id, b.bindToken],
    ]);
    assert.equal(failure(out[0]).errorCode, 'BIND_TOKEN');
    assert.deepEqual(failure(out[0]).details, { connectionId: a.id, reason: 'missing' });
    assert.equal(failure(out[1]).errorCode, 'BIND_TOKEN');
    assert.equal(failure(out[1]).details?.reason, 'mismatch');
    assert.equal(value(out[2]), null);
    assert.equal(value(out[3]), null);
    assert.deepEqual(value(out[4]), [null, null]);
    assert.equal(value(out[5]), true);
    assert.equal(value(out[6]), false);
    assert.deepEqual((await app.sdk.getClientIdListByGroup('php-token-room')).sort(), [a.id, b.id].sort());
    await a.close();
    await b.close();
  });
});
