/**
 * One execution environment of a module function: a worker thread with its own module scope and the
 * function's own environment variables, running the handler the way the function's Lambda runtime
 * does (lambdaWorker.mjs, runtimeInterface.mjs).
 *
 * The init phase (starting the runtime, loading the module) is modelled as Lambda runs it:
 * - The first environment of a function initializes on demand, with a budget of its own
 *   (`initTimeoutMs`, Lambda: 10 s) that is not part of any invocation's timeout. Invocations that
 *   arrive meanwhile wait; their function timeout starts when init ends (their caller's limit, such
 *   as API Gateway's 29 s, keeps running).
 * - An init that runs past that budget is abandoned, and Lambda runs it again as part of the first
 *   invocation, within the function's timeout (a "suppressed init").
 * - When an invocation times out or the runtime crashes, or the init fails, Lambda resets the
 *   environment, and the next invocation initializes it again within its own timeout: a module that
 *   takes longer to load than the timeout then never recovers (AWS documents the reset; that the
 *   re-init counts against the timeout is documented since October 2024). FunctionHost creates the
 *   replacement environment with `initMode: 'suppressed'` after `onReset`.
 *
 * Several invocations share one worker here, where Lambda would give each its own environment (see
 * functions.ts). A timeout retires the worker: new invocations go to a fresh one, and this one stops
 * once the invocations running in it have ended.
 */
import { Worker } from 'node:worker_threads';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { basename, dirname, extname } from 'node:path';
import type { ModuleFunctionDefinition } from './functionDefinitions.ts';
import { timeoutError, toErrorPayload, type InvocationOutcome, type InvocationRequest, type LambdaErrorPayload, type RunningFunction } from './invocation.ts';
import { DEFAULT_RUNTIME, nodeMajorOf, type LambdaNodeRuntime } from './runtimes.ts';

export type InitMode = 'on-demand' | 'suppressed';

export interface WorkerFunctionOptions {
  readonly name: string;
  readonly definition: ModuleFunctionDefinition;
  readonly initMode: InitMode;
  /** The on-demand init's own budget. Lambda: 10 s. */
  readonly initTimeoutMs: number;
  /** Environment under the function's own variables (endpoints, credentials). */
  readonly baseEnvironment: Record<string, string>;
  readonly httpsRedirects: ReadonlyArray<{ pattern: string; target: string }>;
  readonly rewriteEnvironment?: (environment: Record<string, string>) => Record<string, string>;
  /** This environment was reset (timeout, crash, failed init): the next one initializes within its invocation. */
  readonly onReset: () => void;
  readonly log?: (line: string) => void;
  /** Takes the function's console output line by line; without it, the output goes to the host's stdout and stderr. */
  readonly output?: FunctionOutput;
}

/** One line a function wrote (console.log, console.error, process.stdout.write). */
export type FunctionOutput = (functionName: string, line: string, stream: 'stdout' | 'stderr') => void;

type InitResult =
  | { readonly ok: true; readonly doneAt: number; readonly mode: InitMode }
  | { readonly ok: false; readonly error: LambdaErrorPayload }
  | { readonly ok: false; readonly timedOut: true };

interface PendingInvocation {
  resolve(outcome: InvocationOutcome): void;
  timer: NodeJS.Timeout;
  requestId: string;
}

const WORKER_BOOTSTRAP = fileURLToPath(new URL('./lambdaWorker.mjs', import.meta.url));

export class WorkerFunction implements RunningFunction {
  private worker!: Worker;
  private ready!: Promise<InitResult>;
  /** Resolves when the worker has started and the function's init begins. */
  private initStarted!: Promise<'init-started'>;
  private mode: InitMode;
  /** When the current suppressed init started: its invocations' budgets include it. */
  private suppressedSince = 0;
  /** Bumped for each worker started, so events of an abandoned one are ignored. */
  private generation = 0;
  private readonly pending = new Map<number, PendingInvocation>();
  /** Invocations inside invoke(): waiting for init or running. */
  private active = 0;
  private nextId = 1;
  private dead = false;
  private retired = false;
  private resetReported = false;
  private readonly runtime: LambdaNodeRuntime;
  private readonly env: Record<string, string>;

