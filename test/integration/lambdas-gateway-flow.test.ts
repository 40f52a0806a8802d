// The backend's own Lambdas (lambdas/*.ts, unbundled) hosted on the local gateway as module
// functions, each in its own worker with its own environment, exactly as the construct wires them:
// the whole GatewayWorker flow (connect, init, bind, sendToUid / sendToGroup, disconnect), then an
// Events module that replies, keeps a session and refuses connections.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { LocalGateway, type GatewayEndpoints } from '../../local/index.ts';
import { Gateway, gatewayEnvironment, type GatewayTableNames } from '../../sdk/index.ts';
import { CONNECTION_MAX_AGE_SECONDS, TTL_MARGIN_SECONDS } from '../../sdk/tables.ts';
import { localTables } from '../../testkit/gatewayHarness.ts';
import { LambdaEnvVar } from '../../lambdas/env.ts';
import { connect, eventually, refusedStatus, type TestClient } from '../helpers/wsClient.ts';

const lambdaEntry = (file: string) => fileURLToPath(new URL(`../../lambdas/${file}`, import.meta.url));
const fixture = (file: string) => fileURLToPath(new URL(`../fixtures/events/${file}`, import.meta.url));
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const WAIT = 20_000;

interface Backend {
  readonly local: LocalGateway;
  readonly endpoints: GatewayEndpoints;
  readonly tables: GatewayTableNames;
  readonly doc: DynamoDBDocumentClient;
  /** The SDK as another backend process (the application's own backend) would use it. */
  readonly gateway: Gateway;
  item(role: keyof GatewayTableNames, key: Record<string, string>): Promise<Record<string, unknown> | undefined>;
  scan(role: keyof GatewayTableNames): Promise<Array<Record<string, unknown>>>;
  stop(): Promise<void>;
}

/** The five tables and four functions GatewayBackend deploys, on the local gateway. */
async function startBackend(options: { eventsModule?: string } = {}): Promise<Backend> {
  const tables: GatewayTableNames = {
    connections: 'gwl-connections',
    sessions: 'gwl-sessions',
    memberships: 'gwl-memberships',
    uids: 'gwl-uids',
    groups: 'gwl-groups',
  };
  const local = new LocalGateway({
    ttlSweepIntervalMs: 0,
    asyncRetryDelaysMs: [100],
    tables: localTables(tables),
    environment: (urls) => ({
      ...gatewayEnvironment(urls.callbackUrl, tables),
      ...(options.eventsModule ? { [LambdaEnvVar.eventsModule]: options.eventsModule } : {}),
    }),
    functions: {
      connect: { entry: lambdaEntry('connect.ts'), environment: { [LambdaEnvVar.initFunction]: 'initSender' }, timeoutMs: 15_000 },
      disconnect: { entry: lambdaEntry('disconnect.ts'), timeoutMs: 15_000 },
      message: { entry: lambdaEntry('message.ts'), timeoutMs: 15_000 },
      initSender: { entry: lambdaEntry('initSender.ts'), timeoutMs: 20_000, maxRetryAttempts: 0 },
    },
    routes: { $connect: 'connect', $disconnect: 'disconnect', $default: 'message', chat: 'message' },
  });
  const endpoints = await local.start();
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const gateway = new Gateway({ callbackUrl: endpoints.callbackUrl, tables, region: endpoints.region, credentials, dynamoDb: doc, logger: { warn: () => {} } });
  return {
    local,
    endpoints,
    tables,
    doc,
    gateway,
    async item(role, key) {
      return (await doc.send(new GetCommand({ TableName: tables[role], Key: key, ConsistentRead: true }))).Item;
    },
    async scan(role) {
      return (await doc.send(new ScanCommand({ TableName: tables[role], ConsistentRead: true }))).Items ?? [];
    },
    async stop() {
      gateway.destroy();
      await local.stop();
      doc.destroy();
    },
  };
}

/** Connects and waits for the init message, which the client never asked for. */
async function connectAndInit(
  backend: Backend,
  query = '',
  options: Parameters<typeof connect>[1] = {},
): Promise<{ client: TestClient; clientId: string; msToInit: number }> {
  const client = await connect(`${backend.endpoints.wsUrl}${query}`, options);
  const opened = performance.now();
  const init = await client.json(0, WAIT);
  const msToInit = performance.now() - opened;
  assert.equal(init.type, 'init');
  assert.equal(typeof init.client_id, 'string');
  return { client, clientId: init.client_id, msToInit };
}

