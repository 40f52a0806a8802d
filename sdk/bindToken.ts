/**
 * Bind tokens: proof that whoever asks to bind a connection got its init message, i.e. owns it.
 * A connection id is not a credential (it leaks through rosters, payloads and logs); the token is a
 * connection token of purpose 'bind' (tokens.ts: a MAC over the purpose, the id and an expiry, keyed
 * by a secret that only the backend side can read), so it is good for binding and nothing else.
 *
 * The key is the UTF-8 bytes of a Secrets Manager secret's SecretString (the construct generates 64
 * characters; locally the gateway generates one per start). The key and the secret's value never
 * appear in an error or a log line.
 *
 * The secret is read once per process (BindTokenSecret caches it): verification makes no network
 * call after the first. A new secret value reaches a process when it starts.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { BindTokenError, ConfigurationError, ServiceError, ThrottledError, ValidationError, type BindTokenRefusal } from './errors.ts';
import { CONNECTION_MAX_AGE_SECONDS } from './tables.ts';
import { checkToken, mintToken } from './tokens.ts';

/** A token is valid as long as the longest connection API Gateway allows: 2 hours. */
export const BIND_TOKEN_TTL_SECONDS = CONNECTION_MAX_AGE_SECONDS;

/** Shorter keys are refused (a configuration error): HMAC-SHA256 wants at least 32 bytes of key. */
export const MIN_BIND_SECRET_BYTES = 32;

/** Options of the binding methods (`bindUid`, `joinGroup`). */
export interface BindOptions {
  /** The `bind_token` of the connection's init message, as the browser posted it. */
  readonly bindToken?: string;
}

/**
 * Set by the Lambda handlers (lambdas/currentClient.ts) on binds of the connection whose event they
 * are handling: API Gateway delivered that event on that very connection, so its id is proven.
 * Not exported from the package index.
 */
export const OWN_CONNECTION: unique symbol = Symbol('gateway.ownConnection');

/** A bind token for `connectionId`, valid until `nowMs` + `ttlSeconds`. */
export function mintBindToken(key: Uint8Array, connectionId: string, nowMs = Date.now(), ttlSeconds = BIND_TOKEN_TTL_SECONDS): string {
  return mintToken(key, 'bind', connectionId, nowMs, ttlSeconds);
}

/** Why a bind token is refused, or undefined when one of `keys` signed it for `connectionId` and it is valid at `nowMs`. */
export function checkBindToken(keys: Uint8Array | readonly Uint8Array[], connectionId: string, token: unknown, nowMs = Date.now()): BindTokenRefusal | undefined {
  return checkToken(keys, 'bind', connectionId, token, nowMs);
}

/**
 * A Secrets Manager client: a SecretsManagerClient, or anything with its `send` for GetSecretValue.
 * Structural, because @aws-sdk/client-secrets-manager is an optional peer of the package (an SDK
 * install that never reads a bind token secret does not carry it): the package's types must not need it.
 */
export interface SecretsManagerClientLike {
  send(command: object): Promise<{ readonly SecretString?: string }>;
  destroy(): void;
}

type SecretsManagerModule = typeof import('@aws-sdk/client-secrets-manager');
let secretsManagerModule: Promise<SecretsManagerModule> | undefined;

/** @aws-sdk/client-secrets-manager, imported on the first secret read (Lambda's Node.js runtimes provide it). */
function loadSecretsManager(): Promise<SecretsManagerModule> {
  secretsManagerModule ??= import('@aws-sdk/client-secrets-manager').catch((error: unknown) => {
    secretsManagerModule = undefined;
    throw new ConfigurationError(
      'bind tokens read their secret with @aws-sdk/client-secrets-manager, which this install does not have: npm install @aws-sdk/client-secrets-manager',
      { cause: error },
    );
  });
  return secretsManagerModule;
}

export interface BindTokenSecretOptions {
  /** The secret's ARN or name (GATEWAY_BIND_TOKEN_SECRET). */
  readonly secretId: string;
  /** @default a SecretsManagerClient built for `region` and `credentials`; it honours AWS_ENDPOINT_URL_SECRETS_MANAGER by itself */
  readonly client?: SecretsManagerClientLike;
  readonly region?: string;
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
}

