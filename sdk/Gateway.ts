/**
 * Gateway: GatewayClient's API (every method async, same names) on DynamoDB and API Gateway's
 * `@connections` API. Each method documents its own semantics; the rules common to all:
 *
 * - Input is checked before any network call (sdk/validation.ts lists the rules); a failure rejects
 *   with ValidationError / PayloadTooLargeError. Every method rejects, none throws synchronously;
 *   only the constructor and fromEnv throw (ConfigurationError).
 * - Mutations (bindUid, unbindUid, joinGroup, leaveGroup, setSession, updateSession) on a client
 *   whose connection item does not exist reject with ConnectionGoneError; they are never silently
 *   ignored. Queries on such a client answer "nothing": undefined, false, [].
 * - Sends return a SendReport (sent / gone / failed) instead of throwing per recipient. 429, 5xx
 *   and network errors are retried (full-jitter exponential backoff, `maxRetries` = 3 by default);
 *   a retried post can in rare cases be delivered twice (at-least-once). A 410 prunes the
 *   connection item and every index item pointing at it, including the one the recipient was found
 *   through; a connection younger than 30 s is kept (API Gateway also answers 410 while `$connect`
 *   runs). Delivery runs `concurrency` (64) posts at once over keep-alive sockets, signed by
 *   sdk/sigv4.ts rather than through ApiGatewayManagementApiClient's middleware.
 * - Write order (no transactions): the index item first, then the connection item (conditional on
 *   it existing, so nothing is resurrected; on failure the index item is deleted again); when
 *   removing, the connection item first and the old index item last. A crash in between leaves at
 *   worst an extra index item (an extra recipient, pruned on 410 or by TTL), never a live connection
 *   hidden from a send. Known narrow race: a leaveGroup (or unbind / rebind away) running at the same
 *   moment as a joinGroup (bind) of the same client to the same group (uid) can end with the
 *   membership on the connection item but no index item; the next join/bind repairs it.
 * - Reads that drive a send, and per-group / per-uid queries, are strongly consistent Queries. Only
 *   sendToAll and the getAll* family scan (parallel segments, every page); the getAll* scans are
 *   eventually consistent (half the cost), sendToAll's is strongly consistent.
 * - With `fanout` (set by the construct through GATEWAY_FANOUT_FUNCTION), sendToUid, sendToGroup and
 *   sendToAll with more recipients than `fanout.threshold` resolve the recipients as usual, then hand
 *   them in chunks to the worker Lambda (asynchronous invocations) instead of posting: the report
 *   then carries `queued` and the workers log the per-recipient outcome (sdk/Fanout.ts, and
 *   lambdas/fanoutWorkerHandler.ts for what a worker does with failures).
 */
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { ConnectionsApi, sleep } from './ConnectionsApi.ts';
import { CredentialCache } from './CredentialCache.ts';
import {
  ConditionFailed,
  ConnectionStore,
  forEachConcurrent,
  type ConnectionItem,
  type ConsumedCapacityEvent,
  type IndexKey,
} from './ConnectionStore.ts';
import { ConfigurationError, ConflictError, ConnectionGoneError, GatewayError, ServiceError, ValidationError } from './errors.ts';
import { GatewayEnvVar } from './env.ts';
import {
  buildChunks,
  isRetryable,
  newFanoutId,
  parseChunk,
  parseThreshold,
  queueChunks,
  resolveFanoutOptions,
  type FanoutHandle,
  type FanoutOperation,
  type FanoutOptions,
  type ResolvedFanoutOptions,
} from './Fanout.ts';
import type { GatewayTableNames } from './tables.ts';
import { sha256Hex } from './sigv4.ts';
import {
  checkClientId,
  checkClientIds,
  checkEpochMs,
  checkExclude,
  checkGroup,
  checkNames,
  checkOptionalString,
  checkOptionsObject,
  checkSession,
  checkSessionSize,
  checkUid,
  mergeSession,
  serializeMessage,
  type Session,
} from './validation.ts';

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
  /** Chunked sends only: recipients in the chunks Lambda accepted, and how many chunks (deliverMs is then the time spent invoking). */
  readonly queued?: number;
  readonly chunks?: number;
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

export type HookOperation = 'bindUid' | 'unbindUid' | 'joinGroup' | 'leaveGroup';

export interface HookEvent {
  readonly operation: HookOperation;
  readonly clientId: string;
  readonly uid?: string;
  readonly group?: string;
}

/**
 * TEST-ONLY hooks between the two writes of a binding change, to simulate a crash there (throw) or
 * to interleave another operation. Not for production code.
 */
export interface GatewayTestHooks {
  /** After bindUid / joinGroup wrote the index item, before the connection item is updated. */
  readonly afterIndexWrite?: (event: HookEvent) => void | Promise<void>;
  /** After bindUid (rebind) / unbindUid / leaveGroup updated the connection item, before the old index item is deleted. */
  readonly beforeIndexDelete?: (event: HookEvent) => void | Promise<void>;
}