describe('the seed backend (no Events module)', () => {
  let backend: Backend;
  before(async () => {
    backend = await startBackend();
  });
  after(async () => {
    await backend.stop();
  });

  test('connect, init without sending anything, bindUid + joinGroup, sendToUid and sendToGroup reach the browser, disconnect cleans every mapping', async (t) => {
    const { client, clientId, msToInit } = await connectAndInit(backend);
    t.diagnostic(`init arrived ${msToInit.toFixed(1)} ms after the connection opened (first connection: cold workers)`);
    assert.deepEqual(JSON.parse(client.messages[0]!), { type: 'init', client_id: clientId });
    assert.ok(backend.local.openConnectionIds().includes(clientId), 'the init carries the id API Gateway gave this connection');

    // $connect stored the connection (connectedAt, TTL) and its session item (empty session, identity, the same TTL).
    const stored = await backend.item('connections', { connectionId: clientId });
    assert.ok(stored, 'the connection item exists');
    assert.equal(typeof stored.connectedAt, 'number');
    assert.equal(stored.expiresAt, Math.floor((stored.connectedAt as number) / 1000) + CONNECTION_MAX_AGE_SECONDS + TTL_MARGIN_SECONDS);
    const sessionItem = await backend.item('sessions', { connectionId: clientId });
    assert.equal(sessionItem?.sourceIp, '127.0.0.1');
    assert.deepEqual(sessionItem?.session, {});
    assert.equal(sessionItem?.expiresAt, stored.expiresAt);

    // The application's backend binds the id it got from the browser.
    await backend.gateway.bindUid(clientId, 'user-42');
    await backend.gateway.joinGroup(clientId, 'room-7');
    assert.ok(await backend.item('uids', { uid: 'user-42', connectionId: clientId }));
    assert.ok(await backend.item('groups', { group: 'room-7', connectionId: clientId }));
    assert.ok(await backend.item('memberships', { connectionId: clientId, group: 'room-7' }));

    const toUid = await backend.gateway.sendToUid('user-42', JSON.stringify({ type: 'say', to: 'uid' }));
    assert.deepEqual(toUid.sent, [clientId]);
    assert.deepEqual(await client.json(1, WAIT), { type: 'say', to: 'uid' });
    const toGroup = await backend.gateway.sendToGroup('room-7', JSON.stringify({ type: 'say', to: 'group' }));
    assert.deepEqual(toGroup.sent, [clientId]);
    assert.deepEqual(await client.json(2, WAIT), { type: 'say', to: 'group' });

    await client.close();
    await eventually(
      () => backend.item('connections', { connectionId: clientId }),
      (item) => item === undefined,
      WAIT,
    );
    await eventually(
      () => backend.item('uids', { uid: 'user-42', connectionId: clientId }),
      (item) => item === undefined,
      WAIT,
    );
    await eventually(
      () => backend.item('groups', { group: 'room-7', connectionId: clientId }),
      (item) => item === undefined,
      WAIT,
    );
    await eventually(
      () => backend.item('memberships', { connectionId: clientId, group: 'room-7' }),
      (item) => item === undefined,
      WAIT,
    );
    await eventually(
      () => backend.item('sessions', { connectionId: clientId }),
      (item) => item === undefined,
      WAIT,
    );
    assert.deepEqual(await backend.gateway.getClientIdByUid('user-42'), []);
    assert.deepEqual(await backend.gateway.getClientIdListByGroup('room-7'), []);
  });

  test('every connection gets its own id in its init message', async (t) => {
    const started = performance.now();
    const connections = await Promise.all(Array.from({ length: 5 }, () => connectAndInit(backend)));
    t.diagnostic(
      `warm: init arrived ${connections.map((c) => c.msToInit.toFixed(1)).join(', ')} ms after open; all five in ${(performance.now() - started).toFixed(0)} ms`,
    );
    const ids = connections.map((c) => c.clientId);
    assert.equal(new Set(ids).size, 5);
    for (const id of ids) assert.ok(backend.local.openConnectionIds().includes(id));
    for (const { client } of connections) {
      assert.equal(client.messages.length, 1, 'only the init message');
      await client.close();
    }
  });

  test('messages are accepted and ignored: no error frame, no session written', async () => {
    const { client, clientId } = await connectAndInit(backend);
    const before = backend.local.stats().messages;
    client.send(JSON.stringify({ action: 'chat', text: 'routed to a custom route' }));
    client.send('not json at all: $default');
    await eventually(
      () => backend.local.stats().messages,
      (n) => n === before + 2,
      WAIT,
    );
    await backend.local.functions.drain();
    // Anything the gateway wrote about those messages was written before this marker.
    await backend.gateway.sendToClient(clientId, 'marker');
    assert.equal(await client.message(1, WAIT), 'marker');
    assert.deepEqual(client.messages, [client.messages[0], 'marker']);
    const stored = await backend.item('sessions', { connectionId: clientId });
    assert.deepEqual(stored?.session ?? {}, {});
    await client.close();
  });
});

