/**
 * The fan-out worker: delivers one chunk of a large send (sdk/Fanout.ts), invoked asynchronously by
 * the SDK, and logs one JSON line with the per-recipient counts.
 *
 * Failures, and why each is handled the way it is:
 * - Per recipient (one post answered 429 after its retries, a 5xx, no answer): the SDK retries each
 *   post (full-jitter backoff), then `deliverChunk` gives the still-failing recipients up to two more
 *   rounds (1 s, then 2 s later) while the invocation has time left. What still fails with such an
 *   error is re-queued (`requeue`): a new asynchronous invocation of this worker with a chunk of
 *   only those recipients, the same message and the same share of the broadcast's budget, that
 *   waits `requeue.delayMs` (doubling each time) before posting; at most MAX_CHUNK_REQUEUES times,
 *   then they are logged (`failedIds`) as before. The invocation succeeds either way. Throwing would
 *   make Lambda run the whole chunk again, 1 and then 2 minutes later: every recipient already
 *   reached would get the message a second time to save a few. A re-queue that Lambda refuses is
 *   logged with the rest.
 * - Systemic (nothing delivered: every post failed, e.g. 403 because the worker lacks
 *   `execute-api:ManageConnections`, or the endpoint is unreachable): the invocation fails. Lambda
 *   retries the chunk (EventInvokeConfig, up to 2 times) and then sends it to the on-failure
 *   destination (the construct's SQS queue), where it can be inspected and replayed. Nothing was
 *   delivered, so a retry duplicates nothing.
 * - A malformed chunk fails the invocation too: no retry can fix it, but the failure queue keeps it.
 * - 410: pruned as in an inline send (connection item, its index items, and the index items it was
 *   found through); counted as `gone`.
 * - A timeout is a failure, and Lambda retries the chunk: recipients already reached get it twice.
 *   `deliverChunk` stops its extra rounds before the deadline, and the function's timeout leaves room
 *   for a first round under heavy retrying, so this takes an outage longer than the timeout.
 * - Lambda's async queue may deliver a chunk twice even without errors (at-least-once); so may a
 *   retried `Invoke` whose first answer was lost. Duplicate messages are possible, lost ones are not.
 */
import type { Gateway } from '../sdk/index.ts';
import type { ChunkReport } from '../sdk/Gateway.ts';
import { isRetryable, MAX_CHUNK_REQUEUES, parseChunk, requeuedChunk, type FanoutInvoker } from '../sdk/Fanout.ts';
import type { LambdaInvocationContext } from './webSocketEvent.ts';

/** The log line, one per chunk. */
export interface FanoutWorkerLogLine {
  readonly message: 'gateway fan-out chunk';
  readonly fanoutId: string;
  readonly chunk: number;
  readonly chunks: number;
  readonly operation: string;
  readonly recipients: number;
  readonly sent: number;
  readonly gone: number;
  readonly failed: number;
  /** The connection ids that failed, with the error code of each. */
  readonly failedIds: string[];
  readonly failedCodes: Record<string, number>;
  readonly rounds: number;
  /** Recipients handed to a new invocation (a re-queued chunk), among `failed`; only when re-queueing is configured. */
  readonly requeued?: number;
  readonly durationMs: number;
  /** 'delivered', or 'failed' when nothing was delivered and the invocation fails (Lambda retries it). */
  readonly outcome: 'delivered' | 'failed';
}

export interface FanoutWorkerOptions {
  readonly gateway: Gateway;
  /** Where the line goes. @default console.log of the JSON */
  readonly log?: (line: FanoutWorkerLogLine) => void;
  /** See DeliverChunkOptions. @default 2 */
  readonly extraRounds?: number;
  /** @default 1000 */
  readonly roundDelayMs?: number;
  /** Time kept back from the invocation's deadline: no extra round may run into it. @default 5000 */
  readonly deadlineMarginMs?: number;
  /** Re-queueing of retryable failures to this worker (lambdas/fanoutWorker.ts sets it). @default none: only logged */
  readonly requeue?: FanoutRequeueOptions;
}

