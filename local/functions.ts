/**
 * The Lambda side of the local gateway: named functions, invoked synchronously (RequestResponse) or
 * asynchronously (Event, with Lambda's retries and an on-failure destination).
 *
 * A function is either a handler defined in the host process (quick to write in a test; it shares the
 * host's process.env) or a module run in its own worker thread (`entry`, workerFunction.ts): one warm
 * execution environment with its own module scope, the function's own environment and the behaviour
 * of its Lambda runtime (runtimes.ts), with an init phase of its own. A crash discards the worker,
 * failing what runs in it, and the next invocation starts a new one, initializing within its timeout.
 *
 * On Lambda every concurrent invocation has an execution environment of its own; here one worker
 * runs many at once, so two things keep that sharing from changing the outcome under load:
 * - At most `maxConcurrentInvocations` run in a worker at once; the others wait in line, and a
 *   function's timeout counts from the moment its invocation starts, as on Lambda (the caller's own
 *   limit, e.g. API Gateway's 29 s integration timeout, counts from the call). Without the line, a
 *   connect storm of 8,000 queued 8,000 `$connect`s in one worker and the later ones ran out of
 *   their 10 s while they waited.
 * - A timeout fails that invocation only. The worker is retired: new invocations go to a fresh one,
 *   and the retired worker is stopped once the invocations already running in it have ended (each
 *   within its own deadline). Stopping it at once would fail every invocation that shared it, which
 *   on Lambda would have run in environments of their own.
 */
import type { LambdaContext } from '../lambdas/webSocketEvent.ts';
import {
  isModuleFunction,
  timeoutOf,
  type FunctionDefinition,
  type InlineFunctionDefinition,
  type LambdaHandler,
  type ModuleFunctionDefinition,
} from './functionDefinitions.ts';
import { newLambdaRequestId } from './ids.ts';
import { timeoutError, toErrorPayload, type InvocationOutcome, type InvocationRequest, type LambdaErrorPayload, type RunningFunction } from './invocation.ts';
import { DEFAULT_RUNTIME, unsupportedRuntimeReason, type LambdaNodeRuntime } from './runtimes.ts';
import { WorkerFunction, nodeVersionMismatch, type FunctionOutput } from './workerFunction.ts';

export type { InvocationOutcome, LambdaErrorPayload } from './invocation.ts';
// The definitions live apart so that workerFunction.ts can read them without importing this file back.
export {
  isModuleFunction,
  timeoutOf,
  type FunctionDefinition,
  type InlineFunctionDefinition,
  type LambdaHandler,
  type ModuleFunctionDefinition,
} from './functionDefinitions.ts';

export interface FunctionHostOptions {
  readonly region: string;
  readonly accountId: string;
  /** Environment every module function receives under its own variables (endpoints, credentials). */
  readonly baseEnvironment: () => Record<string, string>;
  /** Hosts a module function reaches over https on AWS that must reach the local gateway instead. */
  readonly httpsRedirects: () => ReadonlyArray<{ pattern: string; target: string }>;
  /** Rewrites a function's own environment before its worker starts (e.g. AWS URLs of the API to local ones). */
  readonly rewriteEnvironment?: (environment: Record<string, string>) => Record<string, string>;
  /** Delays before each retry of a failed asynchronous invocation. @default [1000, 2000] */
  readonly asyncRetryDelaysMs?: readonly number[];
  /**
   * Invocations of one module function running at once; more wait in line (see the top of this
   * file). @default 64
   */
  readonly maxConcurrentInvocations?: number;
  /** The budget of a module function's on-demand init phase (see workerFunction.ts). @default 10000, Lambda's */
  readonly initTimeoutMs?: number;
  readonly log?: (line: string) => void;
  /** Takes module functions' console output line by line (see workerFunction.ts). */
  readonly output?: FunctionOutput;
}

const DEFAULT_INIT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_CONCURRENT_INVOCATIONS = 64;

export class FunctionNotFoundError extends Error {
  override readonly name = 'FunctionNotFoundError';
}

export class FunctionHost {
  private readonly definitions = new Map<string, FunctionDefinition>();
  private readonly definitionTimes = new Map<string, number>();
  /** Functions whose last environment was reset: the next one initializes within its first invocation. */
  private readonly resetFunctions = new Set<string>();
  private readonly versionNoticeGiven = new Set<string>();
  private readonly running = new Map<string, RunningFunction>();
  private readonly lines = new Map<string, InvocationLine>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly failedAsyncInvocations: Array<{ functionName: string; error: LambdaErrorPayload; event: unknown }> = [];

  constructor(private readonly options: FunctionHostOptions) {}

