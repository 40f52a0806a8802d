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
 *   it existing, so nothing is resurrected; on any failure of that update the index item this call
 *   created is deleted again, so sends agree with the error the caller got); when removing, the
 *   connection item first and the old index item last. A crash in between leaves at
 *   worst an extra index item (an extra recipient, pruned on 410 or by TTL), never a live connection
 *   hidden from a send. Known narrow race: a leaveGroup (or unbind / rebind away) running at the same
 *   moment as a joinGroup (bind) of the same client to the same group (uid) can end with the
 *   membership on the connection item but no index item; the next join/bind repairs it.
 * - Reads that drive a send, and per-group / per-uid queries, are strongly consistent Queries. Only
 *   sendToAll and the getAll* family scan (parallel segments, every page); the getAll* scans are
 *   eventually consistent (half the cost), sendToAll's is strongly consistent. Queries and scans never
 *   give partial results: a page that fails fails the call.
 * - One connection is in at most MAX_GROUPS_PER_CONNECTION (200) groups, so that its item stays well
 *   under DynamoDB's 400 KB with the largest session (sdk/validation.ts has the arithmetic).
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
import { ConfigurationError, ConflictError, ConnectionGoneError, GatewayError, LimitExceededError, ServiceError, ValidationError } from './errors.ts';
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
import { GatewayTables, type GatewayTableNames } from './tables.ts';
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
  checkNameList,
  checkSession,
  checkSessionSize,
  checkUid,
  describe,
  MAX_GROUPS_PER_CONNECTION,
  mergeSession,
  serializeMessage,
  truncateCodePoints,
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

/** Options of `new Gateway()`. An option that is undefined or null takes its default. */
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

/** joinGroup's conditional update, tried again when a concurrent leaveGroup made room in between. */
const JOIN_ATTEMPTS = 3;

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

/** GatewayOptions read once and checked: what the constructor builds the Gateway from. */
interface ResolvedOptions {
  readonly url: URL;
  readonly tables: GatewayTableNames;
  readonly region: string;
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined;
  readonly dynamoDb: DynamoDBDocumentClient | undefined;
  readonly concurrency: number;
  readonly maxRetries: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly requestTimeoutMs: number;
  readonly scanSegments: number;
  readonly maxSessionAttempts: number;
  readonly onConsumedCapacity: ((event: ConsumedCapacityEvent) => void) | undefined;
  readonly onSendCompleted: ((metrics: SendMetrics) => void) | undefined;
  readonly logger: { warn(message: string, error?: unknown): void };
  readonly random: () => number;
  readonly hooks: GatewayTestHooks;
  readonly fanout: ResolvedFanoutOptions | undefined;
}

/** Runs `read` over a caller's option; a throwing getter or Proxy trap becomes a ConfigurationError naming it. */
function readConfig<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new ConfigurationError(`${what} could not be read: ${errorText(error)}`, { cause: error });
  }
}

/** A non-array object (Array.isArray throws for a revoked Proxy: a ConfigurationError then). */
function isOptionsObject(what: string, value: unknown): value is object {
  return typeof value === 'object' && value !== null && !readConfig(what, () => Array.isArray(value));
}

function errorText(error: unknown): string {
  try {
    return (error as Error)?.message ?? String(error);
  } catch {
    return 'an unprintable error';
  }
}

/**
 * Checks every option the constructor uses, before anything is built. Each failure is a
 * ConfigurationError whose message names the option and prints the value with describe(), which
 * prints anything (a BigInt, a symbol, a null-prototype object, a revoked Proxy).
 */
