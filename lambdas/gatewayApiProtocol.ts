/**
 * The Gateway API's wire format: what any language sends to the function with `lambda:Invoke` and
 * what it reads back. Plain JSON both ways, so a client needs an AWS signer and a JSON parser only.
 *
 * An event is one call or a batch:
 *   {"method": "sendToUid", "args": ["alice", "hi"]}
 *   {"calls": [{"method": "bindUid", "args": [id, "alice"]}, {"method": "joinGroup", "args": [id, "room"]}]}
 * `args` are GatewayClient's arguments in GatewayClient's order (see gatewayApiMethods.ts); optional
 * trailing arguments may be left out or passed as null.
 *
 * A result is always a normal invocation result (200, no `X-Amz-Function-Error`), success or failure:
 *   {"ok": true, "result": ...}
 *   {"ok": false, "error": {"code": "CONNECTION_GONE", "name": "ConnectionGoneError", "message": "..."}}
 *   {"ok": true, "results": [{"ok": true, "result": null}, {"ok": true, "result": null}]}
 *   {"ok": false, "error": {..., "index": 1}, "results": [{"ok": true, "result": null}, {"ok": false, "error": {...}}]}
 * Every call of a batch is validated before the first one runs; a batch with bad input runs nothing
 * and its result has no `results`. The calls run in order, and the first one that fails stops the
 * batch: `results` holds the calls that ran, the failed one last, as a PHP script stops at its
 * first exception. `X-Amz-Function-Error` is left for crashes (a bug, a timeout, out of memory).
 */
import type { GatewayErrorCodeValue } from '../sdk/index.ts';

/** The variable a client of the API reads the function's name (or ARN) from; `npm start` prints it. */
export const GATEWAY_API_FUNCTION_ENV = 'GATEWAY_API_FUNCTION';

/** Calls per batch: enough for any page's binds, small enough that one invocation ends well inside its timeout. */
export const MAX_CALLS_PER_BATCH = 25;

export interface GatewayApiCall {
  readonly method: string;
  readonly args?: readonly unknown[];
}

export type GatewayApiEvent = GatewayApiCall | { readonly calls: readonly GatewayApiCall[] };

/** A GatewayError as JSON: `code` to branch on, `message` for people, and what else the error knows. */
export interface GatewayApiError {
  readonly code: GatewayErrorCodeValue;
  readonly name: string;
  readonly message: string;
  /** The batch call it belongs to (0-based), on a batch's top-level error. */
  readonly index?: number;
  /** ServiceError and its kinds: the HTTP status and AWS error type, when there was an answer. */
  readonly statusCode?: number;
  readonly errorType?: string;
  /** ConnectionGoneError, ConflictError, LimitExceededError: the client concerned. */
  readonly connectionId?: string;
  /** LimitExceededError: the limit; PayloadTooLargeError: the limit and the message's size. */
  readonly limit?: number;
  readonly size?: number;
  /** BindTokenError: missing, malformed, mismatch or expired. */
  readonly reason?: string;
  /** MethodNotAllowedError: the method this function's allow-list leaves out. */
  readonly method?: string;
}

export type GatewayApiCallResult = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: GatewayApiError };

export type GatewayApiResult =
  | GatewayApiCallResult
  | { readonly ok: true; readonly results: readonly GatewayApiCallResult[] }
  | { readonly ok: false; readonly error: GatewayApiError; readonly results?: readonly GatewayApiCallResult[] };
