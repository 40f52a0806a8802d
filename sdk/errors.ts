/**
 * Every error the SDK produces is a GatewayError with a stable `code` to branch on (message texts may
 * change) and, where another error caused it, `cause`. Async methods always reject with one of these,
 * never throw synchronously; only the constructor and `Gateway.fromEnv` throw (ConfigurationError).
 */

/** The stable codes, one per error class. */
export const GatewayErrorCode = {
  /** Bad input: a malformed client id, an empty uid or group, a session that is not plain JSON, ... */
  validation: 'VALIDATION',
  /** A message over 131072 bytes after serialisation (API Gateway's PostToConnection limit). */
  payloadTooLarge: 'PAYLOAD_TOO_LARGE',
  /** Missing or contradictory options or environment variables. */
  configuration: 'CONFIGURATION',
  /** The client is not connected: a mutation on it cannot take effect. */
  connectionGone: 'CONNECTION_GONE',
  /** 429 from `@connections` (throttling or the client's buffer is full) or DynamoDB throttling, retries exhausted. */
  throttled: 'THROTTLED',
  /** 403 from `@connections`: missing `execute-api:ManageConnections` permission or a bad signature. */
  forbidden: 'FORBIDDEN',
  /** 400 from `@connections` for a request the SDK believed valid. */
  badRequest: 'BAD_REQUEST',
  /** 5xx or an unexpected status from `@connections`, or a DynamoDB error, retries exhausted. */
  service: 'SERVICE_ERROR',
  /** The request never got an HTTP answer: socket error or timeout, retries exhausted. */
  network: 'NETWORK',
  /** `updateSession` lost the optimistic-lock race more times than allowed. */
  conflict: 'CONFLICT',
  /** A per-connection limit of the data model would be exceeded (`joinGroup` past MAX_GROUPS_PER_CONNECTION). */
  limitExceeded: 'LIMIT_EXCEEDED',
  /** `requireBindToken` is on and a bind carried no token, or one that is not valid for that client now. */
  bindToken: 'BIND_TOKEN',
  /** The Gateway API function was deployed with an allow-list (`gatewayApi.methods`) that leaves this method out. */
  methodNotAllowed: 'METHOD_NOT_ALLOWED',
} as const;

export type GatewayErrorCodeValue = (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];

export class GatewayError extends Error {
  override readonly name: string = 'GatewayError';
  readonly code: GatewayErrorCodeValue;

  constructor(code: GatewayErrorCodeValue, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export class ValidationError extends GatewayError {
  override readonly name: string = 'ValidationError';
  constructor(message: string, options?: ErrorOptions) {
    super(GatewayErrorCode.validation, message, options);
  }
}

/** A ValidationError too, so `instanceof ValidationError` catches every refusal made before a call. */
export class PayloadTooLargeError extends ValidationError {
  override readonly name = 'PayloadTooLargeError';
  override readonly code = GatewayErrorCode.payloadTooLarge;
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`the message is ${size} bytes after serialisation; API Gateway accepts at most ${limit}`);
  }
}

export class ConfigurationError extends GatewayError {
  override readonly name = 'ConfigurationError';
  constructor(message: string, options?: ErrorOptions) {
    super(GatewayErrorCode.configuration, message, options);
  }
}

export class ConnectionGoneError extends GatewayError {
  override readonly name = 'ConnectionGoneError';
  constructor(
    readonly connectionId: string,
    message = `client ${connectionId} is not connected`,
  ) {
    super(GatewayErrorCode.connectionGone, message);
  }
}

/** Errors that come from a service answer (or the lack of one); `statusCode` when there was an HTTP answer. */
export class ServiceError extends GatewayError {
  override readonly name: string = 'ServiceError';
  readonly statusCode: number | undefined;
  /** The AWS error type (`x-amzn-ErrorType` or the SDK's exception name), when known. */
  readonly errorType: string | undefined;

  constructor(message: string, details: { statusCode?: number; errorType?: string; code?: GatewayErrorCodeValue } = {}, options?: ErrorOptions) {
    super(details.code ?? GatewayErrorCode.service, message, options);
    this.statusCode = details.statusCode;
    this.errorType = details.errorType;
  }
}

export class ThrottledError extends ServiceError {
  override readonly name = 'ThrottledError';
  constructor(message: string, details: { statusCode?: number; errorType?: string } = {}, options?: ErrorOptions) {
    super(message, { ...details, code: GatewayErrorCode.throttled }, options);
  }
}

export class ForbiddenError extends ServiceError {
  override readonly name = 'ForbiddenError';
  constructor(message: string, details: { errorType?: string } = {}, options?: ErrorOptions) {
    super(message, { statusCode: 403, ...details, code: GatewayErrorCode.forbidden }, options);
  }
}

export class BadRequestError extends ServiceError {
  override readonly name = 'BadRequestError';
  constructor(message: string, details: { errorType?: string } = {}, options?: ErrorOptions) {
    super(message, { statusCode: 400, ...details, code: GatewayErrorCode.badRequest }, options);
  }
}

export class NetworkError extends ServiceError {
  override readonly name = 'NetworkError';
  constructor(message: string, options?: ErrorOptions) {
    super(message, { code: GatewayErrorCode.network }, options);
  }
}

export class ConflictError extends GatewayError {
  override readonly name = 'ConflictError';
  constructor(
    readonly connectionId: string,
    readonly attempts: number,
  ) {
    super(GatewayErrorCode.conflict, `updateSession on ${connectionId} lost the optimistic-lock race ${attempts} times`);
  }
}

/**
 * A per-connection limit of the data model would be exceeded: `joinGroup` of a client already in
 * `limit` groups (MAX_GROUPS_PER_CONNECTION). The connection item is unchanged and the index item
 * the join wrote is removed again; leaving a group makes room.
 */
export class LimitExceededError extends GatewayError {
  override readonly name = 'LimitExceededError';
  constructor(
    readonly connectionId: string,
    readonly limit: number,
    message = `client ${connectionId} is already in ${limit} groups, the most one connection may join`,
  ) {
    super(GatewayErrorCode.limitExceeded, message);
  }
}

/** Why a bind token was refused: none given, not a token, not for this client (or forged), too old. */
export type BindTokenRefusal = 'missing' | 'malformed' | 'mismatch' | 'expired';

/**
 * A bind (`bindUid`, `joinGroup`) refused before any write because `requireBindToken` is on and the
 * token is missing or not valid for this client now (sdk/bindToken.ts). Neither the token nor the
 * secret is in the message.
 */
export class BindTokenError extends GatewayError {
  override readonly name = 'BindTokenError';
  constructor(
    readonly operation: string,
    readonly connectionId: string,
    readonly reason: BindTokenRefusal,
  ) {
    const why = {
      missing: 'no bind token was given',
      malformed: 'the bind token is not one',
      mismatch: 'the bind token is not valid for this client',
      expired: 'the bind token has expired',
    }[reason];
    super(GatewayErrorCode.bindToken, `${operation} refused for client ${connectionId}: ${why}`);
  }
}

/**
 * A Gateway API call (lambdas/gatewayApiHandler.ts) to a method the function's allow-list leaves out
 * (GATEWAY_API_METHODS, from `GatewayBackendProps.gatewayApi.methods`); refused before its arguments
 * are checked or anything is called.
 */
export class MethodNotAllowedError extends GatewayError {
  override readonly name = 'MethodNotAllowedError';
  constructor(readonly method: string) {
    super(
      GatewayErrorCode.methodNotAllowed,
      `method ${JSON.stringify(method)} is not allowed by this Gateway API function (its allow-list: gatewayApi.methods)`,
    );
  }
}
