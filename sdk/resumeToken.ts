/**
 * Resume tokens: proof that whoever asks to resume a lost connection got its init message, i.e.
 * owned it (docs/guides/recovery.md). A connection token of purpose 'resume' (tokens.ts), keyed by
 * the bind-token secret: a bind token is never a resume token, nor the reverse. It expires at the
 * connection's cut plus the recovery window.
 */
import { checkToken, mintToken } from './tokens.ts';

/** A token that proves ownership of `connectionId` until `expiresAtMs` (rounded up to the second). */
export function mintResumeToken(key: Uint8Array, connectionId: string, expiresAtMs: number, nowMs = Date.now()): string {
  return mintToken(key, 'resume', connectionId, nowMs, Math.max(1, Math.ceil((expiresAtMs - nowMs) / 1000)));
}

/** Whether `token` is a valid, unexpired resume token for `connectionId`, signed by one of `keys`. */
export function verifyResumeToken(keys: Uint8Array | readonly Uint8Array[], connectionId: string, token: unknown, nowMs = Date.now()): boolean {
  return checkToken(keys, 'resume', connectionId, token, nowMs) === undefined;
}
