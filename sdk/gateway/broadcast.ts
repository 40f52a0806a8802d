/**
 * sendToAll to every connection: the ids come from an eventually consistent parallel Scan of the
 * connections table (small items: the id is most of each), and each page goes on as it arrives,
 * with the exclusion list applied to it: posted at once (inline), or, with `fanout`, held until the
 * count passes `fanout.threshold` and from then on queued to the worker in chunks as they fill. The
 * caller holds a few pages per scan segment and one chunk, not every id: its memory no longer grows
 * with the number of connections (apart from the report's `sent` list, inline).
 *
 * Why eventually consistent is safe here: a Scan is not a snapshot even when strongly consistent, so
 * a connection that registers while a broadcast runs can be missed either way (and API Gateway
 * refuses posts to a connection whose $connect has not returned). An eventually consistent read
 * widens that window by the replication lag (AWS: usually under a second), for half the read cost.
 * "Bind, then send at once" does not apply: sendToUid and sendToGroup keep strongly consistent
 * Queries. A stale read can also return a connection removed a moment ago: its post answers 410
 * and the prune finds nothing left to delete.
 *
 * With fan-out, each chunk carries its share of `fanout.rateLimit`: rateLimit / min(chunks,
 * maxConcurrentChunks). With maxConcurrentChunks set, that share does not depend on how many chunks
 * there will be, and the pages stream as above. Without it the share needs the number of chunks
 * before the first one goes, so a broadcast that passes the threshold first counts the connections
 * (an eventually consistent Select COUNT scan: its read units again; one that stays under the
 * threshold pays nothing more) and splits the budget over the chunks that count makes. Connections that open between the count and the scan can add a chunk or two,
 * each with its share on top of the budget (one chunk per chunkSize new connections).
 *
 * A page that fails (after the SDK's own retries) rejects the call, as every scan does; the pages
 * before it have been posted or queued by then.
 */
import { performance } from 'node:perf_hooks';
import type { GatewayError } from '../errors.ts';
import { buildChunks, chunkRate, MAX_CHUNK_EVENT_BYTES, newFanoutId, queueChunks, type ResolvedFanoutOptions } from '../Fanout.ts';
import { sha256Hex } from '../sigv4.ts';
import type { GatewayContext } from './context.ts';
import { ConcurrencyLimit, postAll, pruneGone, pushCopy } from './delivery.ts';
import { newPushId } from '../pushId.ts';
import type { SendReport } from './types.ts';

/** Items a scan page reads: bounds what the caller holds; each page's read is rounded up to 4 KB once. */
export const BROADCAST_PAGE_ITEMS = 2000;

/** A chunk's JSON at most: buildChunks assumes an index no longer than the count, which a streamed index can outgrow by a few digits. */
const STREAMED_CHUNK_BYTES = MAX_CHUNK_EVENT_BYTES - 32;

export async function broadcast(ctx: GatewayContext, payload: Buffer, exclude: ReadonlySet<string>): Promise<SendReport> {
  const started = performance.now();
  const payloadHash = sha256Hex(payload);
  // The connections that take envelopes (docs/guides/recovery.md), as the scan's pages say.
  const enveloped = new Set<string>();
  const pushId = newPushId();
  const push = pushCopy(pushId, payload, (id) => enveloped.has(id));
  const slots = new ConcurrencyLimit(ctx.concurrency);
  const call = { counters: { throttled: 0 } };
  const sent: string[] = [];
  const gone: string[] = [];
  const failed: Array<{ connectionId: string; error: GatewayError }> = [];
  let recipients = 0;
  let firstOut: number | undefined;
  let pruneMs = 0;
  const fanout = ctx.fanout;
  // With fan-out: ids held back until there are more than the threshold (then chunked), else
  // posted inline at the end.
  let held: string[] | undefined = fanout ? [] : undefined;
  let chunks: ChunkQueue | undefined;
  let chunksReady: Promise<ChunkQueue> | undefined;
  const chunkQueue = async (fan: ResolvedFanoutOptions): Promise<ChunkQueue> => {
    if (fan.maxConcurrentChunks !== undefined)
      return new ChunkQueue(ctx, fan, payload, chunkRate(fan.rateLimit, fan.maxConcurrentChunks, fan.maxConcurrentChunks), pushId, enveloped);
    let count = 0;
    await ctx.store.scan('sendToAll', 'connections', { count: true, consistent: false, nowMs: Date.now() }, (_items, n) => {
      count += n;
    });
    return new ChunkQueue(
      ctx,
      fan,
      payload,
      chunkRate(fan.rateLimit, chunksFor(Math.max(count, fan.threshold + 1), fan.chunkSize, payload), undefined),
      pushId,
      enveloped,
    );
  };

  const post = async (ids: string[]) => {
    if (ids.length === 0) return;
    firstOut ??= performance.now();
    const outcome = await postAll(ctx, ids, payload, payloadHash, call, slots, push);
    for (const id of outcome.sent) sent.push(id);
    for (const id of outcome.gone) gone.push(id);
    for (const f of outcome.failed) failed.push(f);
    if (outcome.gone.length > 0) {
      const pruneStarted = performance.now();
      await pruneGone(ctx, 'sendToAll', outcome.gone, undefined, { pushId, payload });
      pruneMs += performance.now() - pruneStarted;
    }
  };

  await ctx.store.scan(
    'sendToAll',
    'connections',
    { attributes: ['connectionId', 'env'], consistent: false, nowMs: Date.now(), pageLimit: BROADCAST_PAGE_ITEMS },
    async (items) => {
      const ids: string[] = [];
      for (const item of items) {
        const id = item.connectionId as string;
        if (exclude.has(id)) continue;
        ids.push(id);
        if (item.env === true) enveloped.add(id);
      }
      recipients += ids.length;
      if (chunks) return chunks.add(ids);
      if (held && fanout) {
        for (const id of ids) held.push(id);
        if (held.length <= fanout.threshold) return;
        // Past the threshold: chunks from now on. Segments that get here while the queue is being
        // made (a COUNT scan) have put their ids in `held` already; the first to resume flushes it.
        chunksReady ??= chunkQueue(fanout);
        const queue = await chunksReady;
        if (chunks) return;
        chunks = queue;
        firstOut ??= performance.now();
        const all = held;
        held = undefined;
        return chunks.add(all);
      }
      return post(ids);
    },
  );
  const scanned = performance.now();
  if (held) await post(held);
  if (chunks) await chunks.finish();
  const ended = performance.now();

  const report: SendReport = chunks ? { recipients, sent: [], gone: [], failed: chunks.failed, queued: chunks.handle() } : { recipients, sent, gone, failed };
  ctx.onSendCompleted?.({
    operation: 'sendToAll',
    recipients,
    sent: report.sent.length,
    gone: report.gone.length,
    failed: report.failed.length,
    bytes: payload.length,
    resolveMs: scanned - started,
    deliverMs: ended - (firstOut ?? scanned) - pruneMs,
    pruneMs,
    throttled: call.counters.throttled,
    ...(chunks ? { queued: chunks.queuedRecipients, chunks: chunks.queuedChunks, failedChunks: chunks.failedChunks } : {}),
  });
  return report;
}

