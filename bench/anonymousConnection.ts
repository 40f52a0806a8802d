/**
 * `npm run bench:anonymous`: what one anonymous connection costs (issue 17, item 3): a client that
 * connects, receives its init, stays idle, and leaves, and never binds. The synthesized app (cdk.out:
 * the bundles `cdk deploy` uploads) runs on the local gateway, as `npm start` runs it. Not a test.
 *
 * Measured per connection: function invocations and their durations (the local gateway's
 * invocations, timed around each; warm environments, after a warm-up), DynamoDB capacity (every
 * call of the functions goes through a proxy that asks dynalite for ReturnConsumedCapacity TOTAL
 * and adds up what it answers), `@connections` posts and their outcomes. Priced at AWS's list prices
 * for us-east-1 (below), with the functions' memory from the template. Two cases:
 * - polite: connect, init, IDLE_MS idle, close ($disconnect runs);
 * - gone: the client closes as soon as the socket opens and `$disconnect` is dropped (best effort on
 *   AWS): the init sender gets only 410s and its connection item stays until TTL.
 * Connection minutes are modelled, not timed: API Gateway bills connected time in minutes, and an
 * abuser chooses how long to hold (10 minutes without pings; 2 hours with the heartbeat).
 *
 * Options (environment): ANON_CONNECTIONS (20), ANON_IDLE_MS (200), ANON_WARMUP (3).
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { LocalGateway, type GatewayEndpoints } from '../local/index.ts';
import { copySynthesizedApp } from '../testkit/synthesizedApp.ts';

const CONNECTIONS = Number(process.env.ANON_CONNECTIONS ?? 20);
const IDLE_MS = Number(process.env.ANON_IDLE_MS ?? 200);
const WARMUP = Number(process.env.ANON_WARMUP ?? 3);

/** us-east-1 list prices (December 2026 pages): Lambda Arm, DynamoDB on-demand (after the November 2024 cut), API Gateway WebSocket. */
const PRICE = {
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecondArm: 0.0000133334,
  writeRequestUnit: 0.625 / 1e6,
  readRequestUnit: 0.125 / 1e6,
  webSocketMessage: 1.0 / 1e6,
  connectionMinute: 0.25 / 1e6,
} as const;

const CAPACITY_OPERATIONS = new Set(['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query', 'Scan', 'BatchGetItem', 'BatchWriteItem']);
const READ_OPERATIONS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem']);

interface Tally {
  invocations: Map<string, { count: number; ms: number }>;
  capacity: Map<string, { calls: number; units: number }>;
  posts: Map<string, number>;
}

const newTally = (): Tally => ({ invocations: new Map(), capacity: new Map(), posts: new Map() });
let tally = newTally();

/**
 * A DynamoDB endpoint in front of dynalite that adds ReturnConsumedCapacity TOTAL to every call that
 * takes it and counts the units answered, per operation. dynalite does not check SigV4, so the
 * changed body is accepted.
 */
