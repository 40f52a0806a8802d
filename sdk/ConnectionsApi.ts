/**
 * The `@connections` management API over bare keep-alive HTTP(S), signed with our own SigV4
 * (sdk/sigv4.ts) instead of ApiGatewayManagementApiClient's middleware stack. Same wire format as
 * the AWS SDK (v3.11xx, checked in test/unit/sdk-sigv4.test.ts): `POST|GET|DELETE
 * {callbackUrl path}/@connections/{id, URI-encoded: "=" as %3D}`, the raw payload as the body,
 * service `execute-api`; the canonical URI signs `@` as %40 and `%3D` as %253D.
 *
 * Outcomes: 2xx -> done; 410 -> 'gone'; 5xx and socket errors/timeouts -> retried with full-jitter
 * exponential backoff up to `maxRetries` times, then ServiceError / NetworkError; 429 -> retried with
 * the longer throttle backoff (below), then ThrottledError; 403 -> ForbiddenError, except a signature
 * refused for its time (clock skew, below); 400 -> BadRequestError; 413 -> PayloadTooLargeError (the
 * SDK refuses those before any call, so it is not expected). Not retried: other 4xx.
 * A retried POST can be delivered twice if AWS failed after writing to the socket (at-least-once).
 *
 * Pacing: every attempt, retries included, first takes a slot from the process's RateLimiter
 * (`sendRate`) and from the call's own (a fan-out chunk's share of the broadcast budget).
 *
 * 429: the account's token bucket refills continuously, so a throttle passes when the account's
 * callers slow down; waits of half to all of min(throttleMaxDelayMs, throttleBaseDelayMs * 2^n) give
 * it time, where full jitter could retry at once. A call with a deadline (a fan-out worker) retries
 * 429s until the next wait would pass the deadline; one without retries them `maxRetries` times.
 *
 * Clock skew: API Gateway refuses a signature dated more than 5 minutes from its own clock (403
 * InvalidSignatureException "Signature expired: ..." / "Signature not yet current: ..."). The
 * signer then takes its offset from the answer's `Date` header and the request is signed and sent
 * once more, as the AWS SDK clients do; later requests keep the offset.
 */
import { BadRequestError, ForbiddenError, type GatewayError, NetworkError, PayloadTooLargeError, ServiceError, ThrottledError } from './errors.ts';
import { canonicalPath, EMPTY_PAYLOAD_HASH, escapeUri, SigV4Signer } from './sigv4.ts';
import { awsErrorMessage, correctClockSkew, KeepAliveEndpoint, type AwsAnswer } from './awsHttp.ts';
import type { CredentialCache } from './CredentialCache.ts';
import type { RateLimiter } from './RateLimiter.ts';
import type { ConnectionsTransport } from './connectionsTransport.ts';
import { MAX_MESSAGE_BYTES } from './validation.ts';

export interface RetryPolicy {
  /** Retries after the first attempt, for 429, 5xx and network errors. */
  readonly maxRetries: number;
  /** The first retry waits a random time in [0, baseDelayMs), the n-th in [0, baseDelayMs * 2^(n-1)). */
  readonly baseDelayMs: number;
  /** Upper bound of one wait. */
  readonly maxDelayMs: number;
  /** Random source in [0, 1) for the jitter. */
  readonly random: () => number;
  /** 429s: retry n waits between half and all of min(throttleMaxDelayMs, throttleBaseDelayMs * 2^(n-1)). @default 250 */
  readonly throttleBaseDelayMs?: number;
  /** @default 8000 */
  readonly throttleMaxDelayMs?: number;
}

export const THROTTLE_BACKOFF_DEFAULTS = { throttleBaseDelayMs: 250, throttleMaxDelayMs: 8000 } as const;

/** Per call: the budget it spends from besides the process's, its deadline, and what it counts. */
export interface CallOptions {
  /** A second limiter (a fan-out chunk's share of its broadcast's budget). */
  readonly limiter?: RateLimiter;
  /** Epoch ms: no attempt starts after it, and 429s are retried until it instead of `maxRetries` times. */
  readonly deadlineMs?: number;
  /** Incremented for every 429 answer (SendMetrics.throttled). */
  readonly counters?: { throttled: number };
}

