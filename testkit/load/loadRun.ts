/**
 * The load scenario (issue 6) shared by `npm run load` (bench/load.ts, 5,000 connections) and the
 * bounded test (test/e2e/load-storm.test.ts, a few hundred): three processes on loopback.
 *
 *   gateway  testkit/load/loadGateway.ts: the synthesized app (cdk.out) on the local gateway, i.e. the real
 *            Lambda bundles in worker threads and the real tables in the embedded DynamoDB
 *   clients  testkit/load/loadClients.ts: N `ws` clients, so their CPU does not distort the gateway
 *   backend  this process: the SDK, configured from the gateway's `endpoints.env` as any backend
 *            process would be (Gateway.fromEnv), and the orchestration
 *
 * Phases: a connect storm (bounded in-flight connects, each client waits for its init message);
 * binds (one uid per connection) and group joins (every connection joins one group of each size,
 * including one group of everyone) through the SDK; a series of group sends (each size in turn, end
 * to end until the last member socket has the message); a disconnect storm (every client closes,
 * until the last `$disconnect` has finished); then every table is scanned and must be empty.
 * Correctness is checked throughout: every client got its init, every member got every message of
 * its groups exactly once and nobody else did, the tables held what the phases wrote, and nothing is
 * left at the end (scan, and the gateway's stats()).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { Gateway, GatewayEnvVar, type SendMetrics } from '../../sdk/index.ts';
import { ChildHandle, MemorySampler, spawnChild, wallClock, type MemoryPeak, type ProcessReport } from './loadIpc.ts';
import type { GatewayLoadStats, GatewayStarted } from './loadGateway.ts';
import type { ConnectResult, ReceivedRounds } from './loadClients.ts';

export interface LoadConfig {
  /** LOAD_CONNECTIONS */
  readonly connections: number;
  /** Connects in flight at once (started, init not yet received). LOAD_CONNECT_CONCURRENCY */
  readonly connectConcurrency: number;
  /** Connects started per second at most, 0 for no limit. LOAD_CONNECT_RATE */
  readonly connectRate: number;
  /** LOAD_INIT_TIMEOUT_MS */
  readonly initTimeoutMs: number;
  /** Every connection joins one group of each size; a size >= connections is the group of everyone. LOAD_GROUP_SIZES ("all" = connections) */
  readonly groupSizes: readonly number[];
  /** Group sizes sent to, each in every round. LOAD_SEND_SIZES (default: the group sizes) */
  readonly sendSizes: readonly number[];
  /** Measured rounds; each round sends once to a group of each size. LOAD_SEND_ROUNDS */
  readonly sendRounds: number;
  /** Rounds sent (and checked) but not measured. LOAD_SEND_WARMUP */
  readonly sendWarmup: number;
  /** LOAD_MESSAGE_BYTES */
  readonly messageBytes: number;
  /** SDK calls in flight during the bind and join phases. LOAD_OPS_CONCURRENCY */
  readonly opsConcurrency: number;
  /** The SDK's `concurrency` (posts in flight per send); undefined for its default. LOAD_SDK_CONCURRENCY */
  readonly sdkConcurrency?: number;
  /** LOAD_ASSEMBLY */
  readonly assemblyDirectory: string;
  /** How long one send may take to reach every member before it counts as lost. LOAD_DELIVERY_TIMEOUT_MS */
  readonly deliveryTimeoutMs: number;
  /** How long the disconnect storm may take. LOAD_DISCONNECT_TIMEOUT_MS */
  readonly disconnectTimeoutMs: number;
  readonly progress?: (line: string) => void;
}

export const DEFAULT_CONFIG: LoadConfig = {
  connections: 5000,
  connectConcurrency: 250,
  connectRate: 0,
  initTimeoutMs: 30_000,
  groupSizes: [10, 100, 1000, Number.POSITIVE_INFINITY],
  sendSizes: [10, 100, 1000, Number.POSITIVE_INFINITY],
  sendRounds: 20,
  sendWarmup: 2,
  messageBytes: 100,
  opsConcurrency: 64,
  assemblyDirectory: 'cdk.out',
  deliveryTimeoutMs: 60_000,
  disconnectTimeoutMs: 120_000,
};

