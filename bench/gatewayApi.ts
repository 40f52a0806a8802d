/**
 * `npm run bench:gateway-api`: what a bind costs a backend that is not Node (issue 11). Not a test.
 *
 * A child process (bench/gatewayApiServer.ts) runs the synthesized app on the local gateway; this
 * process opens fresh WebSocket connections (a bind.php runs once per new connection), all of them
 * before any bind is timed, then binds each one and joins it to a group, one bind at a time, timing
 * each from its start to its answer:
 *   sdk     two Node SDK calls, bindUid then joinGroup (DynamoDB straight from this process)
 *   batch   one Gateway API invocation with both calls (@aws-sdk/client-lambda InvokeCommand)
 *   two     two Gateway API invocations, one per call (what a GatewayClient script does by default)
 *   php-*   the same two ways from PHP's GatewayClient (clients/php) in one php-cli process, when
 *           php is installed: Gateway::bindUid + Gateway::joinGroup, and Gateway::batch
 * Medians and 90th percentiles over BENCH_ROUNDS (200) binds after BENCH_WARMUP (20); the Node ways
 * interleaved, then the PHP ones. The load average printed is the machine's (its cores are shared).
 */
import { execFile, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Gateway } from '../sdk/index.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 20);
const PHP = '/usr/bin/php';

interface Ready {
  env: Record<string, string>;
  wsUrl: string;
  functionName: string;
}

const server = fork(fileURLToPath(new URL('./gatewayApiServer.ts', import.meta.url)), [], {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const ready = await new Promise<Ready>((resolve, reject) => {
  server.once('exit', (code) => reject(new Error(`the server process exited with ${code}`)));
  server.on('message', (message: { type: string } & Ready) => message.type === 'ready' && resolve(message));
});
const { env, wsUrl, functionName } = ready;
const credentials = { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! };
const dynamoDb = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: env.AWS_ENDPOINT_URL_DYNAMODB, region: env.AWS_REGION, credentials }));
const sdk = Gateway.fromEnv({ region: env.AWS_REGION, credentials, dynamoDb }, env);
const lambda = new LambdaClient({ endpoint: env.AWS_ENDPOINT_URL_LAMBDA, region: env.AWS_REGION, credentials, maxAttempts: 1 });
const sockets: WebSocket[] = [];

/** A fresh connection's client id, from its init message. */
function connect(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl);
    sockets.push(socket);
    socket.once('error', reject);
    socket.once('message', (data: Buffer) => resolve((JSON.parse(data.toString('utf8')) as { client_id: string }).client_id));
  });
}

async function invoke(payload: unknown): Promise<void> {
  const answer = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: JSON.stringify(payload) }));
  const body = JSON.parse(Buffer.from(answer.Payload!).toString('utf8')) as { ok: boolean };
  if (answer.FunctionError || !body.ok) throw new Error(`invoke failed: ${JSON.stringify(body)}`);
}

const ways: Record<string, (id: string, n: number) => Promise<void>> = {
  sdk: async (id, n) => {
    await sdk.bindUid(id, `u-${n}`);
    await sdk.joinGroup(id, `g-${n % 10}`);
  },
  batch: (id, n) =>
    invoke({
      calls: [
        { method: 'bindUid', args: [id, `u-${n}`] },
        { method: 'joinGroup', args: [id, `g-${n % 10}`] },
      ],
    }),
  two: async (id, n) => {
    await invoke({ method: 'bindUid', args: [id, `u-${n}`] });
    await invoke({ method: 'joinGroup', args: [id, `g-${n % 10}`] });
  },
};

/** Fresh connections, opened before any bind is timed so that no init message is in flight meanwhile. */
async function connectMany(count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 50) ids.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => connect()))));
  return ids;
}

const samples: Record<string, number[]> = Object.fromEntries(Object.keys(ways).map((w) => [w, []]));
const nodeIds = await connectMany(Object.keys(ways).length * (WARMUP + ROUNDS));
let n = 0;
for (let round = 0; round < WARMUP + ROUNDS; round++) {
  for (const [name, bind] of Object.entries(ways)) {
    const id = nodeIds[n]!;
    const start = performance.now();
    await bind(id, n++);
    if (round >= WARMUP) samples[name]!.push(performance.now() - start);
  }
}

const phpScript = fileURLToPath(new URL('./gatewayApi.php', import.meta.url));
if (existsSync(PHP)) {
  // PHP times each bind itself, in one php-cli process (curl's connection reused), on fresh ids too.
  const ids = await connectMany(2 * (WARMUP + ROUNDS));
  const { stdout } = await promisify(execFile)(PHP, [phpScript, String(WARMUP)], { env: { ...env, BENCH_IDS: ids.join(',') }, maxBuffer: 1 << 24 });
  Object.assign(samples, JSON.parse(stdout) as Record<string, number[]>);
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};
const load = (await import('node:os')).loadavg()[0]!.toFixed(1);
console.log(`bindUid + joinGroup on a fresh connection, ${ROUNDS} binds each after ${WARMUP} warm-up, one at a time (load average ${load})`);
console.log('way      median   p90');
for (const [name, values] of Object.entries(samples)) {
  console.log(`${name.padEnd(8)} ${quantile(values, 0.5).toFixed(2).padStart(6)} ms ${quantile(values, 0.9).toFixed(2).padStart(6)} ms`);
}

for (const socket of sockets) socket.terminate();
lambda.destroy();
sdk.destroy();
dynamoDb.destroy();
server.disconnect();
