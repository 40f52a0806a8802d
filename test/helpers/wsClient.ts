/** A real `ws` client with the waits tests need: the next message, the close, a refused upgrade's status. */
import WebSocket, { type ClientOptions } from 'ws';
import type { IncomingMessage } from 'node:http';

export interface ClosedEvent {
  readonly code: number;
  readonly reason: string;
}

export class TestClient {
  readonly messages: string[] = [];
  readonly closed: Promise<ClosedEvent>;
  private waiters: Array<() => void> = [];

  constructor(
    readonly socket: WebSocket,
    readonly upgradeResponse: IncomingMessage,
  ) {
    socket.on('message', (data, isBinary) => {
      this.messages.push(isBinary ? `binary:${(data as Buffer).toString('base64')}` : data.toString());
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Resolves with message number `index` (0-based) once it has arrived. */
  async message(index: number, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length <= index) {
      if (Date.now() > deadline) throw new Error(`message #${index} did not arrive within ${timeoutMs} ms; got ${JSON.stringify(this.messages)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.messages[index]!;
  }

  async json(index: number, timeoutMs?: number): Promise<any> {
    return JSON.parse(await this.message(index, timeoutMs));
  }

  send(data: string | Buffer, options?: { binary?: boolean; fin?: boolean }): void {
    this.socket.send(data, options ?? {});
  }

  close(code?: number, reason?: string): Promise<ClosedEvent> {
    this.socket.close(code, reason);
    return this.closed;
  }
}

/** Opens a connection; rejects with an UpgradeRefusedError carrying the HTTP status when the upgrade is refused. */
export function connect(url: string, options: ClientOptions & { protocols?: string[] } = {}): Promise<TestClient> {
  const { protocols, ...clientOptions } = options;
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols ?? [], clientOptions);
    let upgrade: IncomingMessage | undefined;
    socket.once('upgrade', (res) => (upgrade = res));
    socket.once('open', () => resolve(new TestClient(socket, upgrade!)));
    socket.once('unexpected-response', (_req, res) => {
      reject(new UpgradeRefusedError(res.statusCode ?? 0));
      res.resume();
      socket.terminate();
    });
    socket.once('error', (error) => reject(error));
  });
}

export class UpgradeRefusedError extends Error {
  override readonly name = 'UpgradeRefusedError';
  constructor(readonly status: number) {
    super(`upgrade refused with HTTP ${status}`);
  }
}

/** The status of an upgrade that must be refused. */
export async function refusedStatus(url: string, options?: ClientOptions): Promise<number> {
  try {
    const client = await connect(url, options);
    client.socket.terminate();
  } catch (error) {
    if (error instanceof UpgradeRefusedError) return error.status;
    throw error;
  }
  throw new Error(`the upgrade to ${url} was accepted`);
}

/** Polls until `predicate` holds (or fails after `timeoutMs`); for effects that happen after a reply. */
export async function eventually<T>(probe: () => T | Promise<T>, predicate: (value: T) => boolean = Boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (predicate(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A promise with its resolve exposed, to hold a handler until the test lets it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
