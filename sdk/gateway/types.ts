/** The public types of Gateway's results and of its callbacks (re-exported by sdk/index.ts). */
import type { GatewayError } from '../errors.ts';
import type { FanoutHandle, FanoutOperation } from '../Fanout.ts';
import type { Session } from '../validation.ts';

export type { Session };

/** A string or bytes are sent as they are; anything else is JSON.stringify'd once per call. */
export type Message = string | Uint8Array | unknown;

/**
 * The outcome of a send, per recipient. Inline (no `queued`), a recipient is in exactly one of sent,
 * gone, failed. Chunked (`queued` is set): sent and gone are empty, `failed` holds the recipients of
 * the chunks that could not be queued (each with the `Invoke` error), every other recipient is in a
 * queued chunk, and `queued.recipients + failed.length === recipients`. A worker's log line reports
 * what became of the recipients of its chunk.
 */
export interface SendReport {
  /** Distinct connections the message was for, after de-duplication and exclusions. */
  readonly recipients: number;
  /** Accepted by API Gateway (200). */
  readonly sent: string[];
  /** Not connected (410); their items were pruned from DynamoDB. */
  readonly gone: string[];
  /**
   * Anything else, after retries: ThrottledError, ServiceError, ForbiddenError, NetworkError, ...
   * When chunked, the recipients of the chunks Lambda did not accept. To try them again:
   * `sendToAll(message, { clientIds: report.failed.map((f) => f.connectionId) })`.
   */
  readonly failed: Array<{ readonly connectionId: string; readonly error: GatewayError }>;
  /** Present when the send went to the fan-out workers (more recipients than `fanout.threshold`). */
  readonly queued?: FanoutHandle;
}

/** What the worker's `deliverChunk` did with one chunk: a SendReport, plus the chunk and the rounds. */
export interface ChunkReport extends SendReport {
  readonly fanoutId: string;
  readonly index: number;
  readonly count: number;
  readonly operation: FanoutOperation;
  /** Delivery rounds run: 1, plus one per extra round for retryable failures. */
  readonly rounds: number;
}

export interface DeliverChunkOptions {
  /**
   * Extra rounds for the recipients whose post still failed with a retryable error (429, 5xx,
   * network) after the per-post retries; each only posts to those. 0 turns them off.
   * @default 2
   */
  readonly extraRounds?: number;
  /** The pause before extra round n is roundDelayMs * 2^(n-1). @default 1000 */
  readonly roundDelayMs?: number;
  /**
   * Epoch ms by which delivery must be over (a worker passes its invocation deadline minus a margin):
   * an extra round starts only if its pause plus the previous round's duration ends before it.
   * @default none
   */
  readonly deadlineMs?: number;
}

/** The outcome of closeUid, per connection of the uid. */
export interface CloseReport {
  readonly recipients: number;
  /** Closed by this call. */
  readonly closed: string[];
  /** Already gone (410); pruned. */
  readonly gone: string[];
  readonly failed: Array<{ readonly connectionId: string; readonly error: GatewayError }>;
}

/** What one send cost, for `onSendCompleted`. */
export interface SendMetrics {
  readonly operation: 'sendToClient' | 'sendToUid' | 'sendToGroup' | 'sendToAll';
  readonly recipients: number;
  readonly sent: number;
  readonly gone: number;
  readonly failed: number;
  readonly bytes: number;
  /** Time spent finding the recipients (DynamoDB). */
  readonly resolveMs: number;
  /** Time spent posting, retries included. */
  readonly deliverMs: number;
  /** Time spent pruning gone connections. */
  readonly pruneMs: number;
  /**
   * `@connections` answers with 429 during the send, every attempt counted: a post answered 429
   * twice and then sent counts 2 here and 1 in `sent`. Absent (0) for a send that went to the workers.
   */
  readonly throttled?: number;
  /** Chunked sends only: recipients in the chunks Lambda accepted, and how many chunks (deliverMs is then the time spent invoking). */
  readonly queued?: number;
  readonly chunks?: number;
  /** Chunked sends only: chunks Lambda did not accept (their recipients are in `failed`). */
  readonly failedChunks?: number;
}

export interface ConnectionRecord {
  readonly connectionId: string;
  /** Epoch ms of the handshake. */
  readonly connectedAt: number;
  readonly sourceIp?: string;
  readonly userAgent?: string;
  readonly uid?: string;
  /** Sorted. */
  readonly groups: string[];
  readonly session: Session;
  /** The session's optimistic-lock version; bumped by every setSession and updateSession. */
  readonly version: number;
  /** Epoch seconds when DynamoDB's TTL may delete the item. */
  readonly expiresAt?: number;
}
