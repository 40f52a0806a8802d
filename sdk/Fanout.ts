/**
 * Chunked fan-out: past a threshold, a send hands its recipients to worker Lambdas in chunks instead
 * of posting to each of them from the calling process.
 *
 * ## Why asynchronous invocations, not an SQS queue
 * Both put an AWS queue in front of the workers. Measured here (bench/chunked.ts, local gateway,
 * 2 cores) and read from AWS's documentation:
 * - Start-up under a burst. An async `Invoke` goes to Lambda's internal queue and the function scales
 *   at once up to its reserved concurrency. An SQS event source mapping polls: it "starts processing
 *   five batches at a time with five concurrent invocations" and adds "up to 300 more instances per
 *   minute" (Lambda developer guide, SQS scaling). A broadcast is exactly such a burst: 100 chunks
 *   would start 5 at a time on SQS.
 * - Hops. Async invoke: caller -> Lambda (202) -> worker. SQS: caller -> SQS -> poller (long
 *   polling, optional batch window) -> worker; one more service and one more billed request per
 *   chunk, and the caller needs a queue URL and `sqs:SendMessage` as well as the function.
 * - Caller cost, measured (bench/chunked.ts: 10,000 local connections, two runs on a quiet 2-core
 *   machine): a chunked sendToGroup returns in 95-103 ms, ~80 ms of it the DynamoDB query every path
 *   pays, against 710-790 ms inline, and costs the calling process 29-32 ms of CPU against 500-580 ms.
 *   One `Invoke` (Event) costs the caller 0.61-0.65 ms of CPU and 0.7-1.0 ms of latency through the
 *   SDK's own signed invoke (sdk/lambdaInvoke.ts), whether it carries a 19 KB chunk or `{}`; through
 *   @aws-sdk/client-lambda 1.4-2.4 ms in the same runs (two runs of bench/chunked.ts's invoke table on
 *   a loaded machine) and 1.0-1.1 ms on a quiet one. (The caller-CPU figures above were measured with
 *   @aws-sdk/client-lambda.) SQS's SendMessageBatch would carry 10 chunks
 *   per call and save up to ~0.6 ms per chunk, ~60 ms of CPU for 100,000 recipients (100 chunks) spread
 *   over a 50 s broadcast: nothing that decides. (SQS is
 *   not measured: the local gateway has no SQS, and no SQS client is among the dependencies.)
 * - End to end locally the chunked path delivers 9,800-10,800 recipients/s against 12,600-14,000
 *   inline: the local gateway runs every chunk in ONE execution environment, a worker thread of its
 *   own process, on the same two cores. On AWS each chunk has an environment of its own, up to the
 *   worker's reserved concurrency.
 * - Failure handling is equal in substance. Async invoke: a function error is retried 0-2 times
 *   (1 min, then 2 min later), throttles and 5xx for up to `MaximumEventAgeInSeconds` (6 h max), then
 *   the on-failure destination receives the request payload (an SQS queue here). SQS: redelivery after
 *   the visibility timeout (>= 6x the function timeout), `maxReceiveCount`, a DLQ, and partial batch
 *   responses, which only help with several messages per batch (our unit of work is one chunk).
 *   Neither can retry "only the recipients that failed" by itself; the worker does that (see
 *   lambdas/fanoutWorkerHandler.ts).
 * - Limits. Async `Invoke` accepts 1 MB; SQS messages were 256 KB for most of SQS's life. Chunks are
 *   kept under MAX_CHUNK_EVENT_BYTES either way (see there).
 * - Both are at-least-once: the async queue "is eventually consistent" and may deliver an event
 *   twice, as SQS may. A duplicate chunk means a duplicate message to its recipients.
 * The local gateway serves the Lambda invoke API with Lambda's retries and destinations, so the
 * chunked path runs unchanged locally; it has no SQS.
 *
 * ## The chunk (the worker's event)
 * One JSON object per chunk, FanoutChunk below: the message once (UTF-8 text, or base64 when the
 * bytes are not UTF-8 or base64 is shorter), the recipients' connection ids, the uid / group
 * index keys they were found through (so a 410 prunes the index item the recipient was found by,
 * as an inline send does), and the chunk's share of the broadcast's request-rate budget.
 *
 * ## The request-rate budget
 * API Gateway allows 10,000 requests/s per account and region (2,500 in some newer regions),
 * shared by every REST, HTTP and WebSocket API and every `@connections` call. A broadcast spends
 * `rateLimit` of it (2,000/s by default: a fifth of the usual quota, under the smaller regions'
 * quota too, leaving the rest to `$connect`s, messages and every other API of the account; 100,000
 * recipients take 50 s). The caller cannot pace workers that run elsewhere, so each chunk carries
 * its share: rateLimit / (the chunks that may run at once) = rateLimit / min(chunks,
 * maxConcurrentChunks), and the worker paces its posts to it (sdk/RateLimiter.ts). With the
 * worker's concurrency reserved, maxConcurrentChunks is that reservation (the construct passes it
 * in GATEWAY_FANOUT_CONCURRENCY); without, every chunk may run at once and each gets
 * rateLimit / chunks, so every chunk then takes as long as the whole broadcast (recipients /
 * rateLimit): past rateLimit x the worker's timeout recipients, chunks cannot finish in time, and
 * what a worker could not post before its deadline is reported failed (THROTTLED) in its log line.
 * Each broadcast has its own budget: two at once spend twice the rate.
 */