export interface GatewayOptions {
  /**
   * The `@connections` endpoint: `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`, or a
   * local gateway's `http://127.0.0.1:PORT/{stage}`.
   */
  readonly callbackUrl: string;
  /** Physical names of the three tables. */
  readonly tables: GatewayTableNames;
  /** Signing region. @default the region in the callbackUrl host, else AWS_REGION, else AWS_DEFAULT_REGION */
  readonly region?: string;
  /** @default the AWS SDK's default chain (@aws-sdk/credential-provider-node) */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /**
   * Bring your own DynamoDB document client. @default one built for `region` and `credentials`; it
   * honours AWS_ENDPOINT_URL_DYNAMODB by itself
   */
  readonly dynamoDb?: DynamoDBDocumentClient;
  /**
   * Posts in flight at once during a fan-out, and keep-alive sockets to the endpoint; also bounds
   * parallel DynamoDB calls. @default 64 (measured: bench/fanout.ts)
   */
  readonly concurrency?: number;
  /** Retries of a post after a 429, a 5xx or a network error. @default 3 */
  readonly maxRetries?: number;
  /** Full-jitter backoff: retry n waits random() * min(retryMaxDelayMs, retryBaseDelayMs * 2^(n-1)). @default 100 */
  readonly retryBaseDelayMs?: number;
  /** @default 2000 */
  readonly retryMaxDelayMs?: number;
  /** Timeout of one `@connections` request attempt. @default 10000 */
  readonly requestTimeoutMs?: number;
  /** Parallel segments of the scans behind sendToAll and getAll*. @default 4 */
  readonly scanSegments?: number;
  /** updateSession attempts under contention before ConflictError. @default 25 */
  readonly maxSessionAttempts?: number;
  /** Called with the consumed capacity of every DynamoDB call (all are made with ReturnConsumedCapacity TOTAL). */
  readonly onConsumedCapacity?: (event: ConsumedCapacityEvent) => void;
  /** Called after every send with its counts and phase timings. */
  readonly onSendCompleted?: (metrics: SendMetrics) => void;
  /** Where non-fatal problems go (a failed prune after a 410). @default console */
  readonly logger?: { warn(message: string, error?: unknown): void };
  /** Random source in [0, 1) for the backoff jitter. @default Math.random */
  readonly random?: () => number;
  /** TEST-ONLY, see GatewayTestHooks. */
  readonly hooks?: GatewayTestHooks;
  /**
   * Chunked fan-out through the worker Lambda for large sends (see FanoutOptions and sdk/Fanout.ts);
   * `false` keeps every send inline even when the environment names a worker.
   * @default - `Gateway.fromEnv()`: from GATEWAY_FANOUT_FUNCTION and GATEWAY_FANOUT_THRESHOLD when
   * set; the constructor: none, every send is inline
   */
  readonly fanout?: FanoutOptions | false;
}

const MAX_USER_AGENT_LENGTH = 1024;

/** API Gateway answers 410 while `$connect` runs (up to its 29 s timeout): such connections are not pruned. */
export const CONNECT_GRACE_MS = 30_000;

const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

const DEFAULTS = {
  concurrency: 64,
  maxRetries: 3,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 2000,
  requestTimeoutMs: 10_000,
  scanSegments: 4,
  maxSessionAttempts: 25,
} as const;

type Recipients = Map<string, IndexKey[]>;

export class Gateway {
  readonly callbackUrl: string;
  readonly region: string;
  readonly tables: GatewayTableNames;
  private readonly store: ConnectionStore;
  private readonly api: ConnectionsApi;
  private readonly doc: DynamoDBDocumentClient;
  private readonly ownsDoc: boolean;
  private readonly concurrency: number;
  private readonly maxSessionAttempts: number;
  private readonly random: () => number;
  private readonly hooks: GatewayTestHooks;
  private readonly logger: { warn(message: string, error?: unknown): void };
  private readonly fanout: ResolvedFanoutOptions | undefined;
  private readonly retryBackoff: { baseDelayMs: number; maxDelayMs: number };

