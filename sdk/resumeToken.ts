/**
 * Resume tokens: proof that whoever asks to resume a connection got its init message, i.e. owned it
 * (docs/guides/recovery.md). A MAC with the purpose 'resume' in what is signed, so that no bind
 * token (sdk/bindToken.ts, which signs no purpose) is ever a resume token, nor the reverse:
 *
 *   token = "r1." + expiry + "." + base64url(HMAC-SHA256(key, "resume.r1." + connectionId + "." + expiry))
 *
 * keyed by the bind-token secret; `expiry` is Unix seconds: the connection's cut plus the recovery
 * window. Kept in its own file while sdk/bindToken.ts gains purpose-signed tokens (issue 17): the
 * two are meant to become one mintToken(key, purpose, ...).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const TOKEN = /^r1\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$/;

function mac(key: Uint8Array, connectionId: string, expiry: string): Buffer {
  return createHmac('sha256', key).update(`resume.r1.${connectionId}.${expiry}`, 'utf8').digest();
}

/** A token that proves ownership of `connectionId` until `expiresAtMs`. */
export function mintResumeToken(key: Uint8Array, connectionId: string, expiresAtMs: number): string {
  const expiry = String(Math.ceil(expiresAtMs / 1000));
  return `r1.${expiry}.${mac(key, connectionId, expiry).toString('base64url')}`;
}

/** Whether `token` is a valid, unexpired resume token for `connectionId` (constant-time over the MAC). */
export function verifyResumeToken(key: Uint8Array, connectionId: string, token: unknown, nowMs = Date.now()): boolean {
  const match = typeof token === 'string' ? TOKEN.exec(token) : null;
  if (!match) return false;
  const [, expiry, given] = match as unknown as [string, string, string];
  const presented = Buffer.from(given, 'base64url');
  if (presented.toString('base64url') !== given) return false;
  const expected = mac(key, connectionId, expiry);
  if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) return false;
  return Number(expiry) * 1000 > nowMs;
}
