/**
 * The example's backend: the part of an application that GatewayClient served in the PHP seed
 * (bind.php and send_message.php), here a minimal Node HTTP server on the Gateway SDK. It also
 * serves the page and tells it where the WebSocket endpoint is.
 *
 *   POST /bind  {client_id, uid, group}            bindUid + joinGroup
 *   POST /send  {from, to: 'group'|'uid', target, text}   sendToGroup / sendToUid of {"type":"say",...}
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { listenOn, type PortRequest } from '../local/listen.ts';
import { Gateway, GatewayError } from '../sdk/index.ts';

export interface ExampleBackendOptions {
  readonly gateway: Gateway;
  /** The WebSocket URL the page connects to. */
  readonly wsUrl: string;
  /** @default 0 (see PortRequest for a preferred port) */
  readonly port?: PortRequest;
  /** @default '127.0.0.1' */
  readonly host?: string;
}

export interface RunningBackend {
  readonly url: string;
  readonly server: Server;
  stop(): Promise<void>;
}

const PAGE = new URL('./web/index.html', import.meta.url);
const MAX_BODY_BYTES = 64 * 1024;

export async function startExampleBackend(options: ExampleBackendOptions): Promise<RunningBackend> {
  const { gateway } = options;
  const routes: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    'POST /bind': async (body) => {
      const clientId = requireString(body, 'client_id');
      await gateway.bindUid(clientId, requireString(body, 'uid'));
      await gateway.joinGroup(clientId, requireString(body, 'group'));
      return { ok: true };
    },
    'POST /send': async (body) => {
      const message = { type: 'say', from: requireString(body, 'from'), text: requireString(body, 'text') };
      const target = requireString(body, 'target');
      const report = body.to === 'uid' ? await gateway.sendToUid(target, message) : await gateway.sendToGroup(target, message);
      return { recipients: report.recipients, sent: report.sent.length, gone: report.gone.length, failed: report.failed.length };
    },
  };

  const server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(await readFile(PAGE));
        return;
      }
      if (req.method === 'GET' && path === '/config.json') {
        return json(res, 200, { wsUrl: options.wsUrl });
      }
      const route = routes[`${req.method} ${path}`];
      if (!route) return json(res, 404, { error: 'not found' });
      json(res, 200, await route(await readJson(req)));
    } catch (error) {
      const status = error instanceof BadRequest ? 400 : error instanceof GatewayError && error.code === 'VALIDATION' ? 400 : error instanceof GatewayError && error.code === 'CONNECTION_GONE' ? 409 : 500;
      json(res, status, { error: error instanceof Error ? error.message : String(error), code: (error as { code?: string }).code });
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

class BadRequest extends Error {}

function requireString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (typeof value !== 'string' || value.length === 0) throw new BadRequest(`${field} must be a non-empty string`);
  return value;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest('body too large');
    chunks.push(chunk);
  }
  try {
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error();
    return parsed as Record<string, unknown>;
  } catch {
    throw new BadRequest('body must be a JSON object');
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }).end(payload);
}