import { randomUUID } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { sleep } from './ConnectionsApi.ts';
import { ConfigurationError, ForbiddenError, GatewayError, NetworkError, ServiceError, ThrottledError, ValidationError } from './errors.ts';
import { LambdaEventInvoker, lambdaEndpoint, type FanoutInvokeCommand, type FanoutInvokeOutput } from './lambdaInvoke.ts';
import { isPushId } from './pushId.ts';
import { checkAwsConnectionId, checkClientIds, checkGroup, checkOptionsObject, checkUid, describe, MAX_MESSAGE_BYTES } from './validation.ts';

export type { FanoutInvokeCommand, FanoutInvokeOutput } from './lambdaInvoke.ts';

/**
 * What invokes the worker: a LambdaClient (it gets an InvokeCommand), or anything with a `send` for
 * `{ input: { FunctionName, InvocationType: 'Event', Payload } }` (it gets that plain object).
 * Structural, so the package's types do not need @aws-sdk/client-lambda, which the SDK itself does
 * not use (sdk/lambdaInvoke.ts).
 */
export interface FanoutInvoker {
  send(command: FanoutInvokeCommand): Promise<FanoutInvokeOutput>;
}

type InvokeCommandClass = new (input: FanoutInvokeCommand['input']) => FanoutInvokeCommand;
let invokeCommandClass: Promise<InvokeCommandClass> | undefined;

/**
 * InvokeCommand, for a LambdaClient given as `fanout.lambda` (whoever built one has
 * @aws-sdk/client-lambda), loaded on the first chunk it sends. The `.then(ok, fail)` form lets a
 * bundler (esbuild) leave the import in place when the package is absent instead of failing the build.
 */
function loadInvokeCommand(): Promise<InvokeCommandClass> {
  invokeCommandClass ??= import('@aws-sdk/client-lambda').then(
    (module: { InvokeCommand: unknown }) => module.InvokeCommand as InvokeCommandClass,
    (error: unknown) => {
      invokeCommandClass = undefined;
      throw new ConfigurationError(
        'fanout.lambda is a LambdaClient, and its InvokeCommand needs @aws-sdk/client-lambda, which this install cannot load: npm install @aws-sdk/client-lambda',
        { cause: error },
      );
    },
  );
  return invokeCommandClass;
}

/** An AWS SDK v3 client (it runs commands through a middleware stack), as opposed to a plain stand-in. */
function isAwsSdkClient(invoker: FanoutInvoker): boolean {
  return typeof (invoker as { middlewareStack?: { add?: unknown } }).middlewareStack?.add === 'function';
}

