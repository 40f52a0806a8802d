/**
 * What the SDK's two hand-signed clients (ConnectionsApi for `@connections`, LambdaEventInvoker for
 * the fan-out's async Invoke) share below the signature: one AWS endpoint over keep-alive HTTP(S),
 * an answer read in full, AWS's JSON error shape, and the clock-skew correction both services ask
 * for. No retries here beyond a stale kept-alive socket: each client has its own retry policy.
 */
import { ConfigurationError } from './errors.ts';
import { Http1Pool, StaleSocketError } from './http1Pool.ts';
import type { SigV4Signer } from './sigv4.ts';

/** One answer, read in full (a 2xx body only when asked for). */
export interface AwsAnswer {
  readonly status: number;
  /** `x-amzn-ErrorType`'s name part (`GoneException`, `TooManyRequestsException`), else the body's `__type`. */
  readonly errorType?: string;
  readonly body?: string;
  /** The `Date` header of a 403: the server's clock, for the skew correction. */
  readonly date?: string;
}

export interface KeepAliveOptions {
  /** Sockets kept open (and requests in flight at once; more wait for a socket). */
  readonly maxSockets: number;
  /** Per-request timeout: no answer by then destroys the request's socket (a network failure). */
  readonly timeoutMs: number;
}

/** An AWS endpoint (`https://host[:port][/path]`) reached over kept-alive sockets (sdk/http1Pool.ts). */
export class KeepAliveEndpoint {
  /** The `host` header to sign and send (the URL's host, with its port when it has one). */
  readonly hostHeader: string;
  private readonly pool: Http1Pool;

  /** `what` names the endpoint in the ConfigurationError for a URL that is not http(s). */
  constructor(
    url: URL,
    private readonly options: KeepAliveOptions,
    what: string,
  ) {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigurationError(`${what} must be http(s), got ${url.protocol}`);
    this.pool = new Http1Pool(url, options);
    this.hostHeader = url.host;
  }

  /**
   * Sends one request and reads its answer; rejects only when no answer came (socket error or
   * timeout). A kept-alive socket that the server closed while idle (a frozen Lambda environment's,
   * typically) fails before any answer: the request is then sent again, without counting as a
   * failure, until it gets a socket that answers (each stale socket is dropped on its failure).
   */
  async request(
    method: string,
    path: string,
    headers: Readonly<Record<string, string | number>>,
    body?: Uint8Array,
    readSuccessBody = true,
  ): Promise<AwsAnswer> {
    for (let attempt = 0; ; attempt++) {
      let answer;
      try {
        answer = await this.pool.request(method, path, headers, body);
      } catch (error) {
        if (error instanceof StaleSocketError && attempt < this.options.maxSockets) continue;
        throw error;
      }
      const { status } = answer;
      if (status >= 200 && status < 300 && !readSuccessBody) return { status };
      const text = answer.body.toString('utf8');
      const errorType = answer.headers.get('x-amzn-errortype')?.split(':')[0] || bodyErrorType(text);
      const date = status === 403 ? answer.headers.get('date') : undefined;
      return { status, ...(errorType ? { errorType } : {}), body: text, ...(date ? { date } : {}) };
    }
  }

  /** Closes the kept-alive sockets. */
  destroy(): void {
    this.pool.destroy();
  }
}

/** The `message` (or `Message`) of an AWS JSON error body, else the start of the body. */
export function awsErrorMessage(body: string | undefined): string {
  try {
    const parsed = JSON.parse(body ?? '') as { message?: unknown; Message?: unknown };
    return String(parsed.message ?? parsed.Message ?? '');
  } catch {
    return (body ?? '').slice(0, 200);
  }
}

/** API Gateway's and Lambda's texts for a signature refused for its time (the 5-minute window). */
const SKEWED_SIGNATURE = /^Signature (expired|not yet current):/;

/**
 * After a 403 for the signature's time (InvalidSignatureException "Signature expired: ..." or "...
 * not yet current: ..."), sets the signer's offset from the answer's `Date`, as the AWS SDK clients
 * do, and says the request is worth signing and sending once more. False for any other 403, or
 * without a readable `Date`.
 */
export function correctClockSkew(signer: SigV4Signer, answer: AwsAnswer): boolean {
  if (answer.status !== 403 || answer.errorType !== 'InvalidSignatureException' || !SKEWED_SIGNATURE.test(awsErrorMessage(answer.body))) return false;
  const serverMs = answer.date ? Date.parse(answer.date) : Number.NaN;
  if (!Number.isFinite(serverMs)) return false;
  // The header has whole seconds: the server's clock was somewhere in that second.
  signer.clockOffsetMs = serverMs + 500 - Date.now();
  return true;
}

/** The name part of a JSON body's `__type` (`com.amazonaws...#ResourceNotFoundException`). */
function bodyErrorType(body: string): string | undefined {
  if (!body.startsWith('{')) return undefined;
  try {
    const type = (JSON.parse(body) as { __type?: unknown }).__type;
    return typeof type === 'string' ? type.split('#').at(-1) || undefined : undefined;
  } catch {
    return undefined;
  }
}
