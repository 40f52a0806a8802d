/**
 * What the SDK's two hand-signed clients (ConnectionsApi for `@connections`, LambdaEventInvoker for
 * the fan-out's async Invoke) share below the signature: one AWS endpoint over keep-alive HTTP(S),
 * an answer read in full, AWS's JSON error shape, and the clock-skew correction both services ask
 * for. No retries here beyond a stale kept-alive socket: each client has its own retry policy.
 */
import http from 'node:http';
import https from 'node:https';
import { ConfigurationError } from './errors.ts';
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
  /** Per-request timeout: no answer by then destroys the request (a network failure). */
  readonly timeoutMs: number;
  /** Which idle socket serves the next request. @default Node's 'lifo' */
  readonly scheduling?: 'lifo' | 'fifo';
}

/** An AWS endpoint (`https://host[:port][/path]`) reached over kept-alive sockets. */
export class KeepAliveEndpoint {
  /** The `host` header to sign and send (the URL's host, with its port when it has one). */
  readonly hostHeader: string;
  private readonly agent: http.Agent;
  private readonly send: typeof http.request;
  private readonly hostname: string;
  private readonly port: number;

  /** `what` names the endpoint in the ConfigurationError for a URL that is not http(s). */
  constructor(
    readonly url: URL,
    private readonly options: KeepAliveOptions,
    what: string,
  ) {
    const secure = url.protocol === 'https:';
    if (!secure && url.protocol !== 'http:') throw new ConfigurationError(`${what} must be http(s), got ${url.protocol}`);
    const { maxSockets, scheduling = 'lifo' } = options;
    const agentOptions = { keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.send = secure ? https.request : http.request;
    this.hostname = url.hostname.replace(/^\[|\]$/g, '');
    this.port = url.port ? Number(url.port) : secure ? 443 : 80;
    this.hostHeader = url.host;
  }

  /**
   * Sends one request and reads its answer; rejects only when no answer came (socket error or
   * timeout). A kept-alive socket that the server closed while idle (a frozen Lambda environment's,
   * typically) fails before any answer: that request is sent once more on a fresh socket, as Node's
   * docs advise (request.reusedSocket), without counting as a failure.
   */
  request(method: string, path: string, headers: Readonly<Record<string, string | number>>, body?: Uint8Array, readSuccessBody = true): Promise<AwsAnswer> {
    return this.requestOnce(method, path, headers, body, readSuccessBody, false);
  }

  /** Closes the kept-alive sockets. */
  destroy(): void {
    this.agent.destroy();
  }

  private requestOnce(method: string, path: string, headers: Readonly<Record<string, string | number>>, body: Uint8Array | undefined, readSuccessBody: boolean, staleSocketRetried: boolean): Promise<AwsAnswer> {
    const { timeoutMs } = this.options;
    return new Promise<AwsAnswer>((resolve, reject) => {
      let answered = false;
      const req = this.send({ host: this.hostname, port: this.port, method, path, headers, agent: this.agent, setHost: false }, (res) => {
        answered = true;
        const status = res.statusCode ?? 0;
        const errorType = headerValue(res.headers['x-amzn-errortype'])?.split(':')[0] || undefined;
        const date = status === 403 ? headerValue(res.headers.date) : undefined;
        if (status >= 200 && status < 300 && !readSuccessBody) {
          res.resume();
          resolve({ status });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status, errorType: errorType ?? bodyErrorType(text), body: text, ...(date ? { date } : {}) });
        });
        res.on('error', reject);
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (error) => {
        if (!answered && req.reusedSocket && !staleSocketRetried && (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
          resolve(this.requestOnce(method, path, headers, body, readSuccessBody, true));
        } else reject(error);
      });
      req.end(body);
    });
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

function headerValue(value: string | string[] | undefined): string | undefined {
  return (Array.isArray(value) ? value[0] : value) || undefined;
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
