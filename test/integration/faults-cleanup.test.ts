// What a crash between two writes, or a lost $disconnect, leaves behind, and how it goes away, with
// the synthesized app from cdk.out (its bundled $connect / $disconnect / init-sender Lambdas) on the
// local gateway and @connections answering 429 / 500 now and then:
// - a crash between the two writes of bindUid / joinGroup (afterIndexWrite throws) never hides the
//   live connection: sendToUid / sendToGroup still reach it, through the old binding and the new one;
// - the leftovers outlive the connection's $disconnect (it only removes what the item names), and
//   the next send that reaches them answers 410 and prunes them;
// - a connection whose $disconnect was lost is kept by the sends of its first 30 s (API Gateway also
//   answers 410 while $connect runs), and DynamoDB TTL removes it and its leftovers; the local gateway
//   sweeps expired items the way TTL does, and leaves every live connection's items alone.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LocalGateway, type GatewayEndpoints } from '../../local/index.ts';
import { Gateway, type GatewayOptions, type GatewayTableNames } from '../../sdk/index.ts';
import { CONNECTION_MAX_AGE_SECONDS, TTL_MARGIN_SECONDS } from '../../sdk/tables.ts';
import { connect, type TestClient } from '../helpers/wsClient.ts';
import { copySynthesizedApp, tableNamesOf } from '../../testkit/synthesizedApp.ts';
import { withTestHooks } from '../../sdk/internal.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const FAULTS = { throttleRate: 0.2, serverErrorRate: 0.1 } as const;

class CrashError extends Error {
  override readonly name = 'CrashError';
}

let gw: LocalGateway;
let endpoints: GatewayEndpoints;
let tables: GatewayTableNames;
let doc: DynamoDBDocumentClient;
let sdk: Gateway;
let crashAfterIndexWrite: Gateway;
let crashBeforeIndexDelete: Gateway;
let disposeAssembly: () => void;
const sdks: Gateway[] = [];
const clients: TestClient[] = [];

before(async () => {
  const synthesized = copySynthesizedApp('faults-cleanup');
  disposeAssembly = synthesized.dispose;
  const { app } = synthesized;
  tables = tableNamesOf(app);
  gw = new LocalGateway({ ...app.gatewayOptions, ttlSweepIntervalMs: 0 });
  endpoints = await gw.start();
  doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }));
  const make = (overrides: Partial<GatewayOptions> = {}) => {
    const g = new Gateway({
      callbackUrl: endpoints.callbackUrl,
      tables,
      region: endpoints.region,
      credentials,
      dynamoDb: doc,
      maxRetries: 12,
      retryBaseDelayMs: 1,
      retryMaxDelayMs: 4,
      logger: { warn: () => {} },
      ...overrides,
    });
    sdks.push(g);
    return g;
  };
  sdk = make();
  crashAfterIndexWrite = withTestHooks(make(), { afterIndexWrite: () => Promise.reject(new CrashError('after the index write')) });
  crashBeforeIndexDelete = withTestHooks(make(), { beforeIndexDelete: () => Promise.reject(new CrashError('before the index delete')) });
});

after(async () => {
  for (const c of clients) c.socket.terminate();
  for (const g of sdks) g.destroy();
  await gw.stop();
  doc.destroy();
  disposeAssembly();
});

async function until(probe: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await probe())) await new Promise((resolve) => setTimeout(resolve, 2));
}

/** Opens a connection through the real $connect; its id is the one the gateway opened. */
async function open(): Promise<{ client: TestClient; id: string }> {
  gw.setFaults({ ...FAULTS, dropDisconnectRate: 0 });
  const before = new Set(gw.openConnectionIds());
  const client = await connect(endpoints.wsUrl);
  clients.push(client);
  const id = gw.openConnectionIds().find((x) => !before.has(x))!;
  return { client, id };
}

