/**
 * SigV4's time check as AWS applies it: a signed request whose signing time (`X-Amz-Date`, else
 * `Date`) is more than 5 minutes away from the service's clock is refused with 403
 * InvalidSignatureException, in these exact words (the first time is the request's, the last the
 * service's):
 *   Signature expired: 20240425T100521Z is now earlier than 20240425T101638Z (20240425T102138Z - 5 min.)
 *   Signature not yet current: 20240425T103000Z is still later than 20240425T102638Z (20240425T102138Z + 5 min.)
 * The answer's `Date` header carries the service's time; that is where the AWS SDKs (and this
 * project's SDK) take their clock offset from. The signature itself is not verified locally.
 */
import type { IncomingMessage } from 'node:http';

export const SIGNING_WINDOW_MS = 5 * 60 * 1000;

export interface SigningRefusal {
  readonly status: 403;
  readonly errorType: 'InvalidSignatureException' | 'IncompleteSignatureException';
  readonly message: string;
}

/** undefined when the request's signing time is within the window around `nowMs`. */
export function checkSigningTime(req: IncomingMessage, nowMs: number): SigningRefusal | undefined {
  const amzDate = firstHeader(req.headers['x-amz-date']);
  const date = firstHeader(req.headers.date);
  if (amzDate === undefined && date === undefined) {
    return {
      status: 403,
      errorType: 'IncompleteSignatureException',
      message: "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    };
  }
  const signedAt = amzDate !== undefined ? parseBasicIso(amzDate) : Date.parse(date!);
  if (!Number.isFinite(signedAt)) {
    return {
      status: 403,
      errorType: 'IncompleteSignatureException',
      message: `Date must be in ISO-8601 'basic format'. Got '${amzDate ?? date}'. See http://en.wikipedia.org/wiki/ISO_8601`,
    };
  }
  const now = Math.floor(nowMs / 1000) * 1000;
  if (signedAt < now - SIGNING_WINDOW_MS) {
    return {
      status: 403,
      errorType: 'InvalidSignatureException',
      message: `Signature expired: ${basicIso(signedAt)} is now earlier than ${basicIso(now - SIGNING_WINDOW_MS)} (${basicIso(now)} - 5 min.)`,
    };
  }
  if (signedAt > now + SIGNING_WINDOW_MS) {
    return {
      status: 403,
      errorType: 'InvalidSignatureException',
      message: `Signature not yet current: ${basicIso(signedAt)} is still later than ${basicIso(now + SIGNING_WINDOW_MS)} (${basicIso(now)} + 5 min.)`,
    };
  }
  return undefined;
}

/** The last value parsed: clients sign many requests within one second with the same date. */
let lastParsed = { value: '', ms: Number.NaN };

/** `20240425T100521Z` -> epoch ms; NaN for anything else. */
export function parseBasicIso(value: string): number {
  if (value === lastParsed.value) return lastParsed.ms;
  const ms = parseBasicIsoUncached(value);
  lastParsed = { value, ms };
  return ms;
}

function parseBasicIsoUncached(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  // Date.UTC rolls 20240231 over into March: refuse what does not round-trip.
  return basicIso(ms) === value ? ms : Number.NaN;
}

export function basicIso(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
