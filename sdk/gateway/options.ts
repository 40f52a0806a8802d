/**
 * GatewayOptions and their checking: every option the constructor uses is read once and checked
 * before anything is built (resolveOptions). New options go here: the interface, then the check.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import type { ConsumedCapacityEvent } from '../ConnectionStore.ts';
import { ConfigurationError, GatewayError } from '../errors.ts';
import { resolveFanoutOptions, type FanoutOptions, type ResolvedFanoutOptions } from '../Fanout.ts';
import type { GatewayTableNames } from '../tables.ts';
import { describe } from '../validation.ts';
import type { SendMetrics } from './types.ts';
import type { ConnectionsTransport } from '../connectionsTransport.ts';
import type { SecretsManagerClientLike } from '../tokenSecret.ts';

export type HookOperation = 'bindUid' | 'unbindUid' | 'joinGroup' | 'leaveGroup';

export interface HookEvent {
  readonly operation: HookOperation;
  readonly clientId: string;
  readonly uid?: string;
  readonly group?: string;
}

/**
 * TEST-ONLY hooks between the two writes of a binding change, to simulate a crash there (throw) or
 * to interleave another operation: `withTestHooks` of sdk/internal.ts, which the package does not export.
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
  /** Physical names of the five tables (sdk/tables.ts). */
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
  /**
   * The 429 backoff: throttle retry n waits between half and all of min(throttleMaxDelayMs,
   * throttleBaseDelayMs * 2^(n-1)), long enough for a throttled account's bucket to refill. Inline
   * sends retry a 429 `maxRetries` times; a fan-out worker retries it until its deadline. @default 250
   */
  readonly throttleBaseDelayMs?: number;
  /** @default 8000 */
  readonly throttleMaxDelayMs?: number;
  /**
   * `@connections` requests per second this Gateway (this process) may start, retries included,
   * across all its sends and closes; a fan-out chunk is held to the smaller of this and its share of
   * the broadcast's budget. The bucket holds a second's worth, at most 1,000 (the chunking
   * threshold), so one send of up to 1,000 recipients from a rested process goes out unpaced; what
   * is bounded is the sustained rate. `false`: no limit.
   * @default 2000 (a fifth of the account's default 10,000 requests/s, shared by every API)
   */
  readonly sendRate?: number | false;
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
  /**
   * Sends each signed `@connections` request (POST, GET, DELETE) instead of the SDK's own HTTP(S)
   * client: a unit test's stand-in for API Gateway (see sdk/connectionsTransport.ts).
   * @default the SDK's keep-alive HTTP(S) client
   */
  readonly connectionsTransport?: ConnectionsTransport;
  /**
   * Chunked fan-out through the worker Lambda for large sends (see FanoutOptions and sdk/Fanout.ts);
   * `false` keeps every send inline even when the environment names a worker.
   * @default - `Gateway.fromEnv()`: from GATEWAY_FANOUT_FUNCTION and GATEWAY_FANOUT_THRESHOLD when
   * set; the constructor: none, every send is inline
   */
  readonly fanout?: FanoutOptions | false;
  /**
   * ARN or name of the Secrets Manager secret that keys the bind tokens (sdk/bindToken.ts). Giving it
   * makes binds require tokens unless `requireBindToken` is `false`.
   * @default - `Gateway.fromEnv()`: GATEWAY_BIND_TOKEN_SECRET; the constructor: none
   */
  readonly bindTokenSecret?: string;
  /**
   * bindUid and joinGroup refuse a missing or wrong bind token with BindTokenError, before any write.
   * `true` needs `bindTokenSecret`; `false` is the only way to bind without tokens while holding one.
   * @default true when `bindTokenSecret` is given (fail closed), else false. `Gateway.fromEnv()`
   * takes GATEWAY_REQUIRE_BIND_TOKEN when it is set (`true` / `false`), else the same default
   */
  readonly requireBindToken?: boolean;
  /**
   * Seconds a connection of the browser client stays resumable after an unexpected close: its uid,
   * groups and session are kept and pushes to it wait (docs/guides/recovery.md). 0 turns recovery
   * off. @default 120 (`Gateway.fromEnv()`: GATEWAY_RECOVERY_WINDOW_SECONDS when set)
   */
  readonly recoveryWindowSeconds?: number;
  /** Bring your own Secrets Manager client. @default one built for `region` and `credentials`; it honours AWS_ENDPOINT_URL_SECRETS_MANAGER by itself */
  readonly secretsManager?: SecretsManagerClientLike;
}

const EXECUTE_API_HOST = /^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

