// GatewayMetrics (sdk/GatewayMetrics.ts), the adapter for an application's own sends: on
// onSendCompleted it writes the same EMF metrics the backend's Lambdas write, with counts from real
// outcomes on the local gateway (open sockets, a socket dropped without its $disconnect, a worker
// function that does not exist).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LocalGateway } from '../../local/index.ts';
import { ConfigurationError, Gateway, GatewayMetricName, type SendMetrics } from '../../sdk/index.ts';
import { DEFAULT_METRICS_NAMESPACE, MetricsEnvVar } from '../../sdk/metricNames.ts';
import { DEFAULT_METRICS_SERVICE, GatewayMetrics, sendCounts } from '../../sdk/GatewayMetrics.ts';
import { GatewayHarness, LOCAL_CREDENTIALS, TEST_TABLES, localTables } from '../../testkit/gatewayHarness.ts';
import { captureEmf, totals } from '../helpers/emf.ts';

const env = { [MetricsEnvVar.namespace]: 'AppMetrics', [MetricsEnvVar.service]: 'chat-backend' };
const emf = captureEmf();
after(() => emf.stop());

const {
  postsSent: SENT,
  postsGone: GONE,
  postsFailed: FAILED,
  postsThrottled: THROTTLED,
  fanoutChunksQueued: QUEUED,
  fanoutChunksFailed: CHUNKS_FAILED,
} = GatewayMetricName;

