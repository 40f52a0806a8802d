/**
 * `npm run bench`, second part: recipients per second through the chunked fan-out path (issue 6)
 * next to the inline path, to 10,000 live local connections. Not a test.
 *
 * Three processes: the gateway (bench/chunkedGateway.ts: local gateway, DynamoDB, and the real
 * fan-out worker module hosted in a worker thread), the clients (bench/chunkedClients.ts: 10,000
 * `ws` clients), and this one, the sender. Splitting the sockets over two processes keeps each under
 * the file-descriptor limit (checked below; a child is started with a raised soft limit when the
 * hard limit allows it). Every round sends one 100-byte message to a group of every connection:
 *   inline   Gateway.sendToGroup without `fanout`: this process posts to each connection
 *   chunked  Gateway.sendToGroup with `fanout` (threshold 1,000): this process queries the group,
 *            splits it into chunks and invokes the worker (InvocationType Event) through the local
 *            gateway's Lambda invoke API; the worker posts
 * End to end is from the start of the send call to the clients process reporting that the last
 * socket has the message. Each chunked round also checks the worker's log lines (one per chunk, the
 * `sent` counts adding up to every recipient). Then the cost of one `Invoke` (Event) by itself.
 *
 * Locally all chunks run in ONE execution environment (the local gateway hosts one warm worker per
 * function and does not emulate concurrency), on the same 2 cores as the gateway and the clients: the
 * chunked figure here is the overhead of the path, not the speed-up AWS gives by running chunks in
 * parallel workers. The sweep's single chunk (chunkSize 10000) separates the path's fixed cost from
 * the cost of running many chunks at once in that one environment.
 *
 * Options (environment): BENCH_CHUNKED_CLIENTS (10000), BENCH_CHUNKED_ROUNDS (5), BENCH_CHUNKED_WARMUP (1),
 * BENCH_CHUNK_SIZE (1000, the SDK default), BENCH_CHUNK_SWEEP (comma-separated extra chunk sizes, '500,2500,10000';
 * '' for none), BENCH_INVOKES (300).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Gateway, type GatewayOptions, type SendMetrics, type SendReport } from '../sdk/index.ts';
import { buildChunks, MAX_FANOUT_RATE } from '../sdk/Fanout.ts';
import { LambdaEventInvoker } from '../sdk/lambdaInvoke.ts';
import type { FanoutWorkerLogLine } from '../lambdas/fanoutWorkerHandler.ts';
import { emfMetrics } from '../local/functionConsole.ts';

const CLIENTS = Number(process.env.BENCH_CHUNKED_CLIENTS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_CHUNKED_ROUNDS ?? 5);
const WARMUP = Number(process.env.BENCH_CHUNKED_WARMUP ?? 1);
const CHUNK_SIZE = Number(process.env.BENCH_CHUNK_SIZE ?? 1000);
const SWEEP = (process.env.BENCH_CHUNK_SWEEP ?? '500,2500,10000').split(',').filter(Boolean).map(Number);
const INVOKES = Number(process.env.BENCH_INVOKES ?? 300);
const GROUP = 'everyone';
/** The SDK's default threshold, below the group's size so that the chunked path is taken. */
const THRESHOLD = Math.min(1000, CLIENTS - 1);
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

const progress = (line: string) => process.stderr.write(`[bench:chunked] ${line}\n`);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;
const fmt = (n: number, digits = 1) => n.toFixed(digits);
const thousands = (n: number) => Math.round(n).toLocaleString('en-US');

// ---- children ----

