/**
 * The delivery path every send ends in: inline posts with bounded concurrency (ConnectionsApi
 * retries each post, and paces every attempt to the process's `sendRate`), or chunks queued to the
 * fan-out worker past `fanout.threshold`, each carrying its share of the broadcast's request-rate
 * budget; then the 410 pruning of the connections found gone. deliverChunk is the worker's side of
 * a chunk: paced to the chunk's share, with 429s retried until the worker's deadline.
 */
import { performance } from 'node:perf_hooks';
import { sleep, type CallOptions } from '../ConnectionsApi.ts';
import { RateLimiter } from '../RateLimiter.ts';
import { forEachConcurrent, type ItemRef } from '../ConnectionStore.ts';
import { ValidationError, type GatewayError } from '../errors.ts';
import {
  buildChunks,
  chunkRate,
  isRetryable,
  MAX_NOT_BEFORE_WAIT_MS,
  newFanoutId,
  parseChunk,
  queueChunks,
  type FanoutOperation,
  type ResolvedFanoutOptions,
} from '../Fanout.ts';
import { sha256Hex } from '../sigv4.ts';
import { checkOptionsObject, describe } from '../validation.ts';
import { envelope, newPushId } from '../pushId.ts';
import { asGatewayError, itemsOf, type GatewayContext, type Recipients } from './context.ts';
import { recoverGone, type GonePush } from './recovery.ts';
import type { ChunkReport, DeliverChunkOptions, SendMetrics, SendReport } from './types.ts';
// A cycle (presence.ts sends through here): only functions cross it, called after both modules loaded.
import { announceDepartures } from './presence.ts';

/** API Gateway answers 410 while `$connect` runs (up to its 29 s timeout): such connections are not pruned. */
export const CONNECT_GRACE_MS = 30_000;
/** Inline delivery, or chunks to the fan-out worker past the threshold. */
export function dispatch(ctx: GatewayContext, operation: FanoutOperation, recipients: Recipients, payload: Buffer, resolveMs: number): Promise<SendReport> {
  if (ctx.fanout && recipients.size > ctx.fanout.threshold) return fanOut(ctx, ctx.fanout, operation, recipients, payload, resolveMs);
  return deliver(ctx, operation, recipients, payload, resolveMs);
}

/** Splits the recipients into chunks and queues one asynchronous worker invocation per chunk. */
export async function fanOut(
  ctx: GatewayContext,
  fanout: ResolvedFanoutOptions,
  operation: FanoutOperation,
  recipients: Recipients,
  payload: Buffer,
  resolveMs: number,
): Promise<SendReport> {
  const started = performance.now();
  const id = newFanoutId();
  // One push id for the whole send, in every chunk: a chunk Lambda runs twice posts it twice, and the browser client drops the second.
  const built = buildChunks(id, operation, payload, recipients, fanout.chunkSize, undefined, {
    pushId: newPushId(),
    enveloped: (connectionId) => takesEnvelope(recipients, connectionId),
  });
  const rate = chunkRate(fanout.rateLimit, built.length, fanout.maxConcurrentChunks);
  const chunks = built.map((chunk) => ({ ...chunk, rate }));
  const outcome = await queueChunks(fanout, chunks, { ...ctx.retryBackoff, random: ctx.random });
  const failed = outcome.failed.flatMap(({ chunk, error }) => chunk.recipients.map((connectionId) => ({ connectionId, error })));
  const queuedRecipients = outcome.queued.reduce((sum, chunk) => sum + chunk.recipients.length, 0);
  const report: SendReport = {
    recipients: recipients.size,
    sent: [],
    gone: [],
    failed,
    queued: {
      id,
      functionName: fanout.functionName,
      chunks: outcome.queued.length,
      recipients: queuedRecipients,
      failedChunks: outcome.failed.length,
      chunkRate: rate,
    },
  };
  ctx.onSendCompleted?.({
    operation,
    recipients: recipients.size,
    sent: 0,
    gone: 0,
    failed: failed.length,
    bytes: payload.length,
    resolveMs,
    deliverMs: performance.now() - started,
    pruneMs: 0,
    queued: queuedRecipients,
    chunks: outcome.queued.length,
    failedChunks: outcome.failed.length,
  });
  return report;
}

