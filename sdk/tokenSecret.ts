/**
 * The token key: a Secrets Manager secret's versions, read on first use and kept for an hour.
 *
 * Tokens are minted with the current version (AWSCURRENT) and checked against it and the previous
 * one (AWSPREVIOUS), so a rotation (a PutSecretValue of a new value, which moves AWSCURRENT to it and
 * AWSPREVIOUS to the old value, as AWS does) refuses no token: a process that already has the new key
 * still accepts what one still on the old key minted. Every process re-reads both versions when its
 * copy is an hour old, and sooner (at most once a minute) when a token matches neither of its keys,
 * which is what a process still on the old key sees when another has moved on. No restart needed.
 *
 * The key is the UTF-8 bytes of the SecretString (the construct generates 64 characters). Neither it
 * nor the secret's value appears in an error or a log line.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { ConfigurationError, ServiceError, ThrottledError } from './errors.ts';

/** Shorter keys are refused (a configuration error): HMAC-SHA256 wants at least 32 bytes of key. */
export const MIN_TOKEN_SECRET_BYTES = 32;

/** How old a process's copy of the key gets before it is read again. */
export const TOKEN_KEY_REFRESH_MS = 60 * 60 * 1000;

/** The least time between two reads that a token of an unknown key causes. */
export const TOKEN_KEY_MISS_REFRESH_MS = 60 * 1000;

/**
 * A Secrets Manager client: a SecretsManagerClient, or anything with its `send` for GetSecretValue.
 * Structural, because @aws-sdk/client-secrets-manager is an optional peer of the package (an SDK
 * install that never reads a token secret does not carry it): the package's types must not need it.
 */
export interface SecretsManagerClientLike {
  send(command: object): Promise<{ readonly SecretString?: string; readonly VersionId?: string }>;
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

export interface TokenSecretOptions {
  /** The secret's ARN or name (GATEWAY_BIND_TOKEN_SECRET). */
  readonly secretId: string;
  /** @default a SecretsManagerClient built for `region` and `credentials`; it honours AWS_ENDPOINT_URL_SECRETS_MANAGER by itself */
  readonly client?: SecretsManagerClientLike;
  readonly region?: string;
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** @default TOKEN_KEY_REFRESH_MS (1 hour) */
  readonly refreshMs?: number;
  /** @default TOKEN_KEY_MISS_REFRESH_MS (1 minute) */
  readonly missRefreshMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** The versions a token may be signed with: the current first (the one to mint with), then the previous, if any. */
export interface TokenKeys {
  readonly current: Buffer;
  readonly previous: Buffer | undefined;
  /** current, then previous: what checkToken takes. */
  readonly all: readonly Buffer[];
}

interface Cached {
  readonly keys: TokenKeys;
  readonly readAt: number;
}

export class TokenSecret {
  readonly secretId: string;
  /** The caller's client, or the one this built on the first read (and destroys). */
  private client: SecretsManagerClientLike | undefined;
  private readonly ownsClient: boolean;
  private readonly refreshMs: number;
  private readonly missRefreshMs: number;
  private readonly now: () => number;
  private cached: Cached | undefined;
  private pending: Promise<TokenKeys> | undefined;

  constructor(private readonly options: TokenSecretOptions) {
    this.secretId = options.secretId;
    this.ownsClient = !options.client;
    this.client = options.client;
    this.refreshMs = options.refreshMs ?? TOKEN_KEY_REFRESH_MS;
    this.missRefreshMs = options.missRefreshMs ?? TOKEN_KEY_MISS_REFRESH_MS;
    this.now = options.now ?? Date.now;
  }

  /** The current key: what tokens are minted with. */
  async key(): Promise<Buffer> {
    return (await this.keys()).current;
  }

  /**
   * The current and previous keys, read again when an hour old. A failed first read rejects (and is
   * tried again on the next call); a failed refresh keeps the keys already read, and is tried again
   * after missRefreshMs, so a Secrets Manager outage does not stop binds.
   */
  keys(): Promise<TokenKeys> {
    const cached = this.cached;
    if (cached && this.now() - cached.readAt < this.refreshMs) return Promise.resolve(cached.keys);
    return this.read(cached);
  }

  /**
   * Called when a token matched none of `seen`: reads the versions again (unless that was done in the
   * last missRefreshMs) and resolves with the new keys, or undefined when nothing new was read.
   */
  async keysAfterMiss(seen: TokenKeys): Promise<TokenKeys | undefined> {
    const cached = this.cached;
    if (cached && cached.keys !== seen) return cached.keys; // read again meanwhile
    if (!cached || this.now() - cached.readAt < this.missRefreshMs) return undefined;
    const keys = await this.read(cached);
    return keys === seen ? undefined : keys;
  }

  destroy(): void {
    if (this.ownsClient) this.client?.destroy();
  }

  private read(stale: Cached | undefined): Promise<TokenKeys> {
    this.pending ??= this.load()
      .then((keys) => {
        this.cached = { keys, readAt: this.now() };
        return keys;
      })
      .catch((error: unknown) => {
        if (!stale) throw error;
        // Keep what was read before; try again after missRefreshMs rather than on every call.
        this.cached = { keys: stale.keys, readAt: this.now() - this.refreshMs + this.missRefreshMs };
        return stale.keys;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  private async load(): Promise<TokenKeys> {
    const { GetSecretValueCommand, SecretsManagerClient } = await loadSecretsManager();
    const { region, credentials } = this.options;
    this.client ??= new SecretsManagerClient({ ...(region ? { region } : {}), ...(credentials ? { credentials } : {}) });
    const client = this.client;
    const [current, previous] = await Promise.all([
      this.getValue(client, new GetSecretValueCommand({ SecretId: this.secretId, VersionStage: 'AWSCURRENT' })),
      // A secret that was never rotated has no AWSPREVIOUS: Secrets Manager answers ResourceNotFoundException.
      this.getValue(client, new GetSecretValueCommand({ SecretId: this.secretId, VersionStage: 'AWSPREVIOUS' }), 'ResourceNotFoundException'),
    ]);
    const currentKey = Buffer.from(current ?? '', 'utf8');
    if (currentKey.length < MIN_TOKEN_SECRET_BYTES) {
      throw new ConfigurationError(`the bind token secret ${this.secretId} has no SecretString of at least ${MIN_TOKEN_SECRET_BYTES} bytes`);
    }
    // A previous value too short to be a key never signed a token (minting needs a valid current key).
    const previousKey = previous !== undefined && Buffer.byteLength(previous, 'utf8') >= MIN_TOKEN_SECRET_BYTES ? Buffer.from(previous, 'utf8') : undefined;
    return { current: currentKey, previous: previousKey, all: previousKey ? [currentKey, previousKey] : [currentKey] };
  }

  /** The version's SecretString; undefined when the answer is the error named `absentWhen`. */
  private async getValue(client: SecretsManagerClientLike, command: object, absentWhen?: string): Promise<string | undefined> {
    try {
      return (await client.send(command)).SecretString;
    } catch (error) {
      // The AWS error's name and message name the secret at most, never its value.
      const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      if (absentWhen !== undefined && e?.name === absentWhen) return undefined;
      const details = { statusCode: e?.$metadata?.httpStatusCode, errorType: e?.name };
      const message = `reading the bind token secret ${this.secretId} failed: ${e?.name ?? 'Error'}: ${e?.message ?? 'no answer'}`;
      if (e?.name === 'ThrottlingException') throw new ThrottledError(message, details);
      throw new ServiceError(message, details);
    }
  }
}
