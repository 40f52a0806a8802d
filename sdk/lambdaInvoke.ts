/**
 * The fan-out's async `Invoke` of the worker Lambda over keep-alive HTTP(S), signed with the SDK's
 * own SigV4 (sdk/sigv4.ts), as `@connections` is: no @aws-sdk/client-lambda (3.2 MiB in every
 * install), no middleware stack. The wire is the AWS SDK's: `POST
 * {endpoint}/2015-03-31/functions/{FunctionName, URI-encoded}/invocations` with
 * `X-Amz-Invocation-Type: Event`, the chunk as the body, service `lambda`, every header signed.
 *
 * The endpoint is the AWS SDK's too: AWS_ENDPOINT_URL_LAMBDA, else AWS_ENDPOINT_URL, else
 * `https://lambda.{region}.amazonaws.com` (`.amazonaws.com.cn` in China regions), so the local
 * gateway's invoke API is reached with no local branch. Answers come back in the AWS SDK's shapes
 * (`{ StatusCode }`, or an error with `name` = the `x-amzn-ErrorType` and `$metadata.httpStatusCode`),
 * so Fanout maps failures one way whichever invoker sent them. No retries here (Fanout retries),
 * except a 403 for the signature's time: as with `@connections`, the clock's offset is taken from
 * the answer's `Date` and the invoke signed and sent once more (sdk/awsHttp.ts).
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@aws-sdk/types';
import { CredentialCache } from './CredentialCache.ts';
import { ConfigurationError } from './errors.ts';
import { escapeUri, sha256Hex, SigV4Signer } from './sigv4.ts';
import { awsErrorMessage, correctClockSkew, KeepAliveEndpoint, type AwsAnswer } from './awsHttp.ts';

/** One async Invoke: what Fanout passes an invoker (an InvokeCommand's `input` has the same fields). */
export interface FanoutInvokeCommand {
  readonly input: { readonly FunctionName: string; readonly InvocationType: 'Event'; readonly Payload: Uint8Array };
}

/** An invoker's answer: Lambda's status (202 for a queued Event invoke). */
export interface FanoutInvokeOutput {
  readonly StatusCode?: number;
}

/** A request that waits longer than this for its answer is abandoned (a network failure, retried by Fanout). */
export const INVOKE_TIMEOUT_MS = 10_000;

