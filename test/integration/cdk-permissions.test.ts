// "Exactly the table actions the SDK needs": every public Gateway method runs against the local
// gateway while every DynamoDB call (command and table, whatever its outcome) and every @connections
// request (method) is recorded. The grant's lists (cdk/permissions.ts) must equal what was used:
// a missing action would fail on AWS with AccessDenied, an extra one is privilege nobody needs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DeleteItemCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mintResumeToken } from '../../sdk/resumeToken.ts';
import { newPushId } from '../../sdk/pushId.ts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LocalGateway, type GatewayEndpoints, type WebSocketConnectEvent, type WebSocketDisconnectEvent } from '../../local/index.ts';
import { Gateway, type FanoutChunk, type GatewayTableNames } from '../../sdk/index.ts';
import { FANOUT_CHUNK_TYPE } from '../../sdk/Fanout.ts';
import { localTables, watchHttpRequests } from '../../testkit/gatewayHarness.ts';
import {
  FANOUT_WORKER_CONNECTIONS_METHODS,
  FANOUT_WORKER_TABLE_ACTIONS,
  GATEWAY_SECRET_ACTIONS,
  GATEWAY_TABLE_ACTIONS,
  MANAGE_CONNECTIONS_METHODS,
} from '../../cdk/permissions.ts';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { connect, eventually, type TestClient } from '../helpers/wsClient.ts';

const tables: GatewayTableNames = {
  connections: 'perm-connections',
  sessions: 'perm-sessions',
  memberships: 'perm-memberships',
  uids: 'perm-uids',
  groups: 'perm-groups',
};
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const STALE = 'AAAAAAAAAAAAAAA=';
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:perm-bind-key-AbCdEf';

let local: LocalGateway;
let endpoints: GatewayEndpoints;
let gateway: Gateway;
let base: DynamoDBClient;
let secretsManager: SecretsManagerClient;
/** Secrets Manager actions the SDK called (on the bind token secret: the only secret it knows). */
const secretActions = new Set<string>();
const ROLES = Object.keys(tables) as Array<keyof GatewayTableNames>;
const used = Object.fromEntries(ROLES.map((role) => [role, new Set<string>()])) as Record<keyof GatewayTableNames, Set<string>>;
/** role -> actions, sorted, for comparing a recording with a grant list. */
const byRole = (lists: Record<keyof GatewayTableNames, Iterable<string>>) => Object.fromEntries(ROLES.map((role) => [role, [...lists[role]].sort()]));
let recording = false;

/** Which role a table name is. */
function roleOf(tableName: string): keyof GatewayTableNames {
  const role = (Object.keys(tables) as Array<keyof GatewayTableNames>).find((r) => tables[r] === tableName);
  assert.ok(role, `the SDK called an unknown table ${tableName}`);
  return role;
}

before(async () => {
  local = new LocalGateway({
    ttlSweepIntervalMs: 0,
    tables: localTables(tables),
    secrets: [{ arn: SECRET_ARN, name: 'perm-bind-key' }],
    routes: {
      $connect: async (event: WebSocketConnectEvent) => {
        const { connectionId, connectedAt } = event.requestContext;
        await gateway.registerConnection({ connectionId, connectedAt });
        return { statusCode: 200 };
      },
      $disconnect: async (event: WebSocketDisconnectEvent) => {
        await gateway.unregisterConnection(event.requestContext.connectionId);
        return { statusCode: 200 };
      },
    },
  });
  endpoints = await local.start();
  base = new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials });
  // Every command the SDK sends, before it is sent: its API name and the tables it names.
  base.middlewareStack.add(
    (next, context) => async (args) => {
      if (recording) {
        const action = String(context.commandName).replace(/Command$/, '');
        const input = args.input as { TableName?: string; RequestItems?: Record<string, unknown> };
        const names = input.TableName ? [input.TableName] : Object.keys(input.RequestItems ?? {});
        for (const name of names) used[roleOf(name)].add(action);
      }
      return next(args);
    },
    { step: 'initialize', name: 'recordTableActions' },
  );
  const doc = DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } });
  secretsManager = new SecretsManagerClient({ endpoint: endpoints.httpUrl, region: endpoints.region, credentials });
  secretsManager.middlewareStack.add(
    (next, context) => async (args) => {
      if (recording) secretActions.add(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'recordSecretActions' },
  );
  // As the construct configures it by default: binds need their connection's token.
  gateway = new Gateway({
    callbackUrl: endpoints.callbackUrl,
    tables,
    region: endpoints.region,
    credentials,
    dynamoDb: doc,
    logger: { warn: () => {} },
    bindTokenSecret: SECRET_ARN,
    requireBindToken: true,
    secretsManager,
  });
});