export interface FanoutRequeueOptions {
  /** Sends the asynchronous invocation (the SDK's LambdaEventInvoker, or a LambdaClient-like `send`). */
  readonly lambda: FanoutInvoker;
  /** This worker's own name (AWS_LAMBDA_FUNCTION_NAME). */
  readonly functionName: string;
  /** The pause before a re-queued chunk posts: delayMs for the first re-queue, doubling after. @default 5000 */
  readonly delayMs?: number;
}

/** Thrown when a chunk delivered nothing, so that Lambda retries it and then keeps it in the failure queue. */
export class FanoutChunkFailedError extends Error {
  override readonly name = 'FanoutChunkFailedError';
}

export function createFanoutWorkerHandler(options: FanoutWorkerOptions) {
  const log = options.log ?? ((line: FanoutWorkerLogLine) => console.log(JSON.stringify(line)));
  const margin = options.deadlineMarginMs ?? 5000;

  return async function handler(event: unknown, context?: LambdaInvocationContext): Promise<Omit<FanoutWorkerLogLine, 'failedIds' | 'message'>> {
    const started = Date.now();
    const report = await options.gateway.deliverChunk(event, {
      ...(options.extraRounds !== undefined ? { extraRounds: options.extraRounds } : {}),
      ...(options.roundDelayMs !== undefined ? { roundDelayMs: options.roundDelayMs } : {}),
      ...(context ? { deadlineMs: started + context.getRemainingTimeInMillis() - margin } : {}),
    });
    const systemic = report.failed.length > 0 && report.sent.length === 0 && report.gone.length === 0;
    // Systemic failures fail the invocation (Lambda retries the whole chunk, duplicating nothing).
    const requeued = options.requeue && !systemic ? await requeue(options.requeue, event, report) : undefined;
    const line = logLine(report, Date.now() - started, systemic ? 'failed' : 'delivered', requeued);
    log(line);
    if (systemic) {
      const codes = Object.entries(line.failedCodes)
        .map(([code, n]) => `${n} ${code}`)
        .join(', ');
      throw new FanoutChunkFailedError(
        `chunk ${report.index + 1}/${report.count || '?'} of fan-out ${report.fanoutId} delivered nothing (${codes}); first error: ${report.failed[0]!.error.message}`,
      );
    }
    const { failedIds: _ids, message: _message, ...summary } = line;
    return summary;
  };
}

/**
 * Queues the chunk's retryable failures to a new invocation of the worker, unless the chunk was
 * re-queued MAX_CHUNK_REQUEUES times already. Returns how many recipients were handed on (0 when
 * Lambda refused the invocation: they stay failed, and the refusal is logged).
 */
async function requeue(options: FanoutRequeueOptions, event: unknown, report: ChunkReport): Promise<number> {
  const retryable = report.failed.filter((f) => isRetryable(f.error)).map((f) => f.connectionId);
  if (retryable.length === 0) return 0;
  const { chunk } = parseChunk(event);
  const generation = chunk.requeue ?? 0;
  if (generation >= MAX_CHUNK_REQUEUES) return 0;
  const delayMs = (options.delayMs ?? 5000) * 2 ** generation;
  const next = requeuedChunk(chunk, retryable, Date.now() + delayMs);
  try {
    await options.lambda.send({ input: { FunctionName: options.functionName, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(next), 'utf8') } });
    return retryable.length;
  } catch (error) {
    console.warn(
      JSON.stringify({
        message: 'gateway fan-out chunk: re-queueing failed recipients failed',
        fanoutId: chunk.fanoutId,
        chunk: chunk.index,
        recipients: retryable.length,
        error: String(error),
      }),
    );
    return 0;
  }
}

function logLine(report: ChunkReport, durationMs: number, outcome: 'delivered' | 'failed', requeued: number | undefined): FanoutWorkerLogLine {
  const failedCodes: Record<string, number> = {};
  for (const f of report.failed) failedCodes[f.error.code] = (failedCodes[f.error.code] ?? 0) + 1;
  return {
    message: 'gateway fan-out chunk',
    fanoutId: report.fanoutId,
    chunk: report.index,
    chunks: report.count,
    operation: report.operation,
    recipients: report.recipients,
    sent: report.sent.length,
    gone: report.gone.length,
    failed: report.failed.length,
    failedIds: report.failed.map((f) => f.connectionId),
    failedCodes,
    rounds: report.rounds,
    ...(requeued !== undefined ? { requeued } : {}),
    durationMs,
    outcome,
  };
}