export async function deliverChunk(ctx: GatewayContext, event: unknown, options: DeliverChunkOptions = {}): Promise<ChunkReport> {
  const { chunk, payload, via, enveloped } = parseChunk(event);
  const input = checkOptionsObject(options, 'options');
  const extraRounds = input.extraRounds ?? 2;
  const roundDelayMs = input.roundDelayMs ?? 1000;
  const deadlineMs = input.deadlineMs;
  if (typeof extraRounds !== 'number' || !Number.isInteger(extraRounds) || extraRounds < 0)
    throw new ValidationError(`options.extraRounds must be a whole number >= 0, got ${describe(extraRounds)}`);
  if (typeof roundDelayMs !== 'number' || !(roundDelayMs >= 0))
    throw new ValidationError(`options.roundDelayMs must be a number >= 0, got ${describe(roundDelayMs)}`);
  if (deadlineMs !== undefined && (typeof deadlineMs !== 'number' || !Number.isFinite(deadlineMs)))
    throw new ValidationError(`options.deadlineMs must be epoch ms, got ${describe(deadlineMs)}`);
  const payloadHash = sha256Hex(payload);
  const push = chunk.pushId !== undefined ? pushCopy(chunk.pushId, payload, (id) => enveloped.has(id)) : undefined;
  const sent: string[] = [];
  const gone: string[] = [];
  const failedForGood: Array<{ connectionId: string; error: GatewayError }> = [];
  let failed: Array<{ connectionId: string; error: GatewayError }> = [];
  // A re-queued chunk waits out its pause (bounded, and never past the deadline) before posting.
  if (chunk.notBefore !== undefined) {
    const wait = Math.min(chunk.notBefore - Date.now(), MAX_NOT_BEFORE_WAIT_MS, deadlineMs !== undefined ? deadlineMs - Date.now() : Number.POSITIVE_INFINITY);
    if (wait > 0) await sleep(wait);
  }
  const started = performance.now();
  let pending: readonly string[] = chunk.recipients;
  let rounds = 0;
  // The chunk's share of its broadcast's budget, for every attempt of every round.
  const call = {
    ...(chunk.rate !== undefined ? { limiter: new RateLimiter({ rate: chunk.rate }) } : {}),
    ...(deadlineMs !== undefined ? { deadlineMs } : {}),
    counters: { throttled: 0 },
  };
  for (;;) {
    const roundStarted = performance.now();
    const outcome = await postAll(ctx, pending, payload, payloadHash, call, undefined, push);
    rounds++;
    const roundMs = performance.now() - roundStarted;
    sent.push(...outcome.sent);
    gone.push(...outcome.gone);
    const retryable = outcome.failed.filter((f) => isRetryable(f.error));
    failedForGood.push(...outcome.failed.filter((f) => !isRetryable(f.error)));
    failed = [...failedForGood, ...retryable];
    if (retryable.length === 0 || rounds > extraRounds) break;
    const pause = roundDelayMs * 2 ** (rounds - 1);
    if (deadlineMs !== undefined && Date.now() + pause + roundMs > deadlineMs) break;
    await sleep(pause);
    pending = retryable.map((f) => f.connectionId);
  }
  const delivered = performance.now();
  if (gone.length > 0) {
    const sources: Recipients = new Map(gone.map((id) => [id, via.map((v) => ({ role: v.role, key: v.key, connectionId: id }))]));
    await pruneGone(ctx, chunk.operation, gone, sources, push && { pushId: push.id, payload });
  }
  ctx.onSendCompleted?.({
    operation: chunk.operation,
    recipients: chunk.recipients.length,
    sent: sent.length,
    gone: gone.length,
    failed: failed.length,
    bytes: payload.length,
    resolveMs: 0,
    deliverMs: delivered - started,
    pruneMs: performance.now() - delivered,
    throttled: call.counters.throttled,
  });
  return {
    fanoutId: chunk.fanoutId,
    index: chunk.index,
    count: chunk.count,
    operation: chunk.operation,
    rounds,
    recipients: chunk.recipients.length,
    sent,
    gone,
    failed,
  };
}

export interface PostOutcome {
  readonly sent: string[];
  readonly gone: string[];
  readonly failed: Array<{ connectionId: string; error: GatewayError }>;
}

/**
 * Posts to every id with bounded concurrency (`concurrency` posts at once, or as many as `slots`
 * lets through when several pages are posted at the same time); each id ends in exactly one list.
 */
export async function postAll(
  ctx: GatewayContext,
  ids: readonly string[],
  payload: Buffer,
  payloadHash: string,
  call: CallOptions,
  slots?: ConcurrencyLimit,
  push?: PushCopy,
): Promise<PostOutcome> {
  const sent: string[] = [];
  const gone: string[] = [];
  const failed: Array<{ connectionId: string; error: GatewayError }> = [];
  const postOne = async (id: string) => {
    try {
      const wrapped = push?.enveloped(id);
      if ((await ctx.api.post(id, wrapped ? push!.payload : payload, wrapped ? push!.hash : payloadHash, call)) === 'sent') sent.push(id);
      else gone.push(id);
    } catch (error) {
      failed.push({ connectionId: id, error: asGatewayError(error) });
    }
  };
  await forEachConcurrent(ids, ctx.concurrency, slots ? (id) => slots.run(() => postOne(id)) : postOne);
  return { sent, gone, failed };
}

