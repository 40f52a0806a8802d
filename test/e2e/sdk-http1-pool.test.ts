/**
 * The SDK's own HTTP/1.1 client (sdk/http1Pool.ts), which carries every @connections request and
 * fan-out Invoke: against raw TCP servers that write answers byte by byte in every framing HTTP/1.1
 * allows, against Node's http server (keep-alive, socket bounds, idle closes), and over TLS with a
 * certificate made for the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { Http1Pool, MalformedAnswerError, REQUEST_START_CHANNEL, StaleSocketError, type MalformedAnswerReason } from '../../sdk/http1Pool.ts';

const OPTIONS = { maxSockets: 4, timeoutMs: 2_000 };
/** A failed assertion can leave a server open: the test ends anyway. */
const BOUNDED = { timeout: 30_000 };

/** A TCP server that answers each request (once its head and declared body are in) with `answer`, written in `pieces`-byte writes. */
async function rawServer(answer: (request: string, index: number) => string, pieces = 1) {
  const sockets: Socket[] = [];
  const requests: string[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    let buffered = '';
    socket.on('data', async (data) => {
      buffered += data.toString('latin1');
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const request = buffered.slice(0, end + 4 + length);
        buffered = buffered.slice(end + 4 + length);
        requests.push(request);
        const text = answer(request, requests.length - 1);
        for (let i = 0; i < text.length; i += pieces) {
          socket.write(text.slice(i, i + pieces), 'latin1');
          if (pieces < text.length) await new Promise((resolve) => setImmediate(resolve));
        }
        if (/^HTTP\/1\.[01] \d{3}[\s\S]*\r\nx-then: close\r\n/i.test(text)) socket.end();
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  return {
    url,
    sockets,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

test(
  'every framing HTTP/1.1 allows, written one byte at a time: Content-Length, chunked with extensions and trailers, 204, 100 Continue, read until close',
  BOUNDED,
  async () => {
    const cases: Array<[string, string, number, string]> = [
      ['length', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Amzn-ErrorType: none\r\n\r\nhello', 200, 'hello'],
      ['empty length', 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 200, ''],
      ['chunked', 'HTTP/1.1 410 Gone\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nGone\r\n2\r\n!!\r\n0\r\n\r\n', 410, 'Gone!!'],
      ['chunked with trailers', 'HTTP/1.1 403 Forbidden\r\ntransfer-encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n', 403, '0123456789'],
      ['204', 'HTTP/1.1 204 No Content\r\n\r\n', 204, ''],
      ['100 Continue first', 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 200, 'ok'],
      ['no length: until close', 'HTTP/1.1 500 Internal Server Error\r\nx-then: close\r\n\r\nbroken', 500, 'broken'],
      ['HTTP/1.0', 'HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold', 200, 'old'],
    ];
    for (const [label, text, status, body] of cases) {
      const server = await rawServer(() => text);
      const pool = new Http1Pool(server.url, OPTIONS);
      try {
        const answer = await pool.request(
          'POST',
          '/prod/@connections/abc%3D',
          { host: server.url.host, 'x-amz-date': '20261201T000000Z' },
          Buffer.from('payload'),
        );
        assert.deepEqual({ status: answer.status, body: answer.body.toString() }, { status, body }, label);
        if (label === 'length') assert.equal(answer.headers.get('x-amzn-errortype'), 'none', 'header names are lower-cased');
        const [request] = server.requests;
        assert.match(
          request!,
          /^POST \/prod\/@connections\/abc%3D HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\nx-amz-date: 20261201T000000Z\r\ncontent-length: 7\r\nconnection: keep-alive\r\n\r\npayload$/,
          label,
        );
      } finally {
        pool.destroy();
        await server.close();
      }
    }
  },
);

test('a large body (128 KB, sent as one writev behind the head) arrives whole', BOUNDED, async () => {
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => res.writeHead(200, { 'content-length': '64' }).end(createHash('sha256').update(Buffer.concat(chunks)).digest('hex')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const pool = new Http1Pool(url, OPTIONS);
  try {
    for (const size of [1, 8 * 1024, 8 * 1024 + 1, 131_072]) {
      const body = Buffer.alloc(size, size % 251);
      const answer = await pool.request('POST', '/x', { host: url.host }, body);
      assert.equal(answer.body.toString(), createHash('sha256').update(body).digest('hex'), `${size} bytes`);
    }
  } finally {
    pool.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('keep-alive: one socket serves sequential requests; Connection: close or an HTTP/1.0 answer retires it', BOUNDED, async () => {
  const kept = await rawServer(() => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 7);
  const pool = new Http1Pool(kept.url, OPTIONS);
  for (let i = 0; i < 5; i++) assert.equal((await pool.request('GET', '/x', { host: 'h' })).status, 200);
  assert.equal(kept.sockets.length, 1);
  pool.destroy();
  await kept.close();

  for (const text of ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', 'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n']) {
    const retiring = await rawServer(() => text, 1000);
    const p = new Http1Pool(retiring.url, OPTIONS);
    for (let i = 0; i < 3; i++) assert.equal((await p.request('GET', '/x', { host: 'h' })).status, 200);
    assert.equal(retiring.sockets.length, 3, JSON.stringify(text));
    p.destroy();
    await retiring.close();
  }
});

test('at most maxSockets at once, waiting requests served first come first served; each start is published on the diagnostics channel', BOUNDED, async () => {
  let inFlight = 0;
  let peak = 0;
  const order: string[] = [];
  const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    order.push(req.url!);
    setTimeout(() => (inFlight--, res.writeHead(200, { 'content-length': '2' }).end('ok')), 20);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const pool = new Http1Pool(url, { maxSockets: 3, timeoutMs: 5_000 });
  const published: Array<{ method: string; path: string }> = [];
  const onStart = (message: unknown) => published.push((message as { request: { method: string; path: string } }).request);
  subscribe(REQUEST_START_CHANNEL, onStart);
  try {
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => pool.request('DELETE', `/r${i}`, { host: url.host })));
    assert.deepEqual(
      answers.map((a) => a.body.toString()),
      Array(12).fill('ok'),
    );
    assert.equal(peak, 3);
    assert.deepEqual(
      order,
      Array.from({ length: 12 }, (_, i) => `/r${i}`),
    );
    assert.deepEqual(
      published.map((r) => `${r.method} ${r.path}`),
      Array.from({ length: 12 }, (_, i) => `DELETE /r${i}`),
    );
  } finally {
    unsubscribe(REQUEST_START_CHANNEL, onStart);
    pool.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('malformed answers fail the request and retire the socket; the next request gets a fresh one', BOUNDED, async () => {
  const bad = [
    'HTTP/2 200\r\n\r\n',
    'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX',
  ];
  for (const text of bad) {
    const server = await rawServer((_request, index) => (index === 0 ? text : 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    const pool = new Http1Pool(server.url, OPTIONS);
    try {
      await assert.rejects(pool.request('GET', '/x', { host: 'h' }), (error: Error) => !(error instanceof StaleSocketError), JSON.stringify(text));
      assert.equal((await pool.request('GET', '/x', { host: 'h' })).status, 200);
      assert.equal(server.sockets.length, 2);
    } finally {
      pool.destroy();
      await server.close();
    }
  }
  const huge = await rawServer(() => `HTTP/1.1 200 OK\r\nx: ${'a'.repeat(70 * 1024)}\r\n\r\n`, 16 * 1024);
  const pool = new Http1Pool(huge.url, OPTIONS);
  await assert.rejects(pool.request('GET', '/x', { host: 'h' }), /over 64 KiB/);
  pool.destroy();
  await huge.close();
});

test('what llhttp refuses is refused with a MalformedAnswerError, and the socket retired: the next request gets a fresh one', BOUNDED, async () => {
  const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n';
  const cases: Array<[MalformedAnswerReason, string]> = [
    ['content-length', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc'],
    ['content-length', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab'],
    ['transfer-encoding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n2\r\nab\r\n0\r\n\r\n'],
    ['transfer-encoding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\nab\r\n0\r\n\r\n'],
    ['transfer-encoding', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nab\r\n0\r\n\r\n'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 2\r\n\r\nab'],
    ['header', 'HTTP/1.1 200 OK\r\nX-A: 1\0\r\nContent-Length: 2\r\n\r\nab'],
    ['header', 'HTTP/1.1 200 OK\r\nX\0A: 1\r\nContent-Length: 2\r\n\r\nab'],
    ['header', 'HTTP/1.1 200 OK\r\nX-A : 1\r\nContent-Length: 2\r\n\r\nab'],
    ['header', 'HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\nContent-Length: 2\r\n\r\nab'],
    ['header', 'HTTP/1.1 200 OK\r\nContent-Length: 2\nX: y\r\n\r\nab'],
    ['header', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\nx: y\0\r\n\r\n'],
    ['chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 \r\nab\r\n0\r\n\r\n'],
    ['chunk', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;a\x01\r\nab\r\n0\r\n\r\n'],
    ['status-line', 'HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n'],
    ['bytes-past-answer', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nab'],
    ['bytes-past-answer', 'HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\nab'],
  ];
  for (const [reason, text] of cases) {
    // Each answer in one write: bytes past an answer are refused when they come with it (a later
    // read with no request in flight only retires the socket, as Node's client does).
    const server = await rawServer((_request, index) => (index === 0 ? text : ok), 1 << 20);
    const pool = new Http1Pool(server.url, OPTIONS);
    try {
      await assert.rejects(
        pool.request('GET', '/x', { host: 'h' }),
        (error: Error) => error instanceof MalformedAnswerError && error.reason === reason,
        JSON.stringify(text),
      );
      assert.equal((await pool.request('GET', '/x', { host: 'h' })).status, 200, JSON.stringify(text));
      assert.equal(server.sockets.length, 2, JSON.stringify(text));
    } finally {
      pool.destroy();
      await server.close();
    }
  }
});

test('an answer body over maxBodyBytes is refused, by Content-Length before it comes, chunked or read until close as it passes the cap', BOUNDED, async () => {
  const cap = 1000;
  const cases = [
    `HTTP/1.1 200 OK\r\nContent-Length: ${cap + 1}\r\n\r\n`,
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${(600).toString(16)}\r\n${'a'.repeat(600)}\r\n${(600).toString(16)}\r\n`,
    `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n`,
    `HTTP/1.1 200 OK\r\n\r\n${'a'.repeat(cap + 1)}`,
  ];
  for (const text of cases) {
    const server = await rawServer((_request, index) => (index === 0 ? text : `HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n${'b'.repeat(cap)}`), 400);
    const pool = new Http1Pool(server.url, { ...OPTIONS, maxBodyBytes: cap });
    try {
      await assert.rejects(
        pool.request('GET', '/x', { host: 'h' }),
        (error: Error) => error instanceof MalformedAnswerError && error.reason === 'body-too-large',
        JSON.stringify(text.slice(0, 60)),
      );
      assert.equal((await pool.request('GET', '/x', { host: 'h' })).body.length, cap, 'a body of exactly the cap is read');
    } finally {
      pool.destroy();
      await server.close();
    }
  }
});

test('a request path or method with a space, CR, LF, NUL or another control character is refused before any byte is sent', BOUNDED, async () => {
  const server = await rawServer(() => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const pool = new Http1Pool(server.url, OPTIONS);
  try {
    for (const path of ['/a b', '/a\r\nx-evil: 1', '/a\nb', '/a\0', '/a\tb', '/a\x7f', 'a', '/\u00e9', '']) {
      await assert.rejects(pool.request('POST', path, { host: 'h' }), TypeError, JSON.stringify(path));
    }
    await assert.rejects(pool.request('GET /x HTTP/1.1\r\n', '/x', { host: 'h' }), TypeError);
    assert.equal(server.sockets.length, 0);
    assert.equal((await pool.request('POST', "/prod/@connections/abc%3D?x=1&y=~!$'()*+,;:@", { host: 'h' })).status, 200);
  } finally {
    pool.destroy();
    await server.close();
  }
});

test('a header value with CR or LF, or a name that is not a token, is refused before any byte is sent', BOUNDED, async () => {
  const server = await rawServer(() => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const pool = new Http1Pool(server.url, OPTIONS);
  try {
    await assert.rejects(pool.request('GET', '/x', { host: 'h', 'x-amz-security-token': 'abc\r\nx-evil: 1' }), TypeError);
    await assert.rejects(pool.request('GET', '/x', { host: 'h', 'bad name': 'v' }), TypeError);
    assert.equal(server.sockets.length, 0);
  } finally {
    pool.destroy();
    await server.close();
  }
});

test('no answer within timeoutMs: the request fails (not as stale) and its socket is closed; the next request opens another', BOUNDED, async () => {
  const server = await rawServer((_request, index) => (index === 0 ? '' : 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
  const pool = new Http1Pool(server.url, { maxSockets: 1, timeoutMs: 150 });
  try {
    await assert.rejects(
      pool.request('POST', '/x', { host: 'h' }, Buffer.from('a')),
      (error: Error) => /no answer within 150 ms/.test(error.message) && !(error instanceof StaleSocketError),
    );
    assert.equal((await pool.request('POST', '/x', { host: 'h' }, Buffer.from('b'))).status, 200);
    assert.equal(server.sockets.length, 2);
  } finally {
    pool.destroy();
    await server.close();
  }
});

test('a socket the server closes while idle leaves the pool; one reset under a request on a reused socket is a StaleSocketError', BOUNDED, async () => {
  const server = createHttpServer((_req, res) => res.writeHead(200, { 'content-length': '0' }).end());
  server.keepAliveTimeout = 50;
  (server as { keepAliveTimeoutBuffer?: number }).keepAliveTimeoutBuffer = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const pool = new Http1Pool(url, OPTIONS);
  let connections = 0;
  server.on('connection', () => connections++);
  try {
    assert.equal((await pool.request('GET', '/a', { host: url.host })).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 200)); // past the server's keep-alive timeout
    assert.equal((await pool.request('GET', '/b', { host: url.host })).status, 200, 'the closed socket was not reused');
    assert.equal(connections, 2);
  } finally {
    pool.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  let first: Socket | undefined;
  const resetting = await rawServer(() => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  const p = new Http1Pool(resetting.url, OPTIONS);
  try {
    await p.request('GET', '/a', { host: 'h' });
    first = resetting.sockets[0]!;
    first.removeAllListeners('data');
    first.on('data', () => first!.resetAndDestroy());
    await assert.rejects(p.request('GET', '/b', { host: 'h' }), StaleSocketError);
  } finally {
    p.destroy();
    await resetting.close();
  }
});

test('destroy() fails what is in flight and what waits, and refuses new requests', BOUNDED, async () => {
  const server = await rawServer(() => '');
  const pool = new Http1Pool(server.url, { maxSockets: 1, timeoutMs: 5_000 });
  const inFlight = pool.request('GET', '/a', { host: 'h' });
  const waiting = pool.request('GET', '/b', { host: 'h' });
  await new Promise((resolve) => setTimeout(resolve, 50));
  pool.destroy();
  await assert.rejects(inFlight, /destroyed/);
  await assert.rejects(waiting, /destroyed/);
  await assert.rejects(pool.request('GET', '/c', { host: 'h' }), /destroyed/);
  await server.close();
});

test('TLS: the certificate is verified against the trusted CAs, the session is resumed by the next socket', BOUNDED, async (t) => {
  if (typeof (tls as { setDefaultCACertificates?: unknown }).setDefaultCACertificates !== 'function')
    return t.skip('tls.setDefaultCACertificates needs Node 22.19 or later');
  const dir = mkdtempSync(join(tmpdir(), 'http1-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-days',
        '1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const resumed: boolean[] = [];
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
      resumed.push((req.socket as tls.TLSSocket).isSessionReused());
      res.writeHead(200, { 'content-length': '6', connection: 'close' }).end('secure');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/prod`);
    const untrusted = new Http1Pool(url, OPTIONS);
    await assert.rejects(untrusted.request('GET', '/prod/x', { host: url.host }), /self[- ]signed|unable to verify/i);
    untrusted.destroy();
    const defaults = tls.getCACertificates('default');
    (tls as unknown as { setDefaultCACertificates(certs: string[]): void }).setDefaultCACertificates([...defaults, cert]);
    const pool = new Http1Pool(url, OPTIONS);
    try {
      for (let i = 0; i < 3; i++) assert.equal((await pool.request('GET', '/prod/x', { host: url.host })).body.toString(), 'secure');
      // Each answer closed its socket: three handshakes, the later ones resuming the first's session.
      assert.deepEqual(resumed, [false, true, true]);
    } finally {
      pool.destroy();
      (tls as unknown as { setDefaultCACertificates(certs: string[]): void }).setDefaultCACertificates(defaults);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