export interface FanoutOptions {
  /**
   * Name or ARN of the worker Lambda (GatewayBackend's `fanoutWorkerFunction`; its handler is
   * lambdas/fanoutWorker.ts). `Gateway.fromEnv()` reads it from GATEWAY_FANOUT_FUNCTION.
   */
  readonly functionName: string;
  /**
   * sendToUid, sendToGroup and sendToAll with more distinct recipients than this (after
   * de-duplication and exclusions) are chunked; up to this many are posted inline, as without
   * `fanout`. sendToClient is never chunked. `Gateway.fromEnv()` reads GATEWAY_FANOUT_THRESHOLD.
   * @default 1000
   */
  readonly threshold?: number;
  /**
   * Most recipients in one chunk. A send is split into ceil(n / chunkSize) chunks of nearly equal
   * size; more when the ids and the message would not fit MAX_CHUNK_EVENT_BYTES.
   * @default 1000
   */
  readonly chunkSize?: number;
  /** `Invoke` calls in flight at once. @default 8 */
  readonly invokeConcurrency?: number;
  /**
   * Retries of one chunk's `Invoke` after a throttle (429), a 5xx or a network error, with the
   * Gateway's full-jitter backoff (`retryBaseDelayMs`, `retryMaxDelayMs`). Other errors (403, 404,
   * 413, ...) are not retried.
   * @default 3
   */
  readonly maxRetries?: number;
  /**
   * A LambdaClient (or a stand-in with its `send`) to invoke the worker with instead of the SDK's own.
   * @default the SDK's signed HTTP(S) invoke for the Gateway's region and credentials (sdk/lambdaInvoke.ts),
   * no retries of its own (Fanout retries); it honours AWS_ENDPOINT_URL_LAMBDA, so a local gateway needs nothing else
   */
  readonly lambda?: FanoutInvoker;
  /**
   * `@connections` requests per second the whole broadcast may spend, retries included; each chunk
   * gets rateLimit / min(chunks, maxConcurrentChunks). `Gateway.fromEnv()` reads GATEWAY_FANOUT_RATE.
   * @default 2000
   */
  readonly rateLimit?: number;
  /**
   * The most chunks of one send that run at once: the worker's reserved concurrency, when it has one
   * (`Gateway.fromEnv()` reads GATEWAY_FANOUT_CONCURRENCY, which the construct sets from it).
   * @default - no bound known: every chunk may run at once
   */
  readonly maxConcurrentChunks?: number;
}

/** What a chunked send queued. Part of the SendReport (`queued`) of a send that went to the workers. */
export interface FanoutHandle {
  /** This send's id; every worker logs it (`fanoutId`), so its chunks can be found in the logs. */
  readonly id: string;
  /** The worker function invoked. */
  readonly functionName: string;
  /** Chunks Lambda accepted (202). */
  readonly chunks: number;
  /** Recipients in those chunks. */
  readonly recipients: number;
  /** Chunks that could not be queued after retries; their recipients are in the report's `failed`. */
  readonly failedChunks: number;
  /** Requests per second each chunk may spend (its share of `fanout.rateLimit`). */
  readonly chunkRate: number;
}

export type FanoutOperation = 'sendToUid' | 'sendToGroup' | 'sendToAll';
export type FanoutIndexRole = 'uids' | 'groups';

/** The worker's event: one chunk of one send. Version 1 of the format. */
export interface FanoutChunk {
  readonly type: typeof FANOUT_CHUNK_TYPE;
  readonly version: 1;
  /** The send's id (FanoutHandle.id). */
  readonly fanoutId: string;
  /**
   * 0-based index of this chunk, and how many chunks the send has: 0 when the sender did not know
   * (sendToAll queues its chunks while its scan still runs).
   */
  readonly index: number;
  readonly count: number;
  readonly operation: FanoutOperation;
  /** The bytes to post: UTF-8 text, or base64. */
  readonly message: { readonly utf8: string } | { readonly base64: string };
  /** Connection ids, each once. */
  readonly recipients: readonly string[];
  /**
   * The index keys (`[role, key]`) this chunk's recipients were found through. On a 410 the worker
   * deletes the index item (key, id) for each of them (a no-op for keys the recipient was not in).
   * Absent for sendToAll.
   */
  readonly via?: ReadonlyArray<readonly [FanoutIndexRole, string]>;
  /**
   * Requests per second this chunk may spend: its share of the broadcast's budget. Absent from
   * chunks of SDKs before the budget, which workers then deliver at the process's own rate only.
   */
  readonly rate?: number;
  /**
   * The send's push id (sdk/pushId.ts), the same in every chunk of the send and in every retry of a
   * chunk: the browser client drops a push id it has seen. Absent from chunks of SDKs before it.
   */
  readonly pushId?: string;
  /** One character per recipient: `1` when it takes the enveloped push (`\x1e<pushId>\x1e<message>`), `0` raw. */
  readonly enveloped?: string;
  /**
   * How many times a worker handed this chunk's recipients on to a new invocation of itself
   * (lambdas/fanoutWorkerHandler.ts): absent in a chunk the sender built. A re-queued chunk holds only
   * the recipients a worker could not reach with a retryable error (429, 5xx, no answer), with the
   * same message, index keys and rate as the chunk it came from.
   */
  readonly requeue?: number;
  /** Epoch ms before which a re-queued chunk's worker does not post (it waits, up to MAX_NOT_BEFORE_WAIT_MS). */
  readonly notBefore?: number;
}