/**
 * The enveloped copy of one send's message (sdk/pushId.ts), for the recipients that take envelopes.
 * Built once per send (and per chunk): a steady-state push costs one buffer copy, no DynamoDB call.
 */
export interface PushCopy {
  readonly id: string;
  readonly payload: Buffer;
  readonly hash: string;
  enveloped(connectionId: string): boolean;
}

/** The enveloped copy, or undefined when the message goes raw to everyone (binary, or too long to wrap). */
export function pushCopy(pushId: string, payload: Buffer, enveloped: (connectionId: string) => boolean): PushCopy | undefined {
  const wrapped = envelope(pushId, payload);
  if (!wrapped) return undefined;
  return { id: pushId, payload: wrapped, hash: sha256Hex(wrapped), enveloped };
}

/** Whether a recipient was found through an index item that says it takes envelopes. */
export function takesEnvelope(recipients: Recipients, connectionId: string): boolean {
  return recipients.get(connectionId)?.some((source) => source.env === true) ?? false;
}

/** At most `size` tasks at once across all callers (forEachConcurrent bounds one call only). */
export class ConcurrencyLimit {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Posts `payload` to every recipient with bounded concurrency, then prunes the gone ones (the
 * connection item, its index items, and the index items each recipient was found through).
 * Recipient resolution stays outside, so that a caller can hand chunks to worker Lambdas.
 */
export async function deliver(
  ctx: GatewayContext,
  operation: SendMetrics['operation'],
  recipients: Recipients,
  payload: Buffer,
  resolveMs: number,
): Promise<SendReport> {
  const ids = [...recipients.keys()];
  const started = performance.now();
  const call = { counters: { throttled: 0 } };
  const pushId = newPushId();
  const push = pushCopy(pushId, payload, (id) => takesEnvelope(recipients, id));
  const { sent, gone, failed } = await postAll(ctx, ids, payload, sha256Hex(payload), call, undefined, push);
  const delivered = performance.now();
  if (gone.length > 0) await pruneGone(ctx, operation, gone, recipients, { pushId, payload });
  const report: SendReport = { recipients: ids.length, sent, gone, failed };
  ctx.onSendCompleted?.({
    operation,
    recipients: ids.length,
    sent: sent.length,
    gone: gone.length,
    failed: failed.length,
    bytes: payload.length,
    resolveMs,
    deliverMs: delivered - started,
    pruneMs: performance.now() - delivered,
    throttled: call.counters.throttled,
  });
  return report;
}

/**
 * Removes what a connection found gone (410) left: its connection item (unless younger than
 * CONNECT_GRACE_MS), then its session, memberships and index items, and the index items it was found
 * through (`sources`). Best effort: a prune that fails is logged, and TTL removes the items later.
 * A connection the conditional delete keeps (young, or one the browser client may resume) goes to
 * the recovery path with the push (sdk/gateway/recovery.ts): buffered, redirected, or pruned there.
 */
export async function pruneGone(ctx: GatewayContext, operation: string, ids: readonly string[], sources?: Recipients, push?: GonePush): Promise<void> {
  const cutoff = Date.now() - CONNECT_GRACE_MS;
  await Promise.all(
    ids.map(async (id) => {
      try {
        const old = await ctx.store.pruneConnection(operation, id, cutoff);
        if (old === 'young') {
          await recoverGone(ctx, operation, id, push, sources?.get(id) ?? []);
          return;
        }
        const items: ItemRef[] = [...(sources?.get(id) ?? [])];
        // No connection item: $disconnect (or an earlier prune) already removed the rest.
        const memberships = old ? await ctx.store.queryMembershipItems(operation, id, Date.now()) : [];
        if (old)
          items.push(
            ...itemsOf(
              old,
              memberships.map((m) => m.group),
            ),
          );
        await ctx.store.deleteItems(operation, items);
        // Its $disconnect will find nothing left: the presence groups hear of the departure here.
        await announceDepartures(ctx, operation, memberships);
      } catch (error) {
        ctx.logger.warn(`gateway: could not prune gone connection ${id}: ${(error as Error)?.message ?? error}`, error);
      }
    }),
  );
}