function resolveOptions(options: unknown): ResolvedOptions {
  if (!isOptionsObject('Gateway options', options)) throw new ConfigurationError(`Gateway options are required (an object), got ${describe(options)}`);
  const bag = options as Record<string, unknown>;
  // An option that is undefined or null takes its default.
  const option = (name: keyof GatewayOptions): unknown => readConfig(name, () => bag[name]) ?? undefined;
  const optionalFunction = <F>(name: keyof GatewayOptions): F | undefined => {
    const value = option(name);
    if (value !== undefined && typeof value !== 'function') throw new ConfigurationError(`${name} must be a function, got ${describe(value)}`);
    return value as F | undefined;
  };

  const rawUrl = option('callbackUrl');
  if (typeof rawUrl !== 'string') throw new ConfigurationError(`callbackUrl must be an http(s) URL, got ${describe(rawUrl)}`);
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch (error) {
    throw new ConfigurationError(`callbackUrl must be an http(s) URL, got ${describe(rawUrl)}`, { cause: error });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigurationError(`callbackUrl must be an http(s) URL, got ${describe(rawUrl)}`);
  if (url.search || url.hash) throw new ConfigurationError('callbackUrl must not have a query or a fragment');

  const rawTables = option('tables');
  const tableName = (role: keyof GatewayTableNames): string => {
    const value = typeof rawTables === 'object' && rawTables !== null ? readConfig(`tables.${role}`, () => (rawTables as Record<string, unknown>)[role]) : undefined;
    if (typeof value !== 'string' || value.length < 3) throw new ConfigurationError(`tables.${role} must be a DynamoDB table name, got ${describe(value)}`);
    return value;
  };
  const tables: GatewayTableNames = { connections: tableName('connections'), uids: tableName('uids'), groups: tableName('groups') };

  const givenRegion = option('region');
  if (givenRegion !== undefined && (typeof givenRegion !== 'string' || givenRegion.trim() === '')) {
    throw new ConfigurationError(`region must be an AWS Region name, got ${describe(givenRegion)}`);
  }
  const region = givenRegion ?? EXECUTE_API_HOST.exec(url.hostname)?.[1] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) throw new ConfigurationError('no region: pass `region`, use an execute-api callbackUrl, or set AWS_REGION');

  const number = (name: keyof typeof DEFAULTS, min: number): number => {
    const value = option(name) ?? DEFAULTS[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new ConfigurationError(`${name} must be a number >= ${min}, got ${describe(value)}`);
    return value;
  };

  const credentials = option('credentials');
  if (credentials !== undefined && typeof credentials !== 'function') {
    const fields =
      typeof credentials === 'object' && credentials !== null
        ? readConfig('credentials', () => [(credentials as Record<string, unknown>).accessKeyId, (credentials as Record<string, unknown>).secretAccessKey])
        : [];
    if (typeof fields[0] !== 'string' || typeof fields[1] !== 'string') {
      throw new ConfigurationError(`credentials must be { accessKeyId, secretAccessKey, sessionToken? } or a credential provider function, got ${describe(credentials)}`);
    }
  }

  const dynamoDb = option('dynamoDb');
  if (dynamoDb !== undefined) {
    const send = typeof dynamoDb === 'object' && dynamoDb !== null ? readConfig('dynamoDb.send', () => (dynamoDb as Record<string, unknown>).send) : undefined;
    if (typeof send !== 'function') throw new ConfigurationError(`dynamoDb must be a DynamoDBDocumentClient, got ${describe(dynamoDb)}`);
  }

  const logger = option('logger') ?? console;
  const warn = typeof logger === 'object' || typeof logger === 'function' ? readConfig('logger.warn', () => (logger as Record<string, unknown>).warn) : undefined;
  if (typeof warn !== 'function') throw new ConfigurationError(`logger must be an object with a warn(message, error) method, got ${describe(logger)}`);

  const hooks = option('hooks') ?? {};
  if (typeof hooks !== 'object' || hooks === null) throw new ConfigurationError(`hooks must be an object, got ${describe(hooks)}`);
  for (const name of ['afterIndexWrite', 'beforeIndexDelete'] as const) {
    const hook = readConfig(`hooks.${name}`, () => (hooks as Record<string, unknown>)[name]);
    if (hook !== undefined && typeof hook !== 'function') throw new ConfigurationError(`hooks.${name} must be a function, got ${describe(hook)}`);
  }

  const rawFanout = option('fanout');
  let fanout: ResolvedFanoutOptions | undefined;
  if (rawFanout !== undefined && rawFanout !== false) {
    if (typeof rawFanout !== 'object' || rawFanout === null) throw new ConfigurationError(`fanout must be an object or false, got ${describe(rawFanout)}`);
    fanout = readConfig('fanout', () =>
      resolveFanoutOptions(rawFanout as FanoutOptions, { region, ...(credentials !== undefined ? { credentials: credentials as AwsCredentialIdentity | AwsCredentialIdentityProvider } : {}) }),
    );
  }

  return {
    url,
    tables,
    region,
    credentials: credentials as AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined,
    dynamoDb: dynamoDb as DynamoDBDocumentClient | undefined,
    concurrency: Math.floor(number('concurrency', 1)),
    maxRetries: Math.floor(number('maxRetries', 0)),
    retryBaseDelayMs: number('retryBaseDelayMs', 0),
    retryMaxDelayMs: number('retryMaxDelayMs', 0),
    requestTimeoutMs: number('requestTimeoutMs', 1),
    scanSegments: Math.floor(number('scanSegments', 1)),
    maxSessionAttempts: Math.floor(number('maxSessionAttempts', 1)),
    onConsumedCapacity: optionalFunction('onConsumedCapacity'),
    onSendCompleted: optionalFunction('onSendCompleted'),
    logger: logger as { warn(message: string, error?: unknown): void },
    random: optionalFunction<() => number>('random') ?? Math.random,
    hooks: hooks as GatewayTestHooks,
    fanout,
  };
}

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
  private readonly onSendCompleted: ((metrics: SendMetrics) => void) | undefined;
  private readonly fanout: ResolvedFanoutOptions | undefined;
  private readonly retryBackoff: { baseDelayMs: number; maxDelayMs: number };

  /** Throws a ConfigurationError for options that are missing, of the wrong type or unreadable. */
  constructor(options: GatewayOptions) {
    const o = resolveOptions(options);
    this.callbackUrl = o.url.toString().replace(/\/+$/, '');
    this.tables = o.tables;
    this.region = o.region;
    this.concurrency = o.concurrency;
    this.maxSessionAttempts = o.maxSessionAttempts;
    this.random = o.random;
    this.hooks = o.hooks;
    this.logger = o.logger;
    this.onSendCompleted = o.onSendCompleted;
    this.retryBackoff = { baseDelayMs: o.retryBaseDelayMs, maxDelayMs: o.retryMaxDelayMs };
    this.fanout = o.fanout;
    this.api = new ConnectionsApi({
      callbackUrl: o.url,
      region: o.region,
      credentials: new CredentialCache(o.credentials),
      maxSockets: this.concurrency,
      timeoutMs: o.requestTimeoutMs,
      retry: { maxRetries: o.maxRetries, ...this.retryBackoff, random: this.random },
    });
    this.ownsDoc = !o.dynamoDb;
    this.doc =
      o.dynamoDb ??
      DynamoDBDocumentClient.from(new DynamoDBClient({ region: o.region, ...(o.credentials ? { credentials: o.credentials } : {}) }), {
        marshallOptions: { removeUndefinedValues: true },
      });
    this.store = new ConnectionStore(this.doc, this.tables, {
      scanSegments: o.scanSegments,
      concurrency: this.concurrency,
      onConsumedCapacity: o.onConsumedCapacity,
    });
  }

  /**
   * Builds a Gateway from the environment variables in GatewayEnvVar (set by the CDK construct and by
   * the local gateway). Explicit `overrides` win; a variable that is needed and missing is a
   * ConfigurationError naming it. GATEWAY_FANOUT_FUNCTION (with GATEWAY_FANOUT_THRESHOLD, optional)
   * turns chunked fan-out on unless `overrides.fanout` is given: an object replaces the environment's
   * settings as a whole, `false` turns chunking off. Overrides or an environment that are not objects
   * (or cannot be read) are a ConfigurationError too.
   */
  static fromEnv(overrides: Partial<GatewayOptions> = {}, env: Readonly<Record<string, string | undefined>> = process.env): Gateway {
    if (!isOptionsObject('fromEnv overrides', overrides)) throw new ConfigurationError(`fromEnv: overrides must be an object of Gateway options, got ${describe(overrides)}`);
    if (!isOptionsObject('fromEnv env', env)) throw new ConfigurationError(`fromEnv: env must be an object of environment variables, got ${describe(env)}`);
    const given: Partial<GatewayOptions> = readConfig('fromEnv overrides', () => ({ ...overrides }));
    const variable = (name: string): string | undefined => {
      const value: unknown = readConfig(`environment variable ${name}`, () => env[name]);
      if (value !== undefined && typeof value !== 'string') throw new ConfigurationError(`environment variable ${name} must be a string, got ${describe(value)}`);
      return value;
    };
    const read = (name: string): string => {
      const value = variable(name);
      if (value === undefined || value === '') throw new ConfigurationError(`environment variable ${name} is not set`);
      return value;
    };
    const callbackUrl = given.callbackUrl ?? read(GatewayEnvVar.callbackUrl);
    const tables = given.tables ?? {
      connections: read(GatewayEnvVar.connectionsTable),
      uids: read(GatewayEnvVar.uidsTable),
      groups: read(GatewayEnvVar.groupsTable),
    };
    let fanout = given.fanout ?? undefined;
    const fanoutFunction = variable(GatewayEnvVar.fanoutFunction)?.trim();
    if (fanout === undefined && fanoutFunction) {
      const threshold = variable(GatewayEnvVar.fanoutThreshold);
      fanout = {
        functionName: fanoutFunction,
        ...(threshold !== undefined && threshold.trim() !== '' ? { threshold: parseThreshold(GatewayEnvVar.fanoutThreshold, threshold) } : {}),
      };
    }
    return new Gateway({ ...given, callbackUrl, tables, ...(fanout !== undefined ? { fanout } : {}) });
  }

  /** Closes the keep-alive sockets, and the DynamoDB and Lambda clients the Gateway built. */
  destroy(): void {
    this.api.destroy();
    if (this.ownsDoc) this.doc.destroy();
    this.fanout?.destroy();
  }

  /**
   * The path a post to `connectionId` uses (the same as ApiGatewayManagementApiClient's). Throws a
   * ValidationError (synchronously: this method is not async) for what is not a connection id.
   */
  connectionPath(connectionId: string): string {
    return this.api.pathFor(checkClientId(connectionId, 'connectionId'));
  }

  // ---- connection lifecycle ($connect / $disconnect) ----

  /**
   * Stores a new connection (from `$connect`): empty session, version 0, TTL at connectedAt + 2 h +
   * margin. A user agent longer than 1024 UTF-16 code units is stored truncated (a long header must
   * not refuse the connection), on a code-point boundary: a surrogate pair is never split.
   */
  async registerConnection(record: { connectionId: string; connectedAt: number; sourceIp?: string; userAgent?: string }): Promise<void> {
    const input = checkOptionsObject(record, 'record');
    const connectionId = checkClientId(input.connectionId, 'record.connectionId');
    const connectedAt = checkEpochMs(input.connectedAt, 'record.connectedAt');
    const sourceIp = checkOptionalString(input.sourceIp, 'record.sourceIp', 64);
    const userAgent = checkOptionalString(input.userAgent, 'record.userAgent', Number.POSITIVE_INFINITY);
    const storedUserAgent = userAgent === undefined ? undefined : truncateCodePoints(userAgent, MAX_USER_AGENT_LENGTH);
    await this.store.putConnection('registerConnection', {
      connectionId,
      connectedAt,
      ...(sourceIp !== undefined ? { sourceIp } : {}),
      ...(storedUserAgent !== undefined ? { userAgent: storedUserAgent } : {}),
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
    this.onSendCompleted?.({
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
    if (typeof extraRounds !== 'number' || !Number.isInteger(extraRounds) || extraRounds < 0) throw new ValidationError(`options.extraRounds must be a whole number >= 0, got ${describe(extraRounds)}`);
    if (typeof roundDelayMs !== 'number' || !(roundDelayMs >= 0)) throw new ValidationError(`options.roundDelayMs must be a number >= 0, got ${describe(roundDelayMs)}`);
    if (deadlineMs !== undefined && (typeof deadlineMs !== 'number' || !Number.isFinite(deadlineMs))) throw new ValidationError(`options.deadlineMs must be epoch ms, got ${describe(deadlineMs)}`);
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
    this.onSendCompleted?.({
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
    this.onSendCompleted?.({
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
    const { existed } = await this.store.putIndex('bindUid', index, Date.now());
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
      if (error instanceof ConditionFailed) {
        await this.undoIndexWrite('bindUid', index);
        throw new ConnectionGoneError(clientId);
      }
      // Any other failure: the caller is told the bind failed, and sends must agree. An index item
      // that was there before this call (the client was already bound to this uid) stays.
      if (!existed) await this.undoIndexWrite('bindUid', index);
      throw error;
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

  /**
   * One strongly consistent Query per distinct key. The result is built with Object.fromEntries, so
   * that a uid or group named "__proto__" is an own key like any other.
   */
  private async batchQuery(operation: string, role: 'uids' | 'groups', keys: unknown, what: string): Promise<Record<string, string[]>> {
    const checked = checkNameList(keys, role === 'uids' ? checkUid : checkGroup, what);
    const now = Date.now();
    const lists: string[][] = new Array(checked.length);
    await forEachConcurrent(checked, this.concurrency, async (key, i) => {
      lists[i] = await this.store.queryIndex(operation, role, key, now);
    });
    return Object.fromEntries(checked.map((key, i) => [key, lists[i]!]));
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

  /**
   * Adds the client to the group (idempotent). ConnectionGoneError when the client is not connected;
   * LimitExceededError when it is already in MAX_GROUPS_PER_CONNECTION (200) other groups (joining a
   * group it is in always succeeds).
   *
   * The cap is a condition of the connection-item update, so two joins racing for the last place
   * cannot both get it. A join costs two writes (the index item, then the update), as before the cap:
   * only a refused one reads the item (gone or full?) and removes the index item it wrote. Any failure
   * of the update removes that index item, so that no send reaches the client through a membership
   * the caller was told failed (a send in the moment between can reach it once, as after a crash).
   */
  async joinGroup(clientId: string, group: string): Promise<void> {
    checkClientId(clientId);
    checkGroup(group);
    const index: IndexKey = { role: 'groups', key: group, connectionId: clientId };
    const { existed } = await this.store.putIndex('joinGroup', index, Date.now());
    await this.hooks.afterIndexWrite?.({ operation: 'joinGroup', clientId, group });
    for (let attempt = 1; ; attempt++) {
      let refusal: GatewayError;
      try {
        await this.store.updateConnection('joinGroup', clientId, {
          expression: 'ADD #g :g',
          names: { '#g': 'groups' },
          values: { ':g': new Set([group]), ':max': MAX_GROUPS_PER_CONNECTION, ':group': group },
          condition: 'attribute_not_exists(#g) OR size(#g) < :max OR contains(#g, :group)',
        });
        return;
      } catch (error) {
        if (!(error instanceof ConditionFailed)) {
          // The membership is not on the item (or, after a timeout, may be): the index item this call
          // created goes; one that was there before (the client was already a member) stays.
          if (!existed) await this.undoIndexWrite('joinGroup', index);
          throw error;
        }
        // Gone or full: which one, from the item as it is now.
        let now: ConnectionItem | undefined;
        try {
          now = await this.store.getConnection('joinGroup', clientId, ['connectionId', 'groups']);
        } catch (readError) {
          await this.undoIndexWrite('joinGroup', index);
          throw readError;
        }
        if (now && !isFull(now.groups, group) && attempt < JOIN_ATTEMPTS) continue; // a leaveGroup made room meanwhile
        refusal = now ? new LimitExceededError(clientId, MAX_GROUPS_PER_CONNECTION) : new ConnectionGoneError(clientId);
      }
      // The item does not list the group: an index item for it (written now or left before) is stale.
      await this.undoIndexWrite('joinGroup', index);
      throw refusal;
    }
  }

  /**
   * Removes the index item a bindUid / joinGroup wrote when the connection-item update failed. Best
   * effort: a failed delete is logged (the item is pruned by the next send's 410 or expires by TTL),
   * and the caller gets the error of the update either way.
   */
  private async undoIndexWrite(operation: HookOperation, index: IndexKey): Promise<void> {
    try {
      await this.store.deleteIndex(operation, index);
    } catch (error) {
      this.logger.warn(`gateway: ${operation} could not remove its index item (${index.role} ${describe(index.key)}, ${index.connectionId}): ${errorText(error)}`, error);
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
    const checked = checkNameList(groups, checkGroup, 'groups');
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

  /**
   * group -> the connection ids of its members, for every group with at least one member (GatewayWorker's
   * getAllGroupClientIdList, as lists, without its early stop: nothing is skipped, and a failed page
   * fails the call rather than giving part of the answer).
   *
   * Read from the groups index, the same items sends use: a stale index item (a connection gone
   * without its `$disconnect`, or a crash leftover) is counted until a send's 410 prunes it or TTL
   * removes it, exactly as sendToGroup would post to it. Ids are in no particular order.
   *
   * Cost: one parallel Scan of the groups index (`scanSegments` segments, every page, eventually
   * consistent): 0.5 RCU per 4 KB of index items (each is a group name, a connection id and a TTL),
   * whatever the size of the sessions.
   */
  async getAllGroupClientIdList(): Promise<Record<string, string[]>> {
    return Object.fromEntries(await this.scanGroupMembers('getAllGroupClientIdList'));
  }

  /** group -> how many members it has: getAllGroupClientIdList's counts, from the same one Scan. */
  async getAllGroupClientIdCount(): Promise<Record<string, number>> {
    const members = await this.scanGroupMembers('getAllGroupClientIdCount');
    return Object.fromEntries([...members].map(([group, ids]) => [group, ids.length]));
  }

  /**
   * group -> the distinct uids of its members, for every group with at least one member; members
   * without a uid are skipped (a group none of whose members has one maps to []), never a reason to
   * stop. Unlike GatewayWorker, whose map leaves such groups out and whose loop stops at the first
   * connection without a uid, silently dropping the rest.
   *
   * Index-driven like getAllGroupClientIdList: members from the groups index, their uids from the uids
   * index (the items sendToUid uses), joined on the connection id. Cost: two parallel Scans run at
   * the same time, of the groups index and of the uids index, eventually consistent: 0.5 RCU per
   * 4 KB of index items. Reading the uids from the connection items instead costs more in all but
   * one case: BatchGetItem is billed per item, each rounded up to 4 KB of the whole item, session
   * included (at least 0.5 RCU per distinct member, 100 keys a request: 10,000 members >= 5,000 RCU,
   * where the uids index of 10,000 bound connections, about a hundred bytes an item, scans for
   * ~125), and a Scan of the connections table reads every connection with its session. BatchGet
   * would only win when very few of the bound connections are in any group (fewer members than
   * about 1 in 40 bound connections).
   *
   * Being index-driven, a uid index item left by a crash (a rebind or unbind stopped before its
   * last delete) counts like a binding, as it does for sendToUid; getUidListByGroup reads the uid
   * from the connection items and so may differ in that case.
   */
  async getAllGroupUidList(): Promise<Record<string, string[]>> {
    const byGroup = await this.groupUids('getAllGroupUidList');
    return Object.fromEntries([...byGroup].map(([group, uids]) => [group, [...uids]]));
  }

  /** group -> how many distinct uids its members have (getAllGroupUidList's counts; 0 when none has one). */
  async getAllGroupUidCount(): Promise<Record<string, number>> {
    const byGroup = await this.groupUids('getAllGroupUidCount');
    return Object.fromEntries([...byGroup].map(([group, uids]) => [group, uids.size]));
  }

  /** Every group -> its members' connection ids, from one parallel Scan of the groups index. */
  private async scanGroupMembers(operation: string): Promise<Map<string, string[]>> {
    const key = GatewayTables.groups.partitionKey;
    const members = new Map<string, string[]>();
    await this.store.scan(operation, 'groups', { attributes: [key, 'connectionId'], consistent: false, nowMs: Date.now() }, (items) => {
      for (const item of items) {
        const group = item[key] as string;
        const id = item.connectionId as string;
        const ids = members.get(group);
        if (ids) ids.push(id);
        else members.set(group, [id]);
      }
    });
    return members;
  }

  /** Every group -> the distinct uids of its members: the groups index and the uids index, scanned at once. */
  private async groupUids(operation: string): Promise<Map<string, Set<string>>> {
    const key = GatewayTables.uids.partitionKey;
    const uidsOf = new Map<string, string[]>(); // connection id -> uids (more than one only for a crash leftover)
    const [members] = await Promise.all([
      this.scanGroupMembers(operation),
      this.store.scan(operation, 'uids', { attributes: [key, 'connectionId'], consistent: false, nowMs: Date.now() }, (items) => {
        for (const item of items) {
          const id = item.connectionId as string;
          const uids = uidsOf.get(id);
          if (uids) uids.push(item[key] as string);
          else uidsOf.set(id, [item[key] as string]);
        }
      }),
    ]);
    const result = new Map<string, Set<string>>();
    for (const [group, ids] of members) {
      const uids = new Set<string>();
      for (const id of ids) for (const uid of uidsOf.get(id) ?? []) uids.add(uid);
      result.set(group, uids);
    }
    return result;
  }

  private async distinctKeys(operation: string, role: 'uids' | 'groups', attribute: string): Promise<string[]> {
    const keys = new Set<string>();
    await this.store.scan(operation, role, { attributes: [attribute], consistent: false, nowMs: Date.now() }, (items) => {
      for (const item of items) keys.add(item[attribute] as string);
    });
    return [...keys];
  }
}

/** Whether joining `group` would take a connection in `groups` past MAX_GROUPS_PER_CONNECTION. */
function isFull(groups: ReadonlySet<string> | undefined, group: string): boolean {
  return (groups?.size ?? 0) >= MAX_GROUPS_PER_CONNECTION && !groups?.has(group);
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