/** A worker re-queues a chunk's retryable failures at most this many times. */
export const MAX_CHUNK_REQUEUES = 2;
/** The longest a worker waits for a chunk's `notBefore`, whatever the chunk says. */
export const MAX_NOT_BEFORE_WAIT_MS = 60_000;

/** The chunk a worker queues for the recipients it could not reach: same message, keys and rate, one more requeue. */
export function requeuedChunk(chunk: FanoutChunk, recipients: readonly string[], notBefore: number): FanoutChunk {
  // `enveloped` has one flag per recipient: keep the flags of the recipients handed on, in their order.
  const flags = chunk.enveloped === undefined ? undefined : new Map(chunk.recipients.map((id, i) => [id, chunk.enveloped![i]!] as const));
  return {
    ...chunk,
    recipients: [...recipients],
    ...(flags ? { enveloped: recipients.map((id) => flags.get(id) ?? '0').join('') } : {}),
    requeue: (chunk.requeue ?? 0) + 1,
    notBefore,
  };
}

export const FANOUT_CHUNK_TYPE = 'gateway.fanout.chunk';

/**
 * Upper bound of one chunk's JSON. `Invoke` accepts 1 MB for an asynchronous invocation, but when a
 * chunk fails for good Lambda sends a record holding the request payload, the error and an envelope
 * to the on-failure destination, and drops the payload from the record when the whole passes the
 * destination's 256 KB message limit (Lambda API reference, OnFailure). 200 KiB keeps the chunk in
 * the record. It always holds the largest message (128 KB, 171 KiB in base64) and 1,500 ids; a
 * typical small message leaves room for 10,000.
 */
export const MAX_CHUNK_EVENT_BYTES = 200 * 1024;

export const FANOUT_DEFAULTS = { threshold: 1000, chunkSize: 1000, invokeConcurrency: 8, maxRetries: 3, rateLimit: 2000 } as const;
/** Largest accepted `rateLimit`: far past any account's API Gateway quota, and short in a chunk's JSON. */
export const MAX_FANOUT_RATE = 1_000_000;
/** Largest accepted `chunkSize`: an SQS-free ceiling that still lets one worker finish a chunk in seconds. */
export const MAX_CHUNK_SIZE = 10_000;

/** Options with defaults applied, as the Gateway holds them. */
export interface ResolvedFanoutOptions {
  readonly functionName: string;
  readonly threshold: number;
  readonly chunkSize: number;
  readonly invokeConcurrency: number;
  readonly maxRetries: number;
  readonly rateLimit: number;
  readonly maxConcurrentChunks: number | undefined;
  readonly lambda: FanoutInvoker;
  /** Closes the invoker the Gateway built, if it built one. */
  readonly destroy: () => void;
}

