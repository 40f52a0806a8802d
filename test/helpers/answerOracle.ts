/**
 * Feeds the same answer bytes to Node's own HTTP client (llhttp) and to the SDK's Http1Pool, each over
 * a raw TCP socket that writes the bytes and then closes: what each one made of them, for comparing.
 */
import { request as httpRequest } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Http1Pool } from '../../sdk/http1Pool.ts';

export type Parsed = { ok: true; status: number; headers: Map<string, string>; body: string } | { ok: false; error: string };

/** A TCP server that answers each connection's first bytes with `next()`, in one write, then closes. */
export async function answeringServer(next: () => Buffer) {
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    let sent = false;
    socket.on('data', () => {
      if (sent) return;
      sent = true;
      socket.end(next());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** What Node's http.request (llhttp, strict mode) makes of the answer. */
export function parseWithNode(port: number): Promise<Parsed> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (parsed: Parsed) => {
      if (!settled) (settled = true), resolve(parsed);
    };
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/p', agent: false, headers: { 'content-length': 2 } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error) => done({ ok: false, error: String(error) }));
      res.on('aborted', () => done({ ok: false, error: 'aborted' }));
      res.on('end', () => {
        if (res.complete === false) return done({ ok: false, error: 'incomplete' });
        const headers = new Map<string, string>();
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          const name = res.rawHeaders[i]!.toLowerCase();
          if (!headers.has(name)) headers.set(name, res.rawHeaders[i + 1]!);
        }
        done({ ok: true, status: res.statusCode!, headers, body: Buffer.concat(chunks).toString('latin1') });
      });
    });
    req.on('error', (error) => done({ ok: false, error: String(error) }));
    // A 101 with no 'upgrade' listener closes the socket without an error.
    req.on('close', () => done({ ok: false, error: 'closed without a complete answer' }));
    req.end('hi');
  });
}

/** What the SDK's Http1Pool makes of the answer. */
export async function parseWithPool(port: number): Promise<Parsed> {
  const pool = new Http1Pool(new URL(`http://127.0.0.1:${port}`), { maxSockets: 1, timeoutMs: 5_000 });
  try {
    const answer = await pool.request('POST', '/p', { host: `127.0.0.1:${port}` }, Buffer.from('hi'));
    return { ok: true, status: answer.status, headers: new Map(answer.headers), body: answer.body.toString('latin1') };
  } catch (error) {
    return { ok: false, error: String(error) };
  } finally {
    pool.destroy();
  }
}
