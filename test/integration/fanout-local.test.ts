/**
 * The chunked fan-out path end to end on the local gateway: the SDK resolves a group larger than a
 * (low) threshold, splits it into chunks and invokes the worker asynchronously through the local
 * gateway's Lambda invoke API; the worker delivers, prunes 410s, retries 429/500, and logs its
 * counts. Worker hosted inline (to read its log lines) and as the real module (lambdas/fanoutWorker.ts,
 * in its own worker thread). No timed assertions; port 0, loopback only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { LocalGateway, type GatewayEndpoints, type WebSocketConnectEvent, type WebSocketDisconnectEvent } from '../../local/index.ts';
import {
  Gateway,
  GatewayEnvVar,
  gatewayEnvironment,
  ServiceError,
  ValidationError,
  type FanoutInvoker,
  type FanoutInvokeCommand,
  type GatewayOptions,
  type GatewayTableNames,
  type SendReport,
} from '../../sdk/index.ts';
import { createFanoutWorkerHandler, type FanoutWorkerLogLine } from '../../lambdas/fanoutWorkerHandler.ts';
import { countHttpRequests, localTables } from '../../testkit/gatewayHarness.ts';

const tables: GatewayTableNames = {
  connections: 'fan-connections',
  sessions: 'fan-sessions',
  memberships: 'fan-memberships',
  uids: 'fan-uids',
  groups: 'fan-groups',
};
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const THRESHOLD = 50;
const CHUNK_SIZE = 40;

/** A live `ws` client that knows its connection id and keeps what it receives. */
interface Client {
  readonly id: string;
  readonly socket: WebSocket;
  readonly messages: string[];
  /** Resolves once a message equal to `text` has arrived. */
  received(text: string): Promise<void>;
}

const sorted = (ids: readonly string[]) => [...ids].sort();