describe('GatewayMetrics on inline sends', () => {
  let h: GatewayHarness;
  const ids: string[] = [];

  before(async () => {
    h = await GatewayHarness.start();
    const [a, b, c] = await h.connectMany(3);
    for (const client of [a!, b!, c!]) {
      ids.push(client.id);
      await h.gateway.joinGroup(client.id, 'room');
    }
    // The third goes away with its $disconnect lost: still in the tables, answered 410.
    h.local.setFaults({ dropDisconnectRate: 1 });
    h.local.dropConnection(c!.id);
    await h.until(() => !h.isOpen(c!.id));
    h.local.setFaults({});
  });
  after(() => h.stop());

  test("publish 'each' (the default): one EMF line per send, under the namespace and service of the environment grantGateway sets", async () => {
    const metrics = new GatewayMetrics({ env });
    const gateway = h.newGateway({ onSendCompleted: metrics.onSendCompleted });
    const from = emf.lines.length;
    const report = await gateway.sendToGroup('room', 'hello');
    assert.deepEqual([report.sent.length, report.gone.length, report.failed.length], [2, 1, 0]);
    const lines = emf.lines.slice(from);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.namespace, 'AppMetrics');
    assert.deepEqual(lines[0]!.dimensions, { service: 'chat-backend' });
    assert.deepEqual(lines[0]!.counts, { [SENT]: 2, [GONE]: 1, [FAILED]: 0, [THROTTLED]: 0 });
    assert.deepEqual(new Set(Object.values(lines[0]!.units)), new Set(['Count']));
  });

  test('failed posts: the gateway answering 500 to every attempt', async () => {
    const metrics = new GatewayMetrics({ env });
    const gateway = h.newGateway({ onSendCompleted: metrics.onSendCompleted, maxRetries: 1, retryBaseDelayMs: 1 });
    h.local.setFaults({ serverErrorRate: 1, random: () => 0 });
    const from = emf.lines.length;
    try {
      await gateway.sendToClient(ids[0]!, 'x');
    } finally {
      h.local.setFaults({});
    }
    assert.deepEqual(totals(emf.lines.slice(from)), { [SENT]: 0, [GONE]: 0, [FAILED]: 1, [THROTTLED]: 0 });
  });

  test('throttled posts: each 429 the gateway answered, retried or not', async () => {
    const metrics = new GatewayMetrics({ env });
    const gateway = h.newGateway({ onSendCompleted: metrics.onSendCompleted, maxRetries: 2, throttleBaseDelayMs: 1, throttleMaxDelayMs: 1 });
    let answered429 = 0;
    // The first post is answered 429 twice, then sent; the second 429 on each of its 3 attempts (maxRetries 2), then given up.
    h.local.setFaults({ throttleRate: 1, random: () => (answered429 < 2 ? (answered429++, 0) : 1) });
    const from = emf.lines.length;
    try {
      const sent = await gateway.sendToClient(ids[0]!, 'x');
      assert.deepEqual(sent.sent, [ids[0]]);
      h.local.setFaults({ throttleRate: 1, random: () => (answered429++, 0) });
      const given = await gateway.sendToClient(ids[1]!, 'y');
      assert.equal(given.failed.length, 1);
    } finally {
      h.local.setFaults({});
    }
    assert.equal(answered429, 5);
    assert.deepEqual(totals(emf.lines.slice(from)), { [SENT]: 1, [GONE]: 0, [FAILED]: 1, [THROTTLED]: 5 });
  });

  test("publish 'manual': counts add up until publish(), which writes one line; nothing recorded writes nothing", async () => {
    const metrics = new GatewayMetrics({ env, publish: 'manual' });
    const gateway = h.newGateway({ onSendCompleted: metrics.onSendCompleted });
    const from = emf.lines.length;
    await gateway.sendToGroup('room', 'one');
    await gateway.sendToClient(ids[0]!, 'two');
    assert.equal(emf.lines.length, from, 'nothing before publish()');
    metrics.publish();
    metrics.publish();
    const lines = emf.lines.slice(from);
    assert.equal(lines.length, 1);
    // The first test's send pruned the gone connection from the group.
    assert.deepEqual(lines[0]!.counts, { [SENT]: 3, [GONE]: 0, [FAILED]: 0, [THROTTLED]: 0 });
  });

  test("count() adds any of the backend's metrics, e.g. Connects from a backend of your own", () => {
    const metrics = new GatewayMetrics({ env });
    const from = emf.lines.length;
    metrics.count(GatewayMetricName.connects);
    metrics.count(GatewayMetricName.connects, 2);
    assert.deepEqual(totals(emf.lines.slice(from)), { [GatewayMetricName.connects]: 3 });
  });

  test('without the environment: the default namespace and service; POWERTOOLS_METRICS_DISABLED=true writes nothing', async () => {
    const metrics = new GatewayMetrics({ env: {} });
    assert.deepEqual([metrics.namespace, metrics.service], [DEFAULT_METRICS_NAMESPACE, DEFAULT_METRICS_SERVICE]);
    const from = emf.lines.length;
    metrics.count(GatewayMetricName.disconnects);
    assert.equal(emf.lines.slice(from)[0]!.namespace, DEFAULT_METRICS_NAMESPACE);

    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    try {
      const disabled = new GatewayMetrics({ env });
      const before = emf.lines.length;
      disabled.count(GatewayMetricName.disconnects);
      assert.equal(emf.lines.length, before);
    } finally {
      delete process.env.POWERTOOLS_METRICS_DISABLED;
    }
  });
});