/** Reads the LOAD_* variables over `base`. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env, base: LoadConfig = DEFAULT_CONFIG): LoadConfig {
  const num = (name: string, fallback: number | undefined, min = 0): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
    return value;
  };
  const sizes = (name: string, fallback: readonly number[]): readonly number[] => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    return raw.split(',').map((part) => {
      const text = part.trim().toLowerCase();
      if (text === 'all') return Number.POSITIVE_INFINITY;
      const value = Number(text);
      if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: ${JSON.stringify(part)} is not a group size (a whole number >= 1, or "all")`);
      return value;
    });
  };
  const groupSizes = sizes('LOAD_GROUP_SIZES', base.groupSizes);
  return {
    ...base,
    connections: num('LOAD_CONNECTIONS', base.connections, 1)!,
    connectConcurrency: num('LOAD_CONNECT_CONCURRENCY', base.connectConcurrency, 1)!,
    connectRate: num('LOAD_CONNECT_RATE', base.connectRate)!,
    initTimeoutMs: num('LOAD_INIT_TIMEOUT_MS', base.initTimeoutMs, 1)!,
    groupSizes,
    sendSizes: sizes('LOAD_SEND_SIZES', env.LOAD_GROUP_SIZES ? groupSizes : base.sendSizes),
    sendRounds: num('LOAD_SEND_ROUNDS', base.sendRounds, 1)!,
    sendWarmup: num('LOAD_SEND_WARMUP', base.sendWarmup)!,
    messageBytes: num('LOAD_MESSAGE_BYTES', base.messageBytes, 16)!,
    opsConcurrency: num('LOAD_OPS_CONCURRENCY', base.opsConcurrency, 1)!,
    sdkConcurrency: num('LOAD_SDK_CONCURRENCY', base.sdkConcurrency, 1),
    assemblyDirectory: env.LOAD_ASSEMBLY ?? base.assemblyDirectory,
    deliveryTimeoutMs: num('LOAD_DELIVERY_TIMEOUT_MS', base.deliveryTimeoutMs, 1)!,
    disconnectTimeoutMs: num('LOAD_DISCONNECT_TIMEOUT_MS', base.disconnectTimeoutMs, 1)!,
  };
}

export interface Percentiles {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface SendSeries {
  readonly size: number;
  readonly groups: number;
  /** End to end: from the sendToGroup call to the last member socket having the message. */
  readonly endToEnd: Percentiles;
  /** The sendToGroup call alone. */
  readonly call: Percentiles;
  /** First member socket having the message. */
  readonly first: Percentiles;
  /** The SDK's DynamoDB query and delivery phases (onSendCompleted), medians. */
  readonly resolveMsP50: number;
  readonly deliverMsP50: number;
  /** Sends handed to fan-out workers (SendReport.queued) instead of posted by the caller. */
  readonly queued: number;
}

export interface PhaseUsage {
  readonly phase: string;
  readonly wallMs: number;
  readonly gatewayCpuMs: number;
  readonly gatewayEventLoop: number;
  readonly clientsCpuMs: number;
  readonly backendCpuMs: number;
  /**
   * CPU the rest of the machine used meanwhile (all CPUs busy, from /proc/stat, minus these three
   * processes): other work competing for the same cores, which the numbers of the phase include.
   */
  readonly otherCpuMs: number;
  /** At the end of the phase. */
  readonly gatewayRssBytes: number;
  readonly gatewayHeapUsedBytes: number;
  readonly clientsRssBytes: number;
}

export interface TableCounts {
  readonly connections: number;
  readonly sessions: number;
  readonly memberships: number;
  readonly uids: number;
  readonly groups: number;
}

export interface LoadResult {
  readonly config: LoadConfig;
  readonly app: { readonly stackName: string; readonly functions: readonly string[]; readonly routes: readonly string[]; readonly chunkedFanout: boolean };
  readonly connect: {
    readonly attempted: number;
    readonly connected: number;
    readonly failures: number;
    readonly firstErrors: readonly string[];
    readonly durationMs: number;
    readonly perSecond: number;
    readonly timeToInit: Percentiles;
    readonly timeToOpen: Percentiles;
    /** `@connections` POSTs during the storm (the init sender's): delivered, and answered 410 (not open yet). */
    readonly initPosts: { readonly sent: number; readonly gone: number };
  };
  readonly binds: OpsResult;
  readonly joins: OpsResult;
  readonly sends: readonly SendSeries[];
  readonly delivery: {
    readonly sends: number;
    readonly expectedDeliveries: number;
    readonly received: number;
    readonly missing: number;
    readonly duplicates: number;
    readonly strays: number;
    readonly unexpectedMessages: number;
    readonly lostSends: number;
    readonly reportMismatches: number;
  };
  readonly disconnect: { readonly clientsClosedMs: number; readonly disconnectsDoneMs: number; readonly abnormalCloses: number };
  readonly tablesAfterConnect: TableCounts;
  readonly tablesAfterJoins: TableCounts;
  readonly tablesAfter: TableCounts;
  readonly statsAfter: GatewayLoadStats;
  readonly memory: {
    readonly gateway: ProcessReport;
    readonly clients: ProcessReport;
    readonly backend: ProcessReport;
    /** The gateway once started, before any connection (its functions not yet loaded). */
    readonly gatewayIdle: MemoryPeak;
  };
  readonly phases: readonly PhaseUsage[];
  readonly problems: readonly string[];
}