const DEFAULTS = {
  concurrency: 64,
  maxRetries: 3,
  retryBaseDelayMs: 100,
  retryMaxDelayMs: 2000,
  throttleBaseDelayMs: 250,
  throttleMaxDelayMs: 8000,
  requestTimeoutMs: 10_000,
  scanSegments: 4,
  maxSessionAttempts: 25,
} as const;

/** Requests per second of one process, by default: see GatewayOptions.sendRate. */
export const DEFAULT_SEND_RATE = 2000;

/** The process bucket's size: a second's worth, at most 1,000 (an inline send up to the chunking threshold goes out at once). */
export function sendBurst(sendRate: number): number {
  return Math.max(1, Math.min(1000, Math.ceil(sendRate)));
}

/** GatewayOptions read once and checked: what the constructor builds the Gateway from. */
export interface ResolvedOptions {
  readonly url: URL;
  readonly tables: GatewayTableNames;
  readonly region: string;
  readonly credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider | undefined;
  readonly dynamoDb: DynamoDBDocumentClient | undefined;
  readonly concurrency: number;
  readonly maxRetries: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly throttleBaseDelayMs: number;
  readonly throttleMaxDelayMs: number;
  /** undefined: no limit. */
  readonly sendRate: number | undefined;
  readonly requestTimeoutMs: number;
  readonly scanSegments: number;
  readonly maxSessionAttempts: number;
  readonly onConsumedCapacity: ((event: ConsumedCapacityEvent) => void) | undefined;
  readonly onSendCompleted: ((metrics: SendMetrics) => void) | undefined;
  readonly logger: { warn(message: string, error?: unknown): void };
  readonly random: () => number;
  readonly connectionsTransport: ConnectionsTransport | undefined;
  readonly fanout: ResolvedFanoutOptions | undefined;
  readonly bindTokenSecret: string | undefined;
  readonly requireBindToken: boolean;
  readonly secretsManager: SecretsManagerClientLike | undefined;
  readonly recoveryWindowSeconds: number;
}

/** Socket.IO's and Ably's recovery window: 2 minutes. */
export const DEFAULT_RECOVERY_WINDOW_SECONDS = 120;
/** At most a day: held items keep their TTL within DynamoDB's reach and a token's expiry short. */
export const MAX_RECOVERY_WINDOW_SECONDS = 86_400;

/** Runs `read` over a caller's option; a throwing getter or Proxy trap becomes a ConfigurationError naming it. */
export function readConfig<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new ConfigurationError(`${what} could not be read: ${errorText(error)}`, { cause: error });
  }
}

/** A non-array object (Array.isArray throws for a revoked Proxy: a ConfigurationError then). */
export function isOptionsObject(what: string, value: unknown): value is object {
  return typeof value === 'object' && value !== null && !readConfig(what, () => Array.isArray(value));
}