export interface ConnectionsApiOptions {
  readonly callbackUrl: URL;
  readonly region: string;
  readonly credentials: CredentialCache;
  /** Sockets kept open to the endpoint (and the most requests in flight at once). */
  readonly maxSockets: number;
  /** Per-attempt timeout. */
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  /** The process's budget (`sendRate`), shared by every call of this client. */
  readonly limiter?: RateLimiter;
  /** Sends each signed request instead of the keep-alive HTTP(S) client (unit tests). */
  readonly transport?: ConnectionsTransport;
}

/** What GET @connections/{id} answers. */
export interface ConnectionInfo {
  readonly connectedAt: string;
  readonly lastActiveAt: string;
  readonly identity: { readonly sourceIp: string; readonly userAgent?: string };
}

export class ConnectionsApi {
  readonly signer: SigV4Signer;
  private readonly endpoint: KeepAliveEndpoint;
  /** `/stage/@connections/` as sent, and its canonical (encoded again) form for signing. */
  private readonly basePath: string;
  private readonly canonicalBase: string;

  constructor(private readonly options: ConnectionsApiOptions) {
    const url = options.callbackUrl;
    this.endpoint = new KeepAliveEndpoint(url, { maxSockets: options.maxSockets, timeoutMs: options.timeoutMs }, 'callbackUrl');
    this.basePath = `${url.pathname.replace(/\/+$/, '')}/@connections/`;
    this.canonicalBase = canonicalPath(this.basePath);
    this.signer = new SigV4Signer(options.region, 'execute-api');
  }

  /** The path the AWS SDK and this client send for a connection id. */
  pathFor(connectionId: string): string {
    return this.basePath + escapeUri(connectionId);
  }

  /** Posts `payload` (whose hex SHA-256 is `payloadHash`); 'gone' on 410. Rejects with a GatewayError. */
  async post(connectionId: string, payload: Buffer, payloadHash: string, call: CallOptions = {}): Promise<'sent' | 'gone'> {
    const response = await this.send('POST', connectionId, payload, payloadHash, call);
    return response.status === 410 ? 'gone' : 'sent';
  }

  /** GET @connections/{id}: the connection's info, or 'gone'. */
  async get(connectionId: string, call: CallOptions = {}): Promise<ConnectionInfo | 'gone'> {
    const response = await this.send('GET', connectionId, undefined, EMPTY_PAYLOAD_HASH, call);
    if (response.status === 410) return 'gone';
    try {
      return JSON.parse(response.body ?? '') as ConnectionInfo;
    } catch (error) {
      throw new ServiceError(`GET @connections answered ${response.status} with a body that is not JSON`, { statusCode: response.status }, { cause: error });
    }
  }

  /** DELETE @connections/{id}: 'deleted', or 'gone' when it was not connected. */
  async delete(connectionId: string, call: CallOptions = {}): Promise<'deleted' | 'gone'> {
    const response = await this.send('DELETE', connectionId, undefined, EMPTY_PAYLOAD_HASH, call);
    return response.status === 410 ? 'gone' : 'deleted';
  }

  /** Closes the kept-alive sockets. */
  destroy(): void {
    this.endpoint.destroy();
  }