function fdLimits(): { soft: number; hard: number } {
  const [soft, hard] = execFileSync('sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).trim().split('\n');
  const parse = (v: string | undefined) => (v === 'unlimited' ? Number.POSITIVE_INFINITY : Number(v));
  return { soft: parse(soft), hard: parse(hard) };
}

/** Starts a TypeScript child with IPC, raising its soft file-descriptor limit to `fds` when needed. */
function spawnChild(file: string, fds: number, env: Record<string, string>, stdout: 'inherit' | 'pipe'): { child: ChildProcess; note: string } {
  const script = fileURLToPath(new URL(file, import.meta.url));
  const node = [process.execPath, '--import', 'tsx', script];
  const { soft, hard } = fdLimits();
  if (fds > hard) throw new Error(`${file} needs ${fds} file descriptors and the hard limit (ulimit -Hn) is ${hard}: raise it, or lower BENCH_CHUNKED_CLIENTS`);
  const raise = fds > soft;
  const [command, ...args] = raise ? ['sh', '-c', `ulimit -n ${fds} && exec "$0" "$@"`, ...node] : node;
  const child = spawn(command!, args, { stdio: ['ignore', stdout, 'inherit', 'ipc'], env: { ...process.env, ...env } });
  return { child, note: raise ? `soft limit raised from ${soft} to ${fds}` : `soft limit ${soft} is enough for ${fds}` };
}

/** Request/answer over IPC: the next message of a type (and round). */
class Ipc {
  private readonly waiters = new Map<string, Array<(message: Record<string, unknown>) => void>>();
  private readonly early = new Map<string, Record<string, unknown>[]>();

  constructor(
    readonly child: ChildProcess,
    private readonly name: string,
  ) {
    child.on('message', (message: Record<string, unknown>) => {
      const key = Ipc.key(message.type as string, message.round as number | undefined);
      const list = this.waiters.get(key);
      if (list && list.length > 0) list.shift()!(message);
      else this.early.set(key, [...(this.early.get(key) ?? []), message]);
    });
    child.once('exit', (code) => {
      if (code !== 0) {
        console.error(`the ${this.name} process exited with ${code}`);
        process.exit(1);
      }
    });
  }

  private static key(type: string, round?: number): string {
    return round === undefined ? type : `${type}:${round}`;
  }

  next<T = Record<string, unknown>>(type: string, round?: number): Promise<T> {
    const key = Ipc.key(type, round);
    const queued = this.early.get(key);
    if (queued && queued.length > 0) return Promise.resolve(queued.shift() as T);
    return new Promise((resolve) => this.waiters.set(key, [...(this.waiters.get(key) ?? []), resolve as (m: Record<string, unknown>) => void]));
  }

  send(message: Record<string, unknown>): void {
    this.child.send(message);
  }

  async stop(): Promise<void> {
    this.child.removeAllListeners('exit');
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send({ type: 'stop' });
    await exited;
  }
}

// ---- measurement ----

interface Sample {
  endToEndMs: number;
  callMs: number;
  callerCpuMs: number;
  gatewayCpuMs: number;
  resolveMs: number;
  chunks: number;
}

async function main(): Promise<void> {
  const limits = fdLimits();
  console.log(`# Chunked fan-out benchmark: ${thousands(CLIENTS)} live local connections, ${ROUNDS} rounds after ${WARMUP} warm-up round(s) per path`);
  const os = await import('node:os');
  console.log(
    `node ${process.version}; ${os.availableParallelism()} cores, not pinned; load average at start ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; ulimit -n here: soft ${limits.soft}, hard ${limits.hard}`,
  );

  const gatewayChild = spawnChild('./chunkedGateway.ts', CLIENTS + 2048, {}, 'pipe');
  const gateway = new Ipc(gatewayChild.child, 'gateway');
  const workerLines = new Map<string, FanoutWorkerLogLine[]>();
  const lineWaiters: Array<() => void> = [];
  // The worker's EMF metric records are for CloudWatch: counted, and printed only with --verbose.
  const verbose = process.argv.includes('--verbose');
  let emfRecords = 0;
  createInterface({ input: gatewayChild.child.stdout! }).on('line', (line) => {
    if (!line.includes('"gateway fan-out chunk"')) {
      if (emfMetrics(line) && !verbose) return void emfRecords++;
      return void process.stderr.write(`[gateway] ${line}\n`);
    }
    const parsed = JSON.parse(line) as FanoutWorkerLogLine;
    workerLines.set(parsed.fanoutId, [...(workerLines.get(parsed.fanoutId) ?? []), parsed]);
    for (const wake of lineWaiters.splice(0)) wake();
  });
  const ready = await gateway.next<{
    endpoints: { wsUrl: string; callbackUrl: string; httpUrl: string; dynamoEndpoint: string; region: string };
    tables: GatewayOptions['tables'];
  }>('ready');
  const { endpoints, tables } = ready;

  const clientsChild = spawnChild('./chunkedClients.ts', CLIENTS + 256, { BENCH_WS_URL: endpoints.wsUrl, BENCH_CLIENTS: String(CLIENTS) }, 'inherit');
  const clients = new Ipc(clientsChild.child, 'clients');
  console.log(`gateway process: ${gatewayChild.note}; clients process: ${clientsChild.note}\n`);
  const connected = await clients.next<{ connected: number; connectMs: number }>('ready');
  progress(`${connected.connected} clients connected in ${fmt(connected.connectMs / 1000)} s`);
  gateway.send({ type: 'group', name: GROUP });
  const grouped = await gateway.next<{ count: number }>('grouped');
  if (grouped.count !== CLIENTS) throw new Error(`${grouped.count} connections in the group, expected ${CLIENTS}`);
  progress(`all ${grouped.count} in group ${GROUP}`);

  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }));
  const lambda = new LambdaClient({ endpoint: endpoints.httpUrl, region: endpoints.region, credentials, maxAttempts: 1 });
  let lastMetrics: SendMetrics | undefined;
  const gateways: Gateway[] = [];
  const sdk = (fanout?: GatewayOptions['fanout']) => {
    // The path's speed, not the request-rate budget (a deliberate cap, test/integration/fanout-budget.test.ts):
    // no process limit here, a budget no chunk reaches, and GATEWAY_SEND_RATE=off for the worker.
    const unbudgeted = fanout ? { ...fanout, rateLimit: MAX_FANOUT_RATE } : undefined;
    const g = new Gateway({
      callbackUrl: endpoints.callbackUrl,
      tables,
      region: endpoints.region,
      credentials,
      dynamoDb: doc,
      onSendCompleted: (m) => (lastMetrics = m),
      sendRate: false,
      ...(unbudgeted ? { fanout: unbudgeted } : {}),
    });
    gateways.push(g);
    return g;
  };
  const gatewayCpuMs = async () => {
    gateway.send({ type: 'cpu' });
    const { usage } = await gateway.next<{ usage: { user: number; system: number } }>('cpu');
    return (usage.user + usage.system) / 1000;
  };

  let roundNo = 0;
  async function measure(path: Gateway): Promise<Sample> {
    const round = ++roundNo;
    const message = `r${round}|`.padEnd(100, '.');
    clients.send({ type: 'expect', round, count: CLIENTS });
    await clients.next('armed', round);
    const done = clients.next('done', round);
    const gatewayCpu0 = await gatewayCpuMs();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const report: SendReport = await path.sendToGroup(GROUP, message);
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    await done;
    const t2 = performance.now();
    // Every invocation (and the worker's prunes) over before the next round; then the worker's log lines.
    gateway.send({ type: 'drain' });
    await gateway.next('drained');
    const gatewayCpu = (await gatewayCpuMs()) - gatewayCpu0;
    if (report.queued) {
      const id = report.queued.id;
      while ((workerLines.get(id)?.length ?? 0) < report.queued.chunks) await new Promise<void>((resolve) => lineWaiters.push(resolve));
      const lines = workerLines.get(id)!;
      const sent = lines.reduce((sum, l) => sum + l.sent, 0);
      if (report.failed.length > 0 || report.queued.recipients !== CLIENTS || sent !== CLIENTS || lines.some((l) => l.failed > 0)) {
        throw new Error(`round ${round}: queued ${report.queued.recipients}, not queued ${report.failed.length}, the worker logged ${sent} sent`);
      }
    } else if (report.sent.length !== CLIENTS) {
      throw new Error(`round ${round}: ${report.sent.length} sent inline, expected ${CLIENTS}`);
    }
    return {
      endToEndMs: t2 - t0,
      callMs: t1 - t0,
      callerCpuMs: (cpu.user + cpu.system) / 1000,
      gatewayCpuMs: gatewayCpu,
      resolveMs: lastMetrics?.resolveMs ?? 0,
      chunks: report.queued?.chunks ?? 0,
    };
  }

  const paths: Array<[string, Gateway]> = [
    ['inline (no fanout)', sdk()],
    [`chunked, chunkSize ${CHUNK_SIZE}`, sdk({ functionName: 'fanoutWorker', threshold: THRESHOLD, chunkSize: CHUNK_SIZE, lambda })],
    ...SWEEP.map((size): [string, Gateway] => [
      `chunked, chunkSize ${size}`,
      sdk({ functionName: 'fanoutWorker', threshold: THRESHOLD, chunkSize: size, lambda }),
    ]),
  ];
  const samples = new Map<string, Sample[]>(paths.map(([name]) => [name, []]));
  for (let r = 0; r < WARMUP + ROUNDS; r++) {
    // Rotate the order so that no path always runs first.
    for (let k = 0; k < paths.length; k++) {
      const [name, path] = paths[(r + k) % paths.length]!;
      const sample = await measure(path);
      progress(`round ${r + 1}: ${name}: ${fmt(sample.endToEndMs)} ms`);
      if (r >= WARMUP) samples.get(name)!.push(sample);
    }
  }

  console.log(`## ${thousands(CLIENTS)} recipients: chunked next to inline (medians of ${ROUNDS} rounds)\n`);
  console.log(
    '| path | chunks | end to end, ms | min-max, ms | recipients/s | send call returns, ms | of which DynamoDB query, ms | caller CPU, ms | gateway process CPU (incl. hosted worker), ms |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [name] of paths) {
    const list = samples.get(name)!;
    const e2e = median(list.map((s) => s.endToEndMs));
    const all = list.map((s) => s.endToEndMs);
    console.log(
      `| ${name} | ${list[0]!.chunks || '-'} | ${fmt(e2e)} | ${fmt(Math.min(...all))}-${fmt(Math.max(...all))} | ${thousands((CLIENTS / e2e) * 1000)} | ${fmt(median(list.map((s) => s.callMs)))} | ${fmt(median(list.map((s) => s.resolveMs)))} | ${fmt(median(list.map((s) => s.callerCpuMs)))} | ${fmt(median(list.map((s) => s.gatewayCpuMs)))} |`,
    );
  }
  console.log(`\nEvery chunked round: every chunk logged by the worker, their \`sent\` adding up to ${thousands(CLIENTS)}, nothing failed.`);

  // ---- one Invoke by itself ----
  const ids = Array.from({ length: CHUNK_SIZE }, (_, i) => `bench${String(i).padStart(10, '0')}=`);
  const chunkPayload = JSON.stringify(
    buildChunks(
      'bench',
      'sendToGroup',
      Buffer.from('r0|'.padEnd(100, '.')),
      new Map(ids.map((id) => [id, [{ role: 'groups' as const, key: GROUP }]])),
      CHUNK_SIZE,
    )[0],
  );
  console.log(`\n## One Invoke (InvocationType Event) to the local invoke API, ${INVOKES} in sequence after 30 warm-up\n`);
  console.log("The SDK's own signed invoke (sdk/lambdaInvoke.ts, what a Gateway's fan-out uses) next to @aws-sdk/client-lambda's InvokeCommand.\n");
  console.log('| invoker | payload | bytes | median, ms | p90, ms | caller CPU per invoke, µs |');
  console.log('|---|---|---:|---:|---:|---:|');
  const own = new LambdaEventInvoker({ endpoint: endpoints.httpUrl, region: endpoints.region, credentials, maxSockets: 1 });
  const invokers = [
    ['sdk/lambdaInvoke.ts', (Payload: Uint8Array) => own.send({ input: { FunctionName: 'noop', InvocationType: 'Event', Payload } })],
    ['@aws-sdk/client-lambda', (Payload: Uint8Array) => lambda.send(new InvokeCommand({ FunctionName: 'noop', InvocationType: 'Event', Payload }))],
  ] as const;
  for (const [invoker, send] of invokers) {
    for (const [label, payload] of [
      ['empty event, no-op function', '{}'],
      [`a ${CHUNK_SIZE}-recipient chunk, no-op function`, chunkPayload],
    ] as const) {
      const body = Buffer.from(payload);
      const times: number[] = [];
      let cpuUs = 0;
      for (let i = 0; i < 30 + INVOKES; i++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        await send(body);
        const t = performance.now() - t0;
        const c = process.cpuUsage(c0);
        if (i >= 30) {
          times.push(t);
          cpuUs += c.user + c.system;
        }
      }
      console.log(
        `| ${invoker} | ${label} | ${thousands(body.length)} | ${fmt(median(times), 2)} | ${fmt(percentile(times, 0.9), 2)} | ${fmt(cpuUs / INVOKES, 0)} |`,
      );
    }
  }
  own.destroy();

  for (const g of gateways) g.destroy();
  lambda.destroy();
  doc.destroy();
  await gateway.stop();
  await clients.stop();
  if (emfRecords > 0) console.log(`(${emfRecords} EMF metric records from the fan-out worker not shown; --verbose shows them)`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
