import { randomBytes } from 'node:crypto';

/**
 * API Gateway ids (connection, request and message ids) are 16 characters: 11 random bytes in
 * URL-safe base64, so 15 characters and one `=` of padding, e.g. `BFaT_fALIAMCKug=`. AWS does not
 * document the format; every captured id has this shape.
 */
export function newGatewayId(): string {
  return randomBytes(11).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

const GATEWAY_ID = /^[A-Za-z0-9_-]{15}=$/;

export function isGatewayId(value: string): boolean {
  return GATEWAY_ID.test(value);
}

/** A 10-character lowercase API id, like `fjnq7njcv2`. */
export function newApiId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(10), (b) => alphabet[b % alphabet.length]).join('');
}

/** An X-Ray style trace header value: `Root=1-{epoch hex}-{24 hex}`. */
export function newTraceId(nowMs: number): string {
  return `Root=1-${Math.floor(nowMs / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
}

/** A Lambda request id (a UUID). */
export function newLambdaRequestId(): string {
  return crypto.randomUUID();
}
