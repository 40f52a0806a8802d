/**
 * Bind tokens: proof that whoever asks to bind a connection got its init message, i.e. owns it.
 * A connection id is not a credential (it leaks through rosters, payloads and logs); the token is a
 * connection token of purpose 'bind' (tokens.ts: a MAC over the purpose, the id and an expiry, keyed
 * by a secret that only the backend side can read), so it is good for binding and nothing else.
 *
 * The key is the UTF-8 bytes of a Secrets Manager secret's SecretString (the construct generates 64
 * characters; locally the gateway generates one per start).
 *
 * The secret's current and previous versions are read on first use and again hourly (tokenSecret.ts):
 * verification makes no network call in between, except that a token none of the keys signed makes
 * the process read them again, at most once a minute (a rotation under way). A token signed with
 * either version is accepted, so a rotation needs no restart and refuses no token.
 */
import { BindTokenError, ConfigurationError, ValidationError, type BindTokenRefusal } from './errors.ts';
import { CONNECTION_MAX_AGE_SECONDS } from './tables.ts';
import { checkToken, mintToken } from './tokens.ts';
import type { TokenKeys, TokenSecret } from './tokenSecret.ts';

// The key's reader under its former names, for code written against them (a bind token secret is a token secret).
export { TokenSecret as BindTokenSecret, type TokenSecretOptions as BindTokenSecretOptions, type SecretsManagerClientLike } from './tokenSecret.ts';

/** A token is valid as long as the longest connection API Gateway allows: 2 hours. */
export const BIND_TOKEN_TTL_SECONDS = CONNECTION_MAX_AGE_SECONDS;

/** Options of the binding methods (`bindUid`, `joinGroup`). */
export interface BindOptions {
  /** The `bind_token` of the connection's init message, as the browser posted it. */
  readonly bindToken?: string;
}

/** A bind token for `connectionId`, valid until `nowMs` + `ttlSeconds`. */
export function mintBindToken(key: Uint8Array, connectionId: string, nowMs = Date.now(), ttlSeconds = BIND_TOKEN_TTL_SECONDS): string {
  return mintToken(key, 'bind', connectionId, nowMs, ttlSeconds);
}

/** Why a bind token is refused, or undefined when one of `keys` signed it for `connectionId` and it is valid at `nowMs`. */
export function checkBindToken(
  keys: Uint8Array | readonly Uint8Array[],
  connectionId: string,
  token: unknown,
  nowMs = Date.now(),
): BindTokenRefusal | undefined {
  return checkToken(keys, 'bind', connectionId, token, nowMs);
}

/** What the binding methods call before any write: refuses a missing or wrong token when tokens are required. */
export class BindTokenGuard {
  constructor(
    private readonly secret: TokenSecret | undefined,
    readonly required: boolean,
    private readonly now: () => number = Date.now,
  ) {
    if (required && !secret)
      throw new ConfigurationError('requireBindToken needs bindTokenSecret (GATEWAY_BIND_TOKEN_SECRET): the secret the tokens are checked with');
  }

  /** True when `token` is a valid, unexpired token for `clientId`. */
  async verify(clientId: string, token: unknown): Promise<boolean> {
    return (await this.refusal(clientId, token)) === undefined;
  }

  async create(clientId: string): Promise<string> {
    return mintBindToken((await this.keysOrThrow('createBindToken')).current, clientId, this.now());
  }

  /** Throws BindTokenError when the token is required and refused, ValidationError for a malformed options argument. */
  async authorize(operation: string, clientId: string, options: unknown, ownConnection?: string): Promise<void> {
    if (options !== undefined && options !== null && (typeof options !== 'object' || Array.isArray(options))) {
      throw new ValidationError(`${operation}: options must be an object such as { bindToken }`);
    }
    const given = (options ?? {}) as BindOptions;
    if (given.bindToken !== undefined && typeof given.bindToken !== 'string') throw new ValidationError(`${operation}: bindToken must be a string`);
    // The connection an Events callback runs for is proven by API Gateway; a token given for it is still checked.
    if (!this.required || (clientId === ownConnection && given.bindToken === undefined)) return;
    const refusal = await this.refusal(clientId, given.bindToken);
    if (refusal) throw new BindTokenError(operation, clientId, refusal);
  }

  destroy(): void {
    this.secret?.destroy();
  }

  private async refusal(clientId: string, token: unknown): Promise<BindTokenRefusal | undefined> {
    if (token === undefined || token === null || token === '') return 'missing'; // no secret read needed
    const keys = await this.keysOrThrow('verifyBindToken');
    const refusal = checkBindToken(keys.all, clientId, token, this.now());
    if (refusal !== 'mismatch') return refusal;
    // Signed by none of this process's keys: perhaps by a version put since it read them (a rotation).
    const newer = await this.secret!.keysAfterMiss(keys);
    return newer ? checkBindToken(newer.all, clientId, token, this.now()) : refusal;
  }

  private keysOrThrow(operation: string): Promise<TokenKeys> {
    if (!this.secret) return Promise.reject(new ConfigurationError(`${operation} needs bindTokenSecret (GATEWAY_BIND_TOKEN_SECRET)`));
    return this.secret.keys();
  }
}
