/**
 * Connection tokens: a MAC over a purpose, a connection id and an expiry, keyed by a secret only the
 * backend side holds. The purpose is part of what is signed, so a token minted for one use (a bind)
 * is good for nothing else (a resume of a lost connection, say), even though both use one key.
 *
 *   token = "v2." + expiry + "." + base64url(HMAC-SHA256(key, "v2." + purpose + "." + connectionId + "." + expiry))
 *
 * `expiry` is Unix seconds in decimal; the MAC is 43 characters. The purpose is not written in the
 * token: the checker says which purpose it expects, and a token of another purpose is a 'mismatch'.
 * A purpose has no dot and the expiry is digits only, so the signed string parses one way whatever
 * the connection id holds.
 *
 * Version 1 (before purposes): "v1." + expiry + "." + MAC over "v1." + connectionId + "." + expiry.
 * v1 was only ever minted as a bind token, so it is still accepted for purpose 'bind' and for no
 * other: a deploy does not invalidate the bind tokens of the 2 hours before it, and a v1 token can
 * never become a resume token. Nothing mints v1 any more.
 *
 * Checking takes a list of keys (the secret's current and previous versions while a rotation is
 * under way, see tokenSecret.ts); a token is valid when any key signed it. Each comparison is
 * constant-time over the MAC. Neither a key nor a token appears in an error or a log line.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { BindTokenRefusal } from './errors.ts';

/** What a token may be used for. */
export type TokenPurpose = 'bind' | 'resume';

export const TOKEN_PURPOSES: readonly TokenPurpose[] = ['bind', 'resume'];

/** Why a token is refused (the same reasons for every purpose). */
export type TokenRefusal = BindTokenRefusal;

const TOKEN = /^(v1|v2)\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/;

function signedText(version: 'v1' | 'v2', purpose: TokenPurpose, connectionId: string, expiry: string): string {
  return version === 'v1' ? `v1.${connectionId}.${expiry}` : `v2.${purpose}.${connectionId}.${expiry}`;
}

function mac(key: Uint8Array, text: string): Buffer {
  return createHmac('sha256', key).update(text, 'utf8').digest();
}

function assertPurpose(purpose: TokenPurpose): void {
  // A typed error for JavaScript callers: an unknown purpose would otherwise sign or check silently.
  if (!TOKEN_PURPOSES.includes(purpose)) throw new TypeError(`a token purpose is one of ${TOKEN_PURPOSES.join(', ')}`);
}

/** A `purpose` token for `connectionId`, valid until `nowMs` + `ttlSeconds`. */
export function mintToken(key: Uint8Array, purpose: TokenPurpose, connectionId: string, nowMs: number, ttlSeconds: number): string {
  assertPurpose(purpose);
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0) throw new TypeError('a token ttl is a positive whole number of seconds');
  const expiry = String(Math.floor(nowMs / 1000) + ttlSeconds);
  return `v2.${expiry}.${mac(key, signedText('v2', purpose, connectionId, expiry)).toString('base64url')}`;
}

/**
 * Why `token` is refused as a `purpose` token for `connectionId` at `nowMs`, or undefined when one of
 * `keys` signed it and it has not expired. `keys` is one key or a list (current first).
 */
export function checkToken(
  keys: Uint8Array | readonly Uint8Array[],
  purpose: TokenPurpose,
  connectionId: string,
  token: unknown,
  nowMs: number,
): TokenRefusal | undefined {
  assertPurpose(purpose);
  if (token === undefined || token === null || token === '') return 'missing';
  const match = typeof token === 'string' ? TOKEN.exec(token) : null;
  if (!match) return 'malformed';
  const [, version, expiry, given] = match as unknown as [string, 'v1' | 'v2', string, string];
  const presented = Buffer.from(given, 'base64url');
  // The last of 43 characters carries 2 unused bits: only the canonical spelling is a token, so one
  // token has exactly one form. 43 characters always decode to 32 bytes (the length check guards timingSafeEqual).
  if (presented.toString('base64url') !== given) return 'malformed';
  if (version === 'v1' && purpose !== 'bind') return 'mismatch';
  const text = signedText(version, purpose, connectionId, expiry);
  let signed = false;
  for (const key of keyList(keys)) {
    const expected = mac(key, text);
    // Every key is tried (no early exit): which key matched is not worth hiding, but the loop stays simple.
    if (presented.length === expected.length && timingSafeEqual(presented, expected)) signed = true;
  }
  if (!signed) return 'mismatch';
  if (Number(expiry) * 1000 <= nowMs) return 'expired';
  return undefined;
}

function keyList(keys: Uint8Array | readonly Uint8Array[]): readonly Uint8Array[] {
  return Array.isArray(keys) ? keys : [keys as Uint8Array];
}
