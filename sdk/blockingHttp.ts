/**
 * One HTTP request that the calling thread waits for without returning to its event loop: a helper
 * worker thread (node built-ins only, so it needs no bundle file of its own) makes the request, and
 * the caller sleeps on a shared flag (Atomics.wait) until the answer is in the message port
 * (receiveMessageOnPort). It is what lets a property getter (the message handler's lazy
 * `ctx.session`) return data that has to be read over the network.
 *
 * It blocks the whole thread, so it is only for a thread that handles one event at a time (a
 * Lambda execution environment), and it deadlocks if the server answering is on the same thread:
 * callers check `isServedInThisThread` first (the local gateway registers its DynamoDB there).
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

export interface BlockingRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly timeoutMs: number;
}

export type BlockingResponse = { readonly status: number; readonly body: string } | { readonly error: string };

// The worker's code: a keep-alive agent per protocol, one request per message, the answer posted
// back before the flag is raised, so it is in the port when the caller wakes up. One statement per
// entry, joined on one line: a bundler keeps a multi-line string as lines, and the bundles must stay
// minified (test/integration/cdk-bundles.test.ts).
const WORKER_SOURCE = [
  "const { workerData } = require('node:worker_threads');",
  "const http = require('node:http');",
  "const https = require('node:https');",
  'const { port, flag } = workerData;',
  'const done = new Int32Array(flag);',
  "const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets: 1 }), 'https:': new https.Agent({ keepAlive: true, maxSockets: 1 }) };",
  'const answer = (message) => { port.postMessage(message); Atomics.store(done, 0, 1); Atomics.notify(done, 0); };',
  'const text = (error) => String((error && error.message) || error);',
  "port.on('message', (request) => {",
  '  const url = new URL(request.url);',
  "  const lib = url.protocol === 'https:' ? https : http;",
  '  const req = lib.request(url, { method: request.method, headers: request.headers, agent: agents[url.protocol], timeout: request.timeoutMs }, (res) => {',
  '    const chunks = [];',
  "    res.on('data', (chunk) => chunks.push(chunk));",
  "    res.on('end', () => answer({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));",
  "    res.on('error', (error) => answer({ error: text(error) }));",
  '  });',
  "  req.on('timeout', () => req.destroy(new Error('timed out after ' + request.timeoutMs + ' ms')));",
  "  req.on('error', (error) => answer({ error: text(error) }));",
  '  req.end(request.body);',
  '});',
].join(' ');

export class BlockingHttp {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { port: port2, flag: this.flag.buffer }, transferList: [port2] });
    // Neither keeps the process alive: an idle helper must not hold a Lambda environment or a test open.
    this.worker.unref();
    this.port.unref();
  }

  /** Sends the request and waits for the answer, blocking this thread (at most timeoutMs plus a second). */
  request(request: BlockingRequest): BlockingResponse {
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage(request);
    const waited = Atomics.wait(this.flag, 0, 0, request.timeoutMs + 1000);
    const message = receiveMessageOnPort(this.port)?.message as BlockingResponse | undefined;
    if (waited === 'timed-out' || !message) return { error: `no answer within ${request.timeoutMs + 1000} ms` };
    return message;
  }

  destroy(): void {
    this.port.close();
    void this.worker.terminate();
  }
}

/** Sleeps without returning to the event loop (between retries of a blocking request). */
export function blockingSleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const SERVERS = Symbol.for('serverless-gateway-worker.servers-in-this-thread');

/** Records that this thread serves HTTP on host:port (the local gateway's DynamoDB), so that nothing here blocks waiting for it. */
export function registerServedInThisThread(hostname: string, port: number): () => void {
  const key = `${hostname}:${port}`;
  const servers = ((globalThis as Record<symbol, Set<string> | undefined>)[SERVERS] ??= new Set());
  servers.add(key);
  return () => servers.delete(key);
}

/** Whether a server registered in this thread answers at hostname:port: waiting for it here would never end. */
export function isServedInThisThread(hostname: string, port: number): boolean {
  const servers = (globalThis as Record<symbol, Set<string> | undefined>)[SERVERS];
  if (!servers) return false;
  const loopback = hostname === 'localhost' || hostname === '::1' || hostname === '[::1]' || hostname.startsWith('127.');
  return servers.has(`${hostname}:${port}`) || (loopback && [...servers].some((s) => s.endsWith(`:${port}`)));
}
