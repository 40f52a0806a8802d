/**
 * `npm run bench`: fan-out speed and DynamoDB cost of the SDK (issue 3). Not a test.
 *
 * A child process (bench/fanoutClients.ts) runs the local gateway, DynamoDB and 1,000 live `ws`
 * clients, pinned to core 0 when `taskset` exists; this process is the sender, on core 1. For each
 * round the child reports over IPC when the last socket has the message; the end-to-end time is
 * from the start of the send to that report. Compared in the same run, at the same concurrency,
 * over the same connection ids:
 *   sdk   Gateway.sendToGroup to the 1,000-member group (DynamoDB query + signed keep-alive posts)
 *   stock a loop of ApiGatewayManagementApiClient PostToConnectionCommand (keep-alive agent)
 *   bare  bare keep-alive http.request POSTs with a dummy Authorization header (unsigned)
 * CPU per push is process.cpuUsage() in this process over the send call, divided by 1,000.
 * Then the DynamoDB cost (ReturnConsumedCapacity TOTAL on every call, via onConsumedCapacity).
 *
 * Options (environment): BENCH_CLIENTS (1000), BENCH_ROUNDS (15), BENCH_WARMUP (3),
 * BENCH_CONCURRENCY (the SDK default), BENCH_SCAN_ITEMS (10000).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { Gateway, type ConsumedCapacityEvent, type GatewayOptions, type SendMetrics } from '../sdk/index.ts';
import { TEST_TABLES, LOCAL_CREDENTIALS } from '../testkit/gatewayHarness.ts';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const SCAN_ITEMS = Number(process.env.BENCH_SCAN_ITEMS ?? 10_000);
const DEFAULT_CONCURRENCY = 64; // the SDK's default (GatewayOptions.concurrency)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? DEFAULT_CONCURRENCY);
const SWEEP = [16, 32, 64, 128, 256];

// ---- the child ----

interface Ready {
  callbackUrl: string;
  dynamoEndpoint: string;
  region: string;
  ids: string[];
}

class ClientsProcess {
  private waiters = new Map<string, (message: { type: string; round?: number }) => void>();
  readonly ready: Promise<Ready>;

  constructor(private readonly child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the clients process exited with ${code}`)));
      child.on('message', (message: { type: string; round?: number } & Partial<Ready>) => {
        if (message.type === 'ready') return resolve(message as Ready);
        const key = `${message.type}:${message.round}`;
        this.waiters.get(key)?.(message);
        this.waiters.delete(key);
      });
    });
  }

  private wait(type: string, round: number): Promise<void> {
    return new Promise((resolve) => this.waiters.set(`${type}:${round}`, () => resolve()));
  }

  /** Tells the child what to count; resolves once it is armed, with a promise of the round's end. */
  async arm(round: number, count: number): Promise<{ done: Promise<void> }> {
    const armed = this.wait('armed', round);
    const done = this.wait('done', round);
    this.child.send({ type: 'expect', round, count });
    await armed;
    return { done };
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.send({ type: 'stop' });
    });
  }
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function startClients(pinned: boolean): ClientsProcess {
  const script = fileURLToPath(new URL('./fanoutClients.ts', import.meta.url));
  const node = [process.execPath, '--import', 'tsx', script];
  const [command, ...args] = pinned ? ['taskset', '-c', '0', ...node] : node;
  const child = spawn(command!, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, BENCH_CLIENTS: String(CLIENTS) },
  });
  return new ClientsProcess(child);
}

// ---- the three senders ----

type Sender = (message: string) => Promise<unknown>;

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

function stockSender(ready: Ready, concurrency: number): Sender {
  const client = new ApiGatewayManagementApiClient({
    endpoint: ready.callbackUrl,
    region: ready.region,
    credentials: LOCAL_CREDENTIALS,
    requestHandler: { httpAgent: new http.Agent({ keepAlive: true, maxSockets: concurrency }) },
  });
  return (message) => {
    const data = Buffer.from(message);
    return pool(ready.ids, concurrency, async (id) => {
      await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: data }));
    });
  };
}

