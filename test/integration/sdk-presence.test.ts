/**
 * Presence groups (sdk/gateway/presence.ts) on the local gateway with real ws clients: a uid is one
 * member however many tabs it has; member_added goes to the others on its first tab's join,
 * member_removed on its last tab's leaveGroup (also one that finds the connection gone) or
 * $disconnect or when a send finds it gone (410);
 * two tabs joining at once announce once; the items stay readable by getPresenceMembers.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteCommand, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { GatewayHarness, type TestClient } from '../../testkit/gatewayHarness.ts';
import { MAX_PRESENCE_INFO_BYTES, PresenceEvent, ValidationError } from '../../sdk/index.ts';

const added = (group: string, id: string, info: unknown) => ({ event: PresenceEvent.memberAdded, channel: group, data: { id, info } });
const removed = (group: string, id: string) => ({ event: PresenceEvent.memberRemoved, channel: group, data: { id } });
const next = async (client: TestClient) => JSON.parse(await client.next()) as unknown;

describe('presence groups', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await GatewayHarness.start();
  });
  after(() => h.stop());

  test('a browser-client connection (?gw=1, enveloped pushes) joins as a presence member: its index item keeps the member', async () => {
    const group = 'presence-enveloped';
    const page = await h.connect();
    // What $connect stores for the browser client's ?gw=1 (this harness's inline $connect does not).
    await h.doc.send(
      new UpdateCommand({
        TableName: h.tables.connections,
        Key: { connectionId: page.id },
        UpdateExpression: 'SET env = :t',
        ExpressionAttributeValues: { ':t': true },
      }),
    );
    const join = await h.gateway.joinPresence(page.id, group, { id: '7', info: { name: 'Eve' } });
    assert.deepEqual(join.members, [{ id: '7', info: { name: 'Eve' } }]);
    assert.deepEqual(await h.gateway.getPresenceMembers(group), [{ id: '7', info: { name: 'Eve' } }]);
    const item = (await h.doc.send(new GetCommand({ TableName: h.tables.groups, Key: { group, connectionId: page.id }, ConsistentRead: true }))).Item;
    assert.equal(item?.env, true, 'the index item says the connection takes enveloped pushes');
    assert.equal(item?.presenceUid, '7');
  });

  test('a joiner gets the members; the others get member_added once per uid and member_removed when its last tab leaves', async () => {
    const group = 'presence-room.1';
    const alice = await h.connect();
    const aliceJoin = await h.gateway.joinPresence(alice.id, group, { id: '1', info: { name: 'Alice' } });
    assert.deepEqual(aliceJoin, { members: [{ id: '1', info: { name: 'Alice' } }], announced: true });

    const bobTab1 = await h.connect();
    const bobJoin = await h.gateway.joinPresence(bobTab1.id, group, { id: '2', info: { name: 'Bob' } });
    assert.deepEqual(bobJoin.members, [
      { id: '1', info: { name: 'Alice' } },
      { id: '2', info: { name: 'Bob' } },
    ]);
    assert.deepEqual(await next(alice), added(group, '2', { name: 'Bob' }));

    // Bob's second tab: a member already, no announcement.
    const bobTab2 = await h.connect();
    const second = await h.gateway.joinPresence(bobTab2.id, group, { id: '2', info: { name: 'Bob' } });
    assert.equal(second.announced, false);
    assert.equal(second.members.length, 2);

    // A plain member of the same group hears presence events but is no member.
    const watcher = await h.connect();
    await h.gateway.joinGroup(watcher.id, group);
    assert.deepEqual(
      (await h.gateway.getPresenceMembers(group)).map((m) => m.id),
      ['1', '2'],
    );

    // Bob's first tab leaves: he still has a tab, nobody is told.
    await h.gateway.leaveGroup(bobTab1.id, group);
    // Bob's second tab disconnects: his last one, member_removed to everyone left.
    await bobTab2.close();
    await h.whenDisconnected(bobTab2.id);
    assert.deepEqual(await next(alice), removed(group, '2'));
    assert.deepEqual(await next(watcher), removed(group, '2'));
    assert.deepEqual(await h.gateway.getPresenceMembers(group), [{ id: '1', info: { name: 'Alice' } }]);
    // Nothing else reached alice: the second tab's join and the first tab's leave were silent.
    assert.deepEqual(alice.unread(), []);
    // Bob's first tab had left: it heard nothing of his second tab's disconnect.
    await h.gateway.sendToClient(bobTab1.id, 'marker');
    assert.equal(await bobTab1.next(), 'marker');
  });

  test('two tabs of one uid joining at the same moment announce it once', async () => {
    const group = 'presence-race';
    const observer = await h.connect();
    await h.gateway.joinPresence(observer.id, group, { id: 'observer', info: null });
    const [tab1, tab2] = await Promise.all([h.connect(), h.connect()]);
    const joins = await Promise.all([
      h.gateway.joinPresence(tab1.id, group, { id: 'carol', info: 1 }),
      h.gateway.joinPresence(tab2.id, group, { id: 'carol', info: 1 }),
    ]);
    assert.equal(joins.filter((j) => j.announced).length, 1);
    assert.deepEqual(await next(observer), added(group, 'carol', 1));
    // A later send proves nothing else was queued before it.
    await h.gateway.sendToClient(observer.id, 'marker');
    assert.equal(await observer.next(), 'marker');
  });

  test('a member whose socket is gone without $disconnect is announced when a send finds it (410 prune)', async () => {
    const group = 'presence-prune';
    const stayer = await h.connect();
    await h.gateway.joinPresence(stayer.id, group, { id: 's', info: null });
    // What a lost $disconnect leaves: the items of a connection the gateway does not have (older than
    // the 30 s $connect grace, so that a 410 prunes it).
    const ghost = 'GhostGhostGhost=';
    await h.gateway.registerConnection({ connectionId: ghost, connectedAt: Date.now() - 60_000 });
    await h.gateway.joinPresence(ghost, group, { id: 'g', info: null });
    assert.deepEqual(await next(stayer), added(group, 'g', null));
    const report = await h.gateway.sendToGroup(group, 'hello');
    assert.deepEqual(report.gone, [ghost]);
    assert.equal(await stayer.next(), 'hello');
    assert.deepEqual(await next(stayer), removed(group, 'g'));
    assert.deepEqual(await h.gateway.getPresenceMembers(group), [{ id: 's', info: null }]);
  });

  test('leaveGroup of a member whose connection item is already gone rejects, and still announces the departure', async () => {
    const group = 'presence-leave-gone';
    const stayer = await h.connect();
    await h.gateway.joinPresence(stayer.id, group, { id: 's', info: null });
    const ghost = 'GhostLeavesGone=';
    await h.gateway.registerConnection({ connectionId: ghost, connectedAt: Date.now() });
    await h.gateway.joinPresence(ghost, group, { id: 'g', info: null });
    assert.deepEqual(await next(stayer), added(group, 'g', null));
    // The connection item goes first, as in $disconnect; a leave running then finds its membership.
    await h.doc.send(new DeleteCommand({ TableName: h.tables.connections, Key: { connectionId: ghost } }));
    await assert.rejects(h.gateway.leaveGroup(ghost, group), { code: 'CONNECTION_GONE' });
    assert.deepEqual(await next(stayer), removed(group, 'g'));
    assert.deepEqual(await h.gateway.getPresenceMembers(group), [{ id: 's', info: null }]);
  });

  test('the items: the uid, info and join time on the index item, the uid on the membership item; joinGroup makes a plain member again', async () => {
    const group = 'presence-items';
    const client = await h.connect();
    await h.gateway.joinPresence(client.id, group, { id: 'dave', info: { a: [1, 2] } });
    const index = await h.doc.send(new GetCommand({ TableName: h.tables.groups, Key: { group, connectionId: client.id } }));
    assert.equal(index.Item?.presenceUid, 'dave');
    assert.equal(index.Item?.presenceInfo, '{"a":[1,2]}');
    assert.equal(typeof index.Item?.joinedAt, 'number');
    const membership = await h.doc.send(new GetCommand({ TableName: h.tables.memberships, Key: { connectionId: client.id, group } }));
    assert.equal(membership.Item?.presenceUid, 'dave');
    await h.gateway.joinGroup(client.id, group);
    assert.deepEqual(await h.gateway.getPresenceMembers(group), []);
    assert.deepEqual(await h.gateway.getClientIdListByGroup(group), [client.id]);
  });

  test('bad members are refused before any write; a gone client is ConnectionGoneError', async () => {
    const client = await h.connect();
    const group = 'presence-bad';
    await assert.rejects(h.gateway.joinPresence(client.id, group, { id: '', info: null }), ValidationError);
    await assert.rejects(h.gateway.joinPresence(client.id, group, { id: 7 as unknown as string, info: null }), /member\.id must be a string/);
    await assert.rejects(h.gateway.joinPresence(client.id, group, { id: 'x', info: 'y'.repeat(MAX_PRESENCE_INFO_BYTES) }), /at most 1024 bytes/);
    await assert.rejects(h.gateway.joinPresence(client.id, group, { id: 'x', info: 10n }), /cannot be serialised/);
    await assert.rejects(h.gateway.joinPresence(client.id, group, null as never), /member must be an object/);
    assert.deepEqual(await h.gateway.getClientIdListByGroup(group), []);
    await client.close();
    await h.whenDisconnected(client.id);
    await assert.rejects(h.gateway.joinPresence(client.id, group, { id: 'x', info: null }), { code: 'CONNECTION_GONE' });
    assert.deepEqual(await h.gateway.getClientIdListByGroup(group), []);
  });
});
