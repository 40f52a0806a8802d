/**
 * GatewayWorker's `$data` for onWebSocketConnect, built from API Gateway's `$connect` event the way
 * Workerman builds it from the raw handshake (header `X-Foo` -> `HTTP_X_FOO`, Host -> SERVER_NAME
 * and SERVER_PORT, Cookie -> `cookie`, the query string -> `get`).
 */
import type { WebSocketConnectData } from './events.ts';
import type { WebSocketConnectEvent } from './webSocketEvent.ts';

export function buildConnectData(event: WebSocketConnectEvent): WebSocketConnectData {
  const headers = event.headers ?? {};
  const get: Record<string, string> = { ...(event.queryStringParameters ?? {}) };
  const queryString = encodeQuery(event.multiValueQueryStringParameters ?? undefined, event.queryStringParameters ?? undefined);
  const stage = event.requestContext.stage;
  const server: Record<string, string> = {
    QUERY_STRING: queryString,
    REQUEST_METHOD: 'GET',
    REQUEST_URI: `/${stage}${queryString ? `?${queryString}` : ''}`,
    SERVER_PROTOCOL: 'HTTP/1.1',
    SERVER_NAME: event.requestContext.domainName,
    REMOTE_ADDR: event.requestContext.identity.sourceIp,
  };
  let cookie: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const key = name.toUpperCase().replace(/-/g, '_');
    server[`HTTP_${key}`] = value;
    if (key === 'HOST') {
      const [host, port] = splitHostPort(value);
      server.SERVER_NAME = host;
      if (port) server.SERVER_PORT = port;
    } else if (key === 'CONTENT_TYPE') {
      server.CONTENT_TYPE = value;
    } else if (key === 'COOKIE') {
      cookie = parseCookie(value);
    }
  }
  if (!server.SERVER_PORT) {
    const forwardedPort = Object.entries(headers).find(([name]) => name.toLowerCase() === 'x-forwarded-port')?.[1];
    if (forwardedPort) server.SERVER_PORT = forwardedPort;
  }
  return { get, server, cookie };
}

/** `a=1; b=hello%20world` -> { a: '1', b: 'hello world' }; the first occurrence of a name wins, as in browsers' order of precedence. */
export function parseCookie(header: string): Record<string, string> {
  const cookies: Record<string, string> = {};
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!name || Object.hasOwn(cookies, name)) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    cookies[name] = safeDecode(value);
  }
  return cookies;
}

function encodeQuery(multi: Readonly<Record<string, readonly string[]>> | undefined, single: Readonly<Record<string, string>> | undefined): string {
  const pairs: string[] = [];
  const source: Record<string, readonly string[]> = multi ?? Object.fromEntries(Object.entries(single ?? {}).map(([k, v]) => [k, [v]]));
  for (const [name, values] of Object.entries(source)) {
    for (const value of values) pairs.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  }
  return pairs.join('&');
}

function splitHostPort(host: string): [string, string | undefined] {
  const ipv6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (ipv6) return [ipv6[1]!, ipv6[2]];
  const colon = host.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(host.slice(colon + 1))) return [host.slice(0, colon), host.slice(colon + 1)];
  return [host, undefined];
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