export function errorText(error: unknown): string {
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
export function resolveOptions(options: unknown): ResolvedOptions {
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
    const value =
      typeof rawTables === 'object' && rawTables !== null ? readConfig(`tables.${role}`, () => (rawTables as Record<string, unknown>)[role]) : undefined;
    if (typeof value !== 'string' || value.length < 3) throw new ConfigurationError(`tables.${role} must be a DynamoDB table name, got ${describe(value)}`);
    return value;
  };
  const tables: GatewayTableNames = {
    connections: tableName('connections'),
    sessions: tableName('sessions'),
    memberships: tableName('memberships'),
    uids: tableName('uids'),
    groups: tableName('groups'),
  };

  const givenRegion = option('region');
  if (givenRegion !== undefined && (typeof givenRegion !== 'string' || givenRegion.trim() === '')) {
    throw new ConfigurationError(`region must be an AWS Region name, got ${describe(givenRegion)}`);
  }
  const region = givenRegion ?? EXECUTE_API_HOST.exec(url.hostname)?.[1] ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) throw new ConfigurationError('no region: pass `region`, use an execute-api callbackUrl, or set AWS_REGION');

  const number = (name: keyof typeof DEFAULTS, min: number): number => {
    const value = option(name) ?? DEFAULTS[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min)
      throw new ConfigurationError(`${name} must be a number >= ${min}, got ${describe(value)}`);
    return value;
  };

  const credentials = option('credentials');
  if (credentials !== undefined && typeof credentials !== 'function') {
    const fields =
      typeof credentials === 'object' && credentials !== null
        ? readConfig('credentials', () => [(credentials as Record<string, unknown>).accessKeyId, (credentials as Record<string, unknown>).secretAccessKey])
        : [];
    if (typeof fields[0] !== 'string' || typeof fields[1] !== 'string') {
      throw new ConfigurationError(
        `credentials must be { accessKeyId, secretAccessKey, sessionToken? } or a credential provider function, got ${describe(credentials)}`,
      );
    }
  }

  const dynamoDb = option('dynamoDb');
  if (dynamoDb !== undefined) {
    const send = typeof dynamoDb === 'object' && dynamoDb !== null ? readConfig('dynamoDb.send', () => (dynamoDb as Record<string, unknown>).send) : undefined;
    if (typeof send !== 'function') throw new ConfigurationError(`dynamoDb must be a DynamoDBDocumentClient, got ${describe(dynamoDb)}`);
  }

  const logger = option('logger') ?? console;
  const warn =
    typeof logger === 'object' || typeof logger === 'function' ? readConfig('logger.warn', () => (logger as Record<string, unknown>).warn) : undefined;
  if (typeof warn !== 'function') throw new ConfigurationError(`logger must be an object with a warn(message, error) method, got ${describe(logger)}`);

  const rawSendRate = option('sendRate') ?? DEFAULT_SEND_RATE;
  if (rawSendRate !== false && (typeof rawSendRate !== 'number' || !Number.isFinite(rawSendRate) || !(rawSendRate > 0))) {
    throw new ConfigurationError(`sendRate must be a positive number of requests per second or false, got ${describe(rawSendRate)}`);
  }

  const rawFanout = option('fanout');
  let fanout: ResolvedFanoutOptions | undefined;
  if (rawFanout !== undefined && rawFanout !== false) {
    if (typeof rawFanout !== 'object' || rawFanout === null) throw new ConfigurationError(`fanout must be an object or false, got ${describe(rawFanout)}`);
    fanout = readConfig('fanout', () =>
      resolveFanoutOptions(rawFanout as FanoutOptions, {
        region,
        ...(credentials !== undefined ? { credentials: credentials as AwsCredentialIdentity | AwsCredentialIdentityProvider } : {}),
      }),
    );
  }

  const bindTokenSecret = option('bindTokenSecret');
  if (bindTokenSecret !== undefined && (typeof bindTokenSecret !== 'string' || bindTokenSecret.trim() === '')) {
    throw new ConfigurationError(`bindTokenSecret must be a secret's ARN or name, got ${describe(bindTokenSecret)}`);
  }
  // Fail closed: holding the secret means binds are checked, unless told otherwise in so many words.
  const requireBindToken = option('requireBindToken') ?? bindTokenSecret !== undefined;
  if (typeof requireBindToken !== 'boolean') throw new ConfigurationError(`requireBindToken must be a boolean, got ${describe(requireBindToken)}`);
  if (requireBindToken && bindTokenSecret === undefined) {
    throw new ConfigurationError('requireBindToken needs bindTokenSecret (GATEWAY_BIND_TOKEN_SECRET): the secret the bind tokens are checked with');
  }
  const secretsManager = option('secretsManager');
  if (secretsManager !== undefined) {
    const send =
      typeof secretsManager === 'object' && secretsManager !== null
        ? readConfig('secretsManager.send', () => (secretsManager as Record<string, unknown>).send)
        : undefined;
    if (typeof send !== 'function') throw new ConfigurationError(`secretsManager must be a SecretsManagerClient, got ${describe(secretsManager)}`);
  }

  const recoveryWindowSeconds = option('recoveryWindowSeconds') ?? DEFAULT_RECOVERY_WINDOW_SECONDS;
  if (
    typeof recoveryWindowSeconds !== 'number' ||
    !Number.isInteger(recoveryWindowSeconds) ||
    recoveryWindowSeconds < 0 ||
    recoveryWindowSeconds > MAX_RECOVERY_WINDOW_SECONDS
  ) {
    throw new ConfigurationError(
      `recoveryWindowSeconds must be a whole number of seconds from 0 to ${MAX_RECOVERY_WINDOW_SECONDS}, got ${describe(recoveryWindowSeconds)}`,
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
    throttleBaseDelayMs: number('throttleBaseDelayMs', 0),
    throttleMaxDelayMs: number('throttleMaxDelayMs', 0),
    sendRate: rawSendRate === false ? undefined : rawSendRate,
    requestTimeoutMs: number('requestTimeoutMs', 1),
    scanSegments: Math.floor(number('scanSegments', 1)),
    maxSessionAttempts: Math.floor(number('maxSessionAttempts', 1)),
    onConsumedCapacity: optionalFunction('onConsumedCapacity'),
    onSendCompleted: optionalFunction('onSendCompleted'),
    logger: logger as { warn(message: string, error?: unknown): void },
    random: optionalFunction<() => number>('random') ?? Math.random,
    connectionsTransport: optionalFunction<ConnectionsTransport>('connectionsTransport'),
    fanout,
    bindTokenSecret: bindTokenSecret as string | undefined,
    requireBindToken,
    secretsManager: secretsManager as SecretsManagerClientLike | undefined,
    recoveryWindowSeconds,
  };
}