  private async send(method: string, connectionId: string, body: Buffer | undefined, payloadHash: string, call: CallOptions): Promise<AwsAnswer> {
    const { maxRetries } = this.options.retry;
    const { deadlineMs } = call;
    let skewRetried = false;
    for (let attempt = 0, throttles = 0; ; attempt++) {
      await this.pace(method, call);
      let response: AwsAnswer | undefined;
      let failure: GatewayError;
      try {
        response = await this.attempt(method, connectionId, body, payloadHash);
      } catch (error) {
        failure = new NetworkError(`${method} @connections failed: ${(error as Error).message}`, { cause: error });
      }
      let wait: number;
      if (response) {
        const { status } = response;
        if ((status >= 200 && status < 300) || status === 410) return response;
        failure = errorFor(method, response, body?.length ?? 0);
        if (!skewRetried && correctClockSkew(this.signer, response)) {
          skewRetried = true;
          attempt--;
          continue;
        }
        if (status !== 429 && status < 500) throw failure;
        if (status === 429) {
          if (call.counters) call.counters.throttled++;
          wait = this.throttleBackoff(throttles++);
          // With a deadline, 429s are retried for as long as it allows; without, maxRetries times.
          const more = deadlineMs !== undefined ? Date.now() + wait < deadlineMs : attempt < maxRetries;
          if (!more) throw failure;
          await sleep(wait);
          continue;
        }
      }
      if (attempt >= maxRetries) throw failure!;
      wait = this.backoff(attempt);
      if (deadlineMs !== undefined && Date.now() + wait >= deadlineMs) throw failure!;
      await sleep(wait);
    }
  }

  /** Waits for a slot in the process's budget and the call's; a ThrottledError when none comes before the deadline. */
  private async pace(method: string, call: CallOptions): Promise<void> {
    for (const limiter of [this.options.limiter, call.limiter]) {
      if (limiter && !(await limiter.take(call.deadlineMs))) {
        throw new ThrottledError(`${method} @connections not sent: the send-rate budget (${limiter.rate} requests/s) has no slot left before the deadline`);
      }
    }
  }

  private backoff(attempt: number): number {
    const { baseDelayMs, maxDelayMs, random } = this.options.retry;
    return random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
  }

  private throttleBackoff(throttles: number): number {
    const {
      throttleBaseDelayMs = THROTTLE_BACKOFF_DEFAULTS.throttleBaseDelayMs,
      throttleMaxDelayMs = THROTTLE_BACKOFF_DEFAULTS.throttleMaxDelayMs,
      random,
    } = this.options.retry;
    const step = Math.min(throttleMaxDelayMs, throttleBaseDelayMs * 2 ** throttles);
    return step / 2 + (random() * step) / 2;
  }

  private async attempt(method: string, connectionId: string, body: Buffer | undefined, payloadHash: string): Promise<AwsAnswer> {
    const credentials = this.options.credentials.peek() ?? (await this.options.credentials.get());
    const { longDate, shortDate } = this.signer.now();
    const encodedId = escapeUri(connectionId);
    const canonicalUri = this.canonicalBase + escapeUri(encodedId);
    const hostHeader = this.endpoint.hostHeader;
    const headers: Record<string, string | number> = {
      host: hostHeader,
      'x-amz-date': longDate,
      authorization: this.signer.minimalAuthorization(method, canonicalUri, hostHeader, longDate, shortDate, credentials, payloadHash),
    };
    if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
    if (body) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = body.length;
    }
    const { transport } = this.options;
    if (transport) {
      const url = `${this.options.callbackUrl.origin}${this.basePath}${encodedId}`;
      const sent = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, String(value)]));
      const {
        status,
        errorType,
        body: text,
        date,
      } = await transport({ method: method as 'POST' | 'GET' | 'DELETE', url, connectionId, headers: sent, ...(body ? { body } : {}) });
      return { status, errorType: errorType?.split(':')[0] || undefined, body: text, ...(status === 403 && date ? { date } : {}) };
    }
    return this.endpoint.request(method, this.basePath + encodedId, headers, body, method === 'GET');
  }
}

function errorFor(method: string, response: AwsAnswer, bodyLength: number): GatewayError {
  const { status, errorType } = response;
  const message = awsErrorMessage(response.body);
  const text = `${method} @connections answered ${status}${errorType ? ` ${errorType}` : ''}${message ? `: ${message}` : ''}`;
  if (status === 429) return new ThrottledError(text, { statusCode: status, errorType });
  if (status === 403) return new ForbiddenError(text, { errorType });
  if (status === 400) return new BadRequestError(text, { errorType });
  if (status === 413) return new PayloadTooLargeError(bodyLength, MAX_MESSAGE_BYTES);
  return new ServiceError(text, { statusCode: status, errorType });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
