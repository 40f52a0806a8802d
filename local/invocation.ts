/** What the function host and its execution environments (inline, worker thread) share. */
import type { LambdaContext } from '../lambdas/webSocketEvent.ts';

/** The error body Lambda returns for a failed invocation. */
export interface LambdaErrorPayload {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: readonly string[];
}

export type InvocationOutcome =
  | { readonly ok: true; readonly value: unknown; readonly requestId: string }
  | { readonly ok: false; readonly error: LambdaErrorPayload; readonly requestId: string };

/** The context fields that do not depend on the runtime or the deadline. */
export type InvocationContextFields = Pick<
  LambdaContext,
  'functionName' | 'functionVersion' | 'invokedFunctionArn' | 'memoryLimitInMB' | 'awsRequestId' | 'logGroupName' | 'logStreamName'
>;

export interface InvocationRequest {
  /** Already a JSON copy, as Lambda's event is. */
  readonly event: unknown;
  readonly context: InvocationContextFields;
  /** The function's own timeout: it counts from the start of the invocation, after an on-demand init. */
  readonly functionTimeoutMs: number;
  /** When the caller stops waiting (API Gateway's integration timeout); Infinity for none. */
  readonly callerDeadlineMs: number;
  /** When the invocation left the line and started (ms). */
  readonly startedAt: number;
}

/** An execution environment of one function. */
export interface RunningFunction {
  invoke(request: InvocationRequest): Promise<InvocationOutcome>;
  close(): Promise<void>;
}

export function toErrorPayload(error: unknown): LambdaErrorPayload {
  if (error instanceof Error) {
    return { errorType: error.name || 'Error', errorMessage: error.message, trace: String(error.stack ?? '').split('\n') };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

export function timeoutError(requestId: string, timeoutMs: number): LambdaErrorPayload {
  return {
    errorType: 'Sandbox.Timedout',
    errorMessage: `RequestId: ${requestId} Error: Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`,
    trace: [],
  };
}