describe('with an Events module', () => {
  let backend: Backend;
  before(async () => {
    backend = await startBackend({ eventsModule: fixture('chatEvents.ts') });
  });
  after(async () => {
    await backend.stop();
  });

  test('onWebSocketConnect gets GatewayWorker $data (get, server, cookie), its session is saved, its queued message follows the init', async () => {
    const { client, clientId } = await connectAndInit(backend, '?token=abc%20def&lang=fr', {
      headers: { Cookie: 'sid=s%201; theme=dark', Origin: 'http://app.example', 'User-Agent': 'flow-test/1.0', 'X-Custom-Header': 'yes' },
      protocols: ['chat.v1', 'chat.v0'],
    });
    assert.deepEqual(await client.json(1, WAIT), { type: 'welcome', clientId });
    assert.equal(client.socket.protocol, 'chat.v1', 'response headers from onWebSocketConnect reach the 101');

    const stored = await backend.item('sessions', { connectionId: clientId });
    const session = stored?.session as { data: { get: Record<string, string>; server: Record<string, string>; cookie: Record<string, string> } };
    const port = new URL(backend.endpoints.wsUrl).port;
    assert.deepEqual(session.data.get, { token: 'abc def', lang: 'fr' });
    assert.deepEqual(session.data.cookie, { sid: 's 1', theme: 'dark' });
    assert.equal(session.data.server.QUERY_STRING, 'token=abc%20def&lang=fr');
    assert.equal(session.data.server.REQUEST_METHOD, 'GET');
    assert.equal(session.data.server.REQUEST_URI, `/${backend.endpoints.stage}?token=abc%20def&lang=fr`);
    assert.equal(session.data.server.SERVER_PROTOCOL, 'HTTP/1.1');
    assert.equal(session.data.server.SERVER_NAME, '127.0.0.1');
    assert.equal(session.data.server.SERVER_PORT, port);
    assert.equal(session.data.server.REMOTE_ADDR, '127.0.0.1');
    assert.equal(session.data.server.HTTP_ORIGIN, 'http://app.example');
    assert.equal(session.data.server.HTTP_USER_AGENT, 'flow-test/1.0');
    assert.equal(session.data.server.HTTP_X_CUSTOM_HEADER, 'yes');
    assert.equal(session.data.server.HTTP_COOKIE, 'sid=s%201; theme=dark');
    assert.ok(session.data.server.HTTP_SEC_WEBSOCKET_KEY);
    assert.equal(stored?.userAgent, 'flow-test/1.0');
    await client.close();
  });

  test('onMessage replies through sendToCurrentClient and its session changes are saved as a merge', async () => {
    const { client, clientId } = await connectAndInit(backend);
    assert.equal((await client.json(1, WAIT)).type, 'welcome');

    client.send(JSON.stringify({ action: 'chat', text: 'hello' }));
    assert.deepEqual(await client.json(2, WAIT), { type: 'echo', text: 'hello', count: 1, routeKey: 'chat' });
    await eventually(
      async () => (await backend.item('sessions', { connectionId: clientId }))?.session as Record<string, unknown>,
      (s) => s?.count === 1,
      WAIT,
    );

    // Another process changes another key meanwhile: the next save merges, it does not replace.
    await backend.gateway.updateSession(clientId, { fromBackend: 'kept' });
    client.send(JSON.stringify({ text: 'again' }));
    assert.deepEqual(await client.json(3, WAIT), { type: 'echo', text: 'again', count: 2, routeKey: '$default' });
    const session = await eventually(
      async () => (await backend.item('sessions', { connectionId: clientId }))?.session as Record<string, unknown>,
      (s) => s?.count === 2,
      WAIT,
    );
    assert.equal(session.last, 'again');
    assert.equal(session.fromBackend, 'kept');
    assert.deepEqual(session.nested, { kept: 'yes', counter: 0 });

    // A nested change is saved without touching its siblings.
    client.send(JSON.stringify({ nested: 5 }));
    await eventually(
      async () => (await backend.item('sessions', { connectionId: clientId }))?.session as Record<string, unknown>,
      (s) => (s?.nested as { counter?: number } | undefined)?.counter === 5,
      WAIT,
    );
    assert.deepEqual((await backend.gateway.getSession(clientId))?.nested, { kept: 'yes', counter: 5 });
    await client.close();
  });

  test('two messages handled at once, each changing its own key: neither update is lost', async () => {
    const { client, clientId } = await connectAndInit(backend);
    // Both invocations load the session, meet at the barrier, then each sets one key.
    client.send(JSON.stringify({ barrier: `b-${clientId}`, set: 'left' }));
    client.send(JSON.stringify({ barrier: `b-${clientId}`, set: 'right' }));
    const session = await eventually(
      async () => (await backend.item('sessions', { connectionId: clientId }))?.session as Record<string, unknown>,
      (s) => s?.left === true && s?.right === true,
      WAIT,
    );
    assert.equal(session.left, true);
    assert.equal(session.right, true);
    await client.close();
  });

  test('a refusing onWebSocketConnect answers the upgrade with its status and leaves nothing behind', async () => {
    await backend.local.functions.drain();
    const before = (await backend.scan('connections')).length;
    assert.equal(await refusedStatus(`${backend.endpoints.wsUrl}?refuse=401`), 401);
    assert.equal(await refusedStatus(`${backend.endpoints.wsUrl}?refuse=429`), 429);
    assert.equal(await refusedStatus(`${backend.endpoints.wsUrl}?kick=1`), 403, 'closeCurrentClient in $connect refuses with 403');
    assert.equal(await refusedStatus(`${backend.endpoints.wsUrl}?throw=1`), 502, 'a throwing callback fails the integration');
    await backend.local.functions.drain();
    assert.equal((await backend.scan('connections')).length, before, 'refused connections are removed again');
  });

  test('onClose runs after the mappings are gone, with the last session', async () => {
    const observer = await connectAndInit(backend, '?uid=observer');
    const { client, clientId } = await connectAndInit(backend, '?uid=leaving');
    await backend.gateway.joinGroup(clientId, 'lobby');
    client.send(JSON.stringify({ text: 'last words' }));
    assert.equal((await client.json(2, WAIT)).type, 'echo');
    await eventually(
      async () => (await backend.item('sessions', { connectionId: clientId }))?.session as Record<string, unknown>,
      (s) => s?.last === 'last words',
      WAIT,
    );

    await client.close(1000, 'done');
    const closed = await observer.client.json(2, WAIT);
    assert.equal(closed.type, 'closed');
    assert.equal(closed.clientId, clientId);
    assert.equal(closed.uid, 'leaving');
    assert.deepEqual(closed.groups, ['lobby']);
    assert.equal(closed.session.last, 'last words');
    assert.equal(closed.closeCode, 1000);
    assert.equal(await backend.item('connections', { connectionId: clientId }), undefined);
    assert.equal(await backend.item('uids', { uid: 'leaving', connectionId: clientId }), undefined);
    assert.equal(await backend.item('groups', { group: 'lobby', connectionId: clientId }), undefined);
    await observer.client.close();
  });

  test('closeCurrentClient from onMessage sends its message, then closes', async () => {
    const { client } = await connectAndInit(backend);
    // The init sender's welcome follows the init message; wait for it so it cannot race the echo.
    assert.equal((await client.json(1, WAIT)).type, 'welcome');
    client.send(JSON.stringify({ text: 'bye' }));
    assert.equal((await client.json(2, WAIT)).type, 'echo');
    assert.deepEqual(await client.json(3, WAIT), { type: 'bye' });
    const closed = await client.closed;
    assert.equal(closed.code, 1000);
  });
});