  define(name: string, definition: FunctionDefinition): void {
    if (this.definitions.has(name)) throw new Error(`function ${JSON.stringify(name)} is defined twice`);
    const runtime = isModuleFunction(definition) ? definition.runtime : undefined;
    const refused = runtime === undefined ? undefined : unsupportedRuntimeReason(runtime);
    if (refused) throw new Error(`function ${JSON.stringify(name)}: ${refused}`);
    this.definitions.set(name, definition);
    this.definitionTimes.set(name, Date.now());
  }

  /** When the function was defined (epoch ms): its LastModified when it has no code file. */
  definedAt(name: string): number {
    return this.definitionTimes.get(name) ?? Date.now();
  }

  /** The definition a function was given, for the Lambda read operations. */
  definitionOf(name: string): FunctionDefinition | undefined {
    return this.definitions.get(name);
  }

  has(name: string): boolean {
    return this.definitions.has(name);
  }

  names(): string[] {
    return [...this.definitions.keys()];
  }

  arn(name: string): string {
    return `arn:aws:lambda:${this.options.region}:${this.options.accountId}:function:${name}`;
  }

  /** Accepts a name, a full or partial ARN, optionally qualified (`name:$LATEST`). */
  resolveName(nameOrArn: string): string | undefined {
    const candidates = [nameOrArn];
    const arn = /^arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$/.exec(nameOrArn);
    if (arn) candidates.push(arn[1]!);
    const partial = /^(?:[0-9]{12}:)?function:([^:]+)(?::[^:]+)?$/.exec(nameOrArn);
    if (partial) candidates.push(partial[1]!);
    const qualified = /^([^:]+):[^:]+$/.exec(nameOrArn);
    if (qualified) candidates.push(qualified[1]!);
    return candidates.find((c) => this.definitions.has(c));
  }

  /** Failed asynchronous invocations whose retries ran out, for tests and logs. */
  asyncFailures(): ReadonlyArray<{ functionName: string; error: LambdaErrorPayload; event: unknown }> {
    return this.failedAsyncInvocations;
  }

  /** A synchronous (RequestResponse) invocation. The event and result cross a JSON boundary, as on Lambda. */
  invoke(name: string, event: unknown, timeoutOverrideMs?: number): Promise<InvocationOutcome> {
    const definition = this.definitions.get(name);
    if (!definition) return Promise.reject(new FunctionNotFoundError(`Function not found: ${this.arn(name)}`));
    const functionTimeoutMs = timeoutOf(definition);
    // The caller's own limit (API Gateway's integration timeout) runs from now, the function's from its start.
    const callerDeadlineMs = Date.now() + (timeoutOverrideMs ?? Number.POSITIVE_INFINITY);
    const requestId = newLambdaRequestId();
    const payload = JSON.parse(JSON.stringify(event ?? null));
    const start = (): Promise<InvocationOutcome> => {
      const startedAt = Date.now();
      if (callerDeadlineMs <= startedAt) {
        // The caller gave up while the invocation waited in line: it never starts.
        return Promise.resolve({ ok: false, error: timeoutError(requestId, timeoutOverrideMs ?? functionTimeoutMs), requestId });
      }
      const request: InvocationRequest = {
        event: payload,
        context: {
          functionName: name,
          functionVersion: '$LATEST',
          invokedFunctionArn: this.arn(name),
          memoryLimitInMB: String(typeof definition === 'object' && 'memoryMB' in definition ? (definition.memoryMB ?? 128) : 128),
          awsRequestId: requestId,
          logGroupName: `/aws/lambda/${name}`,
          logStreamName: `local/[$LATEST]${requestId.replace(/-/g, '')}`,
        },
        functionTimeoutMs,
        callerDeadlineMs,
        startedAt,
      };
      return this.runningFunction(name, definition).invoke(request);
    };
    return this.track(isModuleFunction(definition) ? this.lineFor(name).run(start) : start());
  }

  private lineFor(name: string): InvocationLine {
    let line = this.lines.get(name);
    if (!line) {
      line = new InvocationLine(Math.max(1, Math.floor(this.options.maxConcurrentInvocations ?? DEFAULT_MAX_CONCURRENT_INVOCATIONS)));
      this.lines.set(name, line);
    }
    return line;
  }