/** The Lambda API endpoint the AWS SDK would use for `region`, honouring the endpoint variables. */
export function lambdaEndpoint(region: string, env: Readonly<Record<string, string | undefined>> = process.env): URL {
  const ignored = env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true';
  const configured = ignored ? undefined : env.AWS_ENDPOINT_URL_LAMBDA || env.AWS_ENDPOINT_URL;
  const text = configured ?? `https://lambda.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new ConfigurationError(`the Lambda endpoint ${JSON.stringify(text)} (AWS_ENDPOINT_URL_LAMBDA or AWS_ENDPOINT_URL) is not a URL`, { cause: error });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigurationError(`the Lambda endpoint must be http(s), got ${url.protocol}`);
  return url;
}

export interface LambdaEventInvokerOptions {
  /** The signing region (and, by default, the endpoint's). */
  readonly region: string;
  /** @default the AWS SDK's chain (sdk/CredentialCache.ts) */
  readonly credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider | CredentialCache;
  /** @default lambdaEndpoint(region): AWS_ENDPOINT_URL_LAMBDA, AWS_ENDPOINT_URL or Lambda's public endpoint */
  readonly endpoint?: URL | string;
  /** Kept-alive connections at most (requests past it wait for one). @default 50, the AWS SDK's */
  readonly maxSockets?: number;
  /** @default INVOKE_TIMEOUT_MS */
  readonly timeoutMs?: number;
  /**
   * Attempts per invoke, retrying throttles (429), 5xx and network failures with jittered backoff.
   * @default 1: Fanout retries by itself (fanout.maxRetries)
   */
  readonly maxAttempts?: number;
}

/** Sends asynchronous (Event) invocations; one per process or execution environment, reused. */
export class LambdaEventInvoker {
  readonly endpoint: URL;
  readonly signer: SigV4Signer;
  private readonly credentials: CredentialCache;
  private readonly connection: KeepAliveEndpoint;
  private readonly basePath: string;
  private readonly maxAttempts: number;

  constructor(options: LambdaEventInvokerOptions) {
    const endpoint = options.endpoint ?? lambdaEndpoint(options.region);
    this.endpoint = typeof endpoint === 'string' ? lambdaEndpoint(options.region, { AWS_ENDPOINT_URL_LAMBDA: endpoint }) : endpoint;
    this.credentials = options.credentials instanceof CredentialCache ? options.credentials : new CredentialCache(options.credentials);
    this.maxAttempts = options.maxAttempts ?? 1;
    const timeoutMs = options.timeoutMs ?? INVOKE_TIMEOUT_MS;
    this.connection = new KeepAliveEndpoint(this.endpoint, { maxSockets: options.maxSockets ?? 50, timeoutMs }, 'the Lambda endpoint');
    this.basePath = `${this.endpoint.pathname.replace(/\/+$/, '')}/2015-03-31/functions/`;
    this.signer = new SigV4Signer(options.region, 'lambda');
  }

  /** The path the AWS SDK sends for a function name or ARN (`:` as %3A). */
  pathFor(functionName: string): string {
    return `${this.basePath}${escapeUri(functionName)}/invocations`;
  }

  async send(command: FanoutInvokeCommand): Promise<FanoutInvokeOutput> {
    const { FunctionName, Payload } = command.input;
    const path = this.pathFor(FunctionName);
    const payloadHash = sha256Hex(Payload);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.sendOnce(path, Payload, payloadHash);
      } catch (error) {
        if (attempt >= this.maxAttempts || !isTransient(error)) throw error;
        // Full jitter, as the AWS SDK's standard retry strategy (100 ms base).
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 100 * 2 ** (attempt - 1)));
      }
    }
  }

  /** One signed request; a 403 for the signature's time is signed again with the corrected clock, once. */
  private async sendOnce(path: string, payload: Uint8Array, payloadHash: string): Promise<FanoutInvokeOutput> {
    for (let skewRetried = false; ; skewRetried = true) {
      const credentials = this.credentials.peek() ?? (await this.credentials.get());
      const { longDate, shortDate } = this.signer.now();
      const headers: Record<string, string> = {
        host: this.connection.hostHeader,
        'x-amz-date': longDate,
        'x-amz-invocation-type': 'Event',
        'content-type': 'application/octet-stream',
        'content-length': String(payload.byteLength),
      };
      if (credentials.sessionToken) headers['x-amz-security-token'] = credentials.sessionToken;
      headers.authorization = this.signer.authorization({ method: 'POST', path, headers, payloadHash }, credentials, shortDate);
      const answer = await this.connection.request('POST', path, headers, payload, false);
      if (answer.status >= 200 && answer.status < 300) return { StatusCode: answer.status };
      if (skewRetried || !correctClockSkew(this.signer, answer)) throw invokeFailure(answer);
    }
  }

  /** Closes the kept-alive sockets. */
  destroy(): void {
    this.connection.destroy();
  }
}

/** A non-2xx answer as the AWS SDK would throw it: `name` from x-amzn-ErrorType (or the body's __type), `$metadata.httpStatusCode`. */
function invokeFailure({ status, errorType, body }: AwsAnswer): Error {
  const message = awsErrorMessage(body) || `HTTP ${status}`;
  return Object.assign(new Error(message), { name: errorType ?? `Http${status}`, $metadata: { httpStatusCode: status } });
}

/** Throttled, a 5xx, or no answer at all: worth another attempt. */
function isTransient(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  return status === undefined ? !(error instanceof ConfigurationError) : status === 429 || status >= 500;
}