  constructor(private readonly options: GatewayOptions) {
    if (typeof options !== 'object' || options === null) throw new ConfigurationError('Gateway options are required');
    let url: URL;
    try {
      url = new URL(options.callbackUrl);
    } catch (error) {
      throw new ConfigurationError(`callbackUrl must be an http(s) URL, got ${JSON.stringify(options.callbackUrl)}`, { cause: error });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigurationError(`callbackUrl must be an http(s) URL, got ${JSON.stringify(options.callbackUrl)}`);
    if (url.search || url.hash) throw new ConfigurationError('callbackUrl must not have a query or a fragment');
    this.callbackUrl = url.toString().replace(/\/+$/, '');
    const tables = options.tables;
    for (const role of ['connections', 'uids', 'groups'] as const) {
      if (typeof tables?.[role] !== 'string' || tables[role].length < 3) {
        throw new ConfigurationError(`tables.${role} must be a DynamoDB table name, got ${JSON.stringify(tables?.[role])}`);
      }
    }
    this.tables = { connections: tables.connections, uids: tables.uids, groups: tables.groups };
    const region = options.region ?? EXECUTE_API_HOST.exec(url.hostname)?.[1] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (!region) throw new ConfigurationError('no region: pass `region`, use an execute-api callbackUrl, or set AWS_REGION');
    this.region = region;
    const positive = (name: keyof typeof DEFAULTS, min: number): number => {
      const value = options[name] ?? DEFAULTS[name];
      if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new ConfigurationError(`${name} must be a number >= ${min}, got ${value}`);
      return value;
    };
    this.concurrency = Math.floor(positive('concurrency', 1));
    this.maxSessionAttempts = Math.floor(positive('maxSessionAttempts', 1));
    this.random = options.random ?? Math.random;
    this.hooks = options.hooks ?? {};
    this.logger = options.logger ?? console;
    this.retryBackoff = { baseDelayMs: positive('retryBaseDelayMs', 0), maxDelayMs: positive('retryMaxDelayMs', 0) };
    this.api = new ConnectionsApi({
      callbackUrl: url,
      region,
      credentials: new CredentialCache(options.credentials),
      maxSockets: this.concurrency,
      timeoutMs: positive('requestTimeoutMs', 1),
      retry: {
        maxRetries: Math.floor(positive('maxRetries', 0)),
        ...this.retryBackoff,
        random: this.random,
      },
    });
    this.fanout = options.fanout ? resolveFanoutOptions(options.fanout, { region, credentials: options.credentials }) : undefined;
    if (options.fanout !== undefined && options.fanout !== false && !this.fanout) throw new ConfigurationError('fanout must be an object or false');
    this.ownsDoc = !options.dynamoDb;
    this.doc =
      options.dynamoDb ??
      DynamoDBDocumentClient.from(new DynamoDBClient({ region, ...(options.credentials ? { credentials: options.credentials } : {}) }), {
        marshallOptions: { removeUndefinedValues: true },
      });
    this.store = new ConnectionStore(this.doc, this.tables, {
      scanSegments: Math.floor(positive('scanSegments', 1)),
      concurrency: this.concurrency,
      onConsumedCapacity: options.onConsumedCapacity,
    });
  }

  /**
   * Builds a Gateway from the environment variables in GatewayEnvVar (set by the CDK construct and by
   * the local gateway). Explicit `overrides` win; a variable that is needed and missing is a
   * ConfigurationError naming it. GATEWAY_FANOUT_FUNCTION (with GATEWAY_FANOUT_THRESHOLD, optional)
   * turns chunked fan-out on unless `overrides.fanout` is given: an object replaces the environment's
   * settings as a whole, `false` turns chunking off.
   */
  static fromEnv(overrides: Partial<GatewayOptions> = {}, env: Readonly<Record<string, string | undefined>> = process.env): Gateway {
    const read = (name: string): string => {
      const value = env[name];
      if (value === undefined || value === '') throw new ConfigurationError(`environment variable ${name} is not set`);
      return value;
    };
    const callbackUrl = overrides.callbackUrl ?? read(GatewayEnvVar.callbackUrl);
    const tables = overrides.tables ?? {
      connections: read(GatewayEnvVar.connectionsTable),
      uids: read(GatewayEnvVar.uidsTable),
      groups: read(GatewayEnvVar.groupsTable),
    };
    let fanout = overrides.fanout;
    const fanoutFunction = env[GatewayEnvVar.fanoutFunction]?.trim();
    if (fanout === undefined && fanoutFunction) {
      const threshold = env[GatewayEnvVar.fanoutThreshold];
      fanout = {
        functionName: fanoutFunction,
        ...(threshold !== undefined && threshold.trim() !== '' ? { threshold: parseThreshold(GatewayEnvVar.fanoutThreshold, threshold) } : {}),
      };
    }
    return new Gateway({ ...overrides, callbackUrl, tables, ...(fanout !== undefined ? { fanout } : {}) });
  }

  /** Closes the keep-alive sockets, and the DynamoDB and Lambda clients the Gateway built. */
  destroy(): void {
    this.api.destroy();
    if (this.ownsDoc) this.doc.destroy();
    this.fanout?.destroy();
  }

  /** The path a post to `connectionId` uses (the same as ApiGatewayManagementApiClient's). */
  connectionPath(connectionId: string): string {
    return this.api.pathFor(connectionId);
  }

  // ---- connection lifecycle ($connect / $disconnect) ----

  /**
   * Stores a new connection (from `$connect`): empty session, version 0, TTL at connectedAt + 2 h +
   * margin. A user agent longer than 1024 characters is stored truncated (a long header must not
   * refuse the connection).
   */
  async registerConnection(record: { connectionId: string; connectedAt: number; sourceIp?: string; userAgent?: string }): Promise<void> {
    const input = checkOptionsObject(record, 'record');
    const connectionId = checkClientId(input.connectionId, 'record.connectionId');
    const connectedAt = checkEpochMs(input.connectedAt, 'record.connectedAt');
    const sourceIp = checkOptionalString(input.sourceIp, 'record.sourceIp', 64);
    const userAgent = checkOptionalString(input.userAgent, 'record.userAgent', Number.POSITIVE_INFINITY)?.slice(0, MAX_USER_AGENT_LENGTH);
    await this.store.putConnection('registerConnection', {
      connectionId,
      connectedAt,
      ...(sourceIp !== undefined ? { sourceIp } : {}),
      ...(userAgent !== undefined ? { userAgent } : {}),
      session: {},
      version: 0,
      expiresAt: ConnectionStore.expiresAt(connectedAt),
    });
  }

  /**
   * Removes a connection (from `$disconnect`): the connection item, then its uid and group index
   * items. Returns what the item held (uid, groups, session: what `onClose` needs) or undefined.
   */
  async unregisterConnection(connectionId: string): Promise<ConnectionRecord | undefined> {
    checkClientId(connectionId, 'connectionId');
    const old = await this.store.deleteConnection('unregisterConnection', connectionId);
    if (!old) return undefined;
    await this.store.deleteIndexItems('unregisterConnection', indexKeysOf(old));
    return toRecord(old);
  }

  /** The stored connection, or undefined. */
  async getConnection(clientId: string): Promise<ConnectionRecord | undefined> {
    checkClientId(clientId);
    const item = await this.store.getConnection('getConnection', clientId);
    return item ? toRecord(item) : undefined;
  }

  // ---- sending ----

  async sendToClient(clientId: string, message: Message): Promise<SendReport> {
    checkClientId(clientId);
    const payload = serializeMessage(message);
    return this.deliver('sendToClient', new Map([[clientId, []]]), payload, 0);
  }

  /** To every connection of one uid or several (each connection once), minus `exclude`. */
  async sendToUid(uid: string | string[], message: Message, options?: { exclude?: string | string[] }): Promise<SendReport> {
    const uids = checkNames(uid, checkUid, 'uid');
    const exclude = checkExclude(checkOptionsObject(options, 'options').exclude, 'options.exclude');
    const payload = serializeMessage(message);
    const started = performance.now();
    const recipients = await this.resolveIndex('sendToUid', 'uids', uids, exclude);
    return this.dispatch('sendToUid', recipients, payload, performance.now() - started);
  }

  /** To every member of one group or several (each connection once), minus `exclude`. */
  async sendToGroup(group: string | string[], message: Message, options?: { exclude?: string | string[] }): Promise<SendReport> {
    const groups = checkNames(group, checkGroup, 'group');
    const exclude = checkExclude(checkOptionsObject(options, 'options').exclude, 'options.exclude');
    const payload = serializeMessage(message);
    const started = performance.now();
    const recipients = await this.resolveIndex('sendToGroup', 'groups', groups, exclude);
    return this.dispatch('sendToGroup', recipients, payload, performance.now() - started);
  }

  /**
   * To every connection (a strongly consistent parallel scan), or only to `clientIds` (no DynamoDB
   * read; an empty list sends to nobody, as in GatewayWorker), minus `exclude`.
   */
  async sendToAll(message: Message, options?: { clientIds?: string[]; exclude?: string | string[] }): Promise<SendReport> {
    const input = checkOptionsObject(options, 'options');
    const clientIds = input.clientIds === undefined ? undefined : checkClientIds(input.clientIds, 'options.clientIds');
    const exclude = checkExclude(input.exclude, 'options.exclude');
    const payload = serializeMessage(message);
    const started = performance.now();
    const recipients: Recipients = new Map();
    if (clientIds) {
      for (const id of clientIds) if (!exclude.has(id)) recipients.set(id, []);
    } else {
      await this.store.scan('sendToAll', 'connections', { attributes: ['connectionId'], consistent: true, nowMs: Date.now() }, (items) => {
        for (const item of items) {
          const id = item.connectionId as string;
          if (!exclude.has(id)) recipients.set(id, []);
        }
      });
    }
    return this.dispatch('sendToAll', recipients, payload, performance.now() - started);
  }

  private async resolveIndex(operation: string, role: 'uids' | 'groups', keys: string[], exclude: Set<string>): Promise<Recipients> {
    const now = Date.now();
    const results: string[][] = new Array(keys.length);
    await forEachConcurrent(keys, this.concurrency, async (key, i) => {
      results[i] = await this.store.queryIndex(operation, role, key, now);
    });
    const recipients: Recipients = new Map();
    keys.forEach((key, i) => {
      for (const id of results[i]!) {
        if (exclude.has(id)) continue;
        const sources = recipients.get(id);
        if (sources) sources.push({ role, key, connectionId: id });
        else recipients.set(id, [{ role, key, connectionId: id }]);
      }
    });
    return recipients;
  }

  /** Inline delivery, or chunks to the fan-out worker past the threshold. */
  private dispatch(operation: FanoutOperation, recipients: Recipients, payload: Buffer, resolveMs: number): Promise<SendReport> {
    if (this.fanout && recipients.size > this.fanout.threshold) return this.fanOut(this.fanout, operation, recipients, payload, resolveMs);
    return this.deliver(operation, recipients, payload, resolveMs);
  }

  /** Splits the recipients into chunks and queues one asynchronous worker invocation per chunk. */
  private async fanOut(fanout: ResolvedFanoutOptions, operation: FanoutOperation, recipients: Recipients, payload: Buffer, resolveMs: number): Promise<SendReport> {
    const started = performance.now();
    const id = newFanoutId();
    const chunks = buildChunks(id, operation, payload, recipients, fanout.chunkSize);
    const outcome = await queueChunks(fanout, chunks, { ...this.retryBackoff, random: this.random });
    const failed = outcome.failed.flatMap(({ chunk, error }) => chunk.recipients.map((connectionId) => ({ connectionId, error })));
    const queuedRecipients = outcome.queued.reduce((sum, chunk) => sum + chunk.recipients.length, 0);
    const report: SendReport = {
      recipients: recipients.size,
      sent: [],
      gone: [],
      failed,
      queued: { id, functionName: fanout.functionName, chunks: outcome.queued.length, recipients: queuedRecipients, failedChunks: outcome.failed.length },
    };
    this.options.onSendCompleted?.({
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
    });
    return report;
  }

  /**
   * Delivers one fan-out chunk (the worker Lambda's event, see sdk/Fanout.ts): the same posts,
   * retries and 410 pruning as an inline send, then up to `extraRounds` more rounds for the
   * recipients whose failure is retryable. Never chunks again. Rejects with a ValidationError when
   * `event` is not a well-formed chunk; otherwise resolves with the per-recipient outcome (a recipient
   * is in exactly one of sent, gone, failed).
   */
  async deliverChunk(event: unknown, options: DeliverChunkOptions = {}): Promise<ChunkReport> {
    const { chunk, payload, via } = parseChunk(event);
    const input = checkOptionsObject(options, 'options');
    const extraRounds = input.extraRounds ?? 2;
    const roundDelayMs = input.roundDelayMs ?? 1000;
    const deadlineMs = input.deadlineMs;
    if (typeof extraRounds !== 'number' || !Number.isInteger(extraRounds) || extraRounds < 0) throw new ValidationError(`options.extraRounds must be a whole number >= 0, got ${extraRounds}`);
    if (typeof roundDelayMs !== 'number' || !(roundDelayMs >= 0)) throw new ValidationError(`options.roundDelayMs must be a number >= 0, got ${roundDelayMs}`);
    if (deadlineMs !== undefined && (typeof deadlineMs !== 'number' || !Number.isFinite(deadlineMs))) throw new ValidationError(`options.deadlineMs must be epoch ms, got ${deadlineMs}`);
    const payloadHash = sha256Hex(payload);
    const sent: string[] = [];
    const gone: string[] = [];
    const failedForGood: Array<{ connectionId: string; error: GatewayError }> = [];
    let failed: Array<{ connectionId: string; error: GatewayError }> = [];
    const started = performance.now();
    let pending: readonly string[] = chunk.recipients;
    let rounds = 0;
    for (;;) {
      const roundStarted = performance.now();
      const outcome = await this.postAll(pending, payload, payloadHash);
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
      await this.pruneGone(chunk.operation, gone, sources);
    }
    this.options.onSendCompleted?.({
      operation: chunk.operation,
      recipients: chunk.recipients.length,
      sent: sent.length,
      gone: gone.length,
      failed: failed.length,
      bytes: payload.length,
      resolveMs: 0,
      deliverMs: delivered - started,
      pruneMs: performance.now() - delivered,
    });
    return { fanoutId: chunk.fanoutId, index: chunk.index, count: chunk.count, operation: chunk.operation, rounds, recipients: chunk.recipients.length, sent, gone, failed };
  }

  /** Posts to every id with bounded concurrency; each id ends in exactly one list. */
  private async postAll(ids: readonly string[], payload: Buffer, payloadHash: string): Promise<{ sent: string[]; gone: string[]; failed: Array<{ connectionId: string; error: GatewayError }> }> {
    const sent: string[] = [];
    const gone: string[] = [];
    const failed: Array<{ connectionId: string; error: GatewayError }> = [];
    await forEachConcurrent(ids, this.concurrency, async (id) => {
      try {
        if ((await this.api.post(id, payload, payloadHash)) === 'sent') sent.push(id);
        else gone.push(id);
      } catch (error) {
        failed.push({ connectionId: id, error: asGatewayError(error) });
      }
    });
    return { sent, gone, failed };
  }

  /**
   * Posts `payload` to every recipient with bounded concurrency, then prunes the gone ones (the
   * connection item, its index items, and the index items each recipient was found through).
   * Recipient resolution stays outside, so that a caller can hand chunks to worker Lambdas.
   */
  private async deliver(operation: SendMetrics['operation'], recipients: Recipients, payload: Buffer, resolveMs: number): Promise<SendReport> {
    const ids = [...recipients.keys()];
    const started = performance.now();
    const { sent, gone, failed } = await this.postAll(ids, payload, sha256Hex(payload));
    const delivered = performance.now();
    if (gone.length > 0) await this.pruneGone(operation, gone, recipients);
    const report: SendReport = { recipients: ids.length, sent, gone, failed };
    this.options.onSendCompleted?.({
      operation,
      recipients: ids.length,
      sent: sent.length,
      gone: gone.length,
      failed: failed.length,
      bytes: payload.length,
      resolveMs,
      deliverMs: delivered - started,
      pruneMs: performance.now() - delivered,
    });
    return report;
  }

  /** Best effort: a prune that fails is logged, and TTL removes the items later. */
  private async pruneGone(operation: string, ids: readonly string[], sources?: Recipients): Promise<void> {
    const cutoff = Date.now() - CONNECT_GRACE_MS;
    await Promise.all(
      ids.map(async (id) => {
        try {
          const old = await this.store.pruneConnection(operation, id, cutoff);
          if (old === 'young') return;
          const keys = [...(old ? indexKeysOf(old) : []), ...(sources?.get(id) ?? [])];
          if (keys.length > 0) await this.store.deleteIndexItems(operation, keys);
        } catch (error) {
          this.logger.warn(`gateway: could not prune gone connection ${id}: ${(error as Error)?.message ?? error}`, error);
        }
      }),
    );
  }

  // ---- clients ----

  /** Whether API Gateway has the connection open (GET @connections; read-only, prunes nothing). */
  async isOnline(clientId: string): Promise<boolean> {
    checkClientId(clientId);
    return (await this.api.get(clientId)) !== 'gone';
  }

  /**
   * Posts `message` if given, then closes the connection (DELETE @connections; `$disconnect` follows
   * and unregisters it). False when it was already gone (its items are then pruned).
   */
  async closeClient(clientId: string, message?: Message): Promise<boolean> {
    checkClientId(clientId);
    const payload = message === undefined ? undefined : serializeMessage(message);
    return this.closeOne('closeClient', clientId, payload, payload && sha256Hex(payload));
  }

  /** Closes the connection at once. API Gateway has no harder close than DELETE, so this is closeClient without a message. */
  async destroyClient(clientId: string): Promise<boolean> {
    checkClientId(clientId);
    return this.closeOne('destroyClient', clientId, undefined, undefined);
  }

  private async closeOne(operation: string, clientId: string, payload: Buffer | undefined, payloadHash: string | undefined): Promise<boolean> {
    let outcome: 'sent' | 'gone' | 'deleted' = 'sent';
    if (payload) outcome = await this.api.post(clientId, payload, payloadHash!);
    if (outcome !== 'gone') outcome = await this.api.delete(clientId);
    if (outcome === 'gone') {
      await this.pruneGone(operation, [clientId]);
      return false;
    }
    return true;
  }

  /** The session, `{}` when none was set, undefined when the client is not connected. */
  async getSession(clientId: string): Promise<Session | undefined> {
    checkClientId(clientId);
    const item = await this.store.getConnection('getSession', clientId, ['session']);
    return item ? (item.session ?? {}) : undefined;
  }

  /** Replaces the session. ConnectionGoneError when the client is not connected. */
  async setSession(clientId: string, session: Session): Promise<void> {
    checkClientId(clientId);
    const value = checkSession(session);
    try {
      await this.store.updateConnection('setSession', clientId, {
        expression: 'SET #s = :s ADD #v :one',
        names: { '#s': 'session', '#v': 'version' },
        values: { ':s': value, ':one': 1 },
      });
    } catch (error) {
      if (error instanceof ConditionFailed) throw new ConnectionGoneError(clientId);
      throw error;
    }
  }

  /**
   * Deep-merges `patch` into the session (nested objects merge; arrays, scalars and null replace;
   * keys cannot be deleted) and returns the result. Optimistic locking on `version`: a concurrent
   * update makes this one re-read and retry, so no update is lost. ConnectionGoneError when the
   * client is not connected; ConflictError after `maxSessionAttempts` lost races.
   */
  async updateSession(clientId: string, patch: Session): Promise<Session> {
    checkClientId(clientId);
    const value = checkSession(patch, 'patch');
    for (let attempt = 1; ; attempt++) {
      const item = await this.store.getConnection('updateSession', clientId, ['session', 'version']);
      if (!item) throw new ConnectionGoneError(clientId);
      const merged = mergeSession(item.session ?? {}, value);
      checkSessionSize(merged, 'the merged session');
      const version = item.version;
      try {
        await this.store.updateConnection('updateSession', clientId, {
          expression: 'SET #s = :s, #v = :next',
          names: { '#s': 'session', '#v': 'version' },
          values: { ':s': merged, ':next': (version ?? 0) + 1, ...(version === undefined ? {} : { ':v': version }) },
          condition: version === undefined ? 'attribute_not_exists(#v)' : '#v = :v',
        });
        return merged;
      } catch (error) {
        if (!(error instanceof ConditionFailed)) throw error;
        if (attempt >= this.maxSessionAttempts) throw new ConflictError(clientId, attempt);
        await sleep(this.random() * Math.min(200, 5 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  async getUidByClientId(clientId: string): Promise<string | undefined> {
    checkClientId(clientId);
    const item = await this.store.getConnection('getUidByClientId', clientId, ['uid']);
    return item?.uid;
  }

  /** The groups the client is in, sorted; [] when it is in none or not connected. */
  async getGroupsByClientId(clientId: string): Promise<string[]> {
    checkClientId(clientId);
    const item = await this.store.getConnection('getGroupsByClientId', clientId, ['groups']);
    return item?.groups ? [...item.groups].sort() : [];
  }

  // ---- uids ----

  /**
   * Binds the client to `uid`. A client has at most one uid: binding again moves it (the old uid's
   * index item is removed last). ConnectionGoneError when the client is not connected.
   */
  async bindUid(clientId: string, uid: string): Promise<void> {
    checkClientId(clientId);
    checkUid(uid);
    const index: IndexKey = { role: 'uids', key: uid, connectionId: clientId };
    await this.store.putIndex('bindUid', index, Date.now());
    await this.hooks.afterIndexWrite?.({ operation: 'bindUid', clientId, uid });
    let old: Partial<ConnectionItem> | undefined;
    try {
      old = await this.store.updateConnection('bindUid', clientId, {
        expression: 'SET #uid = :uid',
        names: { '#uid': 'uid' },
        values: { ':uid': uid },
        returnValues: 'UPDATED_OLD',
      });
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      await this.store.deleteIndex('bindUid', index);
      throw new ConnectionGoneError(clientId);
    }
    const previous = old?.uid;
    if (previous !== undefined && previous !== uid) {
      await this.hooks.beforeIndexDelete?.({ operation: 'bindUid', clientId, uid: previous });
      await this.store.deleteIndex('bindUid', { role: 'uids', key: previous, connectionId: clientId });
    }
  }

  /**
   * Unbinds the client's uid. Without `uid`, whatever uid it has (GatewayClient's behaviour); with
   * `uid`, only if that is the uid it has now; otherwise nothing changes (so a late unbind cannot
   * undo a newer bind). A no-op when unbound; ConnectionGoneError when not connected.
   */
  async unbindUid(clientId: string, uid?: string): Promise<void> {
    checkClientId(clientId);
    const expected = uid === undefined ? undefined : checkUid(uid);
    let old: Partial<ConnectionItem> | undefined;
    try {
      old = await this.store.updateConnection('unbindUid', clientId, {
        expression: 'REMOVE #uid',
        names: { '#uid': 'uid' },
        ...(expected === undefined ? {} : { values: { ':uid': expected }, condition: '#uid = :uid' }),
        returnValues: 'UPDATED_OLD',
      });
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      const exists = expected !== undefined && (await this.store.getConnection('unbindUid', clientId, ['connectionId']));
      if (exists) return; // bound to another uid, or unbound
      if (expected !== undefined) await this.store.deleteIndex('unbindUid', { role: 'uids', key: expected, connectionId: clientId });
      throw new ConnectionGoneError(clientId);
    }
    if (old?.uid !== undefined) {
      await this.hooks.beforeIndexDelete?.({ operation: 'unbindUid', clientId, uid: old.uid });
      await this.store.deleteIndex('unbindUid', { role: 'uids', key: old.uid, connectionId: clientId });
    }
  }

  /** Whether the uid has at least one connection in the index (strongly consistent). */
  async isUidOnline(uid: string): Promise<boolean> {
    checkUid(uid);
    return (await this.store.countIndex('isUidOnline', 'uids', uid, Date.now())) > 0;
  }

  async getClientIdByUid(uid: string): Promise<string[]> {
    checkUid(uid);
    return this.store.queryIndex('getClientIdByUid', 'uids', uid, Date.now());
  }

  /** Every requested uid is a key ([] accepted, giving {}). */
  async isUidsOnline(uids: string[]): Promise<Record<string, boolean>> {
    const byUid = await this.batchQuery('isUidsOnline', 'uids', uids, 'uids');
    return Object.fromEntries(Object.entries(byUid).map(([uid, ids]) => [uid, ids.length > 0]));
  }

  async batchGetClientIdByUid(uids: string[]): Promise<Record<string, string[]>> {
    return this.batchQuery('batchGetClientIdByUid', 'uids', uids, 'uids');
  }

  private async batchQuery(operation: string, role: 'uids' | 'groups', keys: unknown, what: string): Promise<Record<string, string[]>> {
    if (!Array.isArray(keys)) throw new ValidationError(`${what} must be an array`);
    const checked = [...new Set(keys.map((k, i) => (role === 'uids' ? checkUid(k, `${what}[${i}]`) : checkGroup(k, `${what}[${i}]`))))];
    const now = Date.now();
    const result: Record<string, string[]> = {};
    const lists: string[][] = new Array(checked.length);
    await forEachConcurrent(checked, this.concurrency, async (key, i) => {
      lists[i] = await this.store.queryIndex(operation, role, key, now);
    });
    checked.forEach((key, i) => (result[key] = lists[i]!));
    return result;
  }

  /** Closes every connection of the uid (posting `message` first when given). */
  async closeUid(uid: string, message?: Message): Promise<CloseReport> {
    checkUid(uid);
    const payload = message === undefined ? undefined : serializeMessage(message);
    const payloadHash = payload && sha256Hex(payload);
    const ids = await this.store.queryIndex('closeUid', 'uids', uid, Date.now());
    const closed: string[] = [];
    const gone: string[] = [];
    const failed: Array<{ connectionId: string; error: GatewayError }> = [];
    await forEachConcurrent(ids, this.concurrency, async (id) => {
      try {
        let outcome: 'sent' | 'gone' | 'deleted' = 'sent';
        if (payload) outcome = await this.api.post(id, payload, payloadHash!);
        if (outcome !== 'gone') outcome = await this.api.delete(id);
        (outcome === 'gone' ? gone : closed).push(id);
      } catch (error) {
        failed.push({ connectionId: id, error: asGatewayError(error) });
      }
    });
    if (gone.length > 0) await this.pruneGone('closeUid', gone, new Map(gone.map((id) => [id, [{ role: 'uids', key: uid, connectionId: id }]])));
    return { recipients: ids.length, closed, gone, failed };
  }

  // ---- groups ----

  /** Adds the client to the group (idempotent). ConnectionGoneError when the client is not connected. */
  async joinGroup(clientId: string, group: string): Promise<void> {
    checkClientId(clientId);
    checkGroup(group);
    const index: IndexKey = { role: 'groups', key: group, connectionId: clientId };
    await this.store.putIndex('joinGroup', index, Date.now());
    await this.hooks.afterIndexWrite?.({ operation: 'joinGroup', clientId, group });
    try {
      await this.store.updateConnection('joinGroup', clientId, {
        expression: 'ADD #g :g',
        names: { '#g': 'groups' },
        values: { ':g': new Set([group]) },
      });
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      await this.store.deleteIndex('joinGroup', index);
      throw new ConnectionGoneError(clientId);
    }
  }

  /** Removes the client from the group (a no-op when not a member). ConnectionGoneError when not connected. */
  async leaveGroup(clientId: string, group: string): Promise<void> {
    checkClientId(clientId);
    checkGroup(group);
    const index: IndexKey = { role: 'groups', key: group, connectionId: clientId };
    try {
      await this.store.updateConnection('leaveGroup', clientId, {
        expression: 'DELETE #g :g',
        names: { '#g': 'groups' },
        values: { ':g': new Set([group]) },
      });
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error;
      await this.store.deleteIndex('leaveGroup', index);
      throw new ConnectionGoneError(clientId);
    }
    await this.hooks.beforeIndexDelete?.({ operation: 'leaveGroup', clientId, group });
    await this.store.deleteIndex('leaveGroup', index);
  }

  /** Removes every member from the group; the connections stay open and their sessions are untouched. */
  async ungroup(group: string): Promise<void> {
    checkGroup(group);
    const ids = await this.store.queryIndex('ungroup', 'groups', group, Date.now());
    await forEachConcurrent(ids, this.concurrency, async (id) => {
      try {
        await this.store.updateConnection('ungroup', id, { expression: 'DELETE #g :g', names: { '#g': 'groups' }, values: { ':g': new Set([group]) } });
      } catch (error) {
        if (!(error instanceof ConditionFailed)) throw error; // a stale index item: deleted below
      }
    });
    await this.store.deleteIndexItems(
      'ungroup',
      ids.map((connectionId) => ({ role: 'groups', key: group, connectionId })),
    );
  }

  /** The members of one group, or the union of several (each id once). */
  async getClientIdListByGroup(group: string | string[]): Promise<string[]> {
    const groups = checkNames(group, checkGroup, 'group');
    return [...(await this.resolveIndex('getClientIdListByGroup', 'groups', groups, new Set())).keys()];
  }

  async getClientCountByGroup(group: string): Promise<number> {
    checkGroup(group);
    return this.store.countIndex('getClientCountByGroup', 'groups', group, Date.now());
  }

  /** Alias of getClientCountByGroup. */
  async getClientIdCountByGroup(group: string): Promise<number> {
    return this.getClientCountByGroup(group);
  }

  /** clientId -> session for the group's members whose connection item exists. */
  async getClientSessionsByGroup(group: string): Promise<Record<string, Session>> {
    checkGroup(group);
    const ids = await this.store.queryIndex('getClientSessionsByGroup', 'groups', group, Date.now());
    const items = await this.store.getConnections('getClientSessionsByGroup', ids, ['session']);
    const result: Record<string, Session> = {};
    for (const id of ids) {
      const item = items.get(id);
      if (item) result[id] = item.session ?? {};
    }
    return result;
  }

  /** The distinct uids among the members of one group or several. */
  async getUidListByGroup(group: string | string[]): Promise<string[]> {
    const groups = checkNames(group, checkGroup, 'group');
    const ids = [...(await this.resolveIndex('getUidListByGroup', 'groups', groups, new Set())).keys()];
    const items = await this.store.getConnections('getUidListByGroup', ids, ['uid']);
    const uids = new Set<string>();
    for (const id of ids) {
      const uid = items.get(id)?.uid;
      if (uid !== undefined) uids.add(uid);
    }
    return [...uids];
  }

  async getUidCountByGroup(group: string | string[]): Promise<number> {
    return (await this.getUidListByGroup(group)).length;
  }

  /** Every requested group is a key ([] accepted, giving {}). */
  async batchGetClientIdCountByGroup(groups: string[]): Promise<Record<string, number>> {
    if (!Array.isArray(groups)) throw new ValidationError('groups must be an array');
    const checked = [...new Set(groups.map((g, i) => checkGroup(g, `groups[${i}]`)))];
    const now = Date.now();
    const counts: number[] = new Array(checked.length);
    await forEachConcurrent(checked, this.concurrency, async (group, i) => {
      counts[i] = await this.store.countIndex('batchGetClientIdCountByGroup', 'groups', group, now);
    });
    return Object.fromEntries(checked.map((g, i) => [g, counts[i]!]));
  }

  // ---- everything (parallel scans, eventually consistent) ----

  async getAllClientCount(): Promise<number> {
    let count = 0;
    await this.store.scan('getAllClientCount', 'connections', { count: true, consistent: false, nowMs: Date.now() }, (_items, n) => (count += n));
    return count;
  }

  async getAllClientIdCount(): Promise<number> {
    return this.getAllClientCount();
  }

  async getAllClientIdList(): Promise<string[]> {
    const ids: string[] = [];
    await this.store.scan('getAllClientIdList', 'connections', { attributes: ['connectionId'], consistent: false, nowMs: Date.now() }, (items) => {
      for (const item of items) ids.push(item.connectionId as string);
    });
    return ids;
  }

  async getAllClientSessions(): Promise<Record<string, Session>> {
    const sessions: Record<string, Session> = {};
    await this.store.scan('getAllClientSessions', 'connections', { attributes: ['connectionId', 'session'], consistent: false, nowMs: Date.now() }, (items) => {
      for (const item of items) sessions[item.connectionId as string] = (item.session as Session | undefined) ?? {};
    });
    return sessions;
  }

  async getAllUidList(): Promise<string[]> {
    return this.distinctKeys('getAllUidList', 'uids', 'uid');
  }

  async getAllUidCount(): Promise<number> {
    return (await this.distinctKeys('getAllUidCount', 'uids', 'uid')).length;
  }

  async getAllGroupIdList(): Promise<string[]> {
    return this.distinctKeys('getAllGroupIdList', 'groups', 'group');
  }

  private async distinctKeys(operation: string, role: 'uids' | 'groups', attribute: string): Promise<string[]> {
    const keys = new Set<string>();
    await this.store.scan(operation, role, { attributes: [attribute], consistent: false, nowMs: Date.now() }, (items) => {
      for (const item of items) keys.add(item[attribute] as string);
    });
    return [...keys];
  }
}

function indexKeysOf(item: ConnectionItem): IndexKey[] {
  const keys: IndexKey[] = [];
  if (item.uid !== undefined) keys.push({ role: 'uids', key: item.uid, connectionId: item.connectionId });
  for (const group of item.groups ?? []) keys.push({ role: 'groups', key: group, connectionId: item.connectionId });
  return keys;
}

function toRecord(item: ConnectionItem): ConnectionRecord {
  return {
    connectionId: item.connectionId,
    connectedAt: item.connectedAt,
    ...(item.sourceIp !== undefined ? { sourceIp: item.sourceIp } : {}),
    ...(item.userAgent !== undefined ? { userAgent: item.userAgent } : {}),
    ...(item.uid !== undefined ? { uid: item.uid } : {}),
    groups: item.groups ? [...item.groups].sort() : [],
    session: item.session ?? {},
    version: item.version ?? 0,
    ...(item.expiresAt !== undefined ? { expiresAt: item.expiresAt } : {}),
  };
}

function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  return new ServiceError(`unexpected error: ${(error as Error)?.message ?? String(error)}`, {}, { cause: error });
}
