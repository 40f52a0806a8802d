/**
 * Groups at scale through the SDK, on the local gateway: the per-connection group cap (checked before
 * any write, and again by the update's condition when two joins race for the last place), and the
 * getAllGroup* queries (index-driven, every page of every scan segment, no early stop).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GatewayHarness, LOCAL_CREDENTIALS, TEST_TABLES } from '../../testkit/gatewayHarness.ts';
import { connectionItem, indexIds, indexItemsOf, putIndexItem, unknownId } from '../helpers/dynamo.ts';
import {
  LimitExceededError,
  MAX_GROUPS_PER_CONNECTION,
  MAX_NAME_LENGTH,
  MAX_SESSION_BYTES,
  type ConsumedCapacityEvent,
  type Gateway,
} from '../../sdk/index.ts';
import { withTestHooks } from '../../sdk/internal.ts';

const sorted = (ids: readonly string[]) => [...ids].sort();

/** A group name of exactly 256 characters, distinct per n. */
const longGroup = (n: number) => `g${String(n).padStart(5, '0')}-`.padEnd(MAX_NAME_LENGTH, 'x');

/**
 * A session of at most MAX_SESSION_BYTES as JSON that the local DynamoDB (dynalite) stores in the most
 * bytes: empty lists, 3 bytes of JSON each ("[],") and 4 in an item (3 for the list, 1 for the
 * element). (AWS's worst case is a list of zeros, 1.5 times its JSON; dynalite counts a 0 as one
 * byte. sdk/validation.ts budgets for AWS.)
 */
function largestSession(): Record<string, unknown> {
  const n = Math.floor((MAX_SESSION_BYTES - '{"x":[]}'.length + 1) / 3);
  const session = { x: Array.from({ length: n }, () => []) };
  assert.ok(Buffer.byteLength(JSON.stringify(session)) <= MAX_SESSION_BYTES);
  return session;
}

async function joinAll(gw: Gateway, clientId: string, groups: readonly string[]): Promise<void> {
  for (let i = 0; i < groups.length; i += 20) await Promise.all(groups.slice(i, i + 20).map((g) => gw.joinGroup(clientId, g)));
}

