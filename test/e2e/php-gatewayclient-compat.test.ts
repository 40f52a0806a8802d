/**
 * A GatewayClient app, unchanged but for its require line (test/helpers/php/gatewayclient-app.php:
 * static calls, `$registerAddress = '127.0.0.1:1238'` or an array of register addresses, no
 * try/catch), run by Debian's php-cli against the local gateway serving cdk.out with the environment
 * `npm start` prints: its pushes arrive, its calls on a client that has gone are silent, what
 * GatewayClient ignores with a warning is ignored with a line in PHP's error log, and every return
 * value has GatewayClient's type and shape. Strict mode (GATEWAY_STRICT=1, Gateway::$strict) turns
 * the same calls back into exceptions.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startGatewayApiApp, type AppClient, type GatewayApiApp } from '../../testkit/gatewayApiApp.ts';

const APP = fileURLToPath(new URL('../helpers/php/gatewayclient-app.php', import.meta.url));
const DRIVER = fileURLToPath(new URL('../helpers/php/gateway-calls.php', import.meta.url));
const HOME = mkdtempSync(join(tmpdir(), 'php-compat-home-'));
const execFileAsync = promisify(execFile);

/** What a PHP process printed and how it ended (a PHP fatal error exits 255). */
async function php(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('php', args, { env: { PATH: '/usr/bin:/bin', HOME, AWS_EC2_METADATA_DISABLED: 'true', ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('a GatewayClient app, unchanged, against the local gateway', { timeout: 180_000 }, () => {
  let app: GatewayApiApp;
  before(async () => {
    app = await startGatewayApiApp('php-gatewayclient-compat');
  });
  after(() => app?.stop());

  /** Two open pages and one that has closed. */
  async function pages(): Promise<{ alice: AppClient; bob: AppClient; gone: string }> {
    const alice = await app.connect();
    const bob = await app.connect();
    const closed = await app.connect();
    await closed.close();
    return { alice, bob, gone: closed.id };
  }

  for (const [form, userId] of [
    ['string', 42],
    ['array', 43],
  ] as const) {
    test(`register address as ${form === 'string' ? "'127.0.0.1:1238'" : 'an array of addresses'}: pushes arrive, gone clients are silent, GatewayClient's return values`, async () => {
      const { alice, bob, gone } = await pages();
      const { code, stdout, stderr } = await php([APP, form, alice.id, bob.id, gone, String(userId)], app.env);
      assert.equal(code, 0, stderr);
      const out = JSON.parse(stdout) as Record<string, string>;
      const flat = (label: string) => out[label]!.replace(/\s+/g, ' ');

      await alice.message(3);
      await bob.message(2);
      assert.deepEqual(alice.messages, ['{"to":"room but bob"}', '{"to":"alice"}', '{"to":"listed"}']);
      assert.deepEqual(bob.messages.slice(0, 2), ['{"to":"all but alice"}', '{"to":"the user id"}']);

      // GatewayClient's types: mutations and sends return nothing, sendToClient a bool.
      for (const label of ['bindUid', 'joinGroup', 'sendToAll', 'sendToGroup', 'sendToUid', 'sendToAll listed', 'updateSession'])
        assert.equal(out[label], 'NULL', label);
      assert.equal(out.sendToClient, 'true');
      assert.equal(out.isOnline, '1');
      assert.equal(out.isUidOnline, '1');
      assert.equal(flat('getClientIdByUid'), `array ( 0 => '${bob.id}', )`);
      assert.equal(out.getUidByClientId, `'${userId}'`, 'an integer uid comes back as the string it was bound as');
      const [first, second] = [alice.id, bob.id].sort();
      assert.equal(flat('getClientIdListByGroup'), `array ( '${first}' => '${first}', '${second}' => '${second}', )`);
      assert.match(
        flat('getUidListByGroup'),
        new RegExp(`^array \\( (?=.*'alice-${userId}' => 'alice-${userId}', )(?=.*${userId} => '${userId}', ).*\\)$`),
        'keyed by uid, a numeric uid as an integer key',
      );
      assert.equal(out.getClientIdCountByGroup, '2');
      assert.equal(flat('getSession'), "array ( 'name' => 'Bob', )");
      assert.equal(flat('getSession after update'), "array ( 'name' => 'Bob', 'lang' => 'fr', )");

      // A client that has gone: nothing thrown, GatewayClient's quiet answers.
      assert.equal(out['gone sendToClient'], 'false');
      for (const label of [
        'gone bindUid',
        'gone unbindUid',
        'gone joinGroup',
        'gone leaveGroup',
        'gone setSession',
        'gone updateSession',
        'gone getSession',
        'gone getUidByClientId',
      ]) {
        assert.equal(out[label], 'NULL', label);
      }
      assert.equal(out['gone closeClient'], 'false');
      assert.equal(out['gone isOnline'], '0');
      assert.equal(await app.sdk.getUidByClientId(gone), undefined, 'the bind of the gone client left nothing behind');

      // What GatewayClient ignores with a warning: nothing sent, its answer, a line in the error log.
      assert.equal(out['guest bindUid'], 'NULL');
      assert.equal(out['empty joinGroup'], 'NULL');
      assert.equal(out['empty sendToGroup'], 'false');
      assert.equal(out['malformed isOnline'], '0');
      assert.equal(out['malformed getSession'], 'false');
      assert.equal(out['malformed sendToClient'], 'false');
      assert.equal(out['sendToAll not an array'], 'NULL');
      assert.equal(out['empty name among groups'], 'NULL', 'the empty name is dropped, the other group sent to');
      const warnings = stderr.split('\n').filter((line) => line.startsWith('GatewayClient: '));
      assert.deepEqual(
        warnings.map((line) => line.replace(/ \(ignored.*$/, '')),
        [
          'GatewayClient: joinGroup: group "" is invalid',
          'GatewayClient: sendToGroup: group "" is invalid',
          'GatewayClient: isOnline: client_id "7f00000108fc00000008" is invalid',
          'GatewayClient: getSession: client_id "7f00000108fc00000008" is invalid',
          'GatewayClient: sendToClient: client_id "7f00000108fc00000008" is invalid',
          'GatewayClient: sendToAll: $client_id_array must be an array, got "not-an-array"',
        ],
      );
      assert.deepEqual(await app.sdk.getGroupsByClientId(alice.id), [`room-${userId}`], 'the empty group was not joined');

      // unbindUid ignores its $uid, as GatewayClient's gateway does.
      assert.equal(out['unbindUid other uid'], 'NULL');
      assert.equal(out['getUidByClientId after unbind'], 'NULL');
      await alice.close();
      await bob.close();
    });
  }

  test('strict mode (GATEWAY_STRICT=1): the first call on a gone client throws CONNECTION_GONE', async () => {
    const { alice, bob, gone } = await pages();
    const { code, stdout, stderr } = await php([APP, 'string', alice.id, bob.id, gone, '44'], { ...app.env, GATEWAY_STRICT: '1' });
    assert.equal(code, 255);
    assert.equal(stdout, '');
    assert.match(stderr, /Uncaught GatewayClient\\GatewayException: client \S+ is not connected/);
    await alice.close();
    await bob.close();
  });

  test('strict mode (Gateway::$strict = true): exceptions for what GatewayClient ignores, delivery reports from sends', async () => {
    const alice = await app.connect();
    const input = JSON.stringify({
      statics: { strict: true, registerAddress: '127.0.0.1:1238' },
      calls: [
        ['bindUid', alice.id, ''],
        ['isOnline', '7f00000108fc00000008'],
        ['sendToClient', alice.id, 'x'],
        ['unbindUid', alice.id, 'someone-else'],
      ],
    });
    const child = execFileAsync('php', [DRIVER], { env: { PATH: '/usr/bin:/bin', HOME, AWS_EC2_METADATA_DISABLED: 'true', ...app.env } });
    child.child.stdin!.end(input);
    const out = JSON.parse((await child).stdout) as Array<{ ok: boolean; errorCode?: string; value?: unknown }>;
    assert.deepEqual(
      out.slice(0, 2).map((o) => o.errorCode),
      ['VALIDATION', 'VALIDATION'],
    );
    assert.deepEqual((out[2]!.value as { sent: string[] }).sent, [alice.id]);
    assert.equal(out[3]!.ok, true);
    await alice.close();
  });

  test('a register address without GATEWAY_API_FUNCTION is a CONFIGURATION error naming the variable', async () => {
    const { GATEWAY_API_FUNCTION: _function, ...withoutFunction } = app.env;
    const { code, stderr } = await php([APP, 'string', `${'a'.repeat(15)}=`, `${'b'.repeat(15)}=`, `${'c'.repeat(15)}=`, '45'], withoutFunction);
    assert.equal(code, 255);
    assert.match(stderr, /Uncaught GatewayClient\\GatewayException: no Gateway API function: .*GATEWAY_API_FUNCTION/);
  });
});

test('which $registerAddress values mean this gateway (null) and which name a function', async () => {
  const cases: Array<[unknown, string | null]> = [
    ['127.0.0.1:1236', null],
    ['127.0.0.1:1238', null],
    [['127.0.0.1:1236', '10.0.0.2:1236'], null],
    ['tcp://127.0.0.1:1236', null],
    ['register.internal:1236', null],
    ['[::1]:1236', null],
    ['', null],
    [null, null],
    [[], null],
    ['ServerlessGatewayWorker-GatewayApiFunction-abc', 'ServerlessGatewayWorker-GatewayApiFunction-abc'],
    ['gateway-api:live', 'gateway-api:live'],
    ['123456789012:function:gateway-api', '123456789012:function:gateway-api'],
    ['arn:aws:lambda:eu-west-3:123456789012:function:gateway-api:7', 'arn:aws:lambda:eu-west-3:123456789012:function:gateway-api:7'],
    [['gateway-api', '127.0.0.1:1236'], 'gateway-api'],
  ];
  const script = `require 'clients/php/Gateway.php'; echo json_encode(array_map(static fn ($c) => GatewayClient\\Gateway::functionFromRegisterAddress($c), json_decode(stream_get_contents(STDIN), true)));`;
  const child = execFileAsync('php', ['-r', script]);
  child.child.stdin!.end(JSON.stringify(cases.map(([input]) => input)));
  assert.deepEqual(
    JSON.parse((await child).stdout),
    cases.map(([, expected]) => expected),
  );
});
