// The backend's Lambdas (lambdas/*.ts, each in its own worker on the local gateway, as the construct
// wires them) write their metrics as Embedded Metric Format lines on stdout, with the right counts
// for sends whose outcomes are known: open sockets (sent), a socket closed without its $disconnect
// (gone: the item stays, @connections answers 410), and the gateway's fault injection (failed, and
// throttled: 429s that the SDK retried).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LocalGateway, type GatewayEndpoints } from '../../local/index.ts';
import { Gateway, GatewayEnvVar, GatewayMetricName, gatewayEnvironment, type GatewayTableNames } from '../../sdk/index.ts';
import { MetricsEnvVar } from '../../sdk/metricNames.ts';
import { LambdaEnvVar } from '../../lambdas/env.ts';
import { localTables } from '../../testkit/gatewayHarness.ts';
import { captureEmf, totals, type EmfLine } from '../helpers/emf.ts';
import { connect, eventually, refusedStatus, type TestClient } from '../helpers/wsClient.ts';

const lambdaEntry = (file: string) => fileURLToPath(new URL(`../../lambdas/${file}`, import.meta.url));
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const WAIT = 20_000;
const NAMESPACE = 'GatewayMetricsTest';
const SERVICE = 'metrics-test-backend';
/** Groups of more than this many are chunked to the fan-out worker. */
const THRESHOLD = 3;

const {
  postsSent: SENT,
  postsGone: GONE,
  postsFailed: FAILED,
  postsThrottled: THROTTLED,
  fanoutChunksQueued: CHUNKS_QUEUED,
  fanoutChunksFailed: CHUNKS_FAILED,
  connects: CONNECTS,
  connectsRefused: REFUSED,
  disconnects: DISCONNECTS,
  initMessagesFailed: INIT_FAILED,
} = GatewayMetricName;