  /**
   * An asynchronous (Event) invocation: returns at once; a failure is retried after each of
   * `asyncRetryDelaysMs` (Lambda retries twice), then sent to the function's `onFailure` destination.
   */
  invokeAsync(name: string, event: unknown): void {
    const definition = this.definitions.get(name);
    if (!definition) throw new FunctionNotFoundError(`Function not found: ${this.arn(name)}`);
    const maxRetries = typeof definition === 'object' ? (definition.maxRetryAttempts ?? 2) : 2;
    const delays = this.options.asyncRetryDelaysMs ?? [1000, 2000];
    const attempt = async () => {
      let outcome: InvocationOutcome | undefined;
      for (let attemptNo = 0; attemptNo <= maxRetries; attemptNo++) {
        if (attemptNo > 0) await sleep(delays[Math.min(attemptNo - 1, delays.length - 1)] ?? 1000);
        outcome = await this.invoke(name, event);
        if (outcome.ok) return;
      }
      if (!outcome || outcome.ok) return;
      this.failedAsyncInvocations.push({ functionName: name, error: outcome.error, event });
      this.options.log?.(`async invocation of ${name} failed after ${maxRetries + 1} attempts: ${outcome.error.errorMessage}`);
      const destination = typeof definition === 'object' ? definition.onFailure : undefined;
      if (destination && this.definitions.has(destination)) {
        await this.invoke(destination, this.destinationRecord(name, event, outcome, maxRetries + 1));
      }
    };
    void this.track(attempt());
  }

  private destinationRecord(name: string, event: unknown, outcome: InvocationOutcome & { ok: false }, attempts: number) {
    return {
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: outcome.requestId,
        functionArn: `${this.arn(name)}:$LATEST`,
        condition: 'RetriesExhausted',
        approximateInvokeCount: attempts,
      },
      requestPayload: event,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: outcome.error,
    };
  }

  /** Waits for every invocation under way, including asynchronous retries. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async close(): Promise<void> {
    await this.drain();
    await Promise.all([...this.running.values()].map((r) => r.close()));
    this.running.clear();
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const done = () => this.inFlight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  /** A worker-thread environment; after a reset its init runs within the first invocation. */
  private startEnvironment(name: string, definition: ModuleFunctionDefinition, onReset: () => void): RunningFunction {
    const runtime = (definition.runtime as LambdaNodeRuntime | undefined) ?? DEFAULT_RUNTIME;
    const mismatch = nodeVersionMismatch(runtime);
    if (mismatch && !this.versionNoticeGiven.has(name)) {
      this.versionNoticeGiven.add(name);
      this.options.log?.(`${name}: ${mismatch}`);
    }
    return new WorkerFunction({
      name,
      definition,
      initMode: this.resetFunctions.delete(name) ? 'suppressed' : 'on-demand',
      initTimeoutMs: this.options.initTimeoutMs ?? DEFAULT_INIT_TIMEOUT_MS,
      baseEnvironment: this.options.baseEnvironment(),
      httpsRedirects: this.options.httpsRedirects(),
      rewriteEnvironment: this.options.rewriteEnvironment,
      onReset,
      log: this.options.log,
      output: this.options.output,
    });
  }

  private runningFunction(name: string, definition: FunctionDefinition): RunningFunction {
    let running = this.running.get(name);
    if (!running) {
      const created: RunningFunction = isModuleFunction(definition)
        ? this.startEnvironment(name, definition, () => {
            // Only this environment: a fresh one may already have replaced it.
            if (this.running.get(name) !== created) return;
            this.running.delete(name);
            this.resetFunctions.add(name);
          })
        : new InlineFunction(typeof definition === 'function' ? definition : (definition as InlineFunctionDefinition).handler);
      running = created;
      this.running.set(name, running);
    }
    return running;
  }
}

/** A FIFO semaphore: at most `limit` tasks run at once; a finishing task hands its slot to the next. */
class InvocationLine {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}

/** A handler in the host process, presented as nodejs24.x: no callback, no init phase. */
class InlineFunction implements RunningFunction {
  constructor(private readonly handler: LambdaHandler) {}

  async invoke(request: InvocationRequest): Promise<InvocationOutcome> {
    const requestId = request.context.awsRequestId;
    const deadlineMs = Math.min(request.callerDeadlineMs, request.startedAt + request.functionTimeoutMs);
    const context: LambdaContext = { ...request.context, getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()) };
    const timeoutMs = deadlineMs - request.startedAt;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<InvocationOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, error: timeoutError(requestId, timeoutMs), requestId }), Math.max(0, deadlineMs - Date.now()));
    });
    const run = (async (): Promise<InvocationOutcome> => {
      try {
        const value = await this.handler(request.event, context);
        return { ok: true, value: value === undefined ? null : JSON.parse(JSON.stringify(value)), requestId };
      } catch (error) {
        return { ok: false, error: toErrorPayload(error), requestId };
      }
    })();
    try {
      return await Promise.race([run, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {}
}
