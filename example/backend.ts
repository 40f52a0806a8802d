/**
 * The example's backend: the part of an application that GatewayClient served in the PHP seed
 * (bind.php and send_message.php), here a minimal Node HTTP server on the Gateway SDK. Who the user
 * is comes from a server-side session behind a cookie (the seed's `$_SESSION`), never from what the
 * page posts; the page posts only its connection's client id and bind token. Bodies may be
 * form-encoded (the seed's `$.post('./bind', {client_id})`) or JSON. It also serves the page, the
 * browser client and the WebSocket URL.
 *
 * What a copy of it needs on the internet, it does here too: it answers only its own host names
 * (loopback ones and `allowedHosts`: DNS rebinding, local/hostGuard.ts); a POST must come from a page
 * of its own origin (the `Origin` header, which browsers send with every POST); the session cookie
 * is HttpOnly, SameSite=Lax, and Secure when the page is served over https (TLS here, or
 * `X-Forwarded-Proto: https` from a proxy in front); a 5xx answers a generic message and the error,
 * which may be AWS's text with a role ARN in it, goes to the server's log only.
 *
 *   POST /login  {uid, group}               starts a session (a stand-in for the app's real login)
 *   GET  /session                           the session's uid and group, 401 without one
 *   POST /bind   {client_id, bind_token?}   bindUid + joinGroup of the session's uid and group
 *   POST /send   {to: 'group'|'uid', target?, text}   sendToGroup (the session's group) / sendToUid,
 *                                           of {"type":"say","from":<session uid>,"text"}
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { listenOn, type PortRequest } from '../local/listen.ts';
import { HostGuard } from '../local/hostGuard.ts';
import { Gateway, GatewayError, GatewayErrorCode } from '../sdk/index.ts';

export interface ExampleBackendOptions {
  readonly gateway: Gateway;
  /** The WebSocket URL the page connects to. */
  readonly wsUrl: string;
  /** @default 0 (see PortRequest for a preferred port) */
  readonly port?: PortRequest;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Host names the page is served under besides loopback ones and `host` (e.g. `app.example.com`). @default none */
  readonly allowedHosts?: readonly string[];
  /** Where the errors behind 5xx answers go. @default console.error */
  readonly log?: (line: string) => void;
}

export interface RunningBackend {
  readonly url: string;
  readonly server: Server;
  stop(): Promise<void>;
}

interface UserSession {
  readonly uid: string;
  readonly group: string;
}

const FILES: Record<string, { url: URL; type: string }> = {
  '/': { url: new URL('./web/index.html', import.meta.url), type: 'text/html; charset=utf-8' },
  '/gateway-client.js': { url: new URL('../clients/browser/gateway-client.js', import.meta.url), type: 'text/javascript; charset=utf-8' },
};
const MAX_BODY_BYTES = 64 * 1024;
const SESSION_COOKIE = 'sid';

/** What each error means to the page: its status. */
const STATUS_BY_CODE: Partial<Record<string, number>> = {
  [GatewayErrorCode.validation]: 400,
  [GatewayErrorCode.payloadTooLarge]: 413,
  [GatewayErrorCode.bindToken]: 403,
  [GatewayErrorCode.connectionGone]: 409,
  [GatewayErrorCode.limitExceeded]: 409,
};