export interface OpsResult {
  readonly count: number;
  readonly ms: number;
  readonly perSecond: number;
  readonly errors: number;
  readonly firstErrors: readonly string[];
}

export function percentiles(values: ArrayLike<number>): Percentiles {
  const sorted = Array.from(values)
    .filter((v) => Number.isFinite(v))
    .sort((a, b) => a - b);
  if (sorted.length === 0) return { count: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  // Nearest rank.
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
  return { count: sorted.length, p50: at(50), p99: at(99), max: sorted[sorted.length - 1]! };
}

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

/** The soft limit of open files a child would get, raised towards `wanted` when the hard limit allows. */
function fileLimitFor(wanted: number): number | undefined {
  try {
    const [soft, hard] = execFileSync('/bin/sh', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' }).trim().split('\n');
    const softN = soft === 'unlimited' ? Number.POSITIVE_INFINITY : Number(soft);
    const hardN = hard === 'unlimited' ? Number.POSITIVE_INFINITY : Number(hard);
    if (softN >= wanted) return undefined;
    return Math.min(wanted, hardN);
  } catch {
    return undefined;
  }
}

/** CPU time all CPUs spent busy since boot (user, nice, system, irq, softirq, steal), ms; NaN off Linux. */
function machineBusyMs(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return ((user + nice + system + irq + softirq + steal) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return Number.NaN;
  }
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/** LOAD_GATEWAY_NODE_ARGS / LOAD_CLIENTS_NODE_ARGS: extra Node arguments for one child, e.g. `--cpu-prof`. */
function startChild(name: string, script: string, fileLimit: number | undefined): ChildHandle {
  const extra = process.env[`LOAD_${name.toUpperCase()}_NODE_ARGS`]?.split(/\s+/).filter(Boolean) ?? [];
  return spawnChild(name, here(script), {}, fileLimit, extra);
}

export async function runLoad(config: LoadConfig): Promise<LoadResult> {
  const progress = config.progress ?? (() => {});
  const problems: string[] = [];
  const problem = (text: string) => {
    problems.push(text);
    progress(`PROBLEM: ${text}`);
  };
  const backendSampler = new MemorySampler(100);
  // Each process holds one socket per connection plus HTTP and DynamoDB keep-alive sockets.
  const fileLimit = fileLimitFor(config.connections + 2048);
  if (fileLimit !== undefined && fileLimit < config.connections + 256) {
    throw new Error(`the open-file limit (ulimit -n) allows at most ${fileLimit}; ${config.connections} connections need more: raise the hard limit`);
  }
  const gatewayProcess = startChild('gateway', './loadGateway.ts', fileLimit);
  const clientsProcess = startChild('clients', './loadClients.ts', fileLimit);
  let sdk: Gateway | undefined;
  let dynamo: DynamoDBClient | undefined;
  const savedEnv = new Map<string, string | undefined>();
  try {
    const started = await gatewayProcess.call<GatewayStarted>('start', config.assemblyDirectory);
    progress(`gateway up: ${started.stackName} from ${config.assemblyDirectory}; routes ${started.routes.join(' ')}; functions ${started.functions.length}`);
    for (const warning of started.warnings) progress(`assembly warning: ${warning}`);

    // This process is the application's backend: configured from the environment, as in production.
    for (const [name, value] of Object.entries(started.env)) {
      savedEnv.set(name, process.env[name]);
      process.env[name] = value;
    }
    const sendMetrics: SendMetrics[] = [];
    sdk = Gateway.fromEnv({
      // The load clients report ids, not the tokens of their init messages: this run measures the
      // data path; a token check is one HMAC in this process (test/integration/sdk-bind-tokens.test.ts).
      requireBindToken: false,
      ...(config.sdkConcurrency ? { concurrency: config.sdkConcurrency } : {}),
      // Measures the system, not the request-rate budget (a deliberate cap, test/integration/fanout-budget.test.ts).
      sendRate: false,
      onSendCompleted: (m) => sendMetrics.push(m),
      logger: { warn: (message) => progress(`sdk warning: ${message}`) },
    });
    const tables = sdk.tables;
    dynamo = new DynamoDBClient({});
    const countTables = async (): Promise<TableCounts> => {
      const count = async (table: string) => {
        let total = 0;
        let startKey: Record<string, never> | undefined;
        do {
          const page = await dynamo!.send(new ScanCommand({ TableName: table, Select: 'COUNT', ConsistentRead: true, ExclusiveStartKey: startKey }));
          total += page.Count ?? 0;
          startKey = page.LastEvaluatedKey as typeof startKey;
        } while (startKey);
        return total;
      };
      const [connections, sessions, memberships, uids, groups] = await Promise.all(
        [tables.connections, tables.sessions, tables.memberships, tables.uids, tables.groups].map(count),
      );
      return { connections: connections!, sessions: sessions!, memberships: memberships!, uids: uids!, groups: groups! };
    };

    // ---- phase bookkeeping: CPU and event-loop use of each process per phase ----
    const phases: PhaseUsage[] = [];
    type Snapshot = { at: number; gateway: ProcessReport; clients: ProcessReport; backend: ProcessReport; machineBusyMs: number };
    const snapshot = async (): Promise<Snapshot> => {
      const [gateway, clients] = await Promise.all([gatewayProcess.call<ProcessReport>('report'), clientsProcess.call<ProcessReport>('report')]);
      return { at: wallClock(), gateway, clients, backend: backendSampler.report(), machineBusyMs: machineBusyMs() };
    };
    let last = await snapshot();
    const idleGateway = last.gateway.now;
    const endPhase = async (phase: string) => {
      const now = await snapshot();
      const active = now.gateway.eventLoop.activeMs - last.gateway.eventLoop.activeMs;
      const idle = now.gateway.eventLoop.idleMs - last.gateway.eventLoop.idleMs;
      phases.push({
        phase,
        wallMs: now.at - last.at,
        gatewayCpuMs: now.gateway.cpuMs - last.gateway.cpuMs,
        gatewayEventLoop: active + idle > 0 ? active / (active + idle) : 0,
        clientsCpuMs: now.clients.cpuMs - last.clients.cpuMs,
        backendCpuMs: now.backend.cpuMs - last.backend.cpuMs,
        otherCpuMs: Math.max(
          0,
          now.machineBusyMs -
            last.machineBusyMs -
            (now.gateway.cpuMs - last.gateway.cpuMs) -
            (now.clients.cpuMs - last.clients.cpuMs) -
            (now.backend.cpuMs - last.backend.cpuMs),
        ),
        gatewayRssBytes: now.gateway.now.rssBytes,
        gatewayHeapUsedBytes: now.gateway.now.heapUsedBytes,
        clientsRssBytes: now.clients.now.rssBytes,
      });
      last = now;
    };

    // ---- 1. connect storm ----
    progress(
      `connect storm: ${config.connections} clients, ${config.connectConcurrency} in flight${config.connectRate > 0 ? `, at most ${config.connectRate}/s` : ''}`,
    );
    const connected = await clientsProcess.call<ConnectResult>('connect', {
      url: started.wsUrl,
      count: config.connections,
      concurrency: config.connectConcurrency,
      ratePerSecond: config.connectRate,
      initTimeoutMs: config.initTimeoutMs,
    });
    await endPhase('connect storm');
    const afterConnect = await gatewayProcess.call<GatewayLoadStats>('stats');
    const ids = connected.ids.filter((id) => id !== '');
    const indexOf = new Map<string, number>(); // client id -> original client index
    for (const [i, id] of connected.ids.entries()) if (id) indexOf.set(id, i);
    const connectMs = connected.endedAt - connected.startedAt;
    progress(
      `connected ${ids.length}/${config.connections} in ${connectMs.toFixed(0)} ms (${((ids.length / connectMs) * 1000).toFixed(0)}/s), ${connected.failures} failures`,
    );
    if (connected.failures > 0)
      problem(`${connected.failures} of ${config.connections} clients did not get their init message: ${connected.firstErrors.join('; ')}`);
    if (new Set(ids).size !== ids.length) problem('two clients got the same client id');
    const tablesAfterConnect = await countTables();
    if (tablesAfterConnect.connections !== ids.length)
      problem(`after the connect storm the connections table holds ${tablesAfterConnect.connections} items for ${ids.length} connections`);
    if (tablesAfterConnect.sessions !== ids.length)
      problem(`after the connect storm the sessions table holds ${tablesAfterConnect.sessions} items for ${ids.length} connections`);

    // ---- 2. binds and joins ----
    const n = ids.length;
    const groupSizes = [...new Set(config.groupSizes.map((s) => Math.min(s, n)))];
    const groupOf = (size: number, i: number) => `g${size}-${Math.floor(i / size)}`;
    const runOps = async (label: string, ops: Array<() => Promise<void>>): Promise<OpsResult> => {
      const firstErrors: string[] = [];
      let errors = 0;
      const t0 = wallClock();
      await pool(ops, config.opsConcurrency, async (op) => {
        try {
          await op();
        } catch (error) {
          errors++;
          if (firstErrors.length < 5) firstErrors.push(String((error as Error)?.message ?? error));
        }
      });
      const ms = wallClock() - t0;
      const result = { count: ops.length, ms, perSecond: (ops.length / ms) * 1000, errors, firstErrors };
      progress(`${label}: ${ops.length} in ${ms.toFixed(0)} ms (${result.perSecond.toFixed(0)}/s), ${errors} errors`);
      if (errors > 0) problem(`${errors} ${label} failed: ${firstErrors.join('; ')}`);
      return result;
    };
    const binds = await runOps(
      'bindUid',
      ids.map((id, i) => () => sdk!.bindUid(id, `user-${i}`)),
    );
    await endPhase('binds');
    const joins = await runOps(
      'joinGroup',
      groupSizes.flatMap((size) => ids.map((id, i) => () => sdk!.joinGroup(id, groupOf(size, i)))),
    );
    await endPhase('joins');
    const tablesAfterJoins = await countTables();
    if (tablesAfterJoins.uids !== n) problem(`after the binds the uid table holds ${tablesAfterJoins.uids} items for ${n} bound connections`);
    if (tablesAfterJoins.groups !== n * groupSizes.length)
      problem(`after the joins the group table holds ${tablesAfterJoins.groups} items, expected ${n * groupSizes.length}`);
    if (tablesAfterJoins.memberships !== n * groupSizes.length)
      problem(`after the joins the memberships table holds ${tablesAfterJoins.memberships} items, expected ${n * groupSizes.length}`);
    for (const size of groupSizes) {
      const members = await sdk.getClientCountByGroup(groupOf(size, 0));
      if (members !== size) problem(`group ${groupOf(size, 0)} has ${members} members, expected ${size}`);
    }

    // ---- 3. group sends ----
    const sendSizes = [...new Set(config.sendSizes.map((s) => Math.min(s, n)))].filter((s) => {
      if (groupSizes.includes(s)) return true;
      problem(`send size ${s} is not a group size (${groupSizes.join(', ')}); skipped`);
      return false;
    });
    const waiters = new Map<number, (d: { firstAt: number; lastAt: number }) => void>();
    clientsProcess.on('delivered', (data) => {
      const d = data as { round: number; firstAt: number; lastAt: number };
      waiters.get(d.round)?.(d);
      waiters.delete(d.round);
    });
    /** round -> the members (client indices in `ids` order) that must get it. */
    const expectedMembers = new Map<number, { start: number; end: number }>();
    type Sample = { e2e: number; call: number; first: number; resolveMs: number; deliverMs: number; queued: boolean };
    const samples = new Map<number, Sample[]>(sendSizes.map((s) => [s, []]));
    let lostSends = 0;
    let reportMismatches = 0;
    let round = 0;
    const totalRounds = config.sendWarmup + config.sendRounds;
    const pad = (text: string) => (text.length >= config.messageBytes ? text : text + '.'.repeat(config.messageBytes - text.length));
    progress(`group sends: sizes ${sendSizes.join(', ')}, ${config.sendRounds} rounds after ${config.sendWarmup} warm-up`);
    for (let r = 0; r < totalRounds; r++) {
      for (const size of sendSizes) {
        round++;
        const groupsOfSize = Math.ceil(n / size);
        const k = r % groupsOfSize; // a different group of this size each round, where there are several
        const start = k * size;
        const end = Math.min(n, start + size);
        expectedMembers.set(round, { start, end });
        const expected = end - start;
        await clientsProcess.call('arm', round, expected);
        const delivered = new Promise<{ firstAt: number; lastAt: number } | undefined>((resolve) => {
          const timer = setTimeout(() => {
            waiters.delete(round);
            resolve(undefined);
          }, config.deliveryTimeoutMs);
          waiters.set(round, (d) => {
            clearTimeout(timer);
            resolve(d);
          });
        });
        const metricsBefore = sendMetrics.length;
        const t0 = wallClock();
        const report = await sdk.sendToGroup(`g${size}-${k}`, pad(`L${round}|${size}|`));
        const tCall = wallClock();
        const d = await delivered;
        if (!d) {
          lostSends++;
          problem(`round ${round} (group of ${expected}) did not reach every member within ${config.deliveryTimeoutMs} ms`);
          continue;
        }
        const queued = report.queued !== undefined;
        if (!queued && (report.sent.length !== expected || report.gone.length > 0 || report.failed.length > 0 || report.recipients !== expected)) {
          reportMismatches++;
          problem(
            `round ${round}: report says ${report.recipients} recipients, ${report.sent.length} sent, ${report.gone.length} gone, ${report.failed.length} failed; expected ${expected} sent`,
          );
        }
        const m = sendMetrics.length > metricsBefore ? sendMetrics[sendMetrics.length - 1] : undefined;
        if (r >= config.sendWarmup) {
          samples.get(size)!.push({
            e2e: d.lastAt - t0,
            call: tCall - t0,
            first: d.firstAt - t0,
            resolveMs: m?.resolveMs ?? Number.NaN,
            deliverMs: m?.deliverMs ?? Number.NaN,
            queued,
          });
        }
      }
      progress(`round ${r + 1}/${totalRounds}: ${sendSizes.map((s) => `${s}: ${samples.get(s)!.at(-1)?.e2e.toFixed(1) ?? '-'} ms`).join(', ')}`);
    }
    await endPhase('group sends');
    const median = (values: number[]) => percentiles(values).p50;
    const sends: SendSeries[] = sendSizes.map((size) => {
      const list = samples.get(size)!;
      return {
        size,
        groups: Math.ceil(n / size),
        endToEnd: percentiles(list.map((s) => s.e2e)),
        call: percentiles(list.map((s) => s.call)),
        first: percentiles(list.map((s) => s.first)),
        resolveMsP50: median(list.map((s) => s.resolveMs)),
        deliverMsP50: median(list.map((s) => s.deliverMs)),
        queued: list.filter((s) => s.queued).length,
      };
    });

    // Exactly once: each client got each round of its groups once, and no other round.
    const received = await clientsProcess.call<ReceivedRounds>('received');
    let expectedDeliveries = 0;
    for (const { start, end } of expectedMembers.values()) expectedDeliveries += end - start;
    let missing = 0;
    let duplicates = 0;
    let strays = 0;
    const examples: string[] = [];
    ids.forEach((id, member) => {
      const i = indexOf.get(id)!;
      const got = new Map<number, number>();
      for (let j = received.offsets[i]!; j < received.offsets[i + 1]!; j++) got.set(received.rounds[j]!, (got.get(received.rounds[j]!) ?? 0) + 1);
      for (const [rnd, { start, end }] of expectedMembers) {
        const should = member >= start && member < end;
        const times = got.get(rnd) ?? 0;
        if (should && times === 0) missing++;
        if (times > 1) duplicates += times - 1;
        if (!should && times > 0) strays += times;
        if ((should && times !== 1) || (!should && times > 0)) {
          if (examples.length < 5) examples.push(`client ${member} (${id}) got round ${rnd} ${times} times, ${should ? 'a member' : 'not a member'}`);
        }
      }
      for (const rnd of got.keys()) if (!expectedMembers.has(rnd)) strays++;
    });
    if (missing + duplicates + strays > 0)
      problem(`deliveries: ${missing} missing, ${duplicates} duplicates, ${strays} to non-members; e.g. ${examples.join('; ')}`);
    if (received.unexpected > 0) problem(`${received.unexpected} unexpected messages, e.g. ${received.firstUnexpected.join(' | ')}`);
    progress(`deliveries checked: ${received.rounds.length} received, ${expectedDeliveries} expected`);

    // ---- 4. disconnect storm ----
    const before = await gatewayProcess.call<GatewayLoadStats>('stats');
    progress(`disconnect storm: ${before.openConnections} open connections close`);
    const t0 = wallClock();
    const gatewayDone = gatewayProcess.call<{ at: number; stats: GatewayLoadStats }>('waitForDisconnects', before.connects, config.disconnectTimeoutMs);
    const closed = await clientsProcess.call<{ startedAt: number; allClosedAt: number; abnormal: number }>('closeAll');
    const done = await gatewayDone;
    const disconnect = { clientsClosedMs: closed.allClosedAt - t0, disconnectsDoneMs: done.at - t0, abnormalCloses: closed.abnormal };
    progress(
      `disconnect storm: clients closed in ${disconnect.clientsClosedMs.toFixed(0)} ms, every $disconnect done in ${disconnect.disconnectsDoneMs.toFixed(0)} ms`,
    );
    if (closed.abnormal > 0) problem(`${closed.abnormal} clients saw a close code other than 1000`);
    await endPhase('disconnect storm');

    // ---- 5. nothing left ----
    const tablesAfter = await countTables();
    const statsAfter = await gatewayProcess.call<GatewayLoadStats>('stats');
    if (Object.values(tablesAfter).some((n) => n > 0)) {
      problem(
        `items left after the disconnect storm: ${tablesAfter.connections} connections, ${tablesAfter.sessions} sessions, ${tablesAfter.memberships} memberships, ${tablesAfter.uids} uids, ${tablesAfter.groups} groups`,
      );
    }
    if (statsAfter.openConnections !== 0) problem(`the gateway still has ${statsAfter.openConnections} open connections`);
    if (statsAfter.disconnects !== statsAfter.connects)
      problem(`the gateway counted ${statsAfter.connects} connects and ${statsAfter.disconnects} disconnects`);
    if (statsAfter.connects !== config.connections) problem(`the gateway counted ${statsAfter.connects} connects for ${config.connections} clients`);
    if (statsAfter.rejectedConnects > 0) problem(`the gateway rejected ${statsAfter.rejectedConnects} connects`);
    if (statsAfter.droppedDisconnects > 0) problem(`the gateway dropped ${statsAfter.droppedDisconnects} $disconnects`);
    if (statsAfter.asyncFailures > 0) problem(`${statsAfter.asyncFailures} asynchronous invocations failed for good`);
    if (statsAfter.failureLines > 0)
      problem(`the gateway logged ${statsAfter.failureLines} failures, e.g. ${statsAfter.firstFailures.slice(0, 3).join(' | ')}`);

    const [gatewayReport, clientsReport] = await Promise.all([gatewayProcess.call<ProcessReport>('report'), clientsProcess.call<ProcessReport>('report')]);
    const timeToInit = percentiles(connected.initMs);
    return {
      config,
      app: {
        stackName: started.stackName,
        functions: started.functions,
        routes: started.routes,
        chunkedFanout: Boolean(started.env[GatewayEnvVar.fanoutFunction]),
      },
      connect: {
        attempted: config.connections,
        connected: ids.length,
        failures: connected.failures,
        firstErrors: connected.firstErrors,
        durationMs: connectMs,
        perSecond: (ids.length / connectMs) * 1000,
        timeToInit,
        timeToOpen: percentiles(connected.openMs),
        initPosts: { sent: afterConnect.postOutcomes.sent ?? 0, gone: afterConnect.postOutcomes.gone ?? 0 },
      },
      binds,
      joins,
      sends,
      delivery: {
        sends: expectedMembers.size,
        expectedDeliveries,
        received: received.rounds.length,
        missing,
        duplicates,
        strays,
        unexpectedMessages: received.unexpected,
        lostSends,
        reportMismatches,
      },
      disconnect,
      tablesAfterConnect,
      tablesAfterJoins,
      tablesAfter,
      statsAfter,
      memory: { gateway: gatewayReport, clients: clientsReport, backend: backendSampler.report(), gatewayIdle: idleGateway },
      phases,
      problems,
    };
  } finally {
    sdk?.destroy();
    dynamo?.destroy();
    for (const [name, value] of savedEnv) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    backendSampler.stop();
    await Promise.all([clientsProcess.stop(), gatewayProcess.stop()]);
  }
}