/** The key, read from Secrets Manager on first use and kept; a failed read is tried again next time. */
export class BindTokenSecret {
  readonly secretId: string;
  /** The caller's client, or the one this built on the first read (and destroys). */
  private client: SecretsManagerClientLike | undefined;
  private readonly ownsClient: boolean;
  private pending: Promise<Buffer> | undefined;

  constructor(private readonly options: BindTokenSecretOptions) {
    this.secretId = options.secretId;
    this.ownsClient = !options.client;
    this.client = options.client;
  }

  key(): Promise<Buffer> {
    this.pending ??= this.load().catch((error) => {
      this.pending = undefined;
      throw error;
    });
    return this.pending;
  }

  destroy(): void {
    if (this.ownsClient) this.client?.destroy();
  }

  private async load(): Promise<Buffer> {
    const { GetSecretValueCommand, SecretsManagerClient } = await loadSecretsManager();
    const { region, credentials } = this.options;
    this.client ??= new SecretsManagerClient({ ...(region ? { region } : {}), ...(credentials ? { credentials } : {}) });
    let value: string | undefined;
    try {
      value = (await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }))).SecretString;
    } catch (error) {
      // The AWS error's name and message name the secret at most, never its value.
      const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const details = { statusCode: e?.$metadata?.httpStatusCode, errorType: e?.name };
      const message = `reading the bind token secret ${this.secretId} failed: ${e?.name ?? 'Error'}: ${e?.message ?? 'no answer'}`;
      if (e?.name === 'ThrottlingException') throw new ThrottledError(message, details);
      throw new ServiceError(message, details);
    }
    const key = Buffer.from(value ?? '', 'utf8');
    if (key.length < MIN_BIND_SECRET_BYTES) {
      throw new ConfigurationError(`the bind token secret ${this.secretId} has no SecretString of at least ${MIN_BIND_SECRET_BYTES} bytes`);
    }
    return key;
  }
}

/** What the binding methods call before any write: refuses a missing or wrong token when tokens are required. */
export class BindTokenGuard {
  constructor(
    private readonly secret: BindTokenSecret | undefined,
    readonly required: boolean,
    private readonly now: () => number = Date.now,
  ) {
    if (required && !secret) throw new ConfigurationError('requireBindToken needs bindTokenSecret (GATEWAY_BIND_TOKEN_SECRET): the secret the tokens are checked with');
  }

  /** True when `token` is a valid, unexpired token for `clientId`. */
  async verify(clientId: string, token: unknown): Promise<boolean> {
    return (await this.refusal(clientId, token)) === undefined;
  }

  async create(clientId: string): Promise<string> {
    return mintBindToken(await this.keyOrThrow('createBindToken'), clientId, this.now());
  }

  /** Throws BindTokenError when the token is required and refused, ValidationError for a malformed options argument. */
  async authorize(operation: string, clientId: string, options: unknown): Promise<void> {
    if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
      throw new ValidationError(`${operation}: options must be an object such as { bindToken }`);
    }
    const given = (options ?? {}) as BindOptions & { [OWN_CONNECTION]?: boolean };
    if (given.bindToken !== undefined && typeof given.bindToken !== 'string') throw new ValidationError(`${operation}: bindToken must be a string`);
    if (!this.required || given[OWN_CONNECTION] === true) return;
    const refusal = await this.refusal(clientId, given.bindToken);
    if (refusal) throw new BindTokenError(operation, clientId, refusal);
  }

  destroy(): void {
    this.secret?.destroy();
  }

  private async refusal(clientId: string, token: unknown): Promise<BindTokenRefusal | undefined> {
    if (token === undefined || token === null || token === '') return 'missing'; // no secret read needed
    return checkBindToken(await this.keyOrThrow('verifyBindToken'), clientId, token, this.now());
  }

  private keyOrThrow(operation: string): Promise<Buffer> {
    if (!this.secret) return Promise.reject(new ConfigurationError(`${operation} needs bindTokenSecret (GATEWAY_BIND_TOKEN_SECRET)`));
    return this.secret.key();
  }
}