/**
 * How many chunks `count` recipients make: full batches of chunkSize, each as many chunks as
 * buildChunks makes of it (more than one when a large message leaves no room for chunkSize ids).
 */
function chunksFor(count: number, chunkSize: number, payload: Buffer): number {
  const batch = new Map(Array.from({ length: Math.min(count, chunkSize) }, (_, i) => [`${String(i).padStart(15, '0')}=`, []]));
  const perBatch = buildChunks('count', 'sendToAll', payload, batch, chunkSize, STREAMED_CHUNK_BYTES, { pushId: newPushId(), enveloped: () => true }).length;
  return Math.ceil(count / chunkSize) * perBatch;
}

/** Chunks of one streamed fan-out, queued to the worker as they fill. */
class ChunkQueue {
  readonly id = newFanoutId();
  readonly failed: Array<{ connectionId: string; error: GatewayError }> = [];
  queuedChunks = 0;
  queuedRecipients = 0;
  failedChunks = 0;
  private buffer: string[] = [];
  private nextIndex = 0;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly fanout: ResolvedFanoutOptions,
    private readonly payload: Buffer,
    /** Each chunk's share of fanout.rateLimit. */
    private readonly rate: number,
    private readonly pushId: string,
    private readonly enveloped: ReadonlySet<string>,
  ) {}

  async add(ids: readonly string[]): Promise<void> {
    for (const id of ids) this.buffer.push(id);
    while (this.buffer.length >= this.fanout.chunkSize) await this.queue(this.buffer.splice(0, this.fanout.chunkSize));
  }

  async finish(): Promise<void> {
    while (this.buffer.length > 0) await this.queue(this.buffer.splice(0, this.fanout.chunkSize));
  }

  handle(): NonNullable<SendReport['queued']> {
    return {
      id: this.id,
      functionName: this.fanout.functionName,
      chunks: this.queuedChunks,
      recipients: this.queuedRecipients,
      failedChunks: this.failedChunks,
      chunkRate: this.rate,
    };
  }

  private async queue(ids: string[]): Promise<void> {
    // The total is unknown while the scan runs: count 0.
    const push = { pushId: this.pushId, enveloped: (id: string) => this.enveloped.has(id) };
    const built = buildChunks(this.id, 'sendToAll', this.payload, new Map(ids.map((id) => [id, []])), this.fanout.chunkSize, STREAMED_CHUNK_BYTES, push).map(
      (chunk) => ({
        ...chunk,
        index: this.nextIndex++,
        count: 0,
        rate: this.rate,
      }),
    );
    const outcome = await queueChunks(this.fanout, built, { ...this.ctx.retryBackoff, random: this.ctx.random });
    for (const chunk of outcome.queued) {
      this.queuedChunks++;
      this.queuedRecipients += chunk.recipients.length;
    }
    for (const { chunk, error } of outcome.failed) {
      this.failedChunks++;
      for (const connectionId of chunk.recipients) this.failed.push({ connectionId, error });
    }
  }
}