  constructor(private readonly options: WorkerFunctionOptions) {
    const { name, definition } = options;
    this.mode = options.initMode;
    this.runtime = (definition.runtime as LambdaNodeRuntime | undefined) ?? DEFAULT_RUNTIME;
    const memoryMB = definition.memoryMB ?? 128;
    this.env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      TZ: ':UTC',
      LANG: 'en_US.UTF-8',
      AWS_EXECUTION_ENV: `AWS_Lambda_${this.runtime}`,
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_LAMBDA_FUNCTION_NAME: name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMB),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: `local/[$LATEST]${name}`,
      LAMBDA_TASK_ROOT: dirname(definition.entry),
      _HANDLER: this.handlerString(),
      ...passThrough('AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED', 'NODE_EXTRA_CA_CERTS'),
      ...options.baseEnvironment,
      ...(options.rewriteEnvironment ? options.rewriteEnvironment({ ...definition.environment }) : definition.environment),
    };
    this.startWorker();
  }

  /** `file.handler`, as Lambda's Handler setting names it. */
  private handlerString(): string {
    const { entry, handlerName } = this.options.definition;
    return `${basename(entry, extname(entry))}.${handlerName ?? 'handler'}`;
  }

  private startWorker(): void {
    const generation = ++this.generation;
    // Until the worker reports that the function's init starts: a suppressed init's budget has not begun.
    if (this.mode === 'suppressed') this.suppressedSince = Number.POSITIVE_INFINITY;
    const { definition } = this.options;
    const worker = new Worker(WORKER_BOOTSTRAP, {
      env: this.env,
      workerData: {
        entry: definition.entry,
        handlerName: definition.handlerName ?? 'handler',
        handlerString: this.handlerString(),
        runtime: this.runtime,
        registerTsx: /\.[cm]?tsx?$/.test(definition.entry),
        httpsRedirects: this.options.httpsRedirects,
      },
      resourceLimits: { maxOldGenerationSizeMb: Math.max(definition.memoryMB ?? 128, 256) },
      ...(this.options.output ? { stdout: true, stderr: true } : {}),
    });
    worker.unref();
    const output = this.options.output;
    if (output) {
      for (const stream of ['stdout', 'stderr'] as const) {
        createInterface({ input: worker[stream], crlfDelay: Infinity }).on('line', (line) => output(this.options.name, line, stream));
      }
    }
    this.worker = worker;
    const exited: LambdaErrorPayload = { errorType: 'Runtime.ExitError', errorMessage: `${this.options.name}: the runtime exited`, trace: [] };
    let markInitStarted!: (value: 'init-started') => void;
    this.initStarted = new Promise((resolve) => (markInitStarted = resolve));
    this.ready = new Promise<InitResult>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const finish = (result: InitResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      worker.on('message', (message: { type: string; error?: LambdaErrorPayload }) => {
        if (message.type === 'runtime-ready') {
          // The function's init starts now: its budgets count from here (lambdaWorker.mjs says why).
          if (this.mode === 'suppressed') this.suppressedSince = Date.now();
          else timer = setTimeout(() => finish({ ok: false, timedOut: true }), this.options.initTimeoutMs);
          markInitStarted('init-started');
        } else if (message.type === 'init-error') finish({ ok: false, error: message.error! });
        else if (message.type === 'ready') finish({ ok: true, doneAt: Date.now(), mode: this.mode });
      });
      worker.once('error', (error) => finish({ ok: false, error: toErrorPayload(error) }));
      worker.once('exit', () => finish({ ok: false, error: exited }));
    });
    worker.on('message', (message: { type: string; id: number; ok: boolean; value?: string | null; error?: LambdaErrorPayload }) => {
      if (message.type === 'result') this.onResult(message);
    });
    worker.on('error', (error) => generation === this.generation && this.crash(toErrorPayload(error)));
    worker.on('exit', () => generation === this.generation && this.crash(exited));
  }

  async invoke(request: InvocationRequest): Promise<InvocationOutcome> {
    this.active++;
    try {
      const init = await this.waitForInit(request);
      return 'outcome' in init ? init.outcome : await this.run(request, init.budgetStart);
    } finally {
      this.active--;
      if (this.retired && this.active === 0) this.stop();
    }
  }

  /** Waits for the init phase; returns when the invocation's own budget started, or its outcome. */
  private async waitForInit(request: InvocationRequest): Promise<{ budgetStart: number } | { outcome: InvocationOutcome }> {
    const requestId = request.context.awsRequestId;
    for (;;) {
      const generation = this.generation;
      // A suppressed init runs within the invocation's timeout; an on-demand one only within the caller's limit.
      const functionDeadline = this.mode === 'suppressed' ? Math.max(request.startedAt, this.suppressedSince) + request.functionTimeoutMs : Infinity;
      const deadline = Math.min(request.callerDeadlineMs, functionDeadline);
      // While the worker starts, a suppressed init's budget has not begun: look again when it does.
      const waitingForStart = this.mode === 'suppressed' && !Number.isFinite(this.suppressedSince);
      const result = await untilDeadline(waitingForStart ? Promise.race([this.ready, this.initStarted]) : this.ready, deadline);
      if (result === 'init-started') continue;
      if (result === 'deadline') return { outcome: this.timedOut(request, deadline === functionDeadline) };
      if (result.ok) {
        const budgetStart = result.mode === 'on-demand' ? Math.max(request.startedAt, result.doneAt) : Math.max(request.startedAt, this.suppressedSince);
        return { budgetStart };
      }
      if ('timedOut' in result) {
        if (generation === this.generation) this.initAgainWithinInvocation();
        continue;
      }
      this.reset();
      return { outcome: { ok: false, error: result.error, requestId } };
    }
  }

  /** The on-demand init ran past its budget: Lambda runs it again within the first invocation's timeout. */
  private initAgainWithinInvocation(): void {
    this.options.log?.(
      `${this.options.name}: init took longer than ${(this.options.initTimeoutMs / 1000).toFixed(2)} s; running it again within the invocation's timeout`,
    );
    const abandoned = this.worker;
    this.mode = 'suppressed';
    this.startWorker();
    void abandoned.terminate();
  }

  private run(request: InvocationRequest, budgetStart: number): Promise<InvocationOutcome> {
    const requestId = request.context.awsRequestId;
    const functionDeadline = budgetStart + request.functionTimeoutMs;
    const deadline = Math.min(request.callerDeadlineMs, functionDeadline);
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.resolve(this.timedOut(request, deadline === functionDeadline));
    if (this.dead)
      return Promise.resolve({
        ok: false,
        error: { errorType: 'Runtime.ExitError', errorMessage: `${this.options.name}: the runtime exited`, trace: [] },
        requestId,
      });
    const id = this.nextId++;
    return new Promise<InvocationOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(this.timedOut(request, deadline === functionDeadline));
      }, remaining);
      this.pending.set(id, { resolve, timer, requestId });
      this.worker.postMessage({ type: 'invoke', id, event: request.event, context: { ...request.context, deadlineMs: deadline } });
    });
  }

  /**
   * A timeout. When it is the function's own, Lambda stops and resets the environment; others share
   * this worker, so it is retired instead (see the top of the file). The caller's limit alone does
   * not stop a function on Lambda.
   */
  private timedOut(request: InvocationRequest, ownTimeout: boolean): InvocationOutcome {
    if (ownTimeout) this.retire();
    const budget = ownTimeout ? request.functionTimeoutMs : request.callerDeadlineMs - request.startedAt;
    return { ok: false, error: timeoutError(request.context.awsRequestId, budget), requestId: request.context.awsRequestId };
  }

  private onResult(message: { id: number; ok: boolean; value?: string | null; error?: LambdaErrorPayload }): void {
    const invocation = this.pending.get(message.id);
    if (!invocation) return;
    this.pending.delete(message.id);
    clearTimeout(invocation.timer);
    invocation.resolve(
      message.ok
        ? { ok: true, value: message.value == null ? null : JSON.parse(message.value), requestId: invocation.requestId }
        : { ok: false, error: message.error!, requestId: invocation.requestId },
    );
  }

  private reportReset(): void {
    if (this.resetReported) return;
    this.resetReported = true;
    this.options.onReset();
  }

  private retire(): void {
    if (this.dead || this.retired) return;
    this.retired = true;
    this.reportReset();
    if (this.active === 0) this.stop();
  }

  /** Stops a worker nothing runs in any more. */
  private stop(): void {
    if (this.dead) return;
    this.dead = true;
    void this.worker.terminate();
  }

  /** The init failed: nothing ran in this environment; the next invocation initializes a new one. */
  private reset(): void {
    this.reportReset();
    this.stop();
  }

  /** The runtime crashed: what ran in it fails. */
  private crash(error: LambdaErrorPayload): void {
    if (this.dead) return;
    this.dead = true;
    this.reportReset();
    for (const invocation of this.pending.values()) {
      clearTimeout(invocation.timer);
      invocation.resolve({ ok: false, error, requestId: invocation.requestId });
    }
    this.pending.clear();
    void this.worker.terminate();
  }

  async close(): Promise<void> {
    this.dead = true;
    await this.worker.terminate();
  }
}

/** The Node.js this function runs on here, when it is not the one its runtime declares. */
export function nodeVersionMismatch(runtime: LambdaNodeRuntime): string | undefined {
  const hostMajor = Number(process.versions.node.split('.')[0]);
  return hostMajor === nodeMajorOf(runtime) ? undefined : `${runtime} is Node.js ${nodeMajorOf(runtime)} on Lambda; here it runs on Node.js ${process.version}`;
}

function untilDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | 'deadline'> {
  if (!Number.isFinite(deadline)) return promise;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => resolve('deadline'), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

function passThrough(...names: string[]): Record<string, string> {
  return Object.fromEntries(names.filter((n) => process.env[n] !== undefined).map((n) => [n, process.env[n]!]));
}