describe("metrics of the backend's Lambdas", () => {
  const tables: GatewayTableNames = {
    connections: 'gwm-connections',
    sessions: 'gwm-sessions',
    memberships: 'gwm-memberships',
    uids: 'gwm-uids',
    groups: 'gwm-groups',
  };
  let local: LocalGateway;
  let endpoints: GatewayEndpoints;
  let app: Gateway;
  let doc: DynamoDBDocumentClient;
  const emf = captureEmf();
  const clients: TestClient[] = [];
  const ids: string[] = [];

  before(async () => {
    local = new LocalGateway({
      ttlSweepIntervalMs: 0,
      asyncRetryDelaysMs: [100],
      tables: localTables(tables),
      environment: (urls) => ({
        ...gatewayEnvironment(urls.callbackUrl, tables),
        [MetricsEnvVar.namespace]: NAMESPACE,
        [MetricsEnvVar.service]: SERVICE,
        [LambdaEnvVar.eventsModule]: fileURLToPath(new URL('../fixtures/events/metricsEvents.ts', import.meta.url)),
      }),
      functions: {
        connect: { entry: lambdaEntry('connect.ts'), environment: { [LambdaEnvVar.initFunction]: 'initSender' }, timeoutMs: 15_000 },
        disconnect: { entry: lambdaEntry('disconnect.ts'), timeoutMs: 15_000 },
        message: {
          entry: lambdaEntry('message.ts'),
          environment: { [GatewayEnvVar.fanoutFunction]: 'fanoutWorker', [GatewayEnvVar.fanoutThreshold]: String(THRESHOLD) },
          timeoutMs: 15_000,
        },
        initSender: { entry: lambdaEntry('initSender.ts'), timeoutMs: 20_000, maxRetryAttempts: 0 },
        // No Lambda retries: each failed invocation is counted once.
        fanoutWorker: { entry: lambdaEntry('fanoutWorker.ts'), timeoutMs: 30_000, maxRetryAttempts: 0 },
      },
      routes: { $connect: 'connect', $disconnect: 'disconnect', $default: 'message' },
      log: process.env.DEBUG_LM ? (line) => process.stderr.write(`${Date.now()} ${line}\n`) : undefined,
    });
    endpoints = await local.start();
    doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }));
    // The application's own backend (binds and joins); it emits nothing: no onSendCompleted.
    app = new Gateway({ callbackUrl: endpoints.callbackUrl, tables, region: endpoints.region, credentials, dynamoDb: doc, logger: { warn: () => {} } });
  });

  after(async () => {
    emf.stop();
    for (const client of clients) client.socket.terminate();
    app.destroy();
    await local.stop();
    doc.destroy();
  });

  /** Runs `action` and returns the EMF lines written from then until `done(lines so far)` holds. */
  async function linesDuring(action: () => Promise<unknown>, done: (sum: Record<string, number>) => boolean): Promise<EmfLine[]> {
    const from = emf.lines.length;
    await action();
    await eventually(() => totals(emf.lines.slice(from)), done, WAIT);
    return emf.lines.slice(from);
  }

  async function openClient(): Promise<{ client: TestClient; id: string }> {
    const client = await connect(endpoints.wsUrl);
    const init = (await client.json(0, WAIT)) as { client_id: string };
    clients.push(client);
    ids.push(init.client_id);
    return { client, id: init.client_id };
  }

  const broadcast = (client: TestClient, group: string) => client.socket.send(JSON.stringify({ action: 'broadcast', group, text: `to ${group}` }));

  test('connects: one Connects per accepted connection, in EMF under the namespace and `service` dimension given, as Counts', async () => {
    const lines = await linesDuring(
      async () => {
        for (let i = 0; i < 5; i++) await openClient();
      },
      (sum) => sum[CONNECTS] === 5,
    );
    assert.deepEqual(totals(lines), { [CONNECTS]: 5 });
    for (const line of lines) {
      assert.equal(line.namespace, NAMESPACE);
      assert.deepEqual(line.dimensions, { service: SERVICE });
      assert.deepEqual(Object.values(line.units), ['Count']);
    }
  });

  test('a refused connection counts ConnectsRefused', async () => {
    const lines = await linesDuring(
      async () => assert.equal(await refusedStatus(`${endpoints.wsUrl}?refuse=1`), 403),
      (sum) => sum[REFUSED] === 1,
    );
    assert.deepEqual(totals(lines), { [REFUSED]: 1 });
  });

  test('an inline send to two open sockets and one closed without its $disconnect: 2 sent, 1 gone, 0 failed, 0 throttled', async () => {
    const [a, b, c] = ids;
    for (const id of [a!, b!, c!]) await app.joinGroup(id, 'trio');
    // The third socket goes away with its $disconnect lost: its items stay, its posts get 410.
    local.setFaults({ dropDisconnectRate: 1 });
    clients[2]!.socket.terminate();
    await eventually(
      () => local.openConnectionIds(),
      (open) => !open.includes(c!),
      WAIT,
    );
    local.setFaults({});

    const lines = await linesDuring(
      async () => broadcast(clients[0]!, 'trio'),
      (sum) => sum[SENT] !== undefined,
    );
    assert.deepEqual(totals(lines), { [SENT]: 2, [GONE]: 1, [FAILED]: 0, [THROTTLED]: 0 });
    assert.equal(lines.length, 1, 'one line for the invocation');
    assert.equal(await clients[1]!.message(1, WAIT), 'to trio');
  });

  test('an inline send while @connections answers 500: every recipient failed, none sent or gone', async () => {
    const [a, b] = ids;
    for (const id of [a!, b!]) await app.joinGroup(id, 'pair');
    let answered500 = 0;
    local.setFaults({ serverErrorRate: 1, random: () => (answered500++, 0) });
    try {
      const lines = await linesDuring(
        async () => broadcast(clients[0]!, 'pair'),
        (sum) => sum[FAILED] !== undefined,
      );
      assert.deepEqual(totals(lines), { [SENT]: 0, [GONE]: 0, [FAILED]: 2, [THROTTLED]: 0 });
      assert.ok(answered500 >= 2, `the gateway answered 500 to every attempt (${answered500})`);
    } finally {
      local.setFaults({});
    }
  });

  test('an inline send through a throttling gateway: every 429 counted in PostsThrottled, the retried posts in PostsSent', async () => {
    // The first two @connections requests are answered 429, every later one passes.
    let answered429 = 0;
    local.setFaults({ throttleRate: 1, random: () => (answered429 < 2 ? (answered429++, 0) : 1) });
    try {
      const lines = await linesDuring(
        async () => broadcast(clients[0]!, 'pair'),
        (sum) => sum[SENT] !== undefined,
      );
      assert.equal(answered429, 2);
      assert.deepEqual(totals(lines), { [SENT]: 2, [GONE]: 0, [FAILED]: 0, [THROTTLED]: 2 });
    } finally {
      local.setFaults({});
    }
  });

  test('a chunked send: the message Lambda counts the chunk queued, the worker the posts it made', async () => {
    const open = [ids[0]!, ids[1]!, ids[3]!, ids[4]!];
    for (const id of open) await app.joinGroup(id, 'quad');
    const lines = await linesDuring(
      async () => broadcast(clients[0]!, 'quad'),
      (sum) => sum[CHUNKS_QUEUED] === 1 && sum[SENT] === 4,
    );
    assert.deepEqual(totals(lines), { [SENT]: 4, [GONE]: 0, [FAILED]: 0, [THROTTLED]: 0, [CHUNKS_QUEUED]: 1, [CHUNKS_FAILED]: 0 });
    const queuing = lines.find((l) => l.counts[CHUNKS_QUEUED] !== undefined)!;
    assert.deepEqual(queuing.counts, { [SENT]: 0, [GONE]: 0, [FAILED]: 0, [THROTTLED]: 0, [CHUNKS_QUEUED]: 1, [CHUNKS_FAILED]: 0 });
  });

  test('a chunk the worker cannot deliver at all: its posts failed and FanoutChunksFailed, once per invocation', async () => {
    local.setFaults({ serverErrorRate: 1, random: () => 0 });
    try {
      const lines = await linesDuring(
        async () => broadcast(clients[0]!, 'quad'),
        (sum) => sum[CHUNKS_FAILED] === 1 && sum[FAILED] === 4,
      );
      assert.deepEqual(totals(lines), { [SENT]: 0, [GONE]: 0, [FAILED]: 4, [THROTTLED]: 0, [CHUNKS_QUEUED]: 1, [CHUNKS_FAILED]: 1 });
    } finally {
      local.setFaults({});
    }
  });

  test('an init message that cannot be posted counts InitMessagesFailed (the connection itself was accepted)', async () => {
    local.setFaults({ serverErrorRate: 1, random: () => 0 });
    try {
      const lines = await linesDuring(
        async () => {
          const client = await connect(endpoints.wsUrl);
          clients.push(client);
        },
        (sum) => sum[INIT_FAILED] === 1,
      );
      assert.deepEqual(totals(lines), { [CONNECTS]: 1, [INIT_FAILED]: 1 });
    } finally {
      local.setFaults({});
    }
  });

  test('disconnects: one per $disconnect', async () => {
    const lines = await linesDuring(
      async () => {
        await clients[0]!.close();
        await clients[1]!.close();
      },
      (sum) => sum[DISCONNECTS] === 2,
    );
    assert.deepEqual(totals(lines), { [DISCONNECTS]: 2 });
  });
});
