/**
 * The Gateway API handler on the real SDK, the local gateway and its tables: GatewayClient's methods
 * by name and argument order, JSON results, typed errors as normal results, batches that are checked
 * whole before anything runs and stop at their first failure, and bad events refused without a
 * network call. (The bundled function behind the Lambda invoke API: test/e2e/gateway-api-clients.test.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayHarness, countHttpRequests } from '../../testkit/gatewayHarness.ts';
import { indexIds, unknownId } from '../helpers/dynamo.ts';
import { createGatewayApiHandler } from '../../lambdas/gatewayApiHandler.ts';
import { GATEWAY_API_METHODS } from '../../lambdas/gatewayApiMethods.ts';
import { MAX_CALLS_PER_BATCH, type GatewayApiResult } from '../../lambdas/gatewayApiProtocol.ts';
import type { Gateway } from '../../sdk/index.ts';

type Handler = (event: unknown) => Promise<GatewayApiResult>;

/** The `result` of a successful single call (fails the test otherwise). */
async function resultOf(api: Handler, method: string, ...args: unknown[]): Promise<unknown> {
  const answer = await api({ method, args });
  assert.ok(answer.ok && 'result' in answer, `${method} failed: ${JSON.stringify(answer)}`);
  return answer.result;
}

describe('Gateway API handler', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let api: Handler;
  before(async () => {
    h = await GatewayHarness.start();
    api = createGatewayApiHandler({ gateway: h.gateway });
  });
  after(() => h.stop());

  test('one call: sendToUid with GatewayClient arguments reaches the uid and returns the report as JSON', async () => {
    const a = await h.connect();
    await h.gateway.bindUid(a.id, 'api-alice');
    const answer = await api({ method: 'sendToUid', args: ['api-alice', 'hi'] });
    assert.deepEqual(answer, { ok: true, result: { recipients: 1, sent: [a.id], gone: [], failed: [] } });
    assert.equal(await a.next(), 'hi');
    // Any other JSON value is sent as its JSON text.
    await resultOf(api, 'sendToUid', 'api-alice', { type: 'say', n: 1 });
    assert.equal(await a.next(), '{"type":"say","n":1}');
  });

  test('a batch binds and joins in one invocation; the results are in call order', async () => {
    const a = await h.connect();
    const answer = await api({
      calls: [
        { method: 'bindUid', args: [a.id, 'api-bob'] },
        { method: 'joinGroup', args: [a.id, 'api-room'] },
      ],
    });
    assert.deepEqual(answer, {
      ok: true,
      results: [
        { ok: true, result: null },
        { ok: true, result: null },
      ],
    });
    assert.deepEqual(await indexIds(h.doc, 'uids', 'api-bob'), [a.id]);
    assert.deepEqual(await indexIds(h.doc, 'groups', 'api-room'), [a.id]);
  });

  test('bad input anywhere in a batch runs none of it and makes no network call', async () => {
    const a = await h.connect();
    const event = {
      calls: [
        { method: 'bindUid', args: [a.id, 'api-carol'] },
        { method: 'joinGroup', args: [a.id, ''] },
      ],
    };
    const { requests } = await countHttpRequests(async () => {
      const answer = await api(event);
      assert.equal(answer.ok, false);
      assert.ok(!answer.ok);
      assert.equal(answer.error.code, 'VALIDATION');
      assert.equal(answer.error.name, 'ValidationError');
      assert.equal(answer.error.index, 1);
      assert.match(answer.error.message, /joinGroup: group must not be empty/);
      assert.ok(!('results' in answer), 'nothing ran, so there are no results');
    });
    assert.equal(requests, 0);
    assert.deepEqual(await indexIds(h.doc, 'uids', 'api-carol'), []);
  });

  test('the first call that fails stops the batch: results hold the calls that ran, the failure last', async () => {
    const a = await h.connect();
    const gone = unknownId(7);
    const answer = await api({
      calls: [
        { method: 'bindUid', args: [a.id, 'api-dave'] },
        { method: 'bindUid', args: [gone, 'api-dave'] },
        { method: 'joinGroup', args: [a.id, 'api-dave-room'] },
      ],
    });
    assert.ok(!answer.ok);
    assert.deepEqual(answer.error, {
      code: 'CONNECTION_GONE',
      name: 'ConnectionGoneError',
      message: `client ${gone} is not connected`,
      connectionId: gone,
      index: 1,
    });
    assert.ok('results' in answer);
    assert.deepEqual(answer.results, [
      { ok: true, result: null },
      { ok: false, error: { code: 'CONNECTION_GONE', name: 'ConnectionGoneError', message: `client ${gone} is not connected`, connectionId: gone } },
    ]);
    assert.deepEqual(await indexIds(h.doc, 'uids', 'api-dave'), [a.id]);
    assert.deepEqual(await indexIds(h.doc, 'groups', 'api-dave-room'), [], 'the call after the failure did not run');
  });

  test('a failed single call is a normal result with the SDK code and details', async () => {
    const gone = unknownId(8);
    assert.deepEqual(await api({ method: 'joinGroup', args: [gone, 'g'] }), {
      ok: false,
      error: { code: 'CONNECTION_GONE', name: 'ConnectionGoneError', message: `client ${gone} is not connected`, connectionId: gone },
    });
    const big = await api({ method: 'sendToAll', args: ['x'.repeat(131073)] });
    assert.ok(!big.ok);
    assert.equal(big.error.code, 'PAYLOAD_TOO_LARGE');
    assert.equal(big.error.size, 131073);
    assert.equal(big.error.limit, 131072);
  });

  test("results keep GatewayClient's meaning as plain JSON: booleans, null for nothing, lists, maps", async () => {
    const a = await h.connect();
    const b = await h.connect();
    const missing = unknownId(9);
    await resultOf(api, 'bindUid', a.id, 'api-erin');
    await resultOf(api, 'joinGroup', a.id, 'api-shapes');
    await resultOf(api, 'joinGroup', b.id, 'api-shapes');
    assert.equal(await resultOf(api, 'isOnline', a.id), true);
    assert.equal(await resultOf(api, 'isOnline', missing), false);
    assert.equal(await resultOf(api, 'getUidByClientId', a.id), 'api-erin');
    assert.equal(await resultOf(api, 'getUidByClientId', b.id), null);
    assert.equal(await resultOf(api, 'getSession', missing), null);
    assert.deepEqual(await resultOf(api, 'getSession', a.id), {});
    assert.deepEqual(await resultOf(api, 'updateSession', a.id, { n: 1, nested: { x: 1 } }), { n: 1, nested: { x: 1 } });
    assert.deepEqual(await resultOf(api, 'updateSession', a.id, { nested: { y: 2 } }), { n: 1, nested: { x: 1, y: 2 } });
    assert.deepEqual(((await resultOf(api, 'getClientIdListByGroup', 'api-shapes')) as string[]).sort(), [a.id, b.id].sort());
    assert.deepEqual(await resultOf(api, 'getClientIdByUid', 'api-erin'), [a.id]);
    assert.deepEqual(await resultOf(api, 'isUidsOnline', ['api-erin', 'api-nobody']), { 'api-erin': true, 'api-nobody': false });
    assert.deepEqual(await resultOf(api, 'batchGetClientIdByUid', ['api-erin', 'api-nobody']), { 'api-erin': [a.id], 'api-nobody': [] });
    assert.deepEqual(await resultOf(api, 'batchGetClientIdCountByGroup', ['api-shapes', 'api-none']), { 'api-shapes': 2, 'api-none': 0 });
    assert.deepEqual(await resultOf(api, 'getUidListByGroup', 'api-shapes'), ['api-erin']);
    assert.equal(await resultOf(api, 'getClientIdCountByGroup', 'api-shapes'), 2);
    assert.deepEqual(await resultOf(api, 'getClientSessionsByGroup', 'api-shapes'), { [a.id]: { n: 1, nested: { x: 1, y: 2 } }, [b.id]: {} });
    assert.deepEqual(await resultOf(api, 'getAllClientSessions', 'api-shapes'), await resultOf(api, 'getClientSessionsByGroup', 'api-shapes'));
    assert.deepEqual(await resultOf(api, 'getGroupsByClientId', a.id), ['api-shapes']);
    const connection = (await resultOf(api, 'getConnection', a.id)) as Record<string, unknown>;
    assert.equal(connection.uid, 'api-erin');
    assert.deepEqual(connection.groups, ['api-shapes']);
    assert.equal(await resultOf(api, 'getConnection', missing), null);
  });

  test("GatewayClient's defaults: optional arguments left out or null, `$group = ''` meaning every connection, destoryClient (sic)", async () => {
    const a = await h.connect();
    const b = await h.connect();
    await resultOf(api, 'joinGroup', a.id, 'api-defaults');
    await resultOf(api, 'joinGroup', b.id, 'api-defaults');
    const all = (await resultOf(api, 'getAllClientIdCount')) as number;
    assert.ok(all >= 2);
    assert.equal(await resultOf(api, 'getClientIdCountByGroup'), all);
    assert.equal(await resultOf(api, 'getClientIdCountByGroup', ''), all);
    assert.equal(await resultOf(api, 'getClientCountByGroup', null), all);
    const report = (await resultOf(api, 'sendToGroup', 'api-defaults', 'to both but b', b.id)) as { sent: string[] };
    assert.deepEqual(report.sent, [a.id]);
    assert.equal(await a.next(), 'to both but b');
    const toBoth = (await resultOf(api, 'sendToGroup', 'api-defaults', 'to both', null)) as { sent: string[] };
    assert.equal(toBoth.sent.length, 2);
    // sendToAll($message, $client_id_array, $exclude): [] sends to nobody, as in GatewayClient.
    assert.deepEqual(await resultOf(api, 'sendToAll', 'nobody', []), { recipients: 0, sent: [], gone: [], failed: [] });
    assert.deepEqual(((await resultOf(api, 'sendToAll', 'listed', [a.id, b.id], [b.id])) as { sent: string[] }).sent, [a.id]);
    assert.equal(await resultOf(api, 'closeClient', a.id, null), true);
    assert.equal(await resultOf(api, 'destoryClient', b.id), true);
    await h.whenDisconnected(a.id);
    await h.whenDisconnected(b.id);
    assert.equal(await resultOf(api, 'isOnline', b.id), false);
  });

  test("a send report's failed recipients carry their errors as JSON", async () => {
    const gateway = h.newGateway({ maxRetries: 0 });
    const failing = createGatewayApiHandler({ gateway });
    const a = await h.connect();
    h.local.setFaults({ serverErrorRate: 1 });
    try {
      const report = (await resultOf(failing, 'sendToClient', a.id, 'x')) as { failed: Array<{ connectionId: string; error: Record<string, unknown> }> };
      assert.equal(report.failed.length, 1);
      assert.equal(report.failed[0]!.connectionId, a.id);
      assert.equal(report.failed[0]!.error.code, 'SERVICE_ERROR');
      assert.equal(report.failed[0]!.error.statusCode, 500);
      assert.equal(typeof report.failed[0]!.error.message, 'string');
    } finally {
      h.local.setFaults({});
    }
  });

  test('malformed events are refused with a VALIDATION result before any call', async () => {
    const a = await h.connect();
    const cases: Array<[unknown, RegExp]> = [
      [null, /must be a JSON object/],
      [[{ method: 'isOnline', args: [a.id] }], /must be a JSON object/],
      [{}, /needs "method"/],
      [{ method: 'isOnline', arg: [a.id] }, /unknown key "arg"/],
      [{ method: 'isOnline', args: [a.id], calls: [] }, /unknown keys? "method"/],
      [{ method: 'registerConnection', args: [] }, /unknown method "registerConnection"/],
      [{ method: 'toString', args: [] }, /unknown method "toString"/],
      [{ method: '__proto__', args: [] }, /unknown method "__proto__"/],
      [{ method: 'sendToCurrentClient', args: ['x'] }, /unknown method/],
      [{ method: 'isOnline', args: a.id }, /"args" must be an array/],
      [{ method: 'isOnline', args: [a.id, 'extra'] }, /isOnline takes at most 1 arguments/],
      [{ method: 'sendToUid', args: ['alice'] }, /sendToUid needs message/],
      [{ method: 'bindUid', args: [a.id, 42] }, /bindUid: uid must be a string/],
      [{ method: 'bindUid', args: [a.id, 'u', ''] }, /bindUid: bind_token must be a non-empty string/],
      [{ method: 'isOnline', args: [null] }, /isOnline: client_id must be an API Gateway connection id/],
      [{ method: 'setSession', args: [a.id, []] }, /setSession: session must be a plain object/],
      [{ method: 'isUidsOnline', args: ['alice'] }, /isUidsOnline: uids must be an array/],
      [{ calls: [] }, /"calls" must be an array of 1 to 25 calls, got 0 calls/],
      [{ calls: Array.from({ length: MAX_CALLS_PER_BATCH + 1 }, () => ({ method: 'getAllClientCount' })) }, /got 26 calls/],
      [{ calls: [{ method: 'getAllClientCount' }, 'isOnline'] }, /calls\[1\] must be an object/],
    ];
    for (const [event, message] of cases) {
      const { requests } = await countHttpRequests(async () => {
        const answer = await api(event);
        assert.ok(!answer.ok, JSON.stringify(event)?.slice(0, 80));
        assert.equal(answer.error.code, 'VALIDATION');
        assert.match(answer.error.message, message);
      });
      assert.equal(requests, 0, JSON.stringify(event)?.slice(0, 80));
    }
  });

  test('presence: joinPresence answers the members and whether it announced; getPresenceMembers reads them; a bad member runs nothing', async () => {
    const a = await h.connect();
    const b = await h.connect();
    assert.deepEqual(await resultOf(api, 'joinPresence', a.id, 'api-presence', { id: 'u1', info: { name: 'One' } }), {
      members: [{ id: 'u1', info: { name: 'One' } }],
      announced: true,
    });
    const second = (await resultOf(api, 'joinPresence', b.id, 'api-presence', { id: 'u2', info: null })) as { members: unknown[]; announced: boolean };
    assert.equal(second.announced, true);
    assert.equal(await a.next(), JSON.stringify({ event: 'gateway:member_added', channel: 'api-presence', data: { id: 'u2', info: null } }));
    assert.deepEqual(await resultOf(api, 'getPresenceMembers', 'api-presence'), [
      { id: 'u1', info: { name: 'One' } },
      { id: 'u2', info: null },
    ]);
    // leaveGroup with a bind token (a page's leave): the harness requires none, so it is not checked.
    await resultOf(api, 'leaveGroup', b.id, 'api-presence', 'v1.whatever');
    assert.equal(await a.next(), JSON.stringify({ event: 'gateway:member_removed', channel: 'api-presence', data: { id: 'u2' } }));
    for (const [member, message] of [
      [{ id: 5, info: null }, /joinPresence: member\.id must be a string/],
      [{ id: 'u3', info: 'x'.repeat(2000) }, /at most 1024 bytes/],
      ['u3', /member must be an object/],
    ] as const) {
      const { requests } = await countHttpRequests(async () => {
        const answer = await api({ method: 'joinPresence', args: [b.id, 'api-presence', member] });
        assert.ok(!answer.ok && answer.error.code === 'VALIDATION', JSON.stringify(answer));
        assert.match(answer.error.message, message);
      });
      assert.equal(requests, 0);
    }
  });

  test('every listed method runs on the real SDK', async () => {
    const a = await h.connect();
    const b = await h.connect();
    const c = await h.connect();
    const args: Record<string, unknown[]> = {
      sendToClient: [a.id, 'm'],
      sendToUid: ['api-all', 'm'],
      sendToGroup: [['api-all-g', 'api-all-h'], 'm'],
      sendToAll: ['m', [a.id]],
      isOnline: [a.id],
      closeClient: [b.id, 'bye'],
      destroyClient: [c.id],
      destoryClient: [unknownId(10)],
      getConnection: [a.id],
      verifyBindToken: [a.id, 'v1.0.x'],
      getSession: [a.id],
      setSession: [a.id, { k: 'v' }],
      updateSession: [a.id, { k2: 'v2' }],
      bindUid: [a.id, 'api-all'],
      unbindUid: [a.id, 'api-not-bound'],
      getUidByClientId: [a.id],
      isUidOnline: ['api-all'],
      getClientIdByUid: ['api-all'],
      isUidsOnline: [['api-all']],
      batchGetClientIdByUid: [[]],
      closeUid: ['api-nobody-at-all'],
      joinGroup: [a.id, 'api-all-g'],
      joinPresence: [a.id, 'api-all-p', { id: 'api-all', info: { name: 'A' } }],
      getPresenceMembers: ['api-all-p'],
      leaveGroup: [a.id, 'api-all-h'],
      ungroup: ['api-all-empty'],
      getGroupsByClientId: [a.id],
      getClientIdListByGroup: ['api-all-g'],
      getClientIdCountByGroup: ['api-all-g'],
      getClientCountByGroup: ['api-all-g'],
      getClientSessionsByGroup: ['api-all-g'],
      getUidListByGroup: ['api-all-g'],
      getUidCountByGroup: ['api-all-g'],
      batchGetClientIdCountByGroup: [['api-all-g']],
      getAllClientCount: [],
      getAllClientIdCount: [],
      getAllClientIdList: [],
      getAllClientSessions: [],
      getAllUidList: [],
      getAllUidCount: [],
      getAllGroupIdList: [],
      getAllGroupClientIdList: [],
      getAllGroupClientIdCount: [],
      getAllGroupUidList: [],
      getAllGroupUidCount: [],
    };
    assert.deepEqual(Object.keys(GATEWAY_API_METHODS).sort(), Object.keys(args).sort(), 'the list of methods is the documented one');
    // In an order where each call is meaningful: bind and join first.
    const order = ['bindUid', 'joinGroup', ...Object.keys(args).filter((m) => m !== 'bindUid' && m !== 'joinGroup')];
    for (const name of order) {
      const answer = await api({ method: name, args: args[name] });
      if (name === 'verifyBindToken') {
        // The harness's Gateway has no bind-token secret (the app's does: test/e2e/gateway-api-clients.test.ts).
        assert.ok(!answer.ok && answer.error.code === 'CONFIGURATION', `${name}: ${JSON.stringify(answer)}`);
        continue;
      }
      assert.ok(answer.ok, `${name}: ${JSON.stringify(answer)}`);
    }
  });

  test('an error that is not a GatewayError (a bug) fails the invocation instead of becoming a result', async () => {
    const broken = createGatewayApiHandler({
      gateway: {
        getAllClientCount: async () => {
          throw new TypeError('boom');
        },
      } as unknown as Gateway,
    });
    await assert.rejects(broken({ method: 'getAllClientCount' }), /boom/);
  });
});
