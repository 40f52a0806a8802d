/**
 * A minimal AWS Signature Version 4 signer for the `@connections` fast path, on node:crypto.
 *
 * It produces exactly what @smithy/signature-v4 produces for the same request (test/unit/sdk-sigv4.test.ts
 * proves it), without the SDK's middleware stack: per request it costs one SHA-256 of the canonical
 * request and one HMAC. The payload hash is computed once per fan-out and passed in, and the signing
 * key (four chained HMACs) is cached per secret, day, region and service.
 *
 * Rules followed (non-S3 SigV4): the canonical URI is the already-encoded request path, normalised
 * and URI-encoded a second time (`/stage/@connections/abc%3D`, as the AWS SDK sends it, signs as
 * `/stage/%40connections/abc%253D`); headers are lower-cased, trimmed, inner whitespace collapsed,
 * sorted; the empty query string gives an empty line.
 */
import { createHash, createHmac } from 'node:crypto';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';

export interface SigV4Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface SignableRequest {
  readonly method: string;
  /** The path as sent on the wire, already percent-encoded once (e.g. `/prod/@connections/abc%3D`). */
  readonly path: string;
  /** Decoded query parameters; none on `@connections` calls. */
  readonly query?: Readonly<Record<string, string>>;
  /** Every header to sign, including `host` and `x-amz-date` (and `x-amz-security-token` when used). */
  readonly headers: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body. */
  readonly payloadHash: string;
}

/** Headers the SDK never signs (from @smithy/signature-v4's ALWAYS_UNSIGNABLE_HEADERS). */
const UNSIGNABLE = new Set([
  'authorization',
  'cache-control',
  'connection',
  'expect',
  'from',
  'keep-alive',
  'max-forwards',
  'pragma',
  'referer',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'x-amzn-trace-id',
]);

export const EMPTY_PAYLOAD_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** RFC 3986 encoding as the AWS SDK does it (`encodeURIComponent` plus `!'()*`). */
export function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The canonical URI of a non-S3 request: dot segments and empty segments removed, then encoded again. */
export function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment.length === 0 || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalised = `${path.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && path.endsWith('/') ? '/' : ''}`;
  return escapeUri(normalised).replace(/%2F/g, '/');
}

function canonicalQuery(query: Readonly<Record<string, string>> | undefined): string {
  if (!query) return '';
  return Object.keys(query)
    .filter((k) => k.toLowerCase() !== 'x-amz-signature')
    .map((k) => [escapeUri(k), escapeUri(query[k]!)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** `20240102T030405Z` and `20240102` for a date. */
export function amzDate(date: Date): { longDate: string; shortDate: string } {
  const iso = date.toISOString(); // 2024-01-02T03:04:05.678Z
  const longDate = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return { longDate, shortDate: longDate.slice(0, 8) };
}

export class SigV4Signer {
  private cachedKey?: { id: string; key: Buffer };
  private cachedDate?: { second: number; longDate: string; shortDate: string };
  /**
   * Added to this host's clock when signing: AWS refuses a signature more than 5 minutes away from
   * its own clock, so a client whose clock is off learns the offset from a refusal's `Date` header.
   */
  clockOffsetMs = 0;

  constructor(
    readonly region: string,
    readonly service: string,
  ) {}

  /** The signing key, derived once per secret, day, region and service. */
  signingKey(secretAccessKey: string, shortDate: string): Buffer {
    const id = `${shortDate}\n${secretAccessKey}`;
    if (this.cachedKey?.id === id) return this.cachedKey.key;
    let key = createHmac('sha256', `AWS4${secretAccessKey}`).update(shortDate).digest();
    for (const part of [this.region, this.service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    this.cachedKey = { id, key };
    return key;
  }

  /** The current time (corrected by `clockOffsetMs`) in SigV4's two formats, recomputed at most once a second. */
  now(nowMs = Date.now() + this.clockOffsetMs): { longDate: string; shortDate: string } {
    const second = Math.floor(nowMs / 1000);
    if (this.cachedDate?.second !== second) this.cachedDate = { second, ...amzDate(new Date(second * 1000)) };
    return this.cachedDate;
  }

  /**
   * The `Authorization` header value for a request whose headers already hold `x-amz-date` (and the
   * security token when the credentials have one). Every header given is signed unless the SDK would
   * never sign it.
   */
  authorization(request: SignableRequest, credentials: SigV4Credentials, shortDate: string): string {
    const names: string[] = [];
    const values: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      const lower = name.toLowerCase();
      if (UNSIGNABLE.has(lower) || lower.startsWith('proxy-') || lower.startsWith('sec-')) continue;
      names.push(lower);
      values[lower] = value
        .replace(/[\r\n]/g, ' ')
        .replace(/[ \t]+/g, ' ')
        .replace(/^ | $/g, '');
    }
    names.sort();
    const signedHeaders = names.join(';');
    let canonical = `${request.method}\n${canonicalPath(request.path)}\n${canonicalQuery(request.query)}\n`;
    for (const name of names) canonical += `${name}:${values[name]}\n`;
    canonical += `\n${signedHeaders}\n${request.payloadHash}`;
    const longDate = values['x-amz-date'];
    if (!longDate) throw new Error('the request to sign has no x-amz-date header');
    const scope = `${shortDate}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `${SIGV4_ALGORITHM}\n${longDate}\n${scope}\n${sha256Hex(canonical)}`;
    const signature = createHmac('sha256', this.signingKey(credentials.secretAccessKey, shortDate)).update(stringToSign).digest('hex');
    return `${SIGV4_ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  }

  /**
   * The same result as `authorization()` for a request without a query whose only signed headers are
   * `host`, `x-amz-date` and, with a session token, `x-amz-security-token`; built without the
   * generic header handling. `canonicalUri` is `canonicalPath(path)`, computed by the caller.
   */
  minimalAuthorization(
    method: string,
    canonicalUri: string,
    host: string,
    longDate: string,
    shortDate: string,
    credentials: SigV4Credentials,
    payloadHash: string,
  ): string {
    const token = credentials.sessionToken;
    const signedHeaders = token ? 'host;x-amz-date;x-amz-security-token' : 'host;x-amz-date';
    const canonical = token
      ? `${method}\n${canonicalUri}\n\nhost:${host}\nx-amz-date:${longDate}\nx-amz-security-token:${token}\n\n${signedHeaders}\n${payloadHash}`
      : `${method}\n${canonicalUri}\n\nhost:${host}\nx-amz-date:${longDate}\n\n${signedHeaders}\n${payloadHash}`;
    const scope = `${shortDate}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `${SIGV4_ALGORITHM}\n${longDate}\n${scope}\n${sha256Hex(canonical)}`;
    const signature = createHmac('sha256', this.signingKey(credentials.secretAccessKey, shortDate)).update(stringToSign).digest('hex');
    return `${SIGV4_ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  }
}
