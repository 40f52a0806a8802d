/**
 * Uids, groups, queries, closing and the connection lifecycle through the SDK, checked against the
 * local gateway and the DynamoDB tables themselves; and the crash-between-writes hooks.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GatewayHarness, LOCAL_CREDENTIALS } from '../../testkit/gatewayHarness.ts';
import { connectionItem, indexIds, indexItemsOf } from '../helpers/dynamo.ts';
import { ConnectionGoneError, ServiceError, type Gateway } from '../../sdk/index.ts';
import { withTestHooks } from '../../sdk/internal.ts';

const sorted = (ids: readonly string[]) => [...ids].sort();

class SimulatedCrash extends Error {}

describe('uids', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let gw: Gateway;
  before(async () => {
    h = await GatewayHarness.start();
    gw = h.gateway;
  });
  after(() => h.stop());

  test('bindUid indexes the connection and records the uid on it', async () => {
    const a = await h.connect();
    await gw.bindUid(a.id, 'u-1');
    assert.equal(await gw.getUidByClientId(a.id), 'u-1');
    assert.deepEqual(await gw.getClientIdByUid('u-1'), [a.id]);
    assert.equal(await gw.isUidOnline('u-1'), true);
    assert.equal((await connectionItem(h.doc, a.id))?.uid, 'u-1');
    assert.deepEqual(await indexIds(h.doc, 'uids', 'u-1'), [a.id]);
  });

  test('one uid can have several clients', async () => {
    const [a, b] = await h.connectMany(2);
    await gw.bindUid(a!.id, 'multi');
    await gw.bindUid(b!.id, 'multi');
    assert.deepEqual(sorted(await gw.getClientIdByUid('multi')), sorted([a!.id, b!.id]));
  });

  test('binding again moves the client to the new uid and removes the old index item', async () => {
    const a = await h.connect();
    await gw.bindUid(a.id, 'old-uid');
    await gw.bindUid(a.id, 'new-uid');
    assert.equal(await gw.getUidByClientId(a.id), 'new-uid');
    assert.deepEqual(await gw.getClientIdByUid('old-uid'), []);
    assert.equal(await gw.isUidOnline('old-uid'), false);
    assert.deepEqual(await gw.getClientIdByUid('new-uid'), [a.id]);
    assert.deepEqual(await indexItemsOf(h.doc, a.id), ['uids:new-uid']);
    assert.deepEqual((await gw.sendToUid('old-uid', 'x')).recipients, 0);
    // Binding the same uid again changes nothing.
    await gw.bindUid(a.id, 'new-uid');
    assert.deepEqual(await indexItemsOf(h.doc, a.id), ['uids:new-uid']);
  });

  test('unbindUid without a uid removes whatever uid the client has', async () => {
    const a = await h.connect();
    await gw.bindUid(a.id, 'to-unbind');
    await gw.unbindUid(a.id);
    assert.equal(await gw.getUidByClientId(a.id), undefined);
    assert.deepEqual(await indexItemsOf(h.doc, a.id), []);
    await gw.unbindUid(a.id); // unbound: a no-op
  });

  test('unbindUid with a uid only unbinds that uid, and is a no-op for another', async () => {
    const a = await h.connect();
    await gw.bindUid(a.id, 'current');
    await gw.unbindUid(a.id, 'stale-guess');
    assert.equal(await gw.getUidByClientId(a.id), 'current');
    assert.deepEqual(await indexItemsOf(h.doc, a.id), ['uids:current']);
    await gw.unbindUid(a.id, 'current');
    assert.equal(await gw.getUidByClientId(a.id), undefined);
    assert.deepEqual(await indexItemsOf(h.doc, a.id), []);
  });

  test('isUidsOnline and batchGetClientIdByUid answer for every uid asked', async () => {
    const [a, b] = await h.connectMany(2);
    await gw.bindUid(a!.id, 'batch-1');
    await gw.bindUid(b!.id, 'batch-1');
    assert.deepEqual(await gw.isUidsOnline(['batch-1', 'batch-none']), { 'batch-1': true, 'batch-none': false });
    const byUid = await gw.batchGetClientIdByUid(['batch-1', 'batch-none']);
    assert.deepEqual(Object.keys(byUid).sort(), ['batch-1', 'batch-none']);
    assert.deepEqual(sorted(byUid['batch-1']!), sorted([a!.id, b!.id]));
    assert.deepEqual(byUid['batch-none'], []);
    assert.deepEqual(await gw.isUidsOnline([]), {});
  });

  test('closeUid posts the last message then closes every connection of the uid', async () => {
    const [a, b, other] = await h.connectMany(3);
    await gw.bindUid(a!.id, 'kicked');
    await gw.bindUid(b!.id, 'kicked');
    await gw.bindUid(other!.id, 'stays');
    const report = await gw.closeUid('kicked', { type: 'bye' });
    assert.deepEqual(sorted(report.closed), sorted([a!.id, b!.id]));
    assert.deepEqual(report.gone, []);
    for (const x of [a!, b!]) {
      assert.equal(await x.next(), '{"type":"bye"}');
      assert.equal((await x.closed).code, 1000);
      await h.whenDisconnected(x.id);
    }
    assert.deepEqual(await gw.getClientIdByUid('kicked'), []);
    assert.deepEqual(await gw.getClientIdByUid('stays'), [other!.id]);
    assert.equal(h.isOpen(other!.id), true);
  });

  test('mutating a client that is not connected rejects with ConnectionGoneError and leaves no index item', async () => {
    const a = await h.connect();
    await a.close();
    await h.whenDisconnected(a.id);
    for (const attempt of [() => gw.bindUid(a.id, 'ghost'), () => gw.unbindUid(a.id), () => gw.unbindUid(a.id, 'ghost')]) {
      await assert.rejects(attempt(), (e: unknown) => e instanceof ConnectionGoneError && e.code === 'CONNECTION_GONE' && e.connectionId === a.id);
    }
    assert.deepEqual(await indexIds(h.doc, 'uids', 'ghost'), []);
    assert.equal(await connectionItem(h.doc, a.id), undefined);
  });
});

describe('groups', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let gw: Gateway;
  before(async () => {
    h = await GatewayHarness.start();
    gw = h.gateway;
  });
  after(() => h.stop());

  test('joinGroup is idempotent and getGroupsByClientId lists the groups', async () => {
    const a = await h.connect();
    await gw.joinGroup(a.id, 'g-b');
    await gw.joinGroup(a.id, 'g-a');
    await gw.joinGroup(a.id, 'g-a');
    assert.deepEqual(await gw.getGroupsByClientId(a.id), ['g-a', 'g-b']);
    assert.deepEqual(await gw.getClientIdListByGroup('g-a'), [a.id]);
    assert.deepEqual(await indexItemsOf(h.doc, a.id), ['groups:g-a', 'groups:g-b', 'memberships:g-a', 'memberships:g-b']);
    assert.equal((await connectionItem(h.doc, a.id))?.groupCount, 2, 'joining a group it is in does not count it twice');
  });

  test('leaveGroup removes the membership item and the index item and takes it off the count', async () => {
    const a = await h.connect();
    await gw.joinGroup(a.id, 'leave-me');
    await gw.leaveGroup(a.id, 'leave-me');
    assert.deepEqual(await gw.getGroupsByClientId(a.id), []);
    assert.deepEqual(await gw.getClientIdListByGroup('leave-me'), []);
    assert.equal((await connectionItem(h.doc, a.id))?.groupCount, 0);
    assert.deepEqual(await indexItemsOf(h.doc, a.id), []);
    await gw.leaveGroup(a.id, 'never-joined'); // not a member: a no-op
  });

  test('counts, members, sessions and uids of a group', async () => {
    const [a, b, c] = await h.connectMany(3);
    for (const x of [a!, b!, c!]) await gw.joinGroup(x.id, 'team');
    await gw.joinGroup(a!.id, 'team-2');
    await gw.bindUid(a!.id, 'ann');
    await gw.bindUid(b!.id, 'ann');
    await gw.bindUid(c!.id, 'cid');
    await gw.setSession(a!.id, { name: 'A' });
    assert.equal(await gw.getClientCountByGroup('team'), 3);
    assert.equal(await gw.getClientIdCountByGroup('team'), 3);
    assert.equal(await gw.getClientCountByGroup('no-such-team'), 0);
    assert.deepEqual(sorted(await gw.getClientIdListByGroup(['team', 'team-2'])), sorted([a!.id, b!.id, c!.id]));
    assert.deepEqual(await gw.getClientSessionsByGroup('team'), { [a!.id]: { name: 'A' }, [b!.id]: {}, [c!.id]: {} });
    assert.deepEqual(sorted(await gw.getUidListByGroup('team')), ['ann', 'cid']);
    assert.equal(await gw.getUidCountByGroup('team'), 2);
    assert.deepEqual(await gw.getUidListByGroup(['team-2']), ['ann']);
    assert.deepEqual(await gw.batchGetClientIdCountByGroup(['team', 'team-2', 'empty']), { team: 3, 'team-2': 1, empty: 0 });
  });

  test('ungroup removes every member and keeps the connections and their other groups', async () => {
    const [a, b] = await h.connectMany(2);
    for (const x of [a!, b!]) await gw.joinGroup(x.id, 'dissolve');
    await gw.joinGroup(a!.id, 'keep');
    await gw.setSession(a!.id, { kept: true });
    await gw.ungroup('dissolve');
    assert.deepEqual(await gw.getClientIdListByGroup('dissolve'), []);
    assert.deepEqual(await indexIds(h.doc, 'groups', 'dissolve'), []);
    assert.deepEqual(await gw.getGroupsByClientId(a!.id), ['keep']);
    assert.deepEqual(await gw.getGroupsByClientId(b!.id), []);
    assert.deepEqual(await gw.getSession(a!.id), { kept: true });
    assert.ok(h.isOpen(a!.id) && h.isOpen(b!.id));
    await gw.joinGroup(b!.id, 'dissolve'); // can be joined again
    assert.deepEqual(await gw.getClientIdListByGroup('dissolve'), [b!.id]);
  });

  test('joinGroup and leaveGroup on a client that is not connected reject with ConnectionGoneError', async () => {
    const a = await h.connect();
    await a.close();
    await h.whenDisconnected(a.id);
    await assert.rejects(gw.joinGroup(a.id, 'late'), ConnectionGoneError);
    await assert.rejects(gw.leaveGroup(a.id, 'late'), ConnectionGoneError);
    assert.deepEqual(await indexIds(h.doc, 'groups', 'late'), []);
    assert.equal(await connectionItem(h.doc, a.id), undefined, 'the update did not resurrect the item');
    assert.deepEqual(await gw.getGroupsByClientId(a.id), []);
  });
});

describe('clients and the connection lifecycle', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let gw: Gateway;
  before(async () => {
    h = await GatewayHarness.start();
    gw = h.gateway;
  });
  after(() => h.stop());

  test('registerConnection stores identity, an empty session and a TTL past the 2-hour limit', async () => {
    const a = await h.connect();
    const record = await gw.getConnection(a.id);
    assert.ok(record);
    assert.equal(record.connectionId, a.id);
    assert.equal(record.sourceIp, '127.0.0.1');
    assert.deepEqual(record.groups, []);
    assert.deepEqual(record.session, {});
    assert.equal(record.version, 0);
    assert.equal(record.expiresAt, Math.floor(record.connectedAt / 1000) + 2 * 3600 + 300);
  });

  test('a user agent over 1024 characters is stored truncated, not refused', async () => {
    const id = 'longUserAgent00=';
    await gw.registerConnection({ connectionId: id, connectedAt: Date.now(), userAgent: 'x'.repeat(5000) });
    assert.equal((await gw.getConnection(id))?.userAgent, 'x'.repeat(1024));
    await gw.unregisterConnection(id);
  });

  test('the user agent is cut on a code-point boundary: a surrogate pair across the limit goes whole', async () => {
    const id = 'emojiUserAgent0=';
    for (const [given, stored] of [
      [`${'x'.repeat(1023)}😀tail`, 'x'.repeat(1023)], // the pair would be code units 1024 and 1025
      [`${'x'.repeat(1022)}😀tail`, `${'x'.repeat(1022)}😀`], // the pair ends at the limit: kept
      ['😀'.repeat(600), '😀'.repeat(512)],
    ] as const) {
      await gw.registerConnection({ connectionId: id, connectedAt: Date.now(), userAgent: given });
      const userAgent = (await gw.getConnection(id))?.userAgent;
      assert.equal(userAgent, stored);
      assert.ok(userAgent!.length <= 1024);
      await gw.unregisterConnection(id);
    }
  });

  test('isOnline follows API Gateway', async () => {
    const a = await h.connect();
    assert.equal(await gw.isOnline(a.id), true);
    await a.close();
    await h.whenDisconnected(a.id);
    assert.equal(await gw.isOnline(a.id), false);
  });

  test('unregisterConnection (from $disconnect) removes every item and returns the last uid, groups and session', async () => {
    const a = await h.connect();
    await gw.bindUid(a.id, 'leaver');
    await gw.joinGroup(a.id, 'room-1');
    await gw.joinGroup(a.id, 'room-2');
    await gw.setSession(a.id, { cart: [1, 2] });
    await a.close();
    const record = await h.whenDisconnected(a.id);
    assert.equal(record?.uid, 'leaver');
    assert.deepEqual(record?.groups, ['room-1', 'room-2']);
    assert.deepEqual(record?.session, { cart: [1, 2] });
    assert.equal(await connectionItem(h.doc, a.id), undefined);
    assert.deepEqual(await indexItemsOf(h.doc, a.id), []);
    assert.equal(await gw.getConnection(a.id), undefined);
    assert.equal(await gw.unregisterConnection(a.id), undefined);
  });

  test('closeClient posts the last message, closes with 1000, and answers false once the client is gone', async () => {
    const a = await h.connect();
    assert.equal(await gw.closeClient(a.id, 'goodbye'), true);
    assert.equal(await a.next(), 'goodbye');
    assert.equal((await a.closed).code, 1000);
    await h.whenDisconnected(a.id);
    assert.equal(await gw.closeClient(a.id, 'again'), false);
    assert.equal(await gw.closeClient(a.id), false);
  });

  test('destroyClient closes the connection without a message', async () => {
    const a = await h.connect();
    assert.equal(await gw.destroyClient(a.id), true);
    assert.equal((await a.closed).code, 1000);
    assert.deepEqual(a.messages, []);
    await h.whenDisconnected(a.id);
    assert.equal(await gw.destroyClient(a.id), false);
  });
});

describe('everything queries', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let gw: Gateway;
  before(async () => {
    h = await GatewayHarness.start({ gateway: { scanSegments: 3 } });
    gw = h.gateway;
  });
  after(() => h.stop());

  test('getAll* see every connection, uid and group across scan segments and pages', async () => {
    const clients = await h.connectMany(12);
    const ids = clients.map((c) => c.id);
    for (const [i, c] of clients.entries()) {
      if (i % 3 === 0) await gw.bindUid(c.id, `user-${i % 6}`);
      if (i % 2 === 0) await gw.joinGroup(c.id, `grp-${i % 4}`);
    }
    await gw.setSession(ids[1]!, { x: 1 });
    // 300 more registered without sockets, half with 6 KB sessions: over 1 MB, more than one scan page.
    const userAgent = 'u'.repeat(1024);
    const sourceIp = 'i'.repeat(64); // long values, so that the table spans more than one scan page
    const extra = Array.from({ length: 300 }, (_, i) => `extra${String(i).padStart(10, '0')}=`);
    await Promise.all(extra.map((id) => gw.registerConnection({ connectionId: id, connectedAt: Date.now(), userAgent, sourceIp })));
    for (const id of extra.slice(0, 150)) await gw.setSession(id, { pad: 'p'.repeat(6000) });
    const total = ids.length + extra.length;
    let scans = 0;
    const oneSegment = h.newGateway({
      scanSegments: 1,
      onConsumedCapacity: (e) => void (e.command === 'Scan' && e.operation === 'getAllClientSessions' && scans++),
    });
    for (const g of [gw, oneSegment]) {
      assert.equal(await g.getAllClientCount(), total);
      assert.equal(await g.getAllClientIdCount(), total);
      assert.deepEqual(sorted(await g.getAllClientIdList()), sorted([...ids, ...extra]));
    }
    for (const g of [gw, oneSegment]) {
      const sessions = await g.getAllClientSessions();
      assert.equal(Object.keys(sessions).length, total);
      assert.deepEqual(sessions[ids[1]!], { x: 1 });
      assert.deepEqual(sessions[ids[0]!], {});
    }
    assert.ok(scans >= 2, `one segment of the sessions table took ${scans} pages`);
    assert.deepEqual(sorted(await gw.getAllUidList()), ['user-0', 'user-3']);
    assert.equal(await gw.getAllUidCount(), 2);
    assert.deepEqual(sorted(await gw.getAllGroupIdList()), ['grp-0', 'grp-2']);
  });
});

describe('crash between the two writes (test hooks)', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  before(async () => {
    h = await GatewayHarness.start();
  });
  after(() => h.stop());

  test('a bindUid stopped after its index write leaves the connection reachable through the new uid', async () => {
    const a = await h.connect();
    const crashing = withTestHooks(h.newGateway(), {
      afterIndexWrite: () => {
        throw new SimulatedCrash();
      },
    });
    await assert.rejects(crashing.bindUid(a.id, 'half-bound'), SimulatedCrash);
    assert.deepEqual(await indexIds(h.doc, 'uids', 'half-bound'), [a.id]);
    assert.equal((await connectionItem(h.doc, a.id))?.uid, undefined);
    assert.deepEqual((await h.gateway.sendToUid('half-bound', 'still reached')).sent, [a.id]);
    assert.equal(await a.next(), 'still reached');
    // Retrying the bind completes it.
    await h.gateway.bindUid(a.id, 'half-bound');
    assert.equal(await h.gateway.getUidByClientId(a.id), 'half-bound');
  });

  test('a rebind stopped before removing the old index item leaves the connection reachable through both uids', async () => {
    const a = await h.connect();
    await h.gateway.bindUid(a.id, 'first');
    const crashing = withTestHooks(h.newGateway(), {
      beforeIndexDelete: () => {
        throw new SimulatedCrash();
      },
    });
    await assert.rejects(crashing.bindUid(a.id, 'second'), SimulatedCrash);
    assert.equal((await connectionItem(h.doc, a.id))?.uid, 'second');
    assert.deepEqual((await h.gateway.sendToUid('second', 'via second')).sent, [a.id]);
    assert.deepEqual((await h.gateway.sendToUid('first', 'via first (stale)')).sent, [a.id]);
    assert.equal(await a.next(), 'via second');
    assert.equal(await a.next(), 'via first (stale)');
    // When the connection goes, $disconnect removes what the item knows; the next send prunes the rest.
    await a.close();
    await h.whenDisconnected(a.id);
    assert.deepEqual(await indexIds(h.doc, 'uids', 'second'), []);
    assert.deepEqual((await h.gateway.sendToUid('first', 'gone now')).gone, [a.id]);
    assert.deepEqual(await indexIds(h.doc, 'uids', 'first'), []);
  });

  test('a joinGroup stopped after its index write leaves the connection reachable through the group', async () => {
    const a = await h.connect();
    const crashing = withTestHooks(h.newGateway(), {
      afterIndexWrite: () => {
        throw new SimulatedCrash();
      },
    });
    await assert.rejects(crashing.joinGroup(a.id, 'half-joined'), SimulatedCrash);
    assert.equal((await connectionItem(h.doc, a.id))?.groupCount, undefined, 'the count was not reached');
    assert.deepEqual(await indexItemsOf(h.doc, a.id), ['groups:half-joined']);
    assert.deepEqual((await h.gateway.sendToGroup('half-joined', 'in anyway')).sent, [a.id]);
    assert.equal(await a.next(), 'in anyway');
  });

  test('a leaveGroup stopped before its index delete leaves a stale index item, which only widens a send', async () => {
    const a = await h.connect();
    await h.gateway.joinGroup(a.id, 'half-left');
    const crashing = withTestHooks(h.newGateway(), {
      beforeIndexDelete: () => {
        throw new SimulatedCrash();
      },
    });
    await assert.rejects(crashing.leaveGroup(a.id, 'half-left'), SimulatedCrash);
    assert.deepEqual(await h.gateway.getGroupsByClientId(a.id), []);
    assert.deepEqual(await indexIds(h.doc, 'groups', 'half-left'), [a.id]);
  });

  test('a joinGroup racing a disconnect does not resurrect the connection and removes its index item', async () => {
    const a = await h.connect();
    const racing = withTestHooks(h.newGateway(), {
      afterIndexWrite: async () => {
        await a.close();
        await h.whenDisconnected(a.id);
      },
    });
    await assert.rejects(racing.joinGroup(a.id, 'raced'), ConnectionGoneError);
    assert.equal(await connectionItem(h.doc, a.id), undefined);
    assert.deepEqual(await indexIds(h.doc, 'groups', 'raced'), []);
  });

  test('a bindUid racing a disconnect does not resurrect the connection and removes its index item', async () => {
    const a = await h.connect();
    const racing = withTestHooks(h.newGateway(), {
      afterIndexWrite: async () => {
        await a.close();
        await h.whenDisconnected(a.id);
      },
    });
    await assert.rejects(racing.bindUid(a.id, 'raced-uid'), ConnectionGoneError);
    assert.equal(await connectionItem(h.doc, a.id), undefined);
    assert.deepEqual(await indexIds(h.doc, 'uids', 'raced-uid'), []);
  });
});

describe('a connection-item update that fails for another reason than a gone connection', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  before(async () => {
    h = await GatewayHarness.start();
  });
  after(() => h.stop());

  /** A Gateway whose DynamoDB calls of the given commands fail as DynamoDB refuses an item over 400 KB. */
  function failing(commands: readonly string[], logger?: { warn(message: string, error?: unknown): void }): { gateway: Gateway; destroy(): void } {
    const base = new DynamoDBClient({ endpoint: h.endpoints.dynamoEndpoint, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
    base.middlewareStack.add(
      (next, context) => async (args) => {
        if (commands.includes(String(context.commandName))) {
          throw Object.assign(new Error('Item size to update has exceeded the maximum allowed size'), {
            name: 'ValidationException',
            $metadata: { httpStatusCode: 400 },
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'failCommands' },
    );
    const gateway = h.newGateway({ dynamoDb: DynamoDBDocumentClient.from(base), ...(logger ? { logger } : {}) });
    return { gateway, destroy: () => base.destroy() };
  }
  const isItemTooLarge = (e: unknown) => e instanceof ServiceError && e.errorType === 'ValidationException' && e.statusCode === 400;

  test('joinGroup and bindUid remove the index item they wrote: the client is not reached through it, and a retry fails the same clean way', async () => {
    const a = await h.connect();
    const { gateway, destroy } = failing(['UpdateItemCommand']);
    try {
      for (let attempt = 0; attempt < 2; attempt++) {
        await assert.rejects(gateway.joinGroup(a.id, 'too-big'), isItemTooLarge);
        await assert.rejects(gateway.bindUid(a.id, 'too-big-uid'), isItemTooLarge);
        assert.deepEqual(await indexItemsOf(h.doc, a.id), []);
      }
    } finally {
      destroy();
    }
    assert.equal((await h.gateway.sendToGroup('too-big', 'x')).recipients, 0);
    assert.equal((await h.gateway.sendToUid('too-big-uid', 'x')).recipients, 0);
    assert.deepEqual(await h.gateway.getGroupsByClientId(a.id), []);
    assert.equal(await h.gateway.getUidByClientId(a.id), undefined);
  });

  test('an index item that was there before the call (already a member, already bound) stays', async () => {
    const a = await h.connect();
    await h.gateway.joinGroup(a.id, 'member');
    await h.gateway.bindUid(a.id, 'bound');
    // An existing member's join only reads the connection item; a bind updates it.
    const { gateway, destroy } = failing(['UpdateItemCommand', 'GetItemCommand']);
    try {
      await assert.rejects(gateway.joinGroup(a.id, 'member'), isItemTooLarge);
      await assert.rejects(gateway.bindUid(a.id, 'bound'), isItemTooLarge);
    } finally {
      destroy();
    }
    assert.deepEqual(await indexItemsOf(h.doc, a.id), ['groups:member', 'memberships:member', 'uids:bound']);
    assert.deepEqual((await h.gateway.sendToGroup('member', 'still in')).sent, [a.id]);
    assert.equal(await a.next(), 'still in');
  });

  test("when removing the index item fails too, that is logged and the update's error is the one the caller gets", async () => {
    const a = await h.connect();
    const warnings: string[] = [];
    const { gateway, destroy } = failing(['UpdateItemCommand', 'DeleteItemCommand'], { warn: (message) => warnings.push(message) });
    try {
      await assert.rejects(gateway.joinGroup(a.id, 'left-behind'), isItemTooLarge);
    } finally {
      destroy();
    }
    assert.equal(warnings.length, 2);
    assert.match(warnings[0]!, /joinGroup could not remove its index item/);
    assert.match(warnings[1]!, /joinGroup could not remove its membership item/);
    // What is left is an extra recipient (as after a crash), pruned on 410 or by TTL.
    assert.deepEqual(await indexIds(h.doc, 'groups', 'left-behind'), [a.id]);
    assert.equal((await connectionItem(h.doc, a.id))?.groupCount, undefined, 'not counted');
  });
});