export async function startExampleBackend(options: ExampleBackendOptions): Promise<RunningBackend> {
  const { gateway } = options;
  const hostGuard = new HostGuard([options.host ?? '127.0.0.1', ...(options.allowedHosts ?? [])]);
  const log = options.log ?? ((line: string) => console.error(line));
  // In memory: an example. A real app keeps its sessions wherever it already does.
  const sessions = new Map<string, UserSession>();

  type Route = (body: Record<string, string>, session: UserSession | undefined, res: ServerResponse, req: IncomingMessage) => Promise<unknown>;
  const routes: Record<string, Route> = {
    'POST /login': async (body, _session, res, req) => {
      const user = { uid: requireString(body, 'uid'), group: requireString(body, 'group') };
      // A new id at every login (never one the browser brought: no session fixation).
      const id = randomBytes(24).toString('base64url');
      sessions.set(id, user);
      res.setHeader('set-cookie', `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax${schemeOf(req) === 'https' ? '; Secure' : ''}`);
      return user;
    },
    'GET /session': async (_body, session) => requireSession(session),
    'POST /bind': async (body, session) => {
      const user = requireSession(session);
      const clientId = requireString(body, 'client_id');
      // Passed through as the browser got it; the SDK refuses a missing or wrong one when tokens are required.
      const bindToken = body.bind_token || undefined;
      await gateway.bindUid(clientId, user.uid, { bindToken });
      await gateway.joinGroup(clientId, user.group, { bindToken });
      return { ok: true, uid: user.uid, group: user.group };
    },
    'POST /send': async (body, session) => {
      const user = requireSession(session);
      const message = { type: 'say', from: user.uid, text: requireString(body, 'text') };
      const report = body.to === 'uid' ? await gateway.sendToUid(requireString(body, 'target'), message) : await gateway.sendToGroup(user.group, message);
      return { recipients: report.recipients, sent: report.sent.length, gone: report.gone.length, failed: report.failed.length };
    },
  };

  const server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!hostGuard.allows(req)) return json(res, 403, { error: 'this server does not answer that host name' });
    try {
      const file = req.method === 'GET' ? FILES[path === '/index.html' ? '/' : path] : undefined;
      if (file) {
        res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(await readFile(file.url));
        return;
      }
      if (req.method === 'GET' && path === '/config.json') return json(res, 200, { wsUrl: options.wsUrl });
      const route = routes[`${req.method} ${path}`];
      if (!route) return json(res, 404, { error: 'not found' });
      // Cross-site request forgery: a POST must come from this origin's own page.
      if (req.method === 'POST' && req.headers.origin !== `${schemeOf(req)}://${req.headers.host}`) throw new HttpError(403, 'cross-origin POST refused');
      const session = sessions.get(cookie(req, SESSION_COOKIE) ?? '');
      json(res, 200, await route(req.method === 'POST' ? await readForm(req) : {}, session, res, req));
    } catch (error) {
      const code = (error as { code?: string }).code;
      const status = error instanceof HttpError ? error.status : error instanceof GatewayError ? (STATUS_BY_CODE[error.code] ?? 500) : 500;
      if (status >= 500) {
        // The text may be AWS's (an AccessDenied names the role): the log gets it, the browser does not.
        log(`${req.method} ${path} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        return json(res, status, { error: 'internal error (see the server log)' });
      }
      json(res, status, { error: error instanceof Error ? error.message : String(error), ...(code ? { code } : {}) });
    }
  }

  const port = await listenOn(server, options.port ?? 0, { host: options.host ?? '127.0.0.1' });
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}/`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function requireSession(session: UserSession | undefined): UserSession {
  if (!session) throw new HttpError(401, 'not logged in');
  return session;
}

function requireString(body: Record<string, string>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0) throw new HttpError(400, `${field} must be a non-empty string`);
  return value;
}

/** The scheme the browser used: https over TLS here, or when a proxy in front says so. */
function schemeOf(req: IncomingMessage): 'http' | 'https' {
  const forwarded = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return (req.socket as { encrypted?: boolean }).encrypted || first === 'https' ? 'https' : 'http';
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** A form-encoded or JSON object body, as string fields (what a PHP `$_POST` would hold). */
async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  if (type !== 'application/json' && type !== '') throw new HttpError(415, 'send application/x-www-form-urlencoded or application/json');
  if (text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body must be a JSON object');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpError(400, 'body must be a JSON object');
  return Object.fromEntries(Object.entries(parsed).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }).end(payload);
}