export function resolveFanoutOptions(
  options: FanoutOptions,
  client: { region: string; credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider },
): ResolvedFanoutOptions {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError(`fanout must be an object or false, got ${describe(options)}`);
  if (typeof options.functionName !== 'string' || options.functionName.trim() === '') {
    throw new ConfigurationError(`fanout.functionName must be the worker Lambda's name or ARN, got ${describe(options.functionName)}`);
  }
  const integer = (name: 'threshold' | 'chunkSize' | 'invokeConcurrency' | 'maxRetries', min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const value = options[name] ?? FANOUT_DEFAULTS[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new ConfigurationError(
        `fanout.${name} must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got ${describe(value)}`,
      );
    }
    return value;
  };
  const rateLimit = options.rateLimit ?? FANOUT_DEFAULTS.rateLimit;
  if (typeof rateLimit !== 'number' || !Number.isFinite(rateLimit) || !(rateLimit > 0) || rateLimit > MAX_FANOUT_RATE) {
    throw new ConfigurationError(`fanout.rateLimit must be a number of requests per second above 0 and at most ${MAX_FANOUT_RATE}, got ${describe(rateLimit)}`);
  }
  const maxConcurrentChunks = options.maxConcurrentChunks;
  if (maxConcurrentChunks !== undefined && (typeof maxConcurrentChunks !== 'number' || !Number.isInteger(maxConcurrentChunks) || maxConcurrentChunks < 1)) {
    throw new ConfigurationError(`fanout.maxConcurrentChunks must be a whole number from 1, got ${describe(maxConcurrentChunks)}`);
  }
  if (options.lambda !== undefined && typeof (options.lambda as { send?: unknown } | null)?.send !== 'function') {
    throw new ConfigurationError(`fanout.lambda must be a client with a send(command) method (a LambdaClient), got ${describe(options.lambda)}`);
  }
  // Built on the first chunked send: a process that never sends that much never pays for the client.
  let built: LambdaEventInvoker | undefined;
  const given = options.lambda;
  const invokeConcurrency = integer('invokeConcurrency', 1);
  // Read now, so that a malformed AWS_ENDPOINT_URL_LAMBDA fails the Gateway's construction, not a send.
  const endpoint = given ? undefined : lambdaEndpoint(client.region);
  const lambda: FanoutInvoker = given
    ? isAwsSdkClient(given)
      ? { send: async (command) => given.send(new (await loadInvokeCommand())(command.input)) }
      : given
    : {
        send: (command) =>
          (built ??= new LambdaEventInvoker({
            endpoint: endpoint!,
            region: client.region,
            ...(client.credentials ? { credentials: client.credentials } : {}),
            maxSockets: invokeConcurrency,
          })).send(command),
      };
  return {
    functionName: options.functionName.trim(),
    threshold: integer('threshold', 0),
    chunkSize: integer('chunkSize', 1, MAX_CHUNK_SIZE),
    invokeConcurrency,
    maxRetries: integer('maxRetries', 0),
    rateLimit,
    maxConcurrentChunks,
    lambda,
    destroy: () => built?.destroy(),
  };
}

/** GATEWAY_FANOUT_THRESHOLD (or another count) as a number, or a ConfigurationError naming the variable. */
export function parseThreshold(name: string, value: string, unit = 'recipients'): number {
  const trimmed = value.trim();
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(Number(trimmed))) {
    throw new ConfigurationError(`environment variable ${name} must be a whole number of ${unit}, got ${JSON.stringify(value)}`);
  }
  return Number(trimmed);
}

/** GATEWAY_FANOUT_RATE (requests per second) as a number, or a ConfigurationError naming the variable. */
export function parseRate(name: string, value: string): number {
  const trimmed = value.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed) || !(Number(trimmed) > 0)) {
    throw new ConfigurationError(`environment variable ${name} must be a positive number of requests per second, got ${JSON.stringify(value)}`);
  }
  return Number(trimmed);
}

/**
 * Each chunk's share of the broadcast's budget: rateLimit over the chunks that may run at once,
 * rounded down to a thousandth so that the shares never add up to more than the budget.
 */
export function chunkRate(rateLimit: number, chunks: number, maxConcurrentChunks: number | undefined): number {
  const atOnce = Math.max(1, Math.min(chunks, maxConcurrentChunks ?? chunks));
  return Math.max(0.001, Math.floor((rateLimit / atOnce) * 1000) / 1000);
}

/** The message as it travels in a chunk: text when the bytes are UTF-8 and that is not longer than base64. */
export function encodeChunkMessage(payload: Buffer): FanoutChunk['message'] {
  const base64 = payload.toString('base64');
  if (isUtf8(payload)) {
    const utf8 = payload.toString('utf8');
    if (Buffer.byteLength(JSON.stringify(utf8)) <= base64.length + 2) return { utf8 };
  }
  return { base64 };
}

/**
 * Splits the recipients (id -> the index keys it was found through) into chunks: at most
 * `chunkSize` ids each and nearly equal counts, and each chunk's JSON at most `maxBytes`. Order is
 * kept, so recipients found through the same key stay together and each chunk's `via` stays short.
 */
