/**
 * The parts of API Gateway's WebSocket proxy events the handlers read (see api-gateway-websocket.md
 * A2). Declared here rather than taken from @types/aws-lambda, which lacks `headers`, `identity` and
 * the disconnect fields, and rather than from local/, which deployed code must not depend on.
 */
export interface WebSocketIdentity {
  readonly sourceIp: string;
  readonly userAgent?: string;
}

export interface WebSocketRequestContext {
  readonly routeKey: string;
  readonly eventType: 'CONNECT' | 'DISCONNECT' | 'MESSAGE';
  readonly connectionId: string;
  /** Epoch ms of the handshake; the same on every event of a connection. */
  readonly connectedAt: number;
  readonly requestId: string;
  readonly requestTimeEpoch: number;
  readonly stage: string;
  readonly domainName: string;
  readonly apiId: string;
  readonly identity: WebSocketIdentity;
  readonly messageId?: string;
  readonly disconnectStatusCode?: number;
  readonly disconnectReason?: string;
  /** The principal and context a Lambda authorizer on `$connect` returned. */
  readonly authorizer?: Readonly<Record<string, string | number | boolean | null | undefined>>;
}

export interface WebSocketConnectEvent {
  readonly headers?: Readonly<Record<string, string>>;
  readonly multiValueHeaders?: Readonly<Record<string, readonly string[]>>;
  readonly queryStringParameters?: Readonly<Record<string, string>> | null;
  readonly multiValueQueryStringParameters?: Readonly<Record<string, readonly string[]>> | null;
  readonly requestContext: WebSocketRequestContext;
}

export interface WebSocketDisconnectEvent {
  readonly requestContext: WebSocketRequestContext;
}

export interface WebSocketMessageEvent {
  readonly requestContext: WebSocketRequestContext;
  /** The frame text; absent rather than empty on some captures. */
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
}

/** What a WebSocket route integration returns; a non-2xx on `$connect` refuses the upgrade with it. */
export interface WebSocketResponse {
  readonly statusCode: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

/** The subset of the Lambda context object the handlers use. */
export interface LambdaInvocationContext {
  getRemainingTimeInMillis(): number;
}