describe('chunked fan-out through the local gateway', { timeout: 120_000 }, () => {
  let local: LocalGateway;
  let endpoints: GatewayEndpoints;
  let doc: DynamoDBDocumentClient;
  let lambda: LambdaClient;
  /** Registers and unregisters connections; sends inline. */
  let direct: Gateway;
  const gateways: Gateway[] = [];
  const workerLogs: FanoutWorkerLogLine[] = [];
  const failureRecords: Array<{
    requestContext: { condition: string; approximateInvokeCount: number };
    requestPayload: { fanoutId: string; recipients: string[] };
  }> = [];
  let workerInvocations = 0;
  let workerHandler: ReturnType<typeof createFanoutWorkerHandler>;
  const pendingIds = new Map<string, (id: string) => void>();
  const clients: Client[] = [];
  let token = 0;

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
  const chunked = (functionName = 'worker', extra: Partial<NonNullable<Exclude<GatewayOptions['fanout'], false>>> = {}) =>
    newGateway({ fanout: { functionName, threshold: THRESHOLD, chunkSize: CHUNK_SIZE, lambda, ...extra } });

  before(async () => {
    local = new LocalGateway({
      ttlSweepIntervalMs: 0,
      asyncRetryDelaysMs: [10, 20],
      tables: localTables(tables),
      environment: (urls) => gatewayEnvironment(urls.callbackUrl, tables),
      functions: {
        worker: {
          handler: (event, context) => {
            workerInvocations++;
            return workerHandler(event, context);
          },
          timeoutMs: 60_000,
          onFailure: 'failures',
        },
        moduleWorker: { entry: fileURLToPath(new URL('../../lambdas/fanoutWorker.ts', import.meta.url)), timeoutMs: 60_000, onFailure: 'failures' },
        failures: async (record: (typeof failureRecords)[number]) => void failureRecords.push(record),
      },
      routes: {
        $connect: async (event: WebSocketConnectEvent) => {
          const { connectionId, connectedAt } = event.requestContext;
          await direct.registerConnection({ connectionId, connectedAt });
          pendingIds.get(event.queryStringParameters?.t ?? '')?.(connectionId);
          return { statusCode: 200 };
        },
        $disconnect: async (event: WebSocketDisconnectEvent) => {
          await direct.unregisterConnection(event.requestContext.connectionId);
          return { statusCode: 200 };
        },
      },
    });
    endpoints = await local.start();
    doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }), {
      marshallOptions: { removeUndefinedValues: true },
    });
    lambda = new LambdaClient({ endpoint: endpoints.httpUrl, region: endpoints.region, credentials, maxAttempts: 1 });
    direct = newGateway();
    // The worker as deployed, but in this process so that its log lines can be read; it retries
    // harder than the default so that the fault test cannot lose a recipient by bad luck.
    workerHandler = createFanoutWorkerHandler({
      gateway: newGateway({ fanout: false }),
      log: (line) => workerLogs.push(line),
      extraRounds: 8,
      roundDelayMs: 10,
    });
  });

  after(async () => {
    for (const client of clients) client.socket.terminate();
    for (const gateway of gateways) gateway.destroy();
    lambda.destroy();
    await local.stop();
    doc.destroy();
  });

  async function connect(): Promise<Client> {
    const t = `c${token++}`;
    const idPromise = new Promise<string>((resolve) => pendingIds.set(t, resolve));
    const socket = new WebSocket(`${endpoints.wsUrl}?t=${t}`, { perMessageDeflate: false });
    const messages: string[] = [];
    const waiters: Array<() => void> = [];
    socket.on('message', (data: Buffer) => {
      messages.push(data.toString('utf8'));
      for (const wake of waiters.splice(0)) wake();
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const id = await idPromise;
    pendingIds.delete(t);
    const client: Client = {
      id,
      socket,
      messages,
      async received(text: string) {
        while (!messages.includes(text)) await new Promise<void>((resolve) => waiters.push(resolve));
      },
    };
    clients.push(client);
    return client;
  }

  async function group(name: string, size: number): Promise<Client[]> {
    const members: Client[] = [];
    for (let i = 0; i < size; i += 25) members.push(...(await Promise.all(Array.from({ length: Math.min(25, size - i) }, () => connect()))));
    await Promise.all(members.map((c) => direct.joinGroup(c.id, name)));
    return members;
  }

  /** Waits for every asynchronous invocation (retries and failure destinations included) to finish. */
  const settled = () => local.functions.drain();

  /** Each client got `text` exactly once. */
  async function everyoneGotItOnce(members: readonly Client[], text: string): Promise<void> {
    await Promise.all(members.map((c) => c.received(text)));
    await settled();
    for (const c of members) assert.equal(c.messages.filter((m) => m === text).length, 1, `${c.id} got the message once`);
  }

  const logsOf = (report: SendReport) => workerLogs.filter((l) => l.fanoutId === report.queued?.id);

  test('a group above the threshold gets the message on every socket through the chunked path', async () => {
    const members = await group('big', 150);
    const invocationsBefore = workerInvocations;
    const report = await chunked().sendToGroup('big', 'hello, everyone');

    assert.equal(report.recipients, 150);
    assert.deepEqual(report.sent, []);
    assert.deepEqual(report.gone, []);
    assert.deepEqual(report.failed, []);
    assert.ok(report.queued);
    // 150 recipients in chunks of at most 40: 4 chunks of 37-38.
    assert.deepEqual(
      { ...report.queued, id: typeof report.queued.id },
      { id: 'string', functionName: 'worker', chunks: 4, recipients: 150, failedChunks: 0, chunkRate: 500 },
      '2,000 requests/s over the 4 chunks that may all run at once',
    );

    await everyoneGotItOnce(members, 'hello, everyone');
    assert.equal(workerInvocations - invocationsBefore, 4);
    const logs = logsOf(report);
    assert.equal(logs.length, 4, 'one log line per chunk');
    assert.deepEqual(logs.map((l) => l.chunk).sort(), [0, 1, 2, 3]);
    for (const line of logs) {
      assert.equal(line.message, 'gateway fan-out chunk');
      assert.equal(line.chunks, 4);
      assert.equal(line.operation, 'sendToGroup');
      assert.ok(line.recipients >= 37 && line.recipients <= 38, `even chunks, got ${line.recipients}`);
      assert.deepEqual([line.sent, line.gone, line.failed, line.failedIds, line.outcome, line.rounds], [line.recipients, 0, 0, [], 'delivered', 1]);
    }
    assert.equal(
      logs.reduce((sum, l) => sum + l.sent, 0),
      150,
    );
  });

  test('at or below the threshold the send stays inline: sent on return, no worker invoked', async () => {
    const members = await group('small', THRESHOLD);
    const before = workerInvocations;
    const report = await chunked().sendToGroup('small', 'inline');
    assert.equal(report.queued, undefined);
    assert.deepEqual(sorted(report.sent), sorted(members.map((c) => c.id)));
    assert.deepEqual([report.recipients, report.gone, report.failed], [THRESHOLD, [], []]);
    await everyoneGotItOnce(members, 'inline');
    assert.equal(workerInvocations, before);
  });

  test('sendToUid and sendToAll(clientIds) above the threshold are chunked too; exclusions and duplicates are resolved first', async () => {
    const members = await group('uids', 60);
    await Promise.all(members.map((c, i) => direct.bindUid(c.id, `user-${i % 30}`)));
    const uids = Array.from({ length: 30 }, (_, i) => `user-${i}`);
    const excluded = members.slice(0, 5).map((c) => c.id);
    const toUids = await chunked().sendToUid([...uids, ...uids], 'to uids', { exclude: excluded });
    assert.equal(toUids.recipients, 55);
    assert.equal(toUids.queued?.recipients, 55);
    assert.equal(toUids.queued?.chunks, 2);
    const reached = members.slice(5);
    await everyoneGotItOnce(reached, 'to uids');
    for (const c of members.slice(0, 5)) assert.ok(!c.messages.includes('to uids'), 'excluded clients get nothing');

    const toList = await chunked().sendToAll('to a list', { clientIds: members.map((c) => c.id) });
    assert.deepEqual([toList.recipients, toList.queued?.recipients, toList.queued?.chunks], [60, 60, 2]);
    await everyoneGotItOnce(members, 'to a list');
    assert.ok(logsOf(toList).every((l) => l.operation === 'sendToAll'));
  });

  test('bytes that are not UTF-8 and a 128 KB message arrive intact through a chunk', async () => {
    const members = await group('bytes', 55);
    const big = 'y'.repeat(131072);
    const report = await chunked().sendToGroup('bytes', big);
    assert.equal(report.queued?.recipients, 55);
    await everyoneGotItOnce(members, big);
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x41]);
    const received = members.map((c) => new Promise<Buffer>((resolve) => c.socket.once('message', (data: Buffer) => resolve(data))));
    const bytesReport = await chunked().sendToGroup('bytes', binary);
    assert.equal(bytesReport.queued?.recipients, 55);
    for (const data of await Promise.all(received)) assert.deepEqual(data, binary);
    await settled();
  });

  test('410s inside a chunk are pruned: the connection items and the index items the recipients were found through', async () => {
    const members = await group('stale', 60);
    // Stale members: items of connections the gateway does not have, older than the $connect grace.
    const stale = Array.from({ length: 12 }, (_, i) => `staleConnect${String(i).padStart(3, '0')}=`);
    for (const id of stale) {
      await direct.registerConnection({ connectionId: id, connectedAt: Date.now() - 3_600_000 });
      await direct.joinGroup(id, 'stale');
      await direct.bindUid(id, 'stale-user');
    }
    const report = await chunked().sendToGroup('stale', 'prune them');
    assert.equal(report.recipients, 72);
    assert.equal(report.queued?.chunks, 2);
    await everyoneGotItOnce(members, 'prune them');

    const logs = logsOf(report);
    assert.equal(
      logs.reduce((sum, l) => sum + l.gone, 0),
      12,
    );
    assert.equal(
      logs.reduce((sum, l) => sum + l.sent, 0),
      60,
    );
    assert.equal(
      logs.reduce((sum, l) => sum + l.failed, 0),
      0,
    );
    for (const id of stale) assert.equal(await direct.getConnection(id), undefined, `${id} pruned`);
    assert.deepEqual(sorted(await direct.getClientIdListByGroup('stale')), sorted(members.map((c) => c.id)));
    assert.deepEqual(await direct.getClientIdByUid('stale-user'), []);
  });

  test('injected 429s and 500s on @connections lose nothing for live connections', async () => {
    const members = await group('faulty', 120);
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    local.setFaults({ throttleRate: 0.3, serverErrorRate: 0.2, random });
    let report: SendReport;
    try {
      report = await chunked().sendToGroup('faulty', 'despite faults');
      assert.equal(report.queued?.recipients, 120);
      await everyoneGotItOnce(members, 'despite faults');
    } finally {
      local.setFaults({});
    }
    const logs = logsOf(report);
    assert.equal(
      logs.reduce((sum, l) => sum + l.sent, 0),
      120,
    );
    assert.ok(logs.every((l) => l.failed === 0 && l.outcome === 'delivered'));
  });

  test('a throttled Invoke is retried: every chunk is queued and delivered', async () => {
    const members = await group('throttled-invoke', 80);
    let calls = 0;
    const flaky: FanoutInvoker = {
      // A stand-in (not an AWS SDK client) gets the plain command; the LambdaClient behind it needs an InvokeCommand.
      async send(command: FanoutInvokeCommand) {
        if (++calls <= 3) throw Object.assign(new Error('Rate Exceeded.'), { name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } });
        assert.ok(!(command instanceof InvokeCommand));
        return lambda.send(new InvokeCommand(command.input));
      },
    };
    const report = await chunked('worker', { lambda: flaky, invokeConcurrency: 1 }).sendToGroup('throttled-invoke', 'after throttling');
    assert.deepEqual([report.queued?.chunks, report.queued?.failedChunks, report.failed.length], [2, 0, 0]);
    assert.equal(calls, 5);
    await everyoneGotItOnce(members, 'after throttling');
  });

  test('chunks Lambda does not accept are reported in `failed`, recipient by recipient, and nothing is sent', async () => {
    const members = await group('unqueued', 55);
    const report = await chunked('no-such-worker').sendToGroup('unqueued', 'never');
    assert.deepEqual([report.recipients, report.queued?.chunks, report.queued?.failedChunks, report.queued?.recipients], [55, 0, 2, 0]);
    assert.deepEqual(sorted(report.failed.map((f) => f.connectionId)), sorted(members.map((c) => c.id)));
    for (const f of report.failed) {
      assert.ok(f.error instanceof ServiceError);
      assert.equal(f.error.statusCode, 404);
      assert.equal(f.error.errorType, 'ResourceNotFoundException');
    }
    // A retryable error is retried maxRetries times, then reported likewise.
    let attempts = 0;
    const down: FanoutInvoker = {
      async send() {
        attempts++;
        throw Object.assign(new Error('Service unavailable'), { name: 'ServiceException', $metadata: { httpStatusCode: 503 } });
      },
    };
    const downReport = await chunked('worker', { lambda: down, maxRetries: 2 }).sendToGroup('unqueued', 'never');
    assert.equal(attempts, 2 * 3);
    assert.equal(downReport.failed.length, 55);
    assert.deepEqual(downReport.queued && [downReport.queued.chunks, downReport.queued.failedChunks], [0, 2]);
    await settled();
    for (const c of members) assert.ok(!c.messages.includes('never'));
  });

  test('a chunk that delivers nothing fails its invocation: Lambda retries it, then hands it to the on-failure destination', async () => {
    await group('systemic', 55);
    // A worker whose @connections endpoint is wrong: every post is refused (403), a systemic failure.
    const broken = createFanoutWorkerHandler({
      gateway: newGateway({ fanout: false, callbackUrl: `${endpoints.httpUrl}/wrong-stage` }),
      log: (line) => workerLogs.push(line),
      extraRounds: 0,
    });
    const saved = workerHandler;
    workerHandler = broken;
    let report: SendReport;
    try {
      report = await chunked().sendToGroup('systemic', 'refused');
      await settled();
    } finally {
      workerHandler = saved;
    }
    assert.equal(report.queued?.chunks, 2);
    const logs = logsOf(report);
    assert.equal(logs.length, 2 * 3, 'each chunk ran three times (two Lambda retries)');
    for (const line of logs) {
      assert.deepEqual([line.sent, line.gone, line.outcome, line.failedCodes], [0, 0, 'failed', { FORBIDDEN: line.recipients }]);
      assert.equal(line.failedIds.length, line.recipients);
    }
    const records = failureRecords.filter((r) => r.requestPayload.fanoutId === report.queued?.id);
    assert.equal(records.length, 2);
    for (const r of records) assert.deepEqual([r.requestContext.condition, r.requestContext.approximateInvokeCount], ['RetriesExhausted', 3]);
    assert.equal(
      records.reduce((sum, r) => sum + r.requestPayload.recipients.length, 0),
      55,
    );
  });

  test('deliverChunk: retryable failures get extra rounds with only the failed recipients; permanent ones, the round limit and the deadline stop them', async () => {
    const members = await group('rounds', 5);
    const worker = newGateway({ fanout: false, maxRetries: 0 });
    const chunk = (text: string) => ({
      type: 'gateway.fanout.chunk',
      version: 1,
      fanoutId: `rounds-${text}`,
      index: 0,
      count: 1,
      operation: 'sendToGroup',
      message: { utf8: text },
      recipients: members.map((c) => c.id),
      via: [['groups', 'rounds']],
    });
    // The first five @connections requests are throttled (one random draw each), every later one passes.
    let draws = 0;
    local.setFaults({ throttleRate: 0.5, random: () => (++draws <= 5 ? 0 : 0.99) });
    try {
      const report = await worker.deliverChunk(chunk('second round'), { extraRounds: 2, roundDelayMs: 1 });
      assert.deepEqual([report.rounds, sorted(report.sent), report.failed], [2, sorted(members.map((c) => c.id)), []]);
      await everyoneGotItOnce(members, 'second round');

      local.setFaults({ throttleRate: 1 });
      const exhausted = await worker.deliverChunk(chunk('never'), { extraRounds: 2, roundDelayMs: 1 });
      assert.deepEqual([exhausted.rounds, exhausted.sent, exhausted.failed.length], [3, [], 5]);
      assert.ok(exhausted.failed.every((f) => f.error.code === 'THROTTLED'));
      const late = await worker.deliverChunk(chunk('never'), { extraRounds: 2, roundDelayMs: 1000, deadlineMs: Date.now() + 500 });
      assert.equal(late.rounds, 1, 'no round that cannot end before the deadline');
    } finally {
      local.setFaults({});
    }
    // A permanent failure (403 from a wrong endpoint) is not retried.
    const wrong = newGateway({ fanout: false, maxRetries: 0, callbackUrl: `${endpoints.httpUrl}/wrong-stage` });
    const refused = await wrong.deliverChunk(chunk('never'), { extraRounds: 2, roundDelayMs: 1 });
    assert.deepEqual([refused.rounds, refused.failed.length, refused.failed[0]!.error.code], [1, 5, 'FORBIDDEN']);
    for (const c of members) assert.ok(!c.messages.includes('never'));
  });

  test('bad input is refused before any network call, chunked or not', async () => {
    const gateway = chunked();
    for (const [name, run] of [
      ['message too large', () => gateway.sendToGroup('big', 'x'.repeat(131073))],
      ['bad group', () => gateway.sendToGroup('', 'x')],
      ['bad exclude', () => gateway.sendToUid('u', 'x', { exclude: 'nope' })],
      ['bad clientIds', () => gateway.sendToAll('x', { clientIds: ['nope'] })],
      ['undefined message', () => gateway.sendToAll(undefined)],
    ] as const) {
      const { requests, error } = await countHttpRequests(run);
      assert.ok(error instanceof ValidationError, `${name}: ValidationError`);
      assert.equal(requests, 0, `${name}: no request`);
    }
  });

  test('the real worker module, in its own worker thread, delivers a chunked send and logs one JSON line per chunk', async () => {
    const members = await group('module', 90);
    const lines: string[] = [];
    const write = process.stdout.write;
    // The worker thread's console output is piped through this process's stdout: keep our lines.
    process.stdout.write = function (chunk: unknown, ...rest: unknown[]) {
      const text = String(chunk);
      if (text.includes('"gateway fan-out chunk"')) {
        lines.push(...text.split('\n').filter((l) => l.includes('"gateway fan-out chunk"')));
        return true;
      }
      return (write as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
    } as typeof process.stdout.write;
    let report: SendReport;
    try {
      report = await chunked('moduleWorker').sendToGroup('module', 'from the module');
      await everyoneGotItOnce(members, 'from the module');
      // The worker thread's stdout reaches this thread asynchronously.
      while (lines.length < 3) await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.stdout.write = write;
    }
    assert.equal(report.queued?.chunks, 3);
    const parsed = lines.map((l) => JSON.parse(l) as FanoutWorkerLogLine).filter((l) => l.fanoutId === report.queued?.id);
    assert.equal(parsed.length, 3);
    assert.equal(
      parsed.reduce((sum, l) => sum + l.sent, 0),
      90,
    );
  });

  test('Gateway.fromEnv chunks when GATEWAY_FANOUT_FUNCTION is set (the threshold from GATEWAY_FANOUT_THRESHOLD), and `fanout: false` keeps it inline', async () => {
    const members = await group('env', 30);
    const env = {
      ...gatewayEnvironment(endpoints.callbackUrl, tables),
      [GatewayEnvVar.fanoutFunction]: 'worker',
      [GatewayEnvVar.fanoutThreshold]: '20',
    };
    const saved = process.env.AWS_ENDPOINT_URL_LAMBDA;
    process.env.AWS_ENDPOINT_URL_LAMBDA = endpoints.httpUrl; // what the construct's Lambda runtime and the local gateway provide
    try {
      const fromEnv = Gateway.fromEnv({ region: endpoints.region, credentials, dynamoDb: doc }, env);
      gateways.push(fromEnv);
      const report = await fromEnv.sendToGroup('env', 'via env');
      assert.deepEqual([report.queued?.functionName, report.queued?.chunks, report.queued?.recipients], ['worker', 1, 30]);
      await everyoneGotItOnce(members, 'via env');
      const inline = Gateway.fromEnv({ region: endpoints.region, credentials, dynamoDb: doc, fanout: false }, env);
      gateways.push(inline);
      const inlineReport = await inline.sendToGroup('env', 'inline via env');
      assert.equal(inlineReport.queued, undefined);
      assert.equal(inlineReport.sent.length, 30);
      await everyoneGotItOnce(members, 'inline via env');
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_LAMBDA;
      else process.env.AWS_ENDPOINT_URL_LAMBDA = saved;
    }
  });

  test('the worker refuses what is not a chunk: the invocation fails and the event reaches the failure destination', async () => {
    const before = failureRecords.length;
    await lambda.send(new InvokeCommand({ FunctionName: 'worker', InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ hello: 'world' })) }));
    await settled();
    const record = failureRecords.slice(before).find((r) => (r.requestPayload as unknown as { hello?: string }).hello === 'world');
    assert.ok(record, 'the malformed event was kept');
  });
});
