/**
 * The request-rate budget end to end on the local gateway: a chunked broadcast to more connections
 * than its budget allows per second, with the gateway's account throttle set between the budget and
 * what an unpaced sender does (~10,000 posts/s here). What is asserted is what the gateway itself
 * counted (its per-second record of admitted and throttled @connections requests), never a timing
 * measured by the test:
 * - paced: no second saw more posts than the budget (plus the burst and 15 % slack for requests that
 *   straddle a second), and the gateway throttled none;
 * - a budget above a lowered gateway limit: the gateway answered 429s, the workers retried them, and
 *   every recipient got the message exactly once, with the 429s the workers counted equal to the
 *   gateway's;
 * - inline sends honour `sendRate` the same way.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { LocalGateway, type GatewayEndpoints, type WebSocketConnectEvent } from '../../local/index.ts';
import { Gateway, gatewayEnvironment, type GatewayOptions, type GatewayTableNames, type SendMetrics } from '../../sdk/index.ts';
import { createFanoutWorkerHandler, type FanoutWorkerLogLine } from '../../lambdas/fanoutWorkerHandler.ts';
import { localTables } from '../../testkit/gatewayHarness.ts';

const tables: GatewayTableNames = {
  connections: 'budget-connections',
  sessions: 'budget-sessions',
  memberships: 'budget-memberships',
  uids: 'budget-uids',
  groups: 'budget-groups',
};
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const CONNECTIONS = 600;
const CHUNK_SIZE = 100;

describe('the fan-out request-rate budget, as the local gateway counts it', { timeout: 180_000 }, () => {
  let local: LocalGateway;
  let endpoints: GatewayEndpoints;
  let doc: DynamoDBDocumentClient;
  let lambda: LambdaClient;
  const gateways: Gateway[] = [];
  const sockets: WebSocket[] = [];
  /** Messages per connection id. */
  const received = new Map<string, string[]>();
  const workerLogs: FanoutWorkerLogLine[] = [];
  const workerMetrics: SendMetrics[] = [];

  const newGateway = (overrides: Partial<GatewayOptions> = {}) => {
    const gateway = new Gateway({
      callbackUrl: endpoints.callbackUrl,
      tables,
      region: endpoints.region,
      credentials,
      dynamoDb: doc,
      logger: { warn: () => {} },
      ...overrides,
    });
    gateways.push(gateway);
    return gateway;
  };

  before(async () => {
    let worker: ReturnType<typeof createFanoutWorkerHandler>;
    const pending = new Map<string, (id: string) => void>();
    local = new LocalGateway({
      ttlSweepIntervalMs: 0,
      tables: localTables(tables),
      environment: (urls) => gatewayEnvironment(urls.callbackUrl, tables),
      functions: { worker: { handler: (event, context) => worker(event, context), timeoutMs: 60_000 } },
      routes: {
        $connect: async (event: WebSocketConnectEvent) => {
          const { connectionId, connectedAt } = event.requestContext;
          await registrar.registerConnection({ connectionId, connectedAt });
          pending.get(event.queryStringParameters?.t ?? '')?.(connectionId);
          return { statusCode: 200 };
        },
      },
    });
    endpoints = await local.start();
    doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }), {
      marshallOptions: { removeUndefinedValues: true },
    });
    lambda = new LambdaClient({ endpoint: endpoints.httpUrl, region: endpoints.region, credentials, maxAttempts: 1 });
    const registrar = newGateway();
    // The worker as deployed (no fan-out of its own, the default sendRate), in this process so that
    // its log lines and metrics can be read.
    worker = createFanoutWorkerHandler({
      gateway: newGateway({ fanout: false, onSendCompleted: (m) => workerMetrics.push(m) }),
      log: (line) => workerLogs.push(line),
    });
    for (let i = 0; i < CONNECTIONS; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, CONNECTIONS - i) }, async (_, j) => {
          const t = `c${i + j}`;
          const id = new Promise<string>((resolve) => pending.set(t, resolve));
          const socket = new WebSocket(`${endpoints.wsUrl}?t=${t}`, { perMessageDeflate: false });
          sockets.push(socket);
          const messages: string[] = [];
          socket.on('message', (data: Buffer) => messages.push(data.toString('utf8')));
          await new Promise<void>((resolve, reject) => socket.once('open', () => resolve()).once('error', reject));
          received.set(await id, messages);
        }),
      );
    }
  });

  after(async () => {
    for (const socket of sockets) socket.terminate();
    for (const gateway of gateways) gateway.destroy();
    lambda.destroy();
    await local.stop();
    doc.destroy();
  });

  /** Until every connection has `text` (or the test times out). */
  async function everyoneGot(text: string): Promise<void> {
    for (;;) {
      if ([...received.values()].every((m) => m.includes(text))) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The gateway's @connections record since the last reset. */
  function managementRecord() {
    const { admitted, throttled, perSecond } = local.throttleReport().management;
    return { admitted, throttled, perSecond, busiest: Math.max(...perSecond.map((s) => s.admitted)) };
  }

  test(`a broadcast to ${CONNECTIONS} connections at a budget of 200/s: no second over the budget, no 429`, async (t) => {
    // Room for the budget, far under what unpaced workers would send.
    local.setThrottling({ accountThrottle: { rateLimit: 400, burstLimit: 200 } });
    local.throttles.meter.reset();
    const sender = newGateway({ fanout: { functionName: 'worker', lambda, threshold: 50, chunkSize: CHUNK_SIZE, rateLimit: 200 } });
    const report = await sender.sendToAll('paced');
    assert.equal(report.queued?.chunks, 6);
    assert.equal(report.queued?.chunkRate, 33.333, '200/s over the 6 chunks that may all run at once');
    await everyoneGot('paced');
    await local.functions.drain();

    const record = managementRecord();
    t.diagnostic(
      `gateway, @connections per second: ${record.perSecond.map((x) => `${x.admitted}${x.throttled ? `+${x.throttled} throttled` : ''}`).join(', ')}`,
    );
    assert.equal(record.admitted, CONNECTIONS, 'one post per connection');
    assert.equal(record.throttled, 0, 'the gateway throttled nothing');
    // 6 chunks with a burst of 2 each; 15 % for posts that cross into the next second in flight.
    assert.ok(record.busiest <= (200 + 6 * 2) * 1.15, `busiest second: ${record.busiest} posts (${JSON.stringify(record.perSecond)})`);
    assert.ok(record.perSecond.length >= 3, `${CONNECTIONS} posts at 200/s span at least 3 seconds: ${JSON.stringify(record.perSecond)}`);
    const logs = workerLogs.filter((l) => l.fanoutId === report.queued!.id);
    assert.equal(
      logs.reduce((n, l) => n + l.sent, 0),
      CONNECTIONS,
    );
    assert.equal(
      logs.reduce((n, l) => n + l.failed, 0),
      0,
    );
  });

  test('a budget of 2,000/s against a gateway lowered to 150/s: 429s appear, are retried, and nobody misses the message', async (t) => {
    local.setThrottling({ accountThrottle: { rateLimit: 150, burstLimit: 50 } });
    local.throttles.meter.reset();
    workerMetrics.length = 0;
    const sender = newGateway({ fanout: { functionName: 'worker', lambda, threshold: 50, chunkSize: CHUNK_SIZE, rateLimit: 2000 } });
    const report = await sender.sendToAll('throttled');
    await everyoneGot('throttled');
    await local.functions.drain();

    const record = managementRecord();
    t.diagnostic(
      `gateway, @connections per second: ${record.perSecond.map((x) => `${x.admitted}${x.throttled ? `+${x.throttled} throttled` : ''}`).join(', ')}`,
    );
    assert.ok(record.throttled > 0, 'the gateway answered 429s');
    assert.equal(record.admitted, CONNECTIONS, 'every connection got exactly one post through');
    for (const messages of received.values()) assert.equal(messages.filter((m) => m === 'throttled').length, 1);
    const logs = workerLogs.filter((l) => l.fanoutId === report.queued!.id);
    assert.equal(
      logs.reduce((n, l) => n + l.failed, 0),
      0,
      'no recipient failed',
    );
    assert.equal(
      workerMetrics.reduce((n, m) => n + (m.throttled ?? 0), 0),
      record.throttled,
      'SendMetrics.throttled counts every 429 the gateway answered',
    );
  });

  test('inline sends honour sendRate: 150/s from one process, no 429 under a 400/s gateway', async (t) => {
    local.setThrottling({ accountThrottle: { rateLimit: 400, burstLimit: 200 } });
    local.throttles.meter.reset();
    const metrics: SendMetrics[] = [];
    const inline = newGateway({ fanout: false, sendRate: 150, onSendCompleted: (m) => metrics.push(m) });
    const started = performance.now();
    const report = await inline.sendToAll('inline');
    const elapsedMs = performance.now() - started;
    assert.equal(report.sent.length, CONNECTIONS);
    const record = managementRecord();
    t.diagnostic(
      `gateway, @connections per second: ${record.perSecond.map((x) => `${x.admitted}${x.throttled ? `+${x.throttled} throttled` : ''}`).join(', ')}`,
    );
    assert.equal(record.throttled, 0);
    // The process bucket holds a second's worth (150 requests).
    assert.ok(record.busiest <= (150 + 150) * 1.15, `busiest second: ${record.busiest} (${JSON.stringify(record.perSecond)})`);
    // A rested bucket lets 150 go at once, the rest at 150/s: a lower bound that load can only lengthen.
    // (How many calendar seconds the gateway's record spans is not: a late start can shift it.)
    assert.ok(elapsedMs >= ((CONNECTIONS - 150) / 150) * 1000 * 0.95, `${CONNECTIONS} posts at 150/s took ${Math.round(elapsedMs)} ms`);
    assert.equal(metrics[0]?.throttled, 0);
  });
});
