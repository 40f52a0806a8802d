/**
 * The steps of a WebSocket handshake that need none of the gateway's state: which requests may
 * upgrade, the rate of new connections, what `$connect`'s event and answer are made of, and the
 * plain HTTP refusal. LocalGateway.onUpgrade runs them in order and keeps the connection state.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { InvocationOutcome } from './functions.ts';

/** `/{stage}`, with or without a trailing slash or a query: the path clients connect to. */
export function isStagePath(rawUrl: string, stage: string): boolean {
  const path = new URL(rawUrl, 'http://localhost').pathname.replace(/\/+$/, '');
  return path === `/${stage}`;
}

/** An RFC 6455 upgrade request: `Upgrade: websocket`, a key, version 13. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return req.headers.upgrade?.toLowerCase() === 'websocket' && Boolean(req.headers['sec-websocket-key']) && req.headers['sec-websocket-version'] === '13';
}

/** The account's limit on new connections per second, over a sliding second. */
export class NewConnectionRate {
  private recent: number[] = [];

  /** Counts a connect at `now` unless `limitPerSecond` were already admitted in the second before it. */
  admit(now: number, limitPerSecond: number): boolean {
    if (!Number.isFinite(limitPerSecond)) return true;
    this.recent = this.recent.filter((t) => now - t < 1000);
    if (this.recent.length >= limitPerSecond) return false;
    this.recent.push(now);
    return true;
  }
}

export function rejectUpgrade(socket: Socket, status: number, reason: string): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** The HTTP answer to an upgrade: the integration's status (undefined counts as 200), 502 when it failed. */
export function integrationResponse(outcome: InvocationOutcome): { status: number; headers: Record<string, string> } {
  if (!outcome.ok) return { status: 502, headers: {} };
  const value = outcome.value as { statusCode?: unknown; headers?: unknown } | null;
  if (value === null) return { status: 200, headers: {} };
  if (typeof value !== 'object') return { status: 502, headers: {} };
  const status = value.statusCode ?? 200;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) return { status: 502, headers: {} };
  const headers: Record<string, string> = {};
  if (value.headers && typeof value.headers === 'object') {
    for (const [k, v] of Object.entries(value.headers as Record<string, unknown>)) headers[k] = String(v);
  }
  return { status, headers };
}

/** API Gateway does not pass the hop-by-hop Connection and Upgrade headers to `$connect`. */
export function withoutHopByHop(rawHeaders: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name !== 'connection' && name !== 'upgrade') kept.push(rawHeaders[i]!, rawHeaders[i + 1]!);
  }
  return kept;
}

/** `::ffff:127.0.0.1` -> `127.0.0.1`, as API Gateway reports IPv4 clients. */
export function plainIp(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
