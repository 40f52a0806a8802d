/**
 * The `@connections` transport as an SDK option (GatewayOptions.connectionsTransport): what sends one
 * signed HTTP request and returns its answer. The default is the SDK's keep-alive HTTP(S) client.
 * A unit test substitutes a function, as aws-sdk-client-mock substitutes an AWS SDK client's `send`:
 * everything above it still runs (validation, signing, retries with backoff, the outcome and error
 * mapping, 410 pruning), so a test can answer 410, 429 or 403 and see what the SDK makes of it.
 */

/** One `@connections` request as the SDK puts it on the wire. */
export interface ConnectionsRequest {
  readonly method: 'POST' | 'GET' | 'DELETE';
  /** `{callbackUrl}/@connections/{connectionId, URI-encoded}` */
  readonly url: string;
  /** The connection id, decoded. */
  readonly connectionId: string;
  /** `host`, `x-amz-date`, `authorization` (SigV4), and for a POST `content-type` and `content-length`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The payload of a POST. */
  readonly body?: Uint8Array;
}

/** What came back. A transport that throws counts as a network failure (retried, then NetworkError). */
export interface ConnectionsResponse {
  readonly status: number;
  /** The `x-amzn-ErrorType` header's name part, e.g. `GoneException`, `LimitExceededException`. */
  readonly errorType?: string;
  /** The response body (a GET's JSON, an error's message). */
  readonly body?: string;
  /** The `Date` header: on a 403, the SDK corrects its clock skew from it, as with API Gateway's own answers. */
  readonly date?: string;
}

/** Sends one request. It owns its timeouts: the SDK's `requestTimeoutMs` applies to its own client only. */
export type ConnectionsTransport = (request: ConnectionsRequest) => Promise<ConnectionsResponse>;