/** Closes a connection, with its $disconnect delivered (and waited for) or lost. */
async function close(client: TestClient, id: string, disconnect: 'delivered' | 'lost'): Promise<void> {
  gw.setFaults({ ...FAULTS, dropDisconnectRate: disconnect === 'lost' ? 1 : 0 });
  const { disconnects, droppedDisconnects } = gw.stats();
  client.socket.close();
  await client.closed;
  await until(() => gw.stats().disconnects > disconnects);
  assert.equal(gw.stats().droppedDisconnects - droppedDisconnects, disconnect === 'lost' ? 1 : 0);
  if (disconnect === 'delivered') await until(async () => !(await stored()).connections.includes(id));
  await gw.functions.drain();
  gw.setFaults({ ...FAULTS, dropDisconnectRate: 0 });
}

async function scan(table: string): Promise<Array<Record<string, unknown>>> {
  return (await doc.send(new ScanCommand({ TableName: table, ConsistentRead: true }))).Items ?? [];
}

/** The five tables, as sorted `id`, `uid:id` and `group:id` strings. */
async function stored(): Promise<{ connections: string[]; sessions: string[]; memberships: string[]; uids: string[]; groups: string[] }> {
  const [c, s, m, u, g] = await Promise.all([
    scan(tables.connections),
    scan(tables.sessions),
    scan(tables.memberships),
    scan(tables.uids),
    scan(tables.groups),
  ]);
  return {
    connections: c.map((i) => i.connectionId as string).sort(),
    sessions: s.map((i) => i.connectionId as string).sort(),
    memberships: m.map((i) => `${i.group}:${i.connectionId}`).sort(),
    uids: u.map((i) => `${i.uid}:${i.connectionId}`).sort(),
    groups: g.map((i) => `${i.group}:${i.connectionId}`).sort(),
  };
}

const EMPTY = { connections: [], sessions: [], memberships: [], uids: [], groups: [] };

/** Moves every stored item `ms` into the past (connectedAt and expiresAt): that much time passed for them. */
async function age(ms: number): Promise<void> {
  for (const [table, key] of [
    [tables.connections, ['connectionId']],
    [tables.sessions, ['connectionId']],
    [tables.memberships, ['connectionId', 'group']],
    [tables.uids, ['uid', 'connectionId']],
    [tables.groups, ['group', 'connectionId']],
  ] as const) {
    for (const item of await scan(table)) {
      const hasConnectedAt = item.connectedAt !== undefined;
      await doc.send(
        new UpdateCommand({
          TableName: table,
          Key: Object.fromEntries(key.map((k) => [k, item[k]])),
          UpdateExpression: hasConnectedAt ? 'SET expiresAt = expiresAt - :s, connectedAt = connectedAt - :ms' : 'SET expiresAt = expiresAt - :s',
          ExpressionAttributeValues: { ':s': Math.ceil(ms / 1000), ...(hasConnectedAt ? { ':ms': ms } : {}) },
        }),
      );
    }
  }
}

async function received(client: TestClient, marker: string): Promise<void> {
  await until(() => client.messages.includes(marker));
}