export function buildChunks(
  fanoutId: string,
  operation: FanoutOperation,
  payload: Buffer,
  recipients: ReadonlyMap<string, ReadonlyArray<{ readonly role: FanoutIndexRole; readonly key: string }>>,
  chunkSize: number,
  maxBytes = MAX_CHUNK_EVENT_BYTES,
  push?: { readonly pushId: string; enveloped(connectionId: string): boolean },
): FanoutChunk[] {
  const total = recipients.size;
  if (total === 0) return [];
  // Each chunk takes its share of what is left, so counts differ by one at most.
  const share = (left: number) => Math.ceil(left / Math.ceil(left / chunkSize));
  let left = total;
  let target = share(left);
  const message = encodeChunkMessage(payload);
  // The JSON of a chunk with no ids and no keys, with the largest index/count it can have.
  const empty: FanoutChunk = {
    type: FANOUT_CHUNK_TYPE,
    version: 1,
    fanoutId,
    index: total,
    count: total,
    operation,
    message,
    recipients: [],
    via: [],
    rate: MAX_FANOUT_RATE + 0.001,
    ...(push ? { pushId: push.pushId, enveloped: '' } : {}),
  };
  const baseBytes = Buffer.byteLength(JSON.stringify(empty));
  if (baseBytes + 20 > maxBytes) throw new ValidationError(`the message leaves no room for recipients in a ${maxBytes}-byte chunk`);

  const drafts: Array<{ ids: string[]; via: Map<string, readonly [FanoutIndexRole, string]> }> = [];
  let ids: string[] = [];
  let via = new Map<string, readonly [FanoutIndexRole, string]>();
  let bytes = baseBytes;
  const close = () => {
    if (ids.length > 0) drafts.push({ ids, via });
    left -= ids.length;
    if (left > 0) target = share(left);
    ids = [];
    via = new Map();
    bytes = baseBytes;
  };
  for (const [id, sources] of recipients) {
    // The id, its comma, and its character in `enveloped`.
    const idBytes = Buffer.byteLength(JSON.stringify(id)) + 1 + (push ? 1 : 0);
    const newSources = sources.filter((s) => !via.has(`${s.role}\n${s.key}`));
    const sourceBytes = newSources.reduce((sum, s) => sum + Buffer.byteLength(JSON.stringify([s.role, s.key])) + 1, 0);
    if (ids.length > 0 && (ids.length >= target || bytes + idBytes + sourceBytes > maxBytes)) close();
    ids.push(id);
    bytes += idBytes;
    for (const s of sources) {
      const k = `${s.role}\n${s.key}`;
      if (via.has(k)) continue;
      const cost = Buffer.byteLength(JSON.stringify([s.role, s.key])) + 1;
      // A key that does not fit even a chunk of its own is left out: the stale index item it may
      // name is then left to TTL. Only a recipient found through hundreds of long keys gets here.
      if (bytes + cost > maxBytes) continue;
      via.set(k, [s.role, s.key]);
      bytes += cost;
    }
  }
  close();
  return drafts.map((draft, index) => ({
    type: FANOUT_CHUNK_TYPE,
    version: 1,
    fanoutId,
    index,
    count: drafts.length,
    operation,
    message,
    recipients: draft.ids,
    ...(draft.via.size > 0 ? { via: [...draft.via.values()] } : {}),
    ...(push ? { pushId: push.pushId, enveloped: draft.ids.map((id) => (push.enveloped(id) ? '1' : '0')).join('') } : {}),
  }));
}

/** A chunk the worker received, checked: the bytes, the ids, and the index keys for pruning. */
export interface ParsedChunk {
  readonly chunk: FanoutChunk;
  readonly payload: Buffer;
  readonly via: ReadonlyArray<{ readonly role: FanoutIndexRole; readonly key: string }>;
  /** The recipients that take the enveloped push. */
  readonly enveloped: ReadonlySet<string>;
}

/**
 * Checks a worker event; a ValidationError says what is wrong with it (also for an event whose fields
 * cannot be read: a throwing getter or Proxy trap, with what was thrown as its `cause`).
 */
