/**
 * The drop-in's presence calls (Gateway::joinPresence, Gateway::getPresenceMembers), run by Debian's
 * php-cli (test/helpers/php/gateway-calls.php) against the local gateway serving cdk.out with bind
 * tokens required: the return shapes, member_added once per uid (not per tab) to the others, the
 * members in order of joining, GatewayClient's quiet answers outside strict mode (a client that is
 * gone, a malformed id, an empty group) and strict mode's exceptions, the bind token checked, and a
 * bad member refused in every mode with nothing joined.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startGatewayApiApp, type GatewayApiApp } from '../../testkit/gatewayApiApp.ts';

const DRIVER = fileURLToPath(new URL('../helpers/php/gateway-calls.php', import.meta.url));
const HOME = mkdtempSync(join(tmpdir(), 'php-presence-home-'));
const execFileAsync = promisify(execFile);

interface CallResult {
  ok: boolean;
  value?: unknown;
  export?: string;
  errorCode?: string;
  message?: string;
  notices?: Array<{ message: string }>;
}

describe('the PHP drop-in: presence groups', { timeout: 120_000 }, () => {
  let app: GatewayApiApp;
  before(async () => {
    app = await startGatewayApiApp('php-presence', { requireBindToken: true });
  });
  after(() => app?.stop());

  /** Runs the calls in one php process; what each returned or threw, and PHP's error log. */
  async function php(
    calls: unknown[][],
    statics: Record<string, unknown> = { registerAddress: '127.0.0.1:1236' },
  ): Promise<{ results: CallResult[]; errorLog: string[] }> {
    const child = execFileAsync('php', ['-d', 'log_errors=1', '-d', 'error_log=', DRIVER], {
      env: { PATH: '/usr/bin:/bin', HOME, AWS_EC2_METADATA_DISABLED: 'true', ...app.env },
    });
    child.child.stdin!.end(JSON.stringify({ statics, calls }));
    const { stdout, stderr } = await child;
    return { results: JSON.parse(stdout) as CallResult[], errorLog: stderr.split('\n').filter((line) => line.includes('GatewayClient: ')) };
  }

  test('joinPresence returns the members and whether it announced; member_added once per uid, to the others only', async () => {
    const annTab1 = await app.connect();
    const annTab2 = await app.connect();
    const bob = await app.connect();
    const room = 'presence-room.1';
    const { results } = await php([
      ['joinPresence', annTab1.id, room, { id: 7, info: { name: 'Ann' } }, annTab1.bindToken],
      ['joinPresence', annTab2.id, room, { id: 7, info: { name: 'Ann' } }, annTab2.bindToken],
      ['joinPresence', bob.id, room, { id: 'bob', info: null }, bob.bindToken],
      ['getPresenceMembers', room],
      ['batch', [['getPresenceMembers', room]]],
    ]);
    assert.deepEqual(
      results.map((r) => r.ok),
      [true, true, true, true, true],
      JSON.stringify(results),
    );
    const ann = { id: '7', info: { name: 'Ann' } };
    assert.deepEqual(results[0]!.value, { members: [ann], announced: true }, 'an integer id is sent, and comes back, as a string');
    assert.deepEqual(results[1]!.value, { members: [ann], announced: false }, "Ann's second tab: still one member, nothing announced");
    assert.deepEqual(results[2]!.value, { members: [ann, { id: 'bob', info: null }], announced: true });
    assert.deepEqual(results[3]!.value, [ann, { id: 'bob', info: null }]);
    assert.match(results[3]!.export!, /^array \(\s+0 =>\s+array \(\s+'id' => '7',\s+'info' =>\s+array \(\s+'name' => 'Ann',/, 'a list of [id, info] arrays');
    assert.deepEqual(results[4]!.value, [[ann, { id: 'bob', info: null }]], 'joinPresence and getPresenceMembers go through batch too');

    // Ann's first tab got Bob's arrival; her second tab's join announced nothing, so it got only Bob's too.
    assert.deepEqual(JSON.parse(await annTab1.message(1)), { event: 'gateway:member_added', channel: room, data: { id: 'bob', info: null } });
    assert.deepEqual(JSON.parse(await annTab2.message(1)), { event: 'gateway:member_added', channel: room, data: { id: 'bob', info: null } });
    assert.equal(annTab1.messages.length, 1);

    // Ann's second tab leaves: she is still a member; her last tab leaves: member_removed to Bob.
    await php([['leaveGroup', annTab2.id, room]]);
    assert.deepEqual((await php([['getPresenceMembers', room]])).results[0]!.value, [ann, { id: 'bob', info: null }]);
    await annTab1.close();
    assert.deepEqual(JSON.parse(await bob.message(1)), { event: 'gateway:member_removed', channel: room, data: { id: '7' } });
    assert.deepEqual((await php([['getPresenceMembers', room]])).results[0]!.value, [{ id: 'bob', info: null }]);
    assert.deepEqual((await php([['getPresenceMembers', 'a-plain-group-nobody-joined']])).results[0]!.value, []);
    await annTab2.close();
    await bob.close();
  });

  test("outside strict mode, GatewayClient's quiet answers: a gone client, a malformed id, an empty group", async () => {
    const gone = await app.connect();
    await gone.close();
    const { results, errorLog } = await php([
      ['joinPresence', gone.id, 'presence-quiet', { id: 'ann', info: null }, gone.bindToken],
      ['joinPresence', '7f00000108fc00000008', 'presence-quiet', { id: 'ann', info: null }],
      ['joinPresence', `${'a'.repeat(15)}=`, '', { id: 'ann', info: null }],
      ['getPresenceMembers', ''],
      ['getPresenceMembers', 'presence-quiet'],
    ]);
    assert.deepEqual(
      results.map((r) => [r.ok, r.export]),
      [
        [true, 'NULL'],
        [true, 'NULL'],
        [true, 'NULL'],
        [true, 'array (\n)'],
        [true, 'array (\n)'],
      ],
      JSON.stringify(results),
    );
    assert.deepEqual(
      errorLog.map((line) => line.replace(/^.*GatewayClient: /, '').replace(/ \(ignored.*$/, '')),
      ['joinPresence: client_id "7f00000108fc00000008" is invalid', 'joinPresence: group "" is invalid', 'getPresenceMembers: group "" is invalid'],
    );
  });

  test('strict mode throws there; the bind token is checked and a bad member refused in every mode, nothing joined', async () => {
    const gone = await app.connect();
    await gone.close();
    const ann = await app.connect();
    const group = 'presence-strict';
    const strict = await php(
      [
        ['joinPresence', gone.id, group, { id: 'ann', info: null }, gone.bindToken],
        ['joinPresence', ann.id, '', { id: 'ann', info: null }, ann.bindToken],
        ['getPresenceMembers', ''],
      ],
      { registerAddress: '127.0.0.1:1236', strict: true },
    );
    assert.deepEqual(
      strict.results.map((r) => r.errorCode),
      ['CONNECTION_GONE', 'VALIDATION', 'VALIDATION'],
    );

    for (const statics of [{ strict: false }, { strict: true }]) {
      const { results } = await php(
        [
          ['joinPresence', ann.id, group, { id: 'ann', info: null }],
          ['joinPresence', ann.id, group, { id: 'ann', info: null }, 'not-the-token'],
          ['joinPresence', ann.id, group, { info: { name: 'no id' } }, ann.bindToken],
          ['joinPresence', ann.id, group, { id: 'ann', info: { bio: 'x'.repeat(1100) } }, ann.bindToken],
          ['getPresenceMembers', group],
        ],
        statics,
      );
      assert.deepEqual(
        results.map((r) => r.errorCode ?? r.export),
        ['BIND_TOKEN', 'BIND_TOKEN', 'VALIDATION', 'VALIDATION', 'array (\n)'],
        JSON.stringify(statics),
      );
      assert.match(results[3]!.message!, /at most 1024 bytes/);
    }
    assert.deepEqual(await app.sdk.getGroupsByClientId(ann.id), [], 'nothing joined');
    await ann.close();
  });
});