describe('crash between the two writes, with the real handlers', { timeout: 60_000 }, () => {
  test('a bindUid or joinGroup stopped after its index write never hides the live connection, and the leftovers are pruned by the first send after $disconnect', async () => {
    const { client, id } = await open();
    await sdk.bindUid(id, 'crash-u1');
    await sdk.joinGroup(id, 'crash-g1');
    // A rebind and a join, each stopped between its two writes.
    await assert.rejects(crashAfterIndexWrite.bindUid(id, 'crash-u2'), CrashError);
    await assert.rejects(crashAfterIndexWrite.joinGroup(id, 'crash-g2'), CrashError);
    assert.equal(await sdk.getUidByClientId(id), 'crash-u1', 'the connection item was not updated');
    assert.deepEqual(await sdk.getGroupsByClientId(id), ['crash-g1']);
    // Reached through the binding it has and through the one half written.
    for (const [n, report] of [
      [1, await sdk.sendToUid('crash-u1', 'm1')],
      [2, await sdk.sendToUid('crash-u2', 'm2')],
      [3, await sdk.sendToGroup('crash-g1', 'm3')],
      [4, await sdk.sendToGroup('crash-g2', 'm4')],
      [5, await sdk.sendToUid(['crash-u1', 'crash-u2'], 'm5')],
    ] as const) {
      assert.deepEqual(report.sent, [id], `send ${n}`);
      await received(client, `m${n}`);
    }
    assert.equal(client.messages.filter((m) => m === 'm5').length, 1, 'found through two uids, sent once');

    // $disconnect removes what the item names; the half-written index items stay, pointing at nothing ...
    await close(client, id, 'delivered');
    assert.deepEqual(await stored(), { ...EMPTY, uids: [`crash-u2:${id}`], groups: [`crash-g2:${id}`] });
    // ... until a send reaches them: 410, and no item to keep (so no grace period applies).
    assert.deepEqual((await sdk.sendToUid('crash-u2', 'late')).gone, [id]);
    assert.deepEqual((await sdk.sendToGroup('crash-g2', 'late')).gone, [id]);
    assert.deepEqual(await stored(), EMPTY);
  });

  test('a rebind, unbind or leaveGroup stopped before its index delete keeps the connection reachable through the new binding; the next bind repairs the uid', async () => {
    const { client, id } = await open();
    await sdk.bindUid(id, 'rb-u1');
    await sdk.joinGroup(id, 'rb-g1');
    await assert.rejects(crashBeforeIndexDelete.bindUid(id, 'rb-u2'), CrashError);
    assert.equal(await sdk.getUidByClientId(id), 'rb-u2', 'the connection item moved to the new uid');
    assert.deepEqual((await sdk.sendToUid('rb-u2', 'n1')).sent, [id]);
    assert.deepEqual((await sdk.sendToUid('rb-u1', 'n2')).sent, [id], 'the old index item is an extra recipient');
    await assert.rejects(crashBeforeIndexDelete.leaveGroup(id, 'rb-g1'), CrashError);
    assert.deepEqual(await sdk.getGroupsByClientId(id), []);
    assert.deepEqual((await sdk.sendToGroup('rb-g1', 'n3')).sent, [id], 'the stale membership only widens a send');
    await received(client, 'n3');
    // A successful rebind removes the uid the item names (rb-u2); rb-u1 stays an extra recipient until
    // the connection goes (or TTL), as documented.
    await sdk.bindUid(id, 'rb-u3');
    assert.deepEqual((await stored()).uids, [`rb-u1:${id}`, `rb-u3:${id}`]);
    await assert.rejects(crashBeforeIndexDelete.unbindUid(id), CrashError);
    assert.equal(await sdk.getUidByClientId(id), undefined);
    assert.deepEqual((await sdk.sendToUid('rb-u3', 'n4')).sent, [id]);
    await received(client, 'n4');
    await close(client, id, 'delivered');
    for (const report of [await sdk.sendToUid(['rb-u1', 'rb-u3'], 'late'), await sdk.sendToGroup('rb-g1', 'late')]) assert.deepEqual(report.gone, [id]);
    assert.deepEqual(await stored(), EMPTY);
  });
});

