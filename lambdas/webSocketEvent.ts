/**
 * The Lambda proxy events an API Gateway WebSocket API sends and what its integrations return, typed
 * from captured AWS events (test/fixtures/aws-websocket-event-shapes.json): one declaration for the
 * deployed handlers in lambdas/ and for the local gateway, which builds the events (local/events.ts).
 * It lives here because deployed code must not depend on local/, while local/ already depends on
 * lambdas/ for the contracts it emulates (docs/layout.md). Declared rather than taken from
 * @types/aws-lambda, which lacks `headers`, `identity` and the disconnect fields.
 */

export type WebSocketEventType = 'CONNECT' | 'DISCONNECT' | 'MESSAGE';

export interface WebSocketIdentity {
  readonly sourceIp: string;
  /** Present when the client sent a User-Agent header. */
  readonly userAgent?: string;
}

/** What a REQUEST authorizer on `$connect` returned: its principal and context, on every later event. */
export interface WebSocketAuthorizerContext {
  readonly principalId: string;
  readonly [key: string]: string | number | boolean;
}

export interface WebSocketRequestContext {
  readonly routeKey: string;
  readonly eventType: WebSocketEventType;
  readonly extendedRequestId: string;
  readonly requestTime: string;
  readonly messageDirection: 'IN';
  readonly stage: string;
  /** Epoch ms of the handshake; the same on every event of a connection. */
  readonly connectedAt: number;
  readonly requestTimeEpoch: number;
  readonly identity: WebSocketIdentity;
  readonly requestId: string;
  readonly domainName: string;
  readonly connectionId: string;
  readonly apiId: string;
  /** MESSAGE events only. */
  readonly messageId?: string;
  /** DISCONNECT events only: the close code, e.g. 1001, or 1005 when the client sent none. */
  readonly disconnectStatusCode?: number;
  /** DISCONNECT events only, e.g. "Client-side close frame status not set" with 1005. */
  readonly disconnectReason?: string;
  /** When a Lambda authorizer guards `$connect`. */
  readonly authorizer?: WebSocketAuthorizerContext;
}

export interface WebSocketConnectEvent {
  readonly headers: Record<string, string>;
  readonly multiValueHeaders: Record<string, string[]>;
  /** Only when the URL has a query string. */
  readonly queryStringParameters?: Record<string, string>;
  readonly multiValueQueryStringParameters?: Record<string, string[]>;
  readonly requestContext: WebSocketRequestContext & { readonly eventType: 'CONNECT'; readonly routeKey: '$connect' };
  readonly isBase64Encoded: false;
}

export interface WebSocketDisconnectEvent {
  /** A fixed stub: Host, x-api-key, X-Forwarded-For and x-restapi, the last three empty. */
  readonly headers: Record<string, string>;
  readonly multiValueHeaders: Record<string, string[]>;
  readonly requestContext: WebSocketRequestContext & {
    readonly eventType: 'DISCONNECT';
    readonly routeKey: '$disconnect';
    readonly disconnectStatusCode: number;
    readonly disconnectReason: string;
  };
  readonly isBase64Encoded: false;
}

export interface WebSocketMessageEvent {
  readonly requestContext: WebSocketRequestContext & { readonly eventType: 'MESSAGE'; readonly messageId: string };
  /** The frame text. Binary frames never reach a route: API Gateway closes with 1003. */
  readonly body: string;
  readonly isBase64Encoded: false;
}

export type WebSocketEvent = WebSocketConnectEvent | WebSocketDisconnectEvent | WebSocketMessageEvent;

/** What a route integration returns. `undefined` counts as 200. */
export interface WebSocketResult {
  readonly statusCode?: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** The REQUEST authorizer event API Gateway sends on `$connect`. */
export interface WebSocketAuthorizerEvent {
  readonly type: 'REQUEST';
  readonly methodArn: string;
  readonly headers: Record<string, string>;
  readonly multiValueHeaders: Record<string, string[]>;
  readonly queryStringParameters: Record<string, string>;
  readonly multiValueQueryStringParameters: Record<string, string[]>;
  readonly stageVariables: Record<string, string>;
  readonly requestContext: WebSocketRequestContext;
}

/** The IAM policy a REQUEST authorizer returns. */
export interface WebSocketAuthorizerResult {
  readonly principalId: string;
  readonly policyDocument: {
    readonly Version?: string;
    readonly Statement: ReadonlyArray<{
      readonly Action: string | readonly string[];
      readonly Effect: 'Allow' | 'Deny';
      readonly Resource: string | readonly string[];
    }>;
  };
  readonly context?: Record<string, string | number | boolean>;
}

/** The Lambda context object handed to every invocation. */
export interface LambdaContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  /** Runtimes up to nodejs22.x only (with `succeed`, `fail` and `done`); nodejs24.x has none of them. */
  callbackWaitsForEmptyEventLoop?: boolean;
  getRemainingTimeInMillis(): number;
}

/** The part of the Lambda context the deployed handlers use. */
export type LambdaInvocationContext = Pick<LambdaContext, 'getRemainingTimeInMillis'>;

/** What the deployed handlers return: always with a status; a non-2xx on `$connect` refuses the upgrade with it. */
export interface WebSocketResponse extends WebSocketResult {
  readonly statusCode: number;
}