/** The gateway checks the signing time (5-minute window), not the signature. */
function amzNow(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function bareSender(ready: Ready, concurrency: number): Sender {
  const url = new URL(ready.callbackUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const paths = ready.ids.map((id) => `${url.pathname}/@connections/${encodeURIComponent(id)}`);
  const authorization = 'AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=0';
  const post = (path: string, body: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path,
          agent,
          headers: { 'content-type': 'application/octet-stream', 'content-length': body.length, authorization, 'x-amz-date': amzNow() },
        },
        (res) => {
          res.resume();
          if (res.statusCode !== 200) reject(new Error(`bare POST answered ${res.statusCode}`));
          else resolve();
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  return (message) => {
    const body = Buffer.from(message);
    return pool(paths, concurrency, (path) => post(path, body));
  };
}

// ---- measurement ----

interface Sample {
  endToEndMs: number;
  callMs: number;
  cpuUsPerPush: number;
  resolveMs?: number;
  deliverMs?: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const fmt = (n: number, digits = 1) => n.toFixed(digits);

let roundNo = 0;
async function measure(clients: ClientsProcess, count: number, send: Sender, lastMetrics?: () => SendMetrics | undefined): Promise<Sample> {
  const round = ++roundNo;
  const message = `r${round}|`.padEnd(100, '.');
  const { done } = await clients.arm(round, count);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await send(message);
  const t1 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  await done;
  const t2 = performance.now();
  const metrics = lastMetrics?.();
  return {
    endToEndMs: t2 - t0,
    callMs: t1 - t0,
    cpuUsPerPush: (cpu.user + cpu.system) / count,
    ...(metrics ? { resolveMs: metrics.resolveMs, deliverMs: metrics.deliverMs } : {}),
  };
}

async function main(): Promise<void> {
  const pinned = hasTaskset() && (await import('node:os')).availableParallelism() >= 2;
  if (pinned) execFileSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
  console.log(`# Fan-out benchmark: ${CLIENTS} live connections, concurrency ${CONCURRENCY}, ${ROUNDS} rounds after ${WARMUP} warm-up rounds`);
  console.log(`node ${process.version}; ${pinned ? 'gateway + sockets on core 0, sender on core 1 (taskset)' : 'not pinned (no taskset or one core)'}\n`);

  const progress = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const clients = startClients(pinned);
  const ready = await clients.ready;
  progress(`${ready.ids.length} clients connected`);
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: ready.dynamoEndpoint, region: ready.region, credentials: LOCAL_CREDENTIALS }));
  const capacity: ConsumedCapacityEvent[] = [];
  let lastMetrics: SendMetrics | undefined;
  const gateways: Gateway[] = [];
  const makeGateway = (overrides: Partial<GatewayOptions> = {}) => {
    const gateway = new Gateway({
      callbackUrl: ready.callbackUrl,
      tables: TEST_TABLES,
      region: ready.region,
      credentials: LOCAL_CREDENTIALS,
      dynamoDb: doc,
      onConsumedCapacity: (e) => capacity.push(e),
      onSendCompleted: (m) => (lastMetrics = m),
      // The transport's speed: the request-rate budget (sendRate, 2,000/s by default) is a
      // deliberate cap, measured in test/integration/fanout-budget.test.ts.
      sendRate: false,
      ...overrides,
    });
    gateways.push(gateway);
    return gateway;
  };
  const sdk = makeGateway({ concurrency: CONCURRENCY });

  // Setup: everyone in one group.
  await pool(ready.ids, 32, (id) => sdk.joinGroup(id, 'bench'));
  progress('group joined');

  // The same send with the default budget (sendRate 2,000/s, a bucket of 1,000): what an SDK user gets.
  const budgeted = makeGateway({ concurrency: CONCURRENCY, sendRate: undefined });
  const senders: Array<[string, Sender, (() => SendMetrics | undefined) | undefined]> = [
    ['sdk sendToGroup', (m) => sdk.sendToGroup('bench', m), () => lastMetrics],
    ['sdk sendToGroup, default sendRate', (m) => budgeted.sendToGroup('bench', m), () => lastMetrics],
    ['stock PostToConnectionCommand', stockSender(ready, CONCURRENCY), undefined],
    ['bare keep-alive POST', bareSender(ready, CONCURRENCY), undefined],
  ];
  const samples = new Map<string, Sample[]>(senders.map(([name]) => [name, []]));
  for (let r = 0; r < WARMUP + ROUNDS; r++) {
    // Rotate the order so no method always runs first after a pause.
    for (let k = 0; k < senders.length; k++) {
      const [name, send, metrics] = senders[(r + k) % senders.length]!;
      const sample = await measure(clients, ready.ids.length, send, metrics);
      progress(`round ${r + 1}: ${name} ${fmt(sample.endToEndMs)} ms`);
      if (r >= WARMUP) samples.get(name)!.push(sample);
    }
  }

  const summary = new Map<string, { e2e: number; call: number; cpu: number }>();
  console.log('## Fan-out to 1,000 live connections (medians)\n');
  console.log('| method | end to end, ms | min-max, ms | send call, ms | CPU per push, µs | pushes/s |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name] of senders) {
    const list = samples.get(name)!;
    const e2e = median(list.map((s) => s.endToEndMs));
    const call = median(list.map((s) => s.callMs));
    const cpu = median(list.map((s) => s.cpuUsPerPush));
    summary.set(name, { e2e, call, cpu });
    const all = list.map((s) => s.endToEndMs);
    console.log(
      `| ${name} | ${fmt(e2e)} | ${fmt(Math.min(...all))}-${fmt(Math.max(...all))} | ${fmt(call)} | ${fmt(cpu, 0)} | ${fmt((ready.ids.length / e2e) * 1000, 0)} |`,
    );
  }
  const sdkSamples = samples.get('sdk sendToGroup')!;
  const s = summary.get('sdk sendToGroup')!;
  const stock = summary.get('stock PostToConnectionCommand')!;
  const bare = summary.get('bare keep-alive POST')!;
  console.log(
    `\nsdk phases (medians): DynamoDB query ${fmt(median(sdkSamples.map((x) => x.resolveMs ?? 0)))} ms, delivery ${fmt(median(sdkSamples.map((x) => x.deliverMs ?? 0)))} ms`,
  );
  console.log(`stock / sdk, end to end: ${fmt(stock.e2e / s.e2e, 2)}x (goal >= 3x); CPU per push: ${fmt(stock.cpu / s.cpu, 2)}x`);
  console.log(`sdk / bare, end to end: ${fmt(s.e2e / bare.e2e, 2)}x (goal <= 1.5x); CPU per push: ${fmt(s.cpu / bare.cpu, 2)}x`);

  // Concurrency sweep for the SDK (to choose the default).
  console.log('\n## SDK sendToGroup by concurrency (medians of 5 rounds after 2 warm-up)\n');
  console.log('| concurrency | end to end, ms | delivery, ms | CPU per push, µs |');
  console.log('|---:|---:|---:|---:|');
  for (const concurrency of SWEEP) {
    const g = makeGateway({ concurrency });
    const list: Sample[] = [];
    for (let r = 0; r < 7; r++) {
      const sample = await measure(
        clients,
        ready.ids.length,
        (m) => g.sendToGroup('bench', m),
        () => lastMetrics,
      );
      if (r >= 2) list.push(sample);
    }
    console.log(
      `| ${concurrency} | ${fmt(median(list.map((x) => x.endToEndMs)))} | ${fmt(median(list.map((x) => x.deliverMs ?? 0)))} | ${fmt(median(list.map((x) => x.cpuUsPerPush)), 0)} |`,
    );
  }

  // DynamoDB cost.
  const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem']);
  const cost: Array<[string, string]> = [];
  const meter = async (label: string, run: () => Promise<unknown>, note = '') => {
    capacity.length = 0;
    const t0 = performance.now();
    await run();
    const ms = performance.now() - t0;
    const reads = capacity.filter((e) => READS.has(e.command)).reduce((a, e) => a + e.capacityUnits, 0);
    const writes = capacity.filter((e) => !READS.has(e.command)).reduce((a, e) => a + e.capacityUnits, 0);
    const calls = new Map<string, number>();
    for (const e of new Map(capacity.map((e) => [e.call, e])).values()) calls.set(e.command, (calls.get(e.command) ?? 0) + 1);
    const callText = [...calls].map(([c, n]) => `${n} ${c}`).join(', ');
    cost.push([label, `| ${label} | ${callText} | ${fmt(reads, 1)} | ${fmt(writes, 1)} | ${fmt(ms, 1)} | ${note} |`]);
  };
  const [a, b, c] = ready.ids;
  await sdk.bindUid(b!, 'cost-user-2');
  await meter('bindUid (first bind)', () => sdk.bindUid(a!, 'cost-user'));
  await meter('bindUid (rebind)', () => sdk.bindUid(b!, 'cost-user-3'), 'removes the old uid index item');
  await meter('joinGroup', () => sdk.joinGroup(c!, 'cost-group'), "index item, membership item, the connection item's count");
  await meter('leaveGroup', () => sdk.leaveGroup(c!, 'cost-group'));
  await meter('setSession (small)', () => sdk.setSession(a!, { name: 'a', level: 3 }));
  await meter('updateSession (small)', () => sdk.updateSession(a!, { level: 4 }), 'read + conditional write');
  await meter('getSession', () => sdk.getSession(a!));
  await meter('sendToUid (1 connection)', async () => {
    const { done } = await clients.arm(++roundNo, 1);
    await sdk.sendToUid('cost-user', `r${roundNo}|x`);
    await done;
  });
  await meter(
    `sendToGroup (${ready.ids.length} connections)`,
    async () => {
      const { done } = await clients.arm(++roundNo, ready.ids.length);
      await sdk.sendToGroup('bench', `r${roundNo}|x`);
      await done;
    },
    'one strongly consistent Query, projection connectionId',
  );
  await meter('getClientCountByGroup (1,000)', () => sdk.getClientCountByGroup('bench'));
  const extraCount = Math.max(0, SCAN_ITEMS - ready.ids.length);
  const extra = Array.from({ length: extraCount }, (_, i) => `bench${String(i).padStart(10, '0')}=`);
  await meter('registerConnection', () =>
    sdk.registerConnection({ connectionId: extra[0]!, connectedAt: Date.now(), sourceIp: '203.0.113.9', userAgent: 'Mozilla/5.0 (bench)' }),
  );
  await pool(extra.slice(1), 64, (id) =>
    sdk.registerConnection({ connectionId: id, connectedAt: Date.now(), sourceIp: '203.0.113.9', userAgent: 'Mozilla/5.0 (bench)' }),
  );
  let total = 0;
  await meter(
    `getAllClientCount (${SCAN_ITEMS} connections)`,
    async () => (total = await sdk.getAllClientCount()),
    'parallel Scan, 4 segments, Select COUNT, eventually consistent',
  );
  if (total !== SCAN_ITEMS) throw new Error(`getAllClientCount answered ${total}, expected ${SCAN_ITEMS}`);
  await sdk.bindUid(extra[1]!, 'leaver');
  await sdk.joinGroup(extra[1]!, 'g1');
  await sdk.joinGroup(extra[1]!, 'g2');
  await meter(
    'unregisterConnection (uid + 2 groups)',
    () => sdk.unregisterConnection(extra[1]!),
    'DeleteItem of the connection item; its memberships (Query) and its session (DeleteItem); one BatchWriteItem for the 3 index and 2 membership items',
  );

  console.log('\n## DynamoDB cost per call (ReturnConsumedCapacity TOTAL, as dynalite reports it)\n');
  console.log('| operation | DynamoDB calls | read units | write units | time, ms | notes |');
  console.log('|---|---|---:|---:|---:|---|');
  for (const [, line] of cost) console.log(line);

  for (const g of gateways) g.destroy();
  doc.destroy();
  await clients.stop();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
