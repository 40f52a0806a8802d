/**
 * Push ids and the envelope of a push to a connection that asked for one (`?gw=1`, the browser
 * client): docs/guides/recovery.md. One id per send call; the browser client drops an id it has
 * seen (a retried fan-out chunk, a push delivered live and replayed from the recovery buffer).
 */
import { randomBytes } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { MAX_MESSAGE_BYTES } from './validation.ts';

/** U+001E RECORD SEPARATOR: no JSON text starts with it. */
export const ENVELOPE_MARK = '\x1e';
const MARK_BYTE = 0x1e;
/** U+001F UNIT SEPARATOR first: the push comes from the recovery buffer (a replay), not live. */
const REPLAY_BYTE = 0x1f;
const PUSH_ID = /^[0-9a-z]{19}$/;

let lastMs = 0;
let counter = 0;

/**
 * 9 base-36 digits of epoch ms, 4 of a per-process counter within that ms, 6 random: ids drawn by
 * one process sort in the order they were drawn, so the recovery buffer replays in that order.
 */
export function newPushId(nowMs = Date.now()): string {
  const ms = Math.max(nowMs, lastMs);
  if (ms === lastMs) counter++;
  else counter = 0;
  lastMs = ms;
  const random = randomBytes(4).readUInt32BE(0).toString(36).padStart(7, '0').slice(-6);
  return ms.toString(36).padStart(9, '0') + counter.toString(36).padStart(4, '0').slice(-4) + random;
}

export function isPushId(value: unknown): value is string {
  return typeof value === 'string' && PUSH_ID.test(value);
}

/**
 * `\x1e<id>\x1e<message>` (`\x1f<id>\x1e<message>` for a replay), or undefined when the message goes raw: binary (not UTF-8), or too long
 * for API Gateway's post limit once wrapped.
 */
export function envelope(pushId: string, payload: Buffer, replay = false): Buffer | undefined {
  if (payload.length + pushId.length + 2 > MAX_MESSAGE_BYTES || !isUtf8(payload)) return undefined;
  const out = Buffer.allocUnsafe(payload.length + pushId.length + 2);
  out[0] = replay ? REPLAY_BYTE : MARK_BYTE;
  out.write(pushId, 1, 'latin1');
  out[pushId.length + 1] = MARK_BYTE;
  payload.copy(out, pushId.length + 2);
  return out;
}

/** A control message of the gateway to a `gw=1` connection: `\x1e\x1e<json>` (an empty push id). */
export function controlMessage(body: Record<string, unknown>): string {
  return `${ENVELOPE_MARK}${ENVELOPE_MARK}${JSON.stringify(body)}`;
}
