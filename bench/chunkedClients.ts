/**
 * The chunked-fan-out benchmark's clients process (see bench/chunked.ts): BENCH_CLIENTS live `ws`
 * clients of the gateway at BENCH_WS_URL, in this process alone (10,000 sockets need 10,000 file
 * descriptors; the gateway's 10,000 server-side sockets are in the gateway process). Tells the parent
 * over IPC when every client has the current round's message. Not run on its own.
 *
 * IPC in:  { type: 'expect', round, count } -> { type: 'armed', round }
 *          { type: 'stop' }                 -> closes the sockets and exits
 * IPC out: { type: 'ready', connected, connectMs }
 *          { type: 'done', round }          when `count` messages of that round have arrived
 */
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const url = process.env.BENCH_WS_URL!;
const count = Number(process.env.BENCH_CLIENTS ?? 10_000);
/** Connects in flight at once: a ramp, so that the listen backlog never overflows. */
const CONNECT_PARALLEL = 200;

function send(message: unknown): void {
  process.send!(message);
}

let round = -1;
let expected = 0;
let received = 0;

function onMessage(data: Buffer): void {
  // Messages are `r<round>|...`; only the current round counts.
  if (data[0] !== 0x72) return;
  let value = 0;
  for (let i = 1; i < data.length && data[i] !== 0x7c; i++) value = value * 10 + (data[i]! - 48);
  if (value !== round) return;
  if (++received === expected) send({ type: 'done', round });
}

function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.once('open', () => {
      socket.on('error', () => {}); // the gateway process may exit first
      resolve(socket);
    });
    socket.once('error', reject);
    socket.on('message', onMessage);
  });
}

async function main(): Promise<void> {
  const started = performance.now();
  const sockets: WebSocket[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECT_PARALLEL }, async () => {
      while (next < count) {
        next++;
        sockets.push(await open());
      }
    }),
  );
  process.on('message', (message: { type: string; round?: number; count?: number }) => {
    if (message.type === 'expect') {
      round = message.round!;
      expected = message.count!;
      received = 0;
      send({ type: 'armed', round });
    } else if (message.type === 'stop') {
      for (const socket of sockets) socket.terminate();
      process.exit(0);
    }
  });
  send({ type: 'ready', connected: sockets.length, connectMs: performance.now() - started });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