after(async () => {
  gateway.destroy();
  await local.stop();
  base.destroy();
  secretsManager.destroy();
});

/** Binding options with the client's bind token, as a backend gets it from the browser. */
const token = async (id: string) => ({ bindToken: await gateway.createBindToken(id) });

/** A fan-out chunk (the worker's event) for these recipients, found through these index keys. */
function chunk(recipients: string[], via?: Array<['uids' | 'groups', string]>): FanoutChunk {
  return {
    type: FANOUT_CHUNK_TYPE,
    version: 1,
    fanoutId: 'perm',
    index: 0,
    count: 1,
    operation: 'sendToGroup',
    message: { utf8: 'x' },
    recipients,
    ...(via ? { via } : {}),
  };
}

/** The public methods of Gateway, read from the class (private methods are marked so in the source). */
function publicMethods(): string[] {
  const source = readFileSync(fileURLToPath(new URL('../../sdk/Gateway.ts', import.meta.url)), 'utf8');
  const privateNames = new Set([...source.matchAll(/^\s+private\s+(?:async\s+)?(\w+)\s*\(/gm)].map((m) => m[1]!));
  return Object.getOwnPropertyNames(Gateway.prototype).filter((name) => name !== 'constructor' && !privateNames.has(name));
}

test('the grant holds exactly the DynamoDB actions and @connections methods the SDK uses, table by table', async () => {
  const clients: TestClient[] = await Promise.all([connect(endpoints.wsUrl), connect(endpoints.wsUrl), connect(endpoints.wsUrl), connect(endpoints.wsUrl)]);
  const [a, b, c, d] = local.openConnectionIds();
  assert.ok(a && b && c && d);

  const methods = new Set<string>();
  const posted = new Set<string>();
  const onRequest = (request: { method: string; path: string }) => {
    if (recording && request.path.includes('@connections')) posted.add(request.method);
  };
  const stopWatching = watchHttpRequests(onRequest);
  const call = async <T>(name: keyof Gateway, run: () => Promise<T>): Promise<T> => {
    methods.add(name);
    return run();
  };
  recording = true;
  try {
    await call('createBindToken', () => gateway.createBindToken(a));
    await call('verifyBindToken', async () => assert.equal(await gateway.verifyBindToken(a, (await token(a)).bindToken), true));
    // A stale connection (older than the SDK's $connect grace period) with a uid and two groups: a
    // send to it answers 410 and prunes it and its index items.
    await call('registerConnection', () => gateway.registerConnection({ connectionId: STALE, connectedAt: Date.now() - 3_600_000 }));
    await call('bindUid', async () => gateway.bindUid(STALE, 'u1', await token(STALE)));
    await call('joinGroup', async () => gateway.joinGroup(STALE, 'g1', await token(STALE)));
    await gateway.joinGroup(STALE, 'g2', await token(STALE));
    await gateway.bindUid(a, 'u1', await token(a));
    await gateway.bindUid(a, 'u2', await token(a)); // rebind
    await gateway.bindUid(b, 'u1', await token(b));
    await gateway.joinGroup(a, 'g1', await token(a));
    await gateway.joinGroup(b, 'g1', await token(b));
    await gateway.joinGroup(c, 'g2', await token(c));
    await call('joinPresence', async () => gateway.joinPresence(c, 'p1', { id: 'u3', info: { name: 'C' } }, await token(c)));
    await call('getPresenceMembers', () => gateway.getPresenceMembers('p1'));

    await call('getConnection', () => gateway.getConnection(a));
    await call('sendToClient', () => gateway.sendToClient(a, 'x'));
    const toU1 = await call('sendToUid', () => gateway.sendToUid('u1', 'x'));
    assert.deepEqual(toU1.gone, [STALE], 'the stale connection was found gone and pruned');
    await call('sendToGroup', () => gateway.sendToGroup(['g1', 'g2'], 'x'));
    await call('sendToAll', () => gateway.sendToAll('x'));
    await gateway.sendToAll('x', { clientIds: [a, b] });
    await call('isOnline', () => gateway.isOnline(a));
    await call('setSession', () => gateway.setSession(a, { x: 1 }));
    await call('updateSession', () => gateway.updateSession(a, { y: { z: 2 } }));
    await call('getSession', () => gateway.getSession(a));
    await call('getUidByClientId', () => gateway.getUidByClientId(a));
    await call('getGroupsByClientId', () => gateway.getGroupsByClientId(a));
    await call('isUidOnline', () => gateway.isUidOnline('u2'));
    await call('getClientIdByUid', () => gateway.getClientIdByUid('u1'));
    await call('isUidsOnline', () => gateway.isUidsOnline(['u1', 'u2', 'nobody']));
    await call('batchGetClientIdByUid', () => gateway.batchGetClientIdByUid(['u1', 'u2']));
    await call('getClientIdListByGroup', () => gateway.getClientIdListByGroup(['g1', 'g2']));
    await call('getClientCountByGroup', () => gateway.getClientCountByGroup('g1'));
    await call('getClientIdCountByGroup', () => gateway.getClientIdCountByGroup('g1'));
    await call('getClientSessionsByGroup', () => gateway.getClientSessionsByGroup('g1'));
    await call('getUidListByGroup', () => gateway.getUidListByGroup('g1'));
    await call('getUidCountByGroup', () => gateway.getUidCountByGroup('g1'));
    await call('batchGetClientIdCountByGroup', () => gateway.batchGetClientIdCountByGroup(['g1', 'g2']));
    await call('getAllClientCount', () => gateway.getAllClientCount());
    await call('getAllClientIdCount', () => gateway.getAllClientIdCount());
    await call('getAllClientIdList', () => gateway.getAllClientIdList());
    await call('getAllClientSessions', () => gateway.getAllClientSessions());
    await call('getAllUidList', () => gateway.getAllUidList());
    await call('getAllUidCount', () => gateway.getAllUidCount());
    await call('getAllGroupIdList', () => gateway.getAllGroupIdList());
    await call('getAllGroupClientIdList', () => gateway.getAllGroupClientIdList());
    await call('getAllGroupClientIdCount', () => gateway.getAllGroupClientIdCount());
    await call('getAllGroupUidList', () => gateway.getAllGroupUidList());
    await call('getAllGroupUidCount', () => gateway.getAllGroupUidCount());
    await call('leaveGroup', () => gateway.leaveGroup(b, 'g1'));
    await call('unbindUid', () => gateway.unbindUid(b));
    await call('ungroup', () => gateway.ungroup('g2'));
    // Recovery (docs/guides/recovery.md): a browser-client connection lost (held, a push buffered), then taken over by `a`.
    const held = 'EEEEEEEEEEEEEEE=';
    await gateway.registerConnection({ connectionId: held, connectedAt: Date.now() - 3_600_000, envelope: true });
    await gateway.bindUid(held, 'u3', await token(held));
    await gateway.joinGroup(held, 'g3', await token(held));
    await gateway.setSession(held, { kept: true });
    await call('connectionClosed', () => gateway.connectionClosed(held, 1006));
    assert.deepEqual((await gateway.sendToUid('u3', 'buffered')).gone, [held]);
    await call('recoveryWindowSeconds', async () => assert.equal(gateway.recoveryWindowSeconds, 120));
    const resumeKey = Buffer.from(local.secrets.values()[SECRET_ARN]!, 'utf8');
    const resumed = await call('resumeConnection', () => gateway.resumeConnection(a, held, mintResumeToken(resumeKey, held, Date.now() + 60_000)));
    assert.deepEqual(resumed, { resumed: true, from: held, replayed: 1 });
    await call('closeUid', () => gateway.closeUid('u2', 'bye'));
    await call('closeClient', () => gateway.closeClient(b, 'bye'));
    await call('destroyClient', () => gateway.destroyClient(c));
    await call('unregisterConnection', () => gateway.unregisterConnection(d));
    await call('connectionPath', async () => gateway.connectionPath(d));
    await call('deliverChunk', () => gateway.deliverChunk(chunk([d], [['groups', 'g1']])));
    methods.add('destroy'); // in after()
  } finally {
    recording = false;
    stopWatching();
  }
  await eventually(
    () => local.stats().openConnections,
    (n) => n <= 1,
    10_000,
  );
  for (const client of clients) client.socket.terminate();

  const missing = publicMethods().filter((m) => !methods.has(m));
  assert.deepEqual(missing, [], 'every public Gateway method is exercised (add new ones here)');
  const sorted = (s: Set<string>) => [...s].sort();
  assert.deepEqual(byRole(used), byRole(GATEWAY_TABLE_ACTIONS));
  assert.deepEqual(sorted(posted), [...MANAGE_CONNECTIONS_METHODS].sort());
  assert.deepEqual(sorted(secretActions), [...GATEWAY_SECRET_ACTIONS].sort());
});

test("the fan-out worker's grant holds exactly what deliverChunk uses: POST, and the prune after a 410", async () => {
  const client = await connect(endpoints.wsUrl);
  const [live] = local.openConnectionIds();
  assert.ok(live);
  const old = Date.now() - 3_600_000;
  // A stale connection item with a uid and two groups, and stale index items without a connection item.
  const staleItem = 'BBBBBBBBBBBBBBB=';
  const onlyInGroup = 'CCCCCCCCCCCCCCC=';
  const onlyInUid = 'DDDDDDDDDDDDDDD=';
  await gateway.registerConnection({ connectionId: staleItem, connectedAt: old });
  await gateway.bindUid(staleItem, 'w-user', await token(staleItem));
  await gateway.joinGroup(staleItem, 'w1', await token(staleItem));
  await gateway.joinGroup(staleItem, 'w2', await token(staleItem));
  for (const id of [onlyInGroup, onlyInUid]) await gateway.registerConnection({ connectionId: id, connectedAt: old });
  await gateway.joinGroup(onlyInGroup, 'w1', await token(onlyInGroup));
  await gateway.bindUid(onlyInUid, 'w-user', await token(onlyInUid));
  for (const id of [onlyInGroup, onlyInUid]) await base.send(new DeleteItemCommand({ TableName: tables.connections, Key: { connectionId: { S: id } } }));
  // Browser-client connections (docs/guides/recovery.md): one lost before its $disconnect (the worker holds it and buffers the push), one whose window is over (removed).
  const lostEarly = 'EEEEEEEEEEEEEEE=';
  const windowOver = 'FFFFFFFFFFFFFFF=';
  for (const id of [lostEarly, windowOver]) {
    await gateway.registerConnection({ connectionId: id, connectedAt: old, envelope: true });
    await gateway.joinGroup(id, 'w3', await token(id));
  }
  await gateway.connectionClosed(windowOver, 1006);
  await base.send(
    new UpdateItemCommand({
      TableName: tables.connections,
      Key: { connectionId: { S: windowOver } },
      UpdateExpression: 'SET heldUntil = :past',
      ExpressionAttributeValues: { ':past': { N: String(old) } },
    }),
  );

  for (const set of Object.values(used)) set.clear();
  const posted = new Set<string>();
  const onRequest = (request: { method: string; path: string }) => {
    if (recording && request.path.includes('@connections')) posted.add(request.method);
  };
  const worker = new Gateway({
    callbackUrl: endpoints.callbackUrl,
    tables,
    region: endpoints.region,
    credentials,
    dynamoDb: DynamoDBDocumentClient.from(base),
    logger: { warn: () => {} },
  });
  const stopWatching = watchHttpRequests(onRequest);
  recording = true;
  try {
    // Every shape a prune takes: item + index items in both tables (batch), one group index item, one uid index item.
    const a = await worker.deliverChunk(
      chunk(
        [live, staleItem],
        [
          ['groups', 'w1'],
          ['groups', 'w2'],
          ['uids', 'w-user'],
        ],
      ),
    );
    const b = await worker.deliverChunk(chunk([onlyInGroup], [['groups', 'w1']]));
    const c = await worker.deliverChunk(chunk([onlyInUid], [['uids', 'w-user']]));
    assert.deepEqual([a.sent, a.gone, b.gone, c.gone], [[live], [staleItem], [onlyInGroup], [onlyInUid]]);
    const d = await worker.deliverChunk({ ...chunk([lostEarly, windowOver], [['groups', 'w3']]), pushId: newPushId(), enveloped: '11' });
    assert.deepEqual(d.gone, [lostEarly, windowOver]);
  } finally {
    recording = false;
    stopWatching();
    worker.destroy();
    client.socket.terminate();
  }
  assert.deepEqual(await gateway.getClientIdListByGroup('w1'), []);
  assert.deepEqual(await gateway.getClientIdByUid('w-user'), []);
  assert.deepEqual(await gateway.getClientIdListByGroup('w3'), [lostEarly], 'held for a resume; the other removed');
  const sorted = (s: Set<string>) => [...s].sort();
  assert.deepEqual(byRole(used), byRole(FANOUT_WORKER_TABLE_ACTIONS));
  assert.deepEqual(sorted(posted), [...FANOUT_WORKER_CONNECTIONS_METHODS]);
});
