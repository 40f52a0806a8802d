/**
 * The load benchmark's client process (see bench/load.ts): N `ws` clients, as browsers would be. A
 * client counts as connected when its init message (`{"type":"init","client_id":...}`) has arrived,
 * the real "connected" signal of the product. Not run on its own.
 *
 * Calls: connect(options) -> ids and timings; arm(round, expected) before each send, then the event
 * `delivered` { round, firstAt, lastAt } once `expected` messages of that round have arrived;
 * received() -> every round each client received, for the exactly-once check; closeAll() -> the
 * disconnect storm; report(); stop().
 *
 * Messages of the send phase are `L<round>|...`; anything else after the init is counted as unexpected.
 */
import WebSocket from 'ws';
import { MemorySampler, serve, wallClock } from './loadIpc.ts';

export interface ConnectOptions {
  readonly url: string;
  readonly count: number;
  /** Connects in flight at once (started, init not yet received). */
  readonly concurrency: number;
  /** Connects started per second at most; 0 for no limit. */
  readonly ratePerSecond: number;
  /** A client without its init message after this long counts as failed. */
  readonly initTimeoutMs: number;
}

export interface ConnectResult {
  /** Client ids in client order; '' for a client that failed. */
  readonly ids: string[];
  readonly startedAt: number;
  readonly endedAt: number;
  /** Per connected client: from `new WebSocket()` to 'open', and to the init message, ms. */
  readonly openMs: Float64Array;
  readonly initMs: Float64Array;
  readonly failures: number;
  readonly firstErrors: string[];
}

export interface ReceivedRounds {
  /** received.rounds[offsets[i] .. offsets[i + 1]) are the rounds client i received, in arrival order. */
  readonly offsets: Int32Array;
  readonly rounds: Int32Array;
  readonly unexpected: number;
  readonly firstUnexpected: string[];
}

interface Client {
  socket: WebSocket;
  id: string;
  rounds: number[];
  /** Resolves with the close code. */
  closed: Promise<number>;
}

const sampler = new MemorySampler(Number(process.env.LOAD_SAMPLE_MS ?? 100));
const clients: Client[] = [];
let unexpected = 0;
const firstUnexpected: string[] = [];
let armed: { round: number; expected: number; count: number; firstAt: number } | undefined;

const { emit } = serve({
  connect: (options: ConnectOptions) => connectAll(options),

  arm(round: number, expected: number): void {
    armed = { round, expected, count: 0, firstAt: 0 };
  },

  received(): ReceivedRounds {
    const offsets = new Int32Array(clients.length + 1);
    let total = 0;
    clients.forEach((c, i) => {
      offsets[i] = total;
      total += c.rounds.length;
    });
    offsets[clients.length] = total;
    const rounds = new Int32Array(total);
    for (const [i, c] of clients.entries()) rounds.set(c.rounds, offsets[i]!);
    return { offsets, rounds, unexpected, firstUnexpected: [...firstUnexpected] };
  },

  /** Every client closes at once (1000); resolves when every socket has closed. */
  async closeAll(): Promise<{ startedAt: number; allClosedAt: number; abnormal: number }> {
    const startedAt = wallClock();
    let abnormal = 0;
    for (const c of clients) {
      if (c.socket.readyState === WebSocket.OPEN) c.socket.close(1000, 'bye');
      else if (c.socket.readyState === WebSocket.CONNECTING) c.socket.terminate();
    }
    const codes = await Promise.all(clients.map((c) => c.closed));
    for (const code of codes) if (code !== 1000) abnormal++;
    return { startedAt, allClosedAt: wallClock(), abnormal };
  },

  report: () => sampler.report(),

  stop(): void {
    for (const c of clients) c.socket.terminate();
    setImmediate(() => process.exit(0));
  },
});

function onMessage(client: Client, data: Buffer): void {
  // `L<round>|...`
  if (data[0] === 0x4c) {
    let round = 0;
    let i = 1;
    for (; i < data.length && data[i] !== 0x7c; i++) round = round * 10 + (data[i]! - 48);
    client.rounds.push(round);
    const a = armed;
    if (a && a.round === round) {
      a.count++;
      if (a.count === 1) a.firstAt = wallClock();
      if (a.count === a.expected) emit('delivered', { round, firstAt: a.firstAt, lastAt: wallClock() });
    }
    return;
  }
  unexpected++;
  if (firstUnexpected.length < 10) firstUnexpected.push(`${client.id}: ${data.toString('utf8').slice(0, 200)}`);
}

async function connectAll(options: ConnectOptions): Promise<ConnectResult> {
  const { url, count, concurrency, ratePerSecond, initTimeoutMs } = options;
  const base = clients.length;
  const ids: string[] = new Array(count).fill('');
  const openMs = new Float64Array(count).fill(Number.NaN);
  const initMs = new Float64Array(count).fill(Number.NaN);
  const firstErrors: string[] = [];
  let failures = 0;
  const fail = (i: number, why: string) => {
    failures++;
    if (firstErrors.length < 10) firstErrors.push(`client ${i}: ${why}`);
  };

  const connectOne = (i: number) =>
    new Promise<void>((resolve) => {
      const started = wallClock();
      const socket = new WebSocket(url, { perMessageDeflate: false });
      const client: Client = {
        socket,
        id: '',
        rounds: [],
        closed: new Promise((r) => socket.once('close', (code: number) => r(code))),
      };
      clients[base + i] = client;
      let settled = false;
      const settle = (error?: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          fail(i, error);
          socket.terminate();
        }
        resolve();
      };
      const timer = setTimeout(
        () => settle(`no init message within ${initTimeoutMs} ms (socket ${socket.readyState === WebSocket.OPEN ? 'open' : 'not open'})`),
        initTimeoutMs,
      );
      socket.once('open', () => (openMs[i] = wallClock() - started));
      socket.once('unexpected-response', (_req, res) => {
        res.resume();
        settle(`upgrade answered ${res.statusCode}`);
      });
      socket.once('error', (error) => settle(`error ${(error as Error & { code?: string }).code ?? ''} ${error.message}`));
      socket.once('close', (code) => settle(`closed with ${code} before the init message`));
      socket.on('message', (data: Buffer, isBinary: boolean) => {
        if (client.id === '' && !isBinary) {
          try {
            const message = JSON.parse(data.toString('utf8')) as { type?: string; client_id?: string };
            if (message.type === 'init' && typeof message.client_id === 'string') {
              client.id = message.client_id;
              ids[i] = message.client_id;
              initMs[i] = wallClock() - started;
              settle();
              return;
            }
          } catch {
            // not JSON: counted below
          }
        }
        onMessage(client, data);
      });
    });

  const startedAt = wallClock();
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      if (ratePerSecond > 0) {
        const due = startedAt + (i * 1000) / ratePerSecond;
        const wait = due - wallClock();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      await connectOne(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return { ids, startedAt, endedAt: wallClock(), openMs, initMs, failures, firstErrors };
}
