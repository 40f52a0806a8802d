/**
 * Sending through the SDK to real `ws` clients of the local gateway: recipients, de-duplication,
 * exclusions, message kinds, 410 pruning, and 429/500 injection.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { countHttpRequests, GatewayHarness, type TestClient } from '../../testkit/gatewayHarness.ts';
import { ageConnection, connectionItem, indexIds, indexItemsOf, putIndexItem, seeded, unknownId } from '../helpers/dynamo.ts';
import { ServiceError, ThrottledError, type Gateway, type SendReport } from '../../sdk/index.ts';

const sorted = (ids: readonly string[]) => [...ids].sort();

/** Proves `client` got nothing more: a marker sent now must be the next message it reads. */
async function assertNothingElse(gateway: Gateway, client: TestClient): Promise<void> {
  const marker = `marker-${Math.random()}`;
  assert.deepEqual((await gateway.sendToClient(client.id, marker)).sent, [client.id]);
  assert.equal(await client.next(), marker);
}

describe('sending', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let gw: Gateway;
  before(async () => {
    h = await GatewayHarness.start();
    gw = h.gateway;
  });
  after(() => h.stop());

  test('sendToClient delivers a string as text and reports it sent', async () => {
    const a = await h.connect();
    const report = await gw.sendToClient(a.id, 'hello');
    assert.deepEqual(report, { recipients: 1, sent: [a.id], gone: [], failed: [] });
    assert.equal(await a.next(), 'hello');
  });

  test('bytes are sent as they are and anything else is JSON-serialised once per call', async () => {
    const [a, b, c] = await h.connectMany(3);
    await Promise.all([a!, b!, c!].map((x) => gw.joinGroup(x.id, 'kinds')));
    await gw.sendToClient(a!.id, Buffer.from([0xff, 0x00, 0xfe]));
    assert.equal(await a!.next(), `binary:${Buffer.from([0xff, 0x00, 0xfe]).toString('base64')}`);
    await gw.sendToClient(a!.id, new Uint8Array(Buffer.from('utf8 bytes')));
    assert.equal(await a!.next(), 'utf8 bytes');
    let serialised = 0;
    const value = { toJSON: () => (serialised++, { type: 'news', n: 1 }) };
    const report = await gw.sendToGroup('kinds', value);
    assert.equal(report.sent.length, 3);
    assert.equal(serialised, 1);
    for (const x of [a!, b!, c!]) assert.deepEqual(JSON.parse(await x.next()), { type: 'news', n: 1 });
    await gw.sendToClient(a!.id, null);
    assert.equal(await a!.next(), 'null');
  });

  test('a message of exactly 131072 bytes is delivered', async () => {
    const a = await h.connect();
    const big = 'x'.repeat(131072);
    assert.deepEqual((await gw.sendToClient(a.id, big)).sent, [a.id]);
    assert.equal(await a.next(), big);
  });

  test('sendToUid reaches every connection of the uid, and of each uid given', async () => {
    const [a1, a2, b1, other] = await h.connectMany(4);
    await gw.bindUid(a1!.id, 'alice');
    await gw.bindUid(a2!.id, 'alice');
    await gw.bindUid(b1!.id, 'bob');
    const one = await gw.sendToUid('alice', 'to alice');
    assert.deepEqual(sorted(one.sent), sorted([a1!.id, a2!.id]));
    assert.equal(await a1!.next(), 'to alice');
    assert.equal(await a2!.next(), 'to alice');
    const many = await gw.sendToUid(['alice', 'bob', 'alice', 'nobody'], 'to both');
    assert.equal(many.recipients, 3);
    assert.deepEqual(sorted(many.sent), sorted([a1!.id, a2!.id, b1!.id]));
    for (const x of [a1!, a2!, b1!]) assert.equal(await x.next(), 'to both');
    await assertNothingElse(gw, other!);
  });

  test('sendToUid honours exclusions', async () => {
    const [a1, a2] = await h.connectMany(2);
    await gw.bindUid(a1!.id, 'carol');
    await gw.bindUid(a2!.id, 'carol');
    const report = await gw.sendToUid('carol', 'not to a1', { exclude: a1!.id });
    assert.deepEqual(report.sent, [a2!.id]);
    assert.equal(await a2!.next(), 'not to a1');
    await assertNothingElse(gw, a1!);
  });

  test('a client in two of the groups sent to receives the message once', async () => {
    const [both, onlyA, onlyB] = await h.connectMany(3);
    await gw.joinGroup(both!.id, 'room-a');
    await gw.joinGroup(both!.id, 'room-b');
    await gw.joinGroup(onlyA!.id, 'room-a');
    await gw.joinGroup(onlyB!.id, 'room-b');
    const report = await gw.sendToGroup(['room-a', 'room-b'], 'once');
    assert.equal(report.recipients, 3);
    assert.deepEqual(sorted(report.sent), sorted([both!.id, onlyA!.id, onlyB!.id]));
    for (const x of [both!, onlyA!, onlyB!]) assert.equal(await x.next(), 'once');
    await assertNothingElse(gw, both!);
  });

  test('sendToGroup honours a single exclusion and a list of exclusions', async () => {
    const [a, b, c] = await h.connectMany(3);
    for (const x of [a!, b!, c!]) await gw.joinGroup(x.id, 'excl');
    const one = await gw.sendToGroup('excl', 'm1', { exclude: a!.id });
    assert.deepEqual(sorted(one.sent), sorted([b!.id, c!.id]));
    const two = await gw.sendToGroup('excl', 'm2', { exclude: [a!.id, b!.id] });
    assert.deepEqual(two.sent, [c!.id]);
    assert.equal(await b!.next(), 'm1');
    assert.equal(await c!.next(), 'm1');
    assert.equal(await c!.next(), 'm2');
    await assertNothingElse(gw, a!);
    await assertNothingElse(gw, b!);
  });

  test('sendToGroup to an empty group reaches nobody', async () => {
    assert.deepEqual(await gw.sendToGroup('nobody-here', 'x'), { recipients: 0, sent: [], gone: [], failed: [] });
  });

  test('sendToAll reaches every connection, a given list only, and honours exclusions; [] sends to nobody', async () => {
    const [a, b] = await h.connectMany(2);
    const open = h.local.openConnectionIds();
    const all = await gw.sendToAll('everyone', { exclude: b!.id });
    assert.deepEqual(sorted(all.sent), sorted(open.filter((id) => id !== b!.id)));
    assert.equal(await a!.next(), 'everyone');
    const listed = await gw.sendToAll('listed', { clientIds: [a!.id, b!.id, a!.id], exclude: [a!.id] });
    assert.deepEqual(listed, { recipients: 1, sent: [b!.id], gone: [], failed: [] });
    assert.equal(await b!.next(), 'listed');
    assert.deepEqual(await gw.sendToAll('nobody', { clientIds: [] }), { recipients: 0, sent: [], gone: [], failed: [] });
    await assertNothingElse(gw, a!);
    await assertNothingElse(gw, b!);
  });

  test('a connection whose $disconnect was lost answers 410: it is reported gone and pruned with all its index items', async () => {
    const [stale, live] = await h.connectMany(2);
    await gw.bindUid(stale!.id, 'dave');
    await gw.joinGroup(stale!.id, 'stale-room');
    await gw.joinGroup(stale!.id, 'stale-room-2');
    await gw.joinGroup(live!.id, 'stale-room');
    await ageConnection(h.doc, stale!.id);
    const dropped = h.local.stats().droppedDisconnects;
    h.local.setFaults({ dropDisconnectRate: 1 });
    await stale!.close();
    await h.until(() => h.local.stats().droppedDisconnects > dropped);
    h.local.setFaults({});
    assert.ok(await connectionItem(h.doc, stale!.id), 'the stale item is still there before the send');

    const report = await gw.sendToGroup('stale-room', 'hi');
    assert.deepEqual(report.sent, [live!.id]);
    assert.deepEqual(report.gone, [stale!.id]);
    assert.equal(await connectionItem(h.doc, stale!.id), undefined);
    assert.deepEqual(await indexItemsOf(h.doc, stale!.id), []);
    assert.deepEqual(await indexIds(h.doc, 'groups', 'stale-room'), [live!.id]);
    assert.equal(await live!.next(), 'hi');
  });

  test('an index item pointing at a connection that no longer exists is pruned on 410', async () => {
    const ghost = unknownId(1);
    await putIndexItem(h.doc, 'uids', 'ghost-user', ghost);
    await putIndexItem(h.doc, 'groups', 'ghost-room', ghost);
    const report = await gw.sendToUid('ghost-user', 'boo');
    assert.deepEqual(report.gone, [ghost]);
    assert.deepEqual(await indexIds(h.doc, 'uids', 'ghost-user'), []);
    // The group item is found through the group only; the next group send prunes it.
    assert.deepEqual((await gw.sendToGroup('ghost-room', 'boo')).gone, [ghost]);
    assert.deepEqual(await indexIds(h.doc, 'groups', 'ghost-room'), []);
  });

  test('sendToClient to a closed client reports it gone', async () => {
    const a = await h.connect();
    await a.close();
    await h.whenDisconnected(a.id);
    assert.deepEqual(await gw.sendToClient(a.id, 'late'), { recipients: 1, sent: [], gone: [a.id], failed: [] });
  });

  test('with 429 and 500 injected, retries deliver to every live connection exactly once', async () => {
    const clients = await h.connectMany(40);
    for (const x of clients) await gw.joinGroup(x.id, 'flaky');
    const patient = h.newGateway({ maxRetries: 12, retryBaseDelayMs: 1, retryMaxDelayMs: 4 });
    h.local.setFaults({ throttleRate: 0.3, serverErrorRate: 0.2, random: seeded(42) });
    let report!: SendReport;
    let requests: number;
    try {
      ({ requests } = await countHttpRequests(async () => (report = await patient.sendToGroup('flaky', 'survives'))));
    } finally {
      h.local.setFaults({});
    }
    assert.ok(requests > 40 + 1, `faults were injected and retried (${requests} requests for 40 recipients)`);
    assert.deepEqual(report.failed, []);
    assert.deepEqual(sorted(report.sent), sorted(clients.map((x) => x.id)));
    for (const x of clients) assert.equal(await x.next(), 'survives');
    for (const x of clients.slice(0, 5)) await assertNothingElse(gw, x);
  });

  test('with every post throttled, each recipient is reported failed with ThrottledError after the bounded retries', async () => {
    const [a, b] = await h.connectMany(2);
    await gw.joinGroup(a!.id, 'throttled');
    await gw.joinGroup(b!.id, 'throttled');
    const quick = h.newGateway({ maxRetries: 2, retryBaseDelayMs: 1, retryMaxDelayMs: 2 });
    h.local.setFaults({ throttleRate: 1 });
    let throttled: SendReport;
    let broken: SendReport;
    try {
      throttled = await quick.sendToGroup('throttled', 'x');
      h.local.setFaults({ serverErrorRate: 1 });
      broken = await quick.sendToClient(a!.id, 'y');
    } finally {
      h.local.setFaults({});
    }
    assert.deepEqual(throttled.sent, []);
    assert.equal(throttled.failed.length, 2);
    for (const { error } of throttled.failed) {
      assert.ok(error instanceof ThrottledError);
      assert.equal(error.code, 'THROTTLED');
      assert.equal(error.statusCode, 429);
    }
    assert.equal(broken.failed.length, 1);
    assert.ok(broken.failed[0]!.error instanceof ServiceError);
    assert.equal(broken.failed[0]!.error.code, 'SERVICE_ERROR');
    assert.equal((broken.failed[0]!.error as ServiceError).statusCode, 500);
    // Nothing reached them, and they are still registered (a failure is not a 410).
    await assertNothingElse(gw, a!);
    await assertNothingElse(gw, b!);
    assert.ok(await connectionItem(h.doc, a!.id));
  });

  test('onSendCompleted reports counts and phases', async () => {
    const seen: unknown[] = [];
    const observed = h.newGateway({ onSendCompleted: (m) => seen.push(m) });
    const a = await h.connect();
    await gw.joinGroup(a.id, 'observed');
    await observed.sendToGroup('observed', 'abc');
    assert.equal(await a.next(), 'abc');
    assert.equal(seen.length, 1);
    const m = seen[0] as Record<string, number | string>;
    assert.equal(m.operation, 'sendToGroup');
    assert.equal(m.recipients, 1);
    assert.equal(m.sent, 1);
    assert.equal(m.bytes, 3);
    assert.ok((m.resolveMs as number) >= 0 && (m.deliverMs as number) >= 0);
  });
});

describe('sending while $connect runs', { timeout: 30_000 }, () => {
  const early: SendReport[] = [];
  let h: GatewayHarness;
  before(async () => {
    h = await GatewayHarness.start({
      onConnect: async (id, gateway) => {
        await gateway.joinGroup(id, 'lobby');
        early.push(await gateway.sendToGroup('lobby', 'too early'));
      },
    });
  });
  after(() => h.stop());

  test('a post during $connect answers 410, and the registering connection is not pruned', async () => {
    const a = await h.connect();
    assert.deepEqual(early[0]!.gone, [a.id]);
    assert.ok(await connectionItem(h.doc, a.id));
    assert.deepEqual(await indexIds(h.doc, 'groups', 'lobby'), [a.id]);
    assert.deepEqual((await h.gateway.sendToGroup('lobby', 'welcome')).sent, [a.id]);
    assert.equal(await a.next(), 'welcome');
  });
});
