/**
 * The plumbing of the load benchmark's three processes (bench/load.ts): a small request/response
 * protocol over Node's IPC channel, a memory sampler every process runs, and timestamps that compare
 * across processes. Not run on its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Milliseconds since the epoch with sub-millisecond resolution, comparable between processes on one machine. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}

export interface MemoryPeak {
  /** Resident set size of the whole process (main thread, worker threads, native buffers). */
  readonly rssBytes: number;
  /** The main thread's V8 heap in use. */
  readonly heapUsedBytes: number;
  readonly heapTotalBytes: number;
  /** Memory of Buffers and ArrayBuffers outside the heap. */
  readonly externalBytes: number;
  readonly samples: number;
}

export interface ProcessReport {
  readonly peak: MemoryPeak;
  readonly now: MemoryPeak;
  /** process.cpuUsage() since start, user + system, in ms (worker threads included). */
  readonly cpuMs: number;
  /** The main thread's event loop since start: time busy and idle, ms (their ratio is its utilization). */
  readonly eventLoop: { readonly activeMs: number; readonly idleMs: number };
}

/** Samples process.memoryUsage() every `intervalMs` and keeps the peaks. */
export class MemorySampler {
  private peakRss = 0;
  private peakHeapUsed = 0;
  private peakHeapTotal = 0;
  private peakExternal = 0;
  private samples = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly elu = performance.eventLoopUtilization();

  constructor(intervalMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): MemoryPeak {
    const m = process.memoryUsage();
    this.samples++;
    this.peakRss = Math.max(this.peakRss, m.rss);
    this.peakHeapUsed = Math.max(this.peakHeapUsed, m.heapUsed);
    this.peakHeapTotal = Math.max(this.peakHeapTotal, m.heapTotal);
    this.peakExternal = Math.max(this.peakExternal, m.external);
    return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external, samples: 1 };
  }

  report(): ProcessReport {
    const now = this.sample();
    const cpu = process.cpuUsage();
    return {
      peak: {
        rssBytes: this.peakRss,
        heapUsedBytes: this.peakHeapUsed,
        heapTotalBytes: this.peakHeapTotal,
        externalBytes: this.peakExternal,
        samples: this.samples,
      },
      now,
      cpuMs: (cpu.user + cpu.system) / 1000,
      eventLoop: (({ active, idle }) => ({ activeMs: active, idleMs: idle }))(performance.eventLoopUtilization(this.elu)),
    };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

interface Request {
  readonly kind: 'call';
  readonly id: number;
  readonly method: string;
  readonly args: unknown[];
}

interface Response {
  readonly kind: 'result';
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: string;
}

interface EventMessage {
  readonly kind: 'event';
  readonly name: string;
  readonly data: unknown;
}

/** The parent's handle on a child process that serves calls (see serve()). */
export class ChildHandle {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void; method: string }>();
  private readonly listeners = new Map<string, Array<(data: unknown) => void>>();
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    child.on('message', (message: Response | EventMessage) => {
      if (message.kind === 'result') {
        const call = this.pending.get(message.id);
        if (!call) return;
        this.pending.delete(message.id);
        if (message.ok) call.resolve(message.value);
        else call.reject(new Error(`${this.name}.${call.method}: ${message.error}`));
      } else if (message.kind === 'event') {
        for (const listener of this.listeners.get(message.name) ?? []) listener(message.data);
      }
    });
    // A failed send (the child is gone) is reported by the exit below.
    child.on('error', () => {});
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        for (const [, call] of this.pending) call.reject(new Error(`${this.name} exited (code ${code}, signal ${signal}) during ${call.method}`));
        this.pending.clear();
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  call<T>(method: string, ...args: unknown[]): Promise<T> {
    if (this.exitCode !== undefined) return Promise.reject(new Error(`${this.name} has exited; cannot call ${method}`));
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, method });
      const request: Request = { kind: 'call', id, method, args };
      this.child.send(request, (error) => {
        if (!error || !this.pending.has(id)) return;
        this.pending.delete(id);
        reject(new Error(`${this.name}.${method}: ${error.message}`));
      });
    });
  }

  on(name: string, listener: (data: unknown) => void): () => void {
    const list = this.listeners.get(name) ?? [];
    list.push(listener);
    this.listeners.set(name, list);
    return () =>
      this.listeners.set(
        name,
        (this.listeners.get(name) ?? []).filter((l) => l !== listener),
      );
  }

  /** Asks the child to exit (its `stop` handler), then kills it if it has not within `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.exitCode !== undefined) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      await this.call('stop').catch(() => undefined);
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Starts `script` under tsx with an IPC channel ('advanced' serialization, so typed arrays cross
 * as they are), with the open-file limit raised to `fileLimit` when given. stdout and stderr go to
 * this process's stderr.
 */
export function spawnChild(
  name: string,
  script: string,
  env: Record<string, string | undefined>,
  fileLimit?: number,
  nodeArgs: readonly string[] = [],
): ChildHandle {
  const node = [process.execPath, ...nodeArgs, '--import', 'tsx', script];
  const [command, ...args] = fileLimit === undefined ? node : ['/bin/sh', '-c', `ulimit -n ${Math.floor(fileLimit)} && exec "$@"`, 'sh', ...node];
  const child = spawn(command!, args, {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
    env: { ...process.env, ...env },
  });
  const forward = (chunk: Buffer) => process.stderr.write(chunk.toString('utf8').replace(/^(?=.)/gm, `[${name}] `));
  child.stdout!.on('data', forward);
  child.stderr!.on('data', forward);
  return new ChildHandle(name, child);
}

export type Handlers = Record<string, (...args: never[]) => unknown>;

/** In a child: answers the parent's calls with `handlers`; `stop` must be one of them. Returns an event emitter. */
export function serve(handlers: Handlers): { emit(name: string, data: unknown): void } {
  if (!process.send) throw new Error('this script is a child of bench/load.ts and needs its IPC channel');
  const send = (message: Response | EventMessage) => process.send!(message);
  process.on('message', (message: Request) => {
    if (message?.kind !== 'call') return;
    const handler = handlers[message.method] as ((...args: unknown[]) => unknown) | undefined;
    if (!handler) {
      send({ kind: 'result', id: message.id, ok: false, error: `no method ${message.method}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(...message.args))
      .then(
        (value) => send({ kind: 'result', id: message.id, ok: true, value }),
        (error: unknown) => send({ kind: 'result', id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
      );
  });
  // The parent going away ends the child.
  process.on('disconnect', () => process.exit(0));
  return { emit: (name, data) => send({ kind: 'event', name, data }) };
}