describe('GatewayMetrics on chunked sends', () => {
  let local: LocalGateway;
  let lambda: LambdaClient;
  let doc: DynamoDBDocumentClient;
  const chunks: unknown[] = [];
  const gateways: Gateway[] = [];

  before(async () => {
    local = new LocalGateway({
      ttlSweepIntervalMs: 0,
      tables: localTables(TEST_TABLES),
      routes: {},
      functions: { worker: (event: unknown) => void chunks.push(event) },
    });
    const endpoints = await local.start();
    lambda = new LambdaClient({ endpoint: endpoints.httpUrl, region: endpoints.region, credentials: LOCAL_CREDENTIALS });
    doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials: LOCAL_CREDENTIALS }));
    const options = {
      callbackUrl: endpoints.callbackUrl,
      tables: TEST_TABLES,
      region: endpoints.region,
      credentials: LOCAL_CREDENTIALS,
      dynamoDb: doc,
      logger: { warn: () => {} },
    };
    const registrar = new Gateway(options);
    gateways.push(registrar);
    for (const id of ['AAAAAAAAAAAAAAA=', 'BBBBBBBBBBBBBBB=', 'CCCCCCCCCCCCCCC=']) {
      await registrar.registerConnection({ connectionId: id, connectedAt: Date.now(), sourceIp: '127.0.0.1' });
      await registrar.joinGroup(id, 'big');
    }
    chunkedGateway = (functionName, metrics) => {
      const g = new Gateway({
        ...options,
        fanout: { functionName, threshold: 1, chunkSize: 2, lambda, maxRetries: 0 },
        onSendCompleted: metrics.onSendCompleted,
      });
      gateways.push(g);
      return g;
    };
  });
  let chunkedGateway: (functionName: string, metrics: GatewayMetrics) => Gateway;
  after(async () => {
    for (const g of gateways) g.destroy();
    lambda.destroy();
    doc.destroy();
    await local.stop();
  });

  test('chunks Lambda accepted: FanoutChunksQueued, no post counted by the sender (the worker counts its own)', async () => {
    const from = emf.lines.length;
    const report = await chunkedGateway('worker', new GatewayMetrics({ env })).sendToGroup('big', 'hi');
    assert.equal(report.queued!.chunks, 2);
    assert.deepEqual(
      emf.lines.slice(from).map((l) => l.counts),
      [{ [SENT]: 0, [GONE]: 0, [FAILED]: 0, [THROTTLED]: 0, [QUEUED]: 2, [CHUNKS_FAILED]: 0 }],
    );
  });

  test('chunks Lambda refused (no such function): FanoutChunksFailed, and their recipients as failed posts', async () => {
    const from = emf.lines.length;
    const report = await chunkedGateway('no-such-worker', new GatewayMetrics({ env })).sendToGroup('big', 'hi');
    assert.equal(report.queued!.failedChunks, 2);
    assert.deepEqual(
      emf.lines.slice(from).map((l) => l.counts),
      [{ [SENT]: 0, [GONE]: 0, [FAILED]: 3, [THROTTLED]: 0, [QUEUED]: 0, [CHUNKS_FAILED]: 2 }],
    );
  });
});

test('sendCounts: the four post counts always (zeros too), the chunk counts for chunked sends only, throttled from the send', () => {
  const base: SendMetrics = { operation: 'sendToUid', recipients: 4, sent: 2, gone: 1, failed: 1, bytes: 3, resolveMs: 1, deliverMs: 1, pruneMs: 0 };
  assert.deepEqual(Object.fromEntries(sendCounts(base)), { [SENT]: 2, [GONE]: 1, [FAILED]: 1, [THROTTLED]: 0 });
  assert.deepEqual(Object.fromEntries(sendCounts({ ...base, throttled: 5 })), { [SENT]: 2, [GONE]: 1, [FAILED]: 1, [THROTTLED]: 5 });
  assert.deepEqual(Object.fromEntries(sendCounts({ ...base, sent: 0, gone: 0, chunks: 3, failedChunks: 1, queued: 3 })), {
    [SENT]: 0,
    [GONE]: 0,
    [FAILED]: 1,
    [THROTTLED]: 0,
    [QUEUED]: 3,
    [CHUNKS_FAILED]: 1,
  });
});

test('options it cannot use are a ConfigurationError naming the option', () => {
  const fails = (options: unknown, message: RegExp) =>
    assert.throws(
      () => new GatewayMetrics(options as never),
      (e: unknown) => e instanceof ConfigurationError && message.test(e.message),
      String(message),
    );
  fails(null, /GatewayMetrics options must be an object/);
  fails({ namespace: 'AWS/Lambda' }, /namespace must be 1-255 letters, digits, spaces or . - _ \/ # : \(and not starting with 'AWS\/'\), got "AWS\/Lambda"/);
  fails({ namespace: 'ümlaut' }, /namespace must be/);
  fails({ namespace: '   ' }, /namespace must be/);
  fails({ service: '' }, /service must be 1-1024 printable ASCII characters/);
  fails({ service: 'x'.repeat(1025) }, /service must be/);
  fails({ service: 42 }, /service must be .*, got 42/);
  fails({ publish: 'always' }, /publish must be 'each' or 'manual', got "always"/);
  fails({ env: { [MetricsEnvVar.namespace]: 'AWS/SQS' } }, /namespace must be/);
});
