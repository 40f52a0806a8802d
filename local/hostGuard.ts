/**
 * What keeps the web pages a developer visits away from the local servers (the gateway, its
 * DynamoDB, the example backends). Any page can send requests to 127.0.0.1; two checks stop it:
 *
 * - Host. A page on a name the attacker controls can point that name at 127.0.0.1 (DNS rebinding)
 *   and then read the answers as its own origin. Its requests still carry its own name in `Host`,
 *   so a server that answers only loopback names and its own names cannot be reached that way.
 *   The refusal is 403 Forbidden, what API Gateway answers a Host it serves no API for (and what
 *   dev servers such as Vite's answer); 421 Misdirected Request would also fit RFC 9110, but AWS's
 *   SDKs and browsers treat both as final.
 * - Origin. A browser puts `Origin` on every cross-origin request (and on every POST); the AWS SDKs
 *   and CLIs in Node, Python or PHP send none. The AWS APIs emulated here (@connections, the Lambda
 *   API, Secrets Manager, DynamoDB) refuse a request that carries one, so no page can use them even
 *   from a loopback origin, and no CORS header is ever granted. The WebSocket handshake is the
 *   exception: pages from any origin connect, as on AWS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { sendAwsError } from './http.ts';

/** `localhost`, `*.localhost`, 127.0.0.0/8 and ::1: names and addresses that only ever mean this machine. */
export function isLoopbackHostname(hostname: string): boolean {
  const name = hostname.toLowerCase();
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (net.isIPv4(name)) return name.startsWith('127.');
  return name === '::1' || name === '0:0:0:0:0:0:0:1';
}

/** The host name of a `Host` header value (`name`, `name:port`, `[v6]`, `[v6]:port`); undefined when malformed. */
export function hostnameOf(hostHeader: string): string | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/@]+))(?::(\d{1,5}))?$/.exec(hostHeader);
  if (!match) return undefined;
  if (match[1] !== undefined) return net.isIPv6(match[1]) ? match[1] : undefined;
  return match[2]!;
}

export class HostGuard {
  private readonly ownNames: Set<string>;

  /** `ownNames`: host names answered besides loopback ones (the API's AWS name, custom domains, a bind address). */
  constructor(ownNames: Iterable<string> = []) {
    this.ownNames = new Set([...ownNames].map((name) => name.toLowerCase().replace(/^\[|\]$/g, '')));
  }

  /** True when the request's `Host` is a loopback name or address or one of the own names. */
  allows(req: IncomingMessage): boolean {
    const header = req.headers.host;
    if (typeof header !== 'string') return false;
    const hostname = hostnameOf(header);
    if (hostname === undefined) return false;
    return isLoopbackHostname(hostname) || this.ownNames.has(hostname.toLowerCase());
  }
}

/** A browser's request: it carries `Origin` (AWS's SDKs and CLIs send none). */
export function isBrowserRequest(req: IncomingMessage): boolean {
  return req.headers.origin !== undefined;
}

/** Answers 403 for a Host the server does not serve, in AWS's error shape. */
export function refuseForeignHost(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  sendAwsError(res, 403, 'ForbiddenException', {
    message: `Forbidden: this local server answers only loopback host names and its own, not ${JSON.stringify(String(req.headers.host ?? ''))}`,
  });
}

/** Answers 403 for a browser's request to an AWS API, in AWS's error shape, without any CORS header. */
export function refuseBrowserRequest(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  sendAwsError(res, 403, 'AccessDeniedException', {
    message: 'The local AWS APIs do not answer browser requests (those carrying an Origin header); AWS SDKs and CLIs send none',
  });
}

/** The log line of a request refused for its Host: a name the developer means to use goes in `domainNames`. */
export function foreignHostLine(req: IncomingMessage): string {
  return `refused ${req.method} ${req.url}: Host ${JSON.stringify(req.headers.host ?? '')} is not a loopback name nor one of this API's (add it to domainNames to serve it)`;
}