describe('lost $disconnects and TTL', { timeout: 60_000 }, () => {
  test('sends keep a stale connection during its first 30 s; the TTL sweep removes it and its leftovers and nothing of the live connections', async () => {
    // An old generation: bound, grouped, with half-written leftovers; then their $disconnects are lost.
    const old = [await open(), await open()];
    await sdk.bindUid(old[0]!.id, 'ttl-u');
    await sdk.joinGroup(old[0]!.id, 'ttl-g');
    await sdk.joinGroup(old[1]!.id, 'ttl-g');
    await assert.rejects(crashAfterIndexWrite.bindUid(old[1]!.id, 'ttl-u'), CrashError);
    for (const { client, id } of old) await close(client, id, 'lost');
    // Young: 410, but kept (a connection whose $connect still runs answers 410 too).
    const early = await sdk.sendToGroup('ttl-g', 'early');
    assert.deepEqual(early.gone.sort(), old.map((o) => o.id).sort());
    assert.equal((await stored()).connections.length, 2);

    // Two hours and ten minutes pass for what is stored; a new generation connects and binds the same names.
    await age((2 * 60 + 10) * 60_000);
    const fresh = [await open(), await open()];
    await sdk.bindUid(fresh[0]!.id, 'ttl-u');
    await sdk.joinGroup(fresh[1]!.id, 'ttl-g');
    const before = await stored();
    assert.equal(before.connections.length, 4);

    // DynamoDB TTL (expiresAt = connectedAt + 2 h + margin) removes exactly the old generation.
    const deleted = await gw.sweepExpiredItems(Date.now());
    assert.equal(deleted, 2 + 2 + 2 + 2 + 2, 'two connection items, two session items, two uid items, two group items, two membership items');
    assert.deepEqual(await stored(), {
      connections: fresh.map((f) => f.id).sort(),
      sessions: fresh.map((f) => f.id).sort(),
      memberships: [`ttl-g:${fresh[1]!.id}`],
      uids: [`ttl-u:${fresh[0]!.id}`],
      groups: [`ttl-g:${fresh[1]!.id}`],
    });
    // Every send now reaches exactly the live connections.
    const toUid = await sdk.sendToUid('ttl-u', 'after-sweep-u');
    const toGroup = await sdk.sendToGroup('ttl-g', 'after-sweep-g');
    const toAll = await sdk.sendToAll('after-sweep-all');
    assert.deepEqual([toUid.sent, toUid.gone], [[fresh[0]!.id], []]);
    assert.deepEqual([toGroup.sent, toGroup.gone], [[fresh[1]!.id], []]);
    assert.deepEqual([toAll.sent.sort(), toAll.gone], [fresh.map((f) => f.id).sort(), []]);
    await received(fresh[0]!.client, 'after-sweep-u');
    await received(fresh[1]!.client, 'after-sweep-g');
    for (const f of fresh) await received(f.client, 'after-sweep-all');

    // The sweep deletes on expiresAt alone: just before the TTL of the live items, nothing goes.
    const ttlSeconds = CONNECTION_MAX_AGE_SECONDS + TTL_MARGIN_SECONDS;
    assert.equal(await gw.sweepExpiredItems(Date.now() + (ttlSeconds - 60) * 1000), 0);
    // Three hours later API Gateway has closed them all; their $disconnects lost too, TTL leaves nothing.
    for (const f of fresh) await close(f.client, f.id, 'lost');
    assert.equal(await gw.sweepExpiredItems(Date.now() + 3 * 3600_000), 7, 'two connection and two session items, the uid, the group and the membership');
    assert.deepEqual(await stored(), EMPTY);
  });

  test('past the grace, a send prunes a connection whose $disconnect was lost, and every index item it names', async () => {
    const stale = await open();
    const live = await open();
    await sdk.bindUid(stale.id, 'grace-u');
    await sdk.joinGroup(stale.id, 'grace-g1');
    await sdk.joinGroup(stale.id, 'grace-g2');
    await sdk.joinGroup(live.id, 'grace-g1');
    await close(stale.client, stale.id, 'lost');
    await age(60_000);
    const report = await sdk.sendToGroup('grace-g1', 'pruning');
    assert.deepEqual([report.sent, report.gone, report.failed], [[live.id], [stale.id], []]);
    await received(live.client, 'pruning');
    // The item and everything it named (uid, both groups) went with the one 410.
    assert.deepEqual(await stored(), {
      ...EMPTY,
      connections: [live.id],
      sessions: [live.id],
      memberships: [`grace-g1:${live.id}`],
      groups: [`grace-g1:${live.id}`],
    });
    await close(live.client, live.id, 'delivered');
    assert.deepEqual(await stored(), EMPTY);
  });
});