async function capacityProxy(): Promise<{ url: string; setTarget(url: string): void; close(): Promise<void> }> {
  let target = '';
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const operation =
      String(req.headers['x-amz-target'] ?? '')
        .split('.')
        .pop() ?? '';
    let body = Buffer.concat(chunks);
    let consistent = false;
    if (CAPACITY_OPERATIONS.has(operation)) {
      const input = JSON.parse(body.toString('utf8')) as { ConsistentRead?: boolean };
      consistent = input.ConsistentRead === true;
      body = Buffer.from(JSON.stringify({ ...input, ReturnConsumedCapacity: 'TOTAL' }));
    }
    const headers = { ...req.headers, 'content-length': String(body.length) };
    const upstream = request(target, { method: req.method, path: req.url, headers }, async (answer: IncomingMessage) => {
      const parts: Buffer[] = [];
      for await (const part of answer) parts.push(part as Buffer);
      const text = Buffer.concat(parts);
      if (CAPACITY_OPERATIONS.has(operation) && answer.statusCode === 200) {
        const consumed = (JSON.parse(text.toString('utf8')) as { ConsumedCapacity?: { CapacityUnits?: number } | Array<{ CapacityUnits?: number }> })
          .ConsumedCapacity;
        let units = [consumed ?? []].flat().reduce((sum, c) => sum + (c.CapacityUnits ?? 0), 0);
        // DynamoDB bills a Query or Scan that reads nothing as one read (half when eventually
        // consistent); dynalite reports 0 for it.
        if ((operation === 'Query' || operation === 'Scan') && units === 0) units = consistent ? 1 : 0.5;
        const entry = tally.capacity.get(operation) ?? { calls: 0, units: 0 };
        entry.calls++;
        entry.units += units;
        tally.capacity.set(operation, entry);
      }
      res.writeHead(answer.statusCode ?? 500, answer.headers);
      res.end(text);
    });
    upstream.on('error', (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    upstream.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    setTarget: (url) => (target = url),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Opens a socket; `leaveAtOnce` closes it as soon as it opens, before the init can arrive. */
async function anonymousClient(endpoints: GatewayEndpoints, leaveAtOnce: boolean): Promise<void> {
  const socket = new WebSocket(endpoints.wsUrl);
  if (leaveAtOnce) {
    await once(socket, 'open');
    socket.terminate();
    return;
  }
  await once(socket, 'message');
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  socket.close();
  await once(socket, 'close');
}

function functionOf(name: string): string {
  return /Connect/.test(name) ? 'connect' : /InitSender/.test(name) ? 'initSender' : /Disconnect/.test(name) ? 'disconnect' : name;
}

async function main(): Promise<void> {
  const copy = copySynthesizedApp('bench-anonymous');
  const proxy = await capacityProxy();
  const options = copy.app.gatewayOptions;
  const gateway = new LocalGateway({
    ...options,
    ttlSweepIntervalMs: 0,
    environment: (urls) => {
      proxy.setTarget(urls.dynamoEndpoint);
      return { AWS_ENDPOINT_URL_DYNAMODB: proxy.url };
    },
  });
  const memoryMb: Record<string, number> = {};
  for (const [name, definition] of Object.entries(options.functions ?? {})) {
    if (typeof definition === 'object' && 'memoryMB' in definition) memoryMb[functionOf(name)] = definition.memoryMB ?? 128;
  }
  const invoke = gateway.functions.invoke.bind(gateway.functions);
  gateway.functions.invoke = async (name, event, timeoutOverrideMs) => {
    const started = performance.now();
    try {
      return await invoke(name, event, timeoutOverrideMs);
    } finally {
      const entry = tally.invocations.get(functionOf(name)) ?? { count: 0, ms: 0 };
      entry.count++;
      entry.ms += performance.now() - started;
      tally.invocations.set(functionOf(name), entry);
    }
  };
  const post = gateway.postToConnection.bind(gateway);
  gateway.postToConnection = (connectionId, data) => {
    const outcome = post(connectionId, data);
    tally.posts.set(outcome, (tally.posts.get(outcome) ?? 0) + 1);
    return outcome;
  };
  const endpoints = await gateway.start();
  try {
    for (let i = 0; i < WARMUP; i++) await anonymousClient(endpoints, false);
    await gateway.functions.drain();

    console.log(`One anonymous connection on the synthesized app (${CONNECTIONS} connections after ${WARMUP} to warm up; local gateway, 2 cores)\n`);
    tally = newTally();
    for (let i = 0; i < CONNECTIONS; i++) {
      await anonymousClient(endpoints, false);
      await gateway.functions.drain();
    }
    const polite = report(`polite: connect, init, ${IDLE_MS} ms idle, close`, memoryMb);

    gateway.setFaults({ dropDisconnectRate: 1 });
    tally = newTally();
    for (let i = 0; i < CONNECTIONS; i++) {
      await anonymousClient(endpoints, true);
      await gateway.functions.drain();
    }
    gateway.setFaults({});
    const gone = report('gone: closes as the socket opens, $disconnect dropped', memoryMb);

    console.log('\nWith connection minutes (API Gateway bills connected time by the minute; an abuser chooses how long to hold):');
    for (const [label, perConnection] of [
      ['polite', polite],
      ['gone', gone],
    ] as const) {
      for (const [hold, minutes, pings] of [
        ['1 minute', 1, 0],
        ['10 minutes (the idle timeout, no pings)', 10, 0],
        ['2 hours (pinging every 5 minutes)', 120, 24],
      ] as const) {
        const dollars = perConnection + minutes * PRICE.connectionMinute + pings * PRICE.webSocketMessage;
        console.log(`  ${label}, held ${hold}: $${(dollars * 1e6).toFixed(2)} per million connections`);
      }
    }
    const perSecond = 200;
    console.log(
      `\nA flood at the default $connect throttle (${perSecond}/s), each held 10 minutes: $${((polite + 10 * PRICE.connectionMinute) * perSecond * 3600).toFixed(2)} an hour (polite path).`,
    );
  } finally {
    await gateway.stop();
    await proxy.close();
    copy.dispose();
  }
}

/** Prints one case per connection; returns its dollars per connection without connection minutes. */
function report(label: string, memoryMb: Record<string, number>): number {
  const per = (n: number) => n / CONNECTIONS;
  console.log(`${label}`);
  let gbSeconds = 0;
  let invocations = 0;
  for (const [fn, { count, ms }] of [...tally.invocations].sort()) {
    const memory = memoryMb[fn] ?? 128;
    const billedMs = ms / count;
    gbSeconds += per(count) * (memory / 1024) * (Math.ceil(billedMs) / 1000);
    invocations += per(count);
    console.log(`  ${fn}: ${per(count).toFixed(2)} invocations, ${billedMs.toFixed(1)} ms each (${memory} MB)`);
  }
  let wru = 0;
  let rru = 0;
  for (const [operation, { calls, units }] of [...tally.capacity].sort()) {
    if (READ_OPERATIONS.has(operation)) rru += per(units);
    else wru += per(units);
    console.log(`  DynamoDB ${operation}: ${per(calls).toFixed(2)} calls, ${per(units).toFixed(2)} ${READ_OPERATIONS.has(operation) ? 'RRU' : 'WRU'}`);
  }
  const posts = [...tally.posts].map(([outcome, n]) => `${per(n).toFixed(2)} ${outcome}`).join(', ');
  const messages = per(tally.posts.get('sent') ?? 0);
  console.log(`  @connections posts: ${posts || 'none'} (messages billed: the ${messages.toFixed(2)} sent)`);
  const dollars =
    invocations * PRICE.lambdaRequest +
    gbSeconds * PRICE.lambdaGbSecondArm +
    wru * PRICE.writeRequestUnit +
    rru * PRICE.readRequestUnit +
    messages * PRICE.webSocketMessage;
  console.log(
    `  total: ${invocations.toFixed(2)} invocations, ${gbSeconds.toFixed(5)} GB-s, ${wru.toFixed(2)} WRU, ${rru.toFixed(2)} RRU, ${messages.toFixed(2)} messages = $${(dollars * 1e6).toFixed(2)} per million connections before connection minutes\n`,
  );
  return dollars;
}

await main();
