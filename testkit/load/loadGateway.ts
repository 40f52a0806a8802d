/**
 * The load benchmark's gateway process (see bench/load.ts): the synthesized app from a cloud assembly
 * (cdk.out) on the local gateway, i.e. the real Lambda bundles in worker threads and the real tables in
 * the embedded DynamoDB, set up as `npm start` does (example/devEnvironment.ts). Not run on its own.
 *
 * Calls: start() -> endpoints and the SDK's environment; stats(); waitForDisconnects(n) -> when the
 * n-th `$disconnect` has finished; report() -> memory peaks and CPU; stop().
 */
import { performance } from 'node:perf_hooks';
import { LocalGateway, loadCloudAssembly, type GatewayStats } from '../../local/index.ts';
import { GatewayEnvVar } from '../../sdk/index.ts';
import { MemorySampler, serve, wallClock } from './loadIpc.ts';
import { createFunctionConsole } from '../../local/functionConsole.ts';

export interface GatewayStarted {
  readonly stackName: string;
  readonly wsUrl: string;
  readonly callbackUrl: string;
  readonly dynamoEndpoint: string;
  readonly region: string;
  /** What a backend process needs (AWS endpoints, credentials, the GATEWAY_* variables). */
  readonly env: Record<string, string>;
  readonly functions: string[];
  readonly routes: string[];
  readonly warnings: readonly string[];
}

export interface GatewayLoadStats extends GatewayStats {
  /** Asynchronous invocations (the init sender) whose retries ran out. */
  readonly asyncFailures: number;
  /** Log lines that report a failure (a failed route, a refused $connect, a failed request). */
  readonly failureLines: number;
  readonly firstFailures: readonly string[];
  /** Answers of the `@connections` POSTs by outcome ('sent', 'gone', ...), e.g. the init sender's 410s. */
  readonly postOutcomes: Readonly<Record<string, number>>;
}

const SDK_VARIABLES = new Set<string>(Object.values(GatewayEnvVar));
// The gateway's own failure lines ("$connect refused ...", "$default failed for ...", "request ... failed: ...",
// "async invocation of ... failed after ...", "fault injection: ...") and closes the gateway started; never a bare connection id.
const FAILURE = / failed[ :]| refused |^fault injection|^closing |timed out/;

const sampler = new MemorySampler(Number(process.env.LOAD_SAMPLE_MS ?? 100));
let gateway: LocalGateway | undefined;
let failureLines = 0;
const firstFailures: string[] = [];
const postOutcomes: Record<string, number> = {};
// The functions' EMF records (one per connect and per send) are summed into a line every 30 s; LOAD_VERBOSE=1 prints each.
const functionConsole = createFunctionConsole({
  verbose: process.env.LOAD_VERBOSE === '1',
  verboseHint: 'LOAD_VERBOSE=1 prints each record',
  write: (line, stream) => (stream === 'stderr' ? console.error(line) : console.log(line)),
});

function log(line: string): void {
  if (!FAILURE.test(line)) return;
  failureLines++;
  if (firstFailures.length < 20) firstFailures.push(line);
}

function stats(): GatewayLoadStats {
  const g = gateway!;
  return {
    ...g.stats(),
    asyncFailures: g.functions.asyncFailures().length,
    failureLines,
    firstFailures: [...firstFailures],
    postOutcomes: { ...postOutcomes },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

serve({
  async start(assemblyDirectory: string): Promise<GatewayStarted> {
    const app = loadCloudAssembly({ directory: assemblyDirectory });
    // What the construct's grantGateway set on its functions is what a backend needs too.
    const sdkEnvironment: Record<string, string> = {};
    for (const environment of Object.values(app.environments)) {
      for (const [name, value] of Object.entries(environment)) if (SDK_VARIABLES.has(name)) sdkEnvironment[name] ??= value;
    }
    const maxConcurrentInvocations = process.env.LOAD_MAX_CONCURRENT_INVOCATIONS ? Number(process.env.LOAD_MAX_CONCURRENT_INVOCATIONS) : undefined;
    // The construct throttles $connect on its own (200/s, burst 400, GatewayBackendProps.connectThrottle),
    // as API Gateway would here too; a storm of thousands of connects measures the gateway, not that
    // throttle, so it is lifted (LOAD_KEEP_CONNECT_THROTTLE=1 keeps it).
    const { $connect: _connectThrottle, ...otherRouteThrottles } = app.gatewayOptions.routeThrottles ?? {};
    const routeThrottles = process.env.LOAD_KEEP_CONNECT_THROTTLE === '1' ? app.gatewayOptions.routeThrottles : otherRouteThrottles;
    gateway = new LocalGateway({
      ...app.gatewayOptions,
      ...(routeThrottles ? { routeThrottles } : {}),
      ttlSweepIntervalMs: 0,
      environment: sdkEnvironment,
      log,
      functionOutput: functionConsole.output,
      ...(maxConcurrentInvocations ? { maxConcurrentInvocations } : {}),
    });
    // Count the outcome of every @connections POST (the management API calls this method on the instance).
    const post = gateway.postToConnection.bind(gateway);
    gateway.postToConnection = (connectionId, data) => {
      const outcome = post(connectionId, data);
      postOutcomes[outcome] = (postOutcomes[outcome] ?? 0) + 1;
      return outcome;
    };
    const endpoints = await gateway.start();
    return {
      stackName: app.stackName,
      wsUrl: endpoints.wsUrl,
      callbackUrl: endpoints.callbackUrl,
      dynamoEndpoint: endpoints.dynamoEndpoint,
      region: endpoints.region,
      env: { ...endpoints.env },
      functions: Object.keys(app.gatewayOptions.functions ?? {}),
      routes: Object.keys(app.gatewayOptions.routes),
      warnings: app.warnings,
    };
  },

  stats,

  /**
   * Resolves once `count` connections have closed in all and none is open, and every invocation
   * under way (the `$disconnect`s) has finished; with the wall-clock time of that moment.
   */
  async waitForDisconnects(count: number, timeoutMs: number): Promise<{ at: number; stats: GatewayLoadStats }> {
    const g = gateway!;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const s = g.stats();
      if (s.disconnects >= count && s.openConnections === 0) break;
      if (performance.now() > deadline) throw new Error(`after ${timeoutMs} ms: ${s.disconnects} of ${count} disconnects, ${s.openConnections} still open`);
      await sleep(5);
    }
    await g.functions.drain();
    return { at: wallClock(), stats: stats() };
  },

  report: () => sampler.report(),

  async stop(): Promise<void> {
    await gateway?.stop();
    functionConsole.flush();
    setImmediate(() => process.exit(0));
  },
});