describe('the group cap', { timeout: 120_000 }, () => {
  let h: GatewayHarness;
  let gw: Gateway;
  before(async () => {
    h = await GatewayHarness.start();
    gw = h.gateway;
  });
  after(() => h.stop());

  test(`a connection in ${MAX_GROUPS_PER_CONNECTION} groups of 256 characters, with the largest session, a 1024-character user agent and a 256-character uid, stays writable; the next join is a LimitExceededError that leaves nothing behind`, async () => {
    const a = await h.connect();
    const id = a.id;
    await h.gateway.unregisterConnection(id);
    await gw.registerConnection({ connectionId: id, connectedAt: Date.now(), userAgent: 'u'.repeat(1024), sourceIp: '1'.repeat(64) });
    await gw.bindUid(id, 'U'.repeat(MAX_NAME_LENGTH));
    await gw.setSession(id, largestSession());
    const groups = Array.from({ length: MAX_GROUPS_PER_CONNECTION }, (_, i) => longGroup(i));
    await joinAll(gw, id, groups);
    assert.equal((await gw.getGroupsByClientId(id)).length, MAX_GROUPS_PER_CONNECTION);

    const extra = longGroup(MAX_GROUPS_PER_CONNECTION);
    const events: ConsumedCapacityEvent[] = [];
    const metered = h.newGateway({ onConsumedCapacity: (e) => events.push(e) });
    for (let attempt = 0; attempt < 2; attempt++) {
      events.length = 0;
      await assert.rejects(
        metered.joinGroup(id, extra),
        (e: unknown) => e instanceof LimitExceededError && e.code === 'LIMIT_EXCEEDED' && e.limit === MAX_GROUPS_PER_CONNECTION && e.connectionId === id,
      );
      // The index and membership items, the refused update (a failed condition reports no capacity),
      // a read to tell full from gone, and both items undone: none is left.
      assert.deepEqual(
        events.map((e) => [e.command, e.table]),
        [
          ['PutItem', TEST_TABLES.groups],
          ['PutItem', TEST_TABLES.memberships],
          ['GetItem', TEST_TABLES.connections],
          ['DeleteItem', TEST_TABLES.groups],
          ['DeleteItem', TEST_TABLES.memberships],
        ],
      );
      assert.deepEqual(await indexIds(h.doc, 'groups', extra), []);
    }
    assert.equal((await gw.sendToGroup(extra, 'not for a')).recipients, 0);

    // An accepted join costs three small writes and no read, whatever the session and the groups weigh.
    await metered.leaveGroup(id, groups[1]!);
    events.length = 0;
    await metered.joinGroup(id, groups[1]!);
    assert.deepEqual(
      events.map((e) => [e.command, e.table, e.capacityUnits]),
      [
        ['PutItem', TEST_TABLES.groups, 1],
        ['PutItem', TEST_TABLES.memberships, 1],
        ['UpdateItem', TEST_TABLES.connections, 1],
      ],
    );

    // Joining a group it is in is still fine, and so is the largest session update.
    await gw.joinGroup(id, groups[0]!);
    await gw.updateSession(id, { x: [], y: 'z'.repeat(100) });
    await gw.setSession(id, largestSession());
    assert.equal((await gw.getGroupsByClientId(id)).length, MAX_GROUPS_PER_CONNECTION);
    assert.deepEqual((await gw.sendToGroup(groups[199]!, 'still a member')).sent, [id]);
    assert.equal(await a.next(), 'still a member');

    // Leaving one makes room.
    await gw.leaveGroup(id, groups[0]!);
    await gw.joinGroup(id, extra);
    assert.ok((await gw.getGroupsByClientId(id)).includes(extra));
    assert.deepEqual(await indexIds(h.doc, 'groups', extra), [id]);
    assert.deepEqual(await indexIds(h.doc, 'groups', groups[0]!), []);
    assert.equal((await connectionItem(h.doc, id))?.groupCount, MAX_GROUPS_PER_CONNECTION);
  });

  test('two joins racing for the last place: one gets it, the other is a LimitExceededError and its index item is removed', async () => {
    const a = await h.connect();
    await joinAll(
      gw,
      a.id,
      Array.from({ length: MAX_GROUPS_PER_CONNECTION - 1 }, (_, i) => `race-${i}`),
    );
    // The winner joins between the loser's index write and its update.
    const loser = withTestHooks(h.newGateway(), { afterIndexWrite: () => gw.joinGroup(a.id, 'winner') });
    await assert.rejects(loser.joinGroup(a.id, 'loser'), LimitExceededError);
    assert.deepEqual(await indexIds(h.doc, 'groups', 'loser'), []);
    assert.deepEqual(await indexIds(h.doc, 'groups', 'winner'), [a.id]);
    const groups = await gw.getGroupsByClientId(a.id);
    assert.equal(groups.length, MAX_GROUPS_PER_CONNECTION);
    assert.ok(groups.includes('winner') && !groups.includes('loser'));
    assert.equal((await gw.sendToGroup('loser', 'x')).recipients, 0);
  });

  test('a join whose update loses the last place, then sees room made by a leave, tries the update again and succeeds', async () => {
    const a = await h.connect();
    await joinAll(
      gw,
      a.id,
      Array.from({ length: MAX_GROUPS_PER_CONNECTION - 1 }, (_, i) => `room-${i}`),
    );
    // After the racing join's index write another join takes the last place; after its update fails
    // the condition, a leave makes room again before it reads the item.
    const base = new DynamoDBClient({ endpoint: h.endpoints.dynamoEndpoint, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
    let leftOnce = false;
    base.middlewareStack.add(
      (next, context) => async (args) => {
        try {
          return await next(args);
        } catch (error) {
          if (context.commandName === 'UpdateItemCommand' && !leftOnce) {
            leftOnce = true;
            await gw.leaveGroup(a.id, 'room-0');
          }
          throw error;
        }
      },
      { step: 'initialize', name: 'leaveAfterAFailedUpdate' },
    );
    const racing = withTestHooks(h.newGateway({ dynamoDb: DynamoDBDocumentClient.from(base) }), { afterIndexWrite: () => gw.joinGroup(a.id, 'filler') });
    try {
      await racing.joinGroup(a.id, 'late');
    } finally {
      base.destroy();
    }
    assert.equal(leftOnce, true, 'the first update failed its condition');
    const groups = await gw.getGroupsByClientId(a.id);
    assert.equal(groups.length, MAX_GROUPS_PER_CONNECTION);
    assert.ok(groups.includes('late') && groups.includes('filler') && !groups.includes('room-0'));
    assert.deepEqual(await indexIds(h.doc, 'groups', 'late'), [a.id]);
  });
});

describe('getAllGroup*', { timeout: 120_000 }, () => {
  let h: GatewayHarness;
  let gw: Gateway;
  before(async () => {
    h = await GatewayHarness.start({ gateway: { scanSegments: 3 } });
    gw = h.gateway;
  });
  after(() => h.stop());

  test('on empty tables: {}', async () => {
    assert.deepEqual(await gw.getAllGroupClientIdList(), {});
    assert.deepEqual(await gw.getAllGroupClientIdCount(), {});
    assert.deepEqual(await gw.getAllGroupUidList(), {});
    assert.deepEqual(await gw.getAllGroupUidCount(), {});
  });

  test('members with and without uids, in several groups, and a stale index item of a gone connection: every group, nothing skipped', async () => {
    const [a, b, c, d, e] = await h.connectMany(5);
    // e: connected, in no group, unbound (GatewayWorker stops its loop at such a connection).
    await gw.bindUid(a!.id, 'ann');
    await gw.bindUid(b!.id, 'ann'); // two connections, one uid
    await gw.bindUid(c!.id, 'cid');
    for (const x of [a!, b!, c!, d!]) await gw.joinGroup(x.id, 'room');
    await gw.joinGroup(a!.id, 'pair');
    await gw.joinGroup(d!.id, 'pair');
    await gw.joinGroup(d!.id, 'anonymous'); // only a member without a uid
    await gw.joinGroup(c!.id, '__proto__');
    // A connection gone without its $disconnect: its index items stay until a 410 or TTL.
    const stale = unknownId(1);
    await putIndexItem(h.doc, 'groups', 'room', stale);
    await putIndexItem(h.doc, 'uids', 'ghost', stale);
    void e;

    const list = await gw.getAllGroupClientIdList();
    assert.deepEqual(Object.fromEntries(Object.entries(list).map(([g, ids]) => [g, sorted(ids)])), {
      room: sorted([a!.id, b!.id, c!.id, d!.id, stale]),
      pair: sorted([a!.id, d!.id]),
      anonymous: [d!.id],
      ['__proto__']: [c!.id],
    });
    assert.ok(Object.hasOwn(list, '__proto__'));
    assert.deepEqual(await gw.getAllGroupClientIdCount(), { room: 5, pair: 2, anonymous: 1, ['__proto__']: 1 });
    const uids = await gw.getAllGroupUidList();
    assert.deepEqual(Object.fromEntries(Object.entries(uids).map(([g, u]) => [g, sorted(u)])), {
      room: ['ann', 'cid', 'ghost'],
      pair: ['ann'],
      anonymous: [],
      ['__proto__']: ['cid'],
    });
    assert.deepEqual(await gw.getAllGroupUidCount(), { room: 3, pair: 1, anonymous: 0, ['__proto__']: 1 });

    // The same members as the per-group queries, which read the same index (the stale one included).
    for (const [group, ids] of Object.entries(list)) {
      assert.deepEqual(sorted(ids), sorted(await gw.getClientIdListByGroup(group)));
      assert.equal(ids.length, await gw.getClientCountByGroup(group));
    }
    assert.deepEqual(sorted(Object.keys(list)), sorted(await gw.getAllGroupIdList()));
    // getUidListByGroup reads uids from the connection items, so the stale member's uid is not there.
    assert.deepEqual(sorted(await gw.getUidListByGroup('room')), ['ann', 'cid']);

    // A send to the room finds the stale member gone and prunes its group index item: then both agree.
    const report = await gw.sendToGroup('room', 'hello');
    assert.deepEqual(report.gone, [stale]);
    assert.deepEqual(sorted((await gw.getAllGroupClientIdList()).room!), sorted([a!.id, b!.id, c!.id, d!.id]));
    assert.deepEqual(sorted((await gw.getAllGroupUidList()).room!), ['ann', 'cid']);
    assert.equal((await gw.getAllGroupUidCount()).room, await gw.getUidCountByGroup('room'));

    // Leaving empties a group, which then disappears.
    await gw.leaveGroup(d!.id, 'anonymous');
    assert.equal(Object.hasOwn(await gw.getAllGroupClientIdCount(), 'anonymous'), false);
    assert.equal(Object.hasOwn(await gw.getAllGroupUidCount(), 'anonymous'), false);
    for (const x of [a!, b!, c!, d!]) await x.close();
    for (const x of [a!, b!, c!, d!]) await h.whenDisconnected(x.id);
    assert.deepEqual(await gw.getAllGroupClientIdList(), {});
    assert.deepEqual(await gw.getAllGroupUidList(), {});
    await h.gateway.unregisterConnection(e!.id);
    assert.deepEqual(await indexItemsOf(h.doc, stale), ['uids:ghost']); // only TTL or a send to 'ghost' removes it now
  });

  test('every page of every scan segment is read: 4,000 index items over 1 MB, with one segment and with three', async () => {
    // Index items written directly (stale ones, as far as the connections table knows): 40 groups of
    // 256 characters with 100 members each; every other member bound to one of 7 uids.
    const members = (g: number) => Array.from({ length: 100 }, (_, i) => `p${String(g).padStart(3, '0')}${String(i).padStart(11, '0')}=`);
    const groupItems: Array<Record<string, unknown>> = [];
    const uidItems: Array<Record<string, unknown>> = [];
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    for (let g = 0; g < 40; g++) {
      for (const [i, id] of members(g).entries()) {
        groupItems.push({ group: longGroup(g), connectionId: id, expiresAt });
        if (i % 2 === 0) uidItems.push({ uid: `uid-${(g + i) % 7}`, connectionId: id, expiresAt });
      }
    }
    for (const [table, items] of [
      [TEST_TABLES.groups, groupItems],
      [TEST_TABLES.uids, uidItems],
    ] as const) {
      for (let i = 0; i < items.length; i += 25) {
        await h.doc.send(new BatchWriteCommand({ RequestItems: { [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })) } }));
      }
    }
    const expectedUids = (g: number) => new Set(Array.from({ length: 50 }, (_, k) => `uid-${(g + 2 * k) % 7}`)).size;
    let scans = 0;
    const oneSegment = h.newGateway({ scanSegments: 1, onConsumedCapacity: (e) => void (e.command === 'Scan' && e.table === TEST_TABLES.groups && scans++) });
    for (const g of [gw, oneSegment]) {
      const counts = await g.getAllGroupClientIdCount();
      assert.equal(Object.keys(counts).length, 40);
      for (let i = 0; i < 40; i++) assert.equal(counts[longGroup(i)], 100, longGroup(i));
      const list = await g.getAllGroupClientIdList();
      for (let i = 0; i < 40; i++) assert.deepEqual(sorted(list[longGroup(i)]!), members(i));
      const uidCounts = await g.getAllGroupUidCount();
      for (let i = 0; i < 40; i++) assert.equal(uidCounts[longGroup(i)], expectedUids(i));
    }
    assert.ok(scans >= 6, `one segment took ${scans / 3} pages a scan`);
  });
});
