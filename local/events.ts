/**
 * A pure factory of the Lambda proxy events an API Gateway WebSocket API sends, in the shapes
 * lambdas/webSocketEvent.ts declares (one declaration for the deployed handlers and the emulator).
 * Field order follows the captures; test/fixtures holds the shapes checked.
 */
import type {
  WebSocketAuthorizerContext,
  WebSocketAuthorizerEvent,
  WebSocketConnectEvent,
  WebSocketDisconnectEvent,
  WebSocketEventType,
  WebSocketIdentity,
  WebSocketMessageEvent,
} from '../lambdas/webSocketEvent.ts';

/** Everything about the API a connection's events repeat. */
export interface ApiDescription {
  readonly apiId: string;
  readonly stage: string;
  readonly domainName: string;
}

/** Everything about one connection its events repeat. */
export interface ConnectionDescription {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly identity: WebSocketIdentity;
  readonly authorizer?: WebSocketAuthorizerContext;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Common Log Format time, as API Gateway writes `requestTime`: `11/Nov/2024:11:35:24 +0000`. */
export function formatRequestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

function requestContext(
  api: ApiDescription,
  connection: ConnectionDescription,
  routeKey: string,
  eventType: WebSocketEventType,
  requestId: string,
  nowMs: number,
  extra: { messageId?: string; disconnectStatusCode?: number; disconnectReason?: string } = {},
) {
  // In the order AWS sends the keys (test/fixtures/aws-websocket-event-shapes.json): code that logs
  // or snapshots the event sees what it would see on AWS.
  return {
    routeKey,
    ...(extra.messageId !== undefined ? { messageId: extra.messageId } : {}),
    ...(extra.disconnectStatusCode !== undefined ? { disconnectStatusCode: extra.disconnectStatusCode } : {}),
    eventType,
    extendedRequestId: requestId,
    requestTime: formatRequestTime(nowMs),
    messageDirection: 'IN' as const,
    ...(extra.disconnectReason !== undefined ? { disconnectReason: extra.disconnectReason } : {}),
    stage: api.stage,
    connectedAt: connection.connectedAt,
    requestTimeEpoch: nowMs,
    identity: connection.identity,
    requestId,
    domainName: api.domainName,
    connectionId: connection.connectionId,
    apiId: api.apiId,
    ...(connection.authorizer ? { authorizer: connection.authorizer } : {}),
  };
}

export interface ConnectEventInput {
  readonly headers: Record<string, string>;
  readonly multiValueHeaders: Record<string, string[]>;
  readonly query?: { single: Record<string, string>; multi: Record<string, string[]> };
  readonly requestId: string;
  readonly nowMs: number;
}

export function buildConnectEvent(api: ApiDescription, connection: ConnectionDescription, input: ConnectEventInput): WebSocketConnectEvent {
  return {
    headers: input.headers,
    multiValueHeaders: input.multiValueHeaders,
    ...(input.query ? { queryStringParameters: input.query.single, multiValueQueryStringParameters: input.query.multi } : {}),
    requestContext: requestContext(api, connection, '$connect', 'CONNECT', input.requestId, input.nowMs) as WebSocketConnectEvent['requestContext'],
    isBase64Encoded: false,
  };
}

export interface DisconnectEventInput {
  readonly statusCode: number;
  readonly reason: string;
  readonly requestId: string;
  readonly nowMs: number;
}

export function buildDisconnectEvent(api: ApiDescription, connection: ConnectionDescription, input: DisconnectEventInput): WebSocketDisconnectEvent {
  const headers = { Host: api.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' };
  const context = requestContext(api, connection, '$disconnect', 'DISCONNECT', input.requestId, input.nowMs, {
    disconnectStatusCode: input.statusCode,
    disconnectReason: input.reason,
  });
  return {
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    requestContext: context as WebSocketDisconnectEvent['requestContext'],
    isBase64Encoded: false,
  };
}

export interface MessageEventInput {
  readonly routeKey: string;
  readonly body: string;
  readonly messageId: string;
  readonly requestId: string;
  readonly nowMs: number;
}

export function buildMessageEvent(api: ApiDescription, connection: ConnectionDescription, input: MessageEventInput): WebSocketMessageEvent {
  const context = requestContext(api, connection, input.routeKey, 'MESSAGE', input.requestId, input.nowMs, { messageId: input.messageId });
  return {
    requestContext: context as WebSocketMessageEvent['requestContext'],
    body: input.body,
    isBase64Encoded: false,
  };
}

export function buildAuthorizerEvent(connect: WebSocketConnectEvent, methodArn: string): WebSocketAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn,
    headers: connect.headers,
    multiValueHeaders: connect.multiValueHeaders,
    queryStringParameters: connect.queryStringParameters ?? {},
    multiValueQueryStringParameters: connect.multiValueQueryStringParameters ?? {},
    stageVariables: {},
    requestContext: connect.requestContext,
  };
}

/**
 * Headers as API Gateway passes them on `$connect`: the client's own names and casing, plus the
 * proxy headers it adds (X-Amzn-Trace-Id, X-Forwarded-For/Port/Proto).
 */
export function connectHeaders(
  rawHeaders: readonly string[],
  added: Record<string, string>,
): { headers: Record<string, string>; multiValueHeaders: Record<string, string[]> } {
  const multi: Record<string, string[]> = {};
  const canonical = new Map<string, string>();
  const add = (name: string, value: string) => {
    const key = canonical.get(name.toLowerCase()) ?? name;
    canonical.set(name.toLowerCase(), key);
    (multi[key] ??= []).push(value);
  };
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) add(rawHeaders[i]!, rawHeaders[i + 1]!);
  for (const [name, value] of Object.entries(added)) {
    const existing = canonical.get(name.toLowerCase());
    if (existing) delete multi[existing];
    canonical.set(name.toLowerCase(), name);
    multi[name] = [value];
  }
  const headers = Object.fromEntries(Object.entries(multi).map(([k, v]) => [k, v.join(',')]));
  return { headers, multiValueHeaders: multi };
}

/** Query string parameters as API Gateway passes them: the last value wins in the single map. */
export function queryParameters(search: URLSearchParams): { single: Record<string, string>; multi: Record<string, string[]> } | undefined {
  const multi: Record<string, string[]> = {};
  for (const [k, v] of search) (multi[k] ??= []).push(v);
  if (Object.keys(multi).length === 0) return undefined;
  return { single: Object.fromEntries(Object.entries(multi).map(([k, v]) => [k, v[v.length - 1]!])), multi };
}