export function parseChunk(event: unknown): ParsedChunk {
  try {
    return parseChunkFields(event);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new ValidationError(`the fan-out chunk could not be read: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}

function parseChunkFields(event: unknown): ParsedChunk {
  if (typeof event !== 'object' || event === null || Array.isArray(event))
    throw new ValidationError(`a fan-out chunk must be an object, got ${describe(event)}`);
  const c = checkOptionsObject(event, 'chunk');
  const type = c.type;
  const version = c.version;
  if (type !== FANOUT_CHUNK_TYPE || version !== 1)
    throw new ValidationError(`not a fan-out chunk of version 1: type ${describe(type)}, version ${describe(version)}`);
  const fanoutId = c.fanoutId;
  if (typeof fanoutId !== 'string' || fanoutId.length === 0 || fanoutId.length > 128)
    throw new ValidationError(`chunk.fanoutId must be a string of 1-128 characters, got ${describe(fanoutId)}`);
  const count = c.count;
  const index = c.index;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0)
    throw new ValidationError(`chunk.count must be a whole number >= 0, got ${describe(count)}`);
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || (count > 0 && index >= count)) {
    throw new ValidationError(`chunk.index must be a whole number below chunk.count (any when count is 0), got ${describe(index)}`);
  }
  const operation = c.operation;
  if (operation !== 'sendToUid' && operation !== 'sendToGroup' && operation !== 'sendToAll') {
    throw new ValidationError(`chunk.operation must be sendToUid, sendToGroup or sendToAll, got ${describe(operation)}`);
  }
  const rawMessage = c.message;
  const message = typeof rawMessage === 'object' && rawMessage !== null ? checkOptionsObject(rawMessage, 'chunk.message') : {};
  const utf8 = message.utf8;
  const base64 = typeof utf8 === 'string' ? undefined : message.base64;
  let payload: Buffer;
  if (typeof utf8 === 'string') payload = Buffer.from(utf8, 'utf8');
  else if (typeof base64 === 'string') payload = Buffer.from(base64, 'base64');
  else throw new ValidationError('chunk.message must be { utf8: string } or { base64: string }');
  if (payload.length > MAX_MESSAGE_BYTES)
    throw new ValidationError(`chunk.message is ${payload.length} bytes; API Gateway accepts at most ${MAX_MESSAGE_BYTES}`);
  // Dense, each a connection id (as AWS supplied it to the tables: the loose check), each once.
  const recipients = checkClientIds(c.recipients, 'chunk.recipients', checkAwsConnectionId);
  const via: Array<{ role: FanoutIndexRole; key: string }> = [];
  const rawVia = c.via;
  if (rawVia !== undefined) {
    if (!Array.isArray(rawVia)) throw new ValidationError(`chunk.via must be an array of [role, key], got ${describe(rawVia)}`);
    for (let i = 0; i < rawVia.length; i++) {
      const entry: unknown = i in rawVia ? rawVia[i] : undefined;
      if (!Array.isArray(entry) || entry.length !== 2 || (entry[0] !== 'uids' && entry[0] !== 'groups')) {
        throw new ValidationError(`chunk.via[${i}] must be ['uids' | 'groups', key], got ${describe(entry)}`);
      }
      const role: FanoutIndexRole = entry[0];
      const key = role === 'uids' ? checkUid(entry[1], `chunk.via[${i}][1]`) : checkGroup(entry[1], `chunk.via[${i}][1]`);
      via.push({ role, key });
    }
  }
  const rate = c.rate;
  if (rate !== undefined && (typeof rate !== 'number' || !Number.isFinite(rate) || !(rate > 0))) {
    throw new ValidationError(`chunk.rate must be a positive number of requests per second, got ${describe(rate)}`);
  }
  const pushId = c.pushId;
  if (pushId !== undefined && !isPushId(pushId)) throw new ValidationError(`chunk.pushId must be a push id (19 characters 0-9a-z), got ${describe(pushId)}`);
  const envelopedFlags = c.enveloped;
  if (
    envelopedFlags !== undefined &&
    (pushId === undefined || typeof envelopedFlags !== 'string' || envelopedFlags.length !== recipients.length || !/^[01]*$/.test(envelopedFlags))
  ) {
    throw new ValidationError(`chunk.enveloped must be a string of 0 and 1, one per recipient, with a pushId; got ${describe(envelopedFlags)}`);
  }
  const enveloped = new Set(typeof envelopedFlags === 'string' ? recipients.filter((_, i) => envelopedFlags[i] === '1') : []);
  const requeue = c.requeue;
  if (requeue !== undefined && (typeof requeue !== 'number' || !Number.isInteger(requeue) || requeue < 1 || requeue > MAX_CHUNK_REQUEUES)) {
    throw new ValidationError(`chunk.requeue must be a whole number from 1 to ${MAX_CHUNK_REQUEUES}, got ${describe(requeue)}`);
  }
  const notBefore = c.notBefore;
  if (notBefore !== undefined && (typeof notBefore !== 'number' || !Number.isFinite(notBefore)))
    throw new ValidationError(`chunk.notBefore must be epoch ms, got ${describe(notBefore)}`);
  const chunk: FanoutChunk = {
    type: FANOUT_CHUNK_TYPE,
    version: 1,
    fanoutId,
    index,
    count,
    operation,
    message: typeof utf8 === 'string' ? { utf8 } : { base64: base64 as string },
    recipients,
    ...(via.length > 0 ? { via: via.map((v) => [v.role, v.key] as const) } : {}),
    ...(rate !== undefined ? { rate } : {}),
    ...(pushId !== undefined ? { pushId } : {}),
    ...(typeof envelopedFlags === 'string' ? { enveloped: envelopedFlags } : {}),
    ...(requeue !== undefined ? { requeue } : {}),
    ...(notBefore !== undefined ? { notBefore } : {}),
  };
  return { chunk, payload, via, enveloped };
}

/** The outcome of queueing a send's chunks. */
export interface QueueOutcome {
  readonly queued: FanoutChunk[];
  readonly failed: Array<{ readonly chunk: FanoutChunk; readonly error: GatewayError }>;
}

/**
 * Invokes the worker once per chunk (InvocationType Event), `invokeConcurrency` at a time, retrying
 * throttles, 5xx and network errors with full-jitter backoff. Never rejects: a chunk that could not be
 * queued is returned with its error. A retried `Invoke` whose first attempt reached Lambda but whose
 * answer was lost queues the chunk twice (at-least-once, as everything in front of the worker).
 */
export async function queueChunks(
  options: ResolvedFanoutOptions,
  chunks: readonly FanoutChunk[],
  backoff: { baseDelayMs: number; maxDelayMs: number; random: () => number },
): Promise<QueueOutcome> {
  const queued: FanoutChunk[] = [];
  const failed: Array<{ chunk: FanoutChunk; error: GatewayError }> = [];
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++]!;
      const payload = Buffer.from(JSON.stringify(chunk), 'utf8');
      for (let attempt = 0; ; attempt++) {
        let error: GatewayError;
        try {
          const out = await options.lambda.send({ input: { FunctionName: options.functionName, InvocationType: 'Event', Payload: payload } });
          if (out.StatusCode === 202 || out.StatusCode === undefined) {
            queued.push(chunk);
            break;
          }
          error = new ServiceError(`Invoke (Event) of ${options.functionName} answered ${out.StatusCode}, not 202`, { statusCode: out.StatusCode });
        } catch (e) {
          error = invokeError(options.functionName, e);
        }
        if (!isRetryable(error) || attempt >= options.maxRetries) {
          failed.push({ chunk, error });
          break;
        }
        await sleep(backoff.random() * Math.min(backoff.maxDelayMs, backoff.baseDelayMs * 2 ** attempt));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.invokeConcurrency, chunks.length) }, worker));
  // Chunk order, for a stable report.
  queued.sort((a, b) => a.index - b.index);
  failed.sort((a, b) => a.chunk.index - b.chunk.index);
  return { queued, failed };
}

export function newFanoutId(): string {
  return randomUUID();
}

/** Worth trying again: throttled (429), a 5xx, or no answer at all. */
export function isRetryable(error: GatewayError): boolean {
  if (error instanceof ThrottledError || error instanceof NetworkError) return true;
  return error instanceof ServiceError && error.statusCode !== undefined && error.statusCode >= 500;
}

/** An `Invoke` failure as a GatewayError: 429 Throttled, 403 Forbidden, no answer Network, else Service. */
function invokeError(functionName: string, error: unknown): GatewayError {
  // No credentials, or a LambdaClient without @aws-sdk/client-lambda to build its command: not worth a retry.
  if (error instanceof ConfigurationError) return error;
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  const status = e?.$metadata?.httpStatusCode;
  const errorType = e?.name;
  const text = `Invoke (Event) of ${functionName} failed: ${errorType ?? 'Error'}: ${e?.message ?? String(error)}`;
  if (status === 429 || errorType === 'TooManyRequestsException') return new ThrottledError(text, { statusCode: status ?? 429, errorType }, { cause: error });
  if (status === 403) return new ForbiddenError(text, { ...(errorType ? { errorType } : {}) }, { cause: error });
  if (status === undefined) return new NetworkError(text, { cause: error });
  return new ServiceError(text, { statusCode: status, ...(errorType ? { errorType } : {}) }, { cause: error });
}
