/**
 * What a function of the local gateway is: an inline handler in the host process, or a module run in
 * a worker thread (functions.ts hosts both, workerFunction.ts runs the second). Kept apart from
 * functions.ts so that workerFunction.ts reads the module definition without importing its host back.
 */
import type { LambdaContext } from '../lambdas/webSocketEvent.ts';

/** Lambda's default timeout. */
const DEFAULT_TIMEOUT_MS = 3000;

// Lambda handlers take any event; the gateway does not constrain what user code accepts or returns.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type LambdaHandler = (event: any, context: LambdaContext) => unknown;

export interface InlineFunctionDefinition {
  /** Runs in the host process with the host's process.env. */
  readonly handler: LambdaHandler;
  /** @default 3000, Lambda's default */
  readonly timeoutMs?: number;
  /** Function to invoke with a destination record when an asynchronous invocation fails for good. */
  readonly onFailure?: string;
  /** @default 2, Lambda's default for asynchronous invocations */
  readonly maxRetryAttempts?: number;
}

export interface ModuleFunctionDefinition {
  /** Absolute path of the module (.ts, .js, .mjs or .cjs); it runs in its own worker thread. */
  readonly entry: string;
  /** @default 'handler' */
  readonly handlerName?: string;
  /** The function's environment, merged over the gateway's endpoints and Lambda's reserved variables. */
  readonly environment?: Record<string, string>;
  /** @default 3000, Lambda's default */
  readonly timeoutMs?: number;
  /** @default 128 */
  readonly memoryMB?: number;
  readonly onFailure?: string;
  readonly maxRetryAttempts?: number;
  /**
   * The Lambda runtime: decides whether callback handlers work, what the context carries and what
   * `AWS_EXECUTION_ENV` says (see runtimes.ts). @default 'nodejs24.x'
   */
  readonly runtime?: string;
  /** Reported by GetFunction / ListFunctions, as the template declares them. */
  readonly role?: string;
  readonly description?: string;
  /** @default ['x86_64'] */
  readonly architectures?: readonly string[];
}

export type FunctionDefinition = LambdaHandler | InlineFunctionDefinition | ModuleFunctionDefinition;

export function isModuleFunction(definition: FunctionDefinition): definition is ModuleFunctionDefinition {
  return (
    typeof definition === 'object' &&
    typeof (definition as ModuleFunctionDefinition).entry === 'string' &&
    !('handler' in definition && typeof definition.handler === 'function')
  );
}

export function timeoutOf(definition: FunctionDefinition): number {
  return typeof definition === 'function' ? DEFAULT_TIMEOUT_MS : (definition.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}
