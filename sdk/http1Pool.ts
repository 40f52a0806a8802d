/**
 * A small HTTP/1.1 client for one origin: kept-alive sockets (TCP, or TLS with session reuse), one
 * request in flight per socket, no pipelining. It exists because a push is one tiny request and
 * Node's http.request spends more CPU on the objects around it (ClientRequest, IncomingMessage,
 * the Agent's bookkeeping, two writes) than on the bytes. In bench/fanout.ts a signed push through
 * it, DynamoDB Query included, costs 22-24 % less CPU than an unsigned http.request POST.
 *
 * What it speaks: requests it builds itself (a method that is a token, a path of visible ASCII, the
 * caller's headers, each checked for CR/LF, and `content-length` for a body); answers with
 * Content-Length, chunked Transfer-Encoding, or neither (read until the server closes); no body for
 * 1xx, 204 and 304; 100 Continue skipped; `Connection: close` and HTTP/1.0 answers close the socket
 * after the answer. Answers are read as strictly as llhttp (sdk/http1Parse.ts): anything malformed,
 * a body over `maxBodyBytes`, or bytes past the answer destroy the socket and fail the request with
 * a MalformedAnswerError.
 */
import { channel } from 'node:diagnostics_channel';
import net from 'node:net';
import tls from 'node:tls';
import { checkTrailers, isValidRequestTarget, MalformedAnswerError, parseAnswerHead, parseChunkSizeLine, type AnswerHead } from './http1Parse.ts';

export { MalformedAnswerError, type MalformedAnswerReason } from './http1Parse.ts';

/**
 * Every request this client starts is published here as `{ request: { method, host, path } }`, as
 * Node's http client publishes on `http.client.request.start` (tracing, and the tests' request counts).
 */
export const REQUEST_START_CHANNEL = 'serverless-gateway-worker:http.request.start';
const requestStart = channel(REQUEST_START_CHANNEL);

export interface Http1Answer {
  readonly status: number;
  /** Lower-case names; the first value of each. */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

export interface Http1PoolOptions {
  /** Sockets at most; more requests wait for one, first come first served. */
  readonly maxSockets: number;
  /** Per request: no complete answer by then destroys its socket and fails it. */
  readonly timeoutMs: number;
  /**
   * An answer's body past this many bytes fails the request (MalformedAnswerError 'body-too-large').
   * @default 1 MiB: @connections answers (GetConnection's JSON, error bodies) and Lambda's answers to
   * an async Invoke (202, no body) are under 1 KB; even a synchronous Invoke, which this client does
   * not make, answers at most 6 MB.
   */
  readonly maxBodyBytes?: number;
}

/** The default of Http1PoolOptions.maxBodyBytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A request failed on a reused socket before any byte of an answer came: safe to send again. */
export class StaleSocketError extends Error {
  override readonly name = 'StaleSocketError';
}

const CRLF2 = Buffer.from('\r\n\r\n');
const NO_BODY = Buffer.alloc(0);
/** Node's http client refuses answer heads past 16 KiB by default; AWS's are far smaller. Trailers count as a head. */
const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk-size line, extensions included; llhttp has no bound, AWS sends none longer than 10 bytes. */
const MAX_CHUNK_LINE_BYTES = 4 * 1024;
/** Bodies up to this size are copied behind the head, for one write; larger ones go in one writev. */
const COPY_BODY_BYTES = 8 * 1024;

interface Pending {
  readonly head: Buffer;
  readonly body: Uint8Array | undefined;
  resolve(answer: Http1Answer): void;
  reject(error: Error): void;
}

export class Http1Pool {
  private readonly idle: Connection[] = [];
  private readonly waiting: Pending[] = [];
  private readonly connections = new Set<Connection>();
  private destroyed = false;
  /** The last TLS session the server gave, offered by the next socket (a shorter handshake). */
  tlsSession: Buffer | undefined;

  constructor(
    readonly url: URL,
    readonly options: Http1PoolOptions,
  ) {}

  /**
   * Sends `method path` with `headers` (names as given; `content-length` is added for a body that
   * has none, and `connection: keep-alive`, as Node's http client sends) and resolves with the whole
   * answer. Rejects when no complete answer came: a StaleSocketError when a reused socket was closed
   * or reset before any byte of an answer (the server had closed it while idle), else the socket's
   * error or a timeout.
   */
  request(method: string, path: string, headers: Readonly<Record<string, string | number>>, body?: Uint8Array): Promise<Http1Answer> {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method)) return Promise.reject(new TypeError(`invalid HTTP method ${JSON.stringify(method)}`));
    // A space, CR or LF in the path would let it write a header or a second request of its own.
    if (!isValidRequestTarget(path))
      return Promise.reject(new TypeError(`invalid request path ${JSON.stringify(path.slice(0, 100))}: only visible ASCII, starting with /`));
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let hasLength = false;
    for (const name in headers) {
      if (name.toLowerCase() === 'content-length') hasLength = true;
      const value = String(headers[name]);
      if (/[\r\n]/.test(value) || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
        return Promise.reject(new TypeError(`invalid HTTP header ${JSON.stringify(name)}`));
      head += `${name}: ${value}\r\n`;
    }
    if (body && !hasLength) head += `content-length: ${body.byteLength}\r\n`;
    head += 'connection: keep-alive\r\n\r\n';
    return new Promise<Http1Answer>((resolve, reject) => {
      if (this.destroyed) return reject(new Error('the client was destroyed'));
      if (requestStart.hasSubscribers) requestStart.publish({ request: { method, host: this.url.host, path } });
      const pending: Pending = { head: Buffer.from(head, 'latin1'), body, resolve, reject };
      const connection = this.idle.pop() ?? (this.connections.size < this.options.maxSockets ? this.connect() : undefined);
      if (connection) connection.run(pending);
      else this.waiting.push(pending);
    });
  }

  /** Closes every socket; requests in flight and waiting fail. */
  destroy(): void {
    this.destroyed = true;
    for (const pending of this.waiting.splice(0)) pending.reject(new Error('the client was destroyed'));
    for (const connection of [...this.connections]) connection.close(new Error('the client was destroyed'));
  }

  private connect(): Connection {
    const connection = new Connection(this);
    this.connections.add(connection);
    return connection;
  }

  /** A connection finished its request: the next waiting request, else the idle stack (the most recent first). */
  released(connection: Connection): void {
    const next = this.waiting.shift();
    if (next) connection.run(next);
    else this.idle.push(connection);
  }

  /** A connection's socket closed: forget it, and open another for a waiting request. */
  closed(connection: Connection): void {
    this.connections.delete(connection);
    const index = this.idle.indexOf(connection);
    if (index !== -1) this.idle.splice(index, 1);
    const next = this.destroyed ? undefined : this.waiting.shift();
    if (next) this.connect().run(next);
  }
}

interface AnswerInProgress extends AnswerHead {
  /** 'length': bytes left. 'chunked': bytes left in the current chunk. */
  left: number;
  chunkState: 'size' | 'data' | 'data-end' | 'trailers';
  readonly chunks: Buffer[];
  /** Body bytes so far, against maxBodyBytes. */
  bodyBytes: number;
}

/** Errors of a socket the server had closed while it was idle in the pool. */
const STALE_CODES = new Set(['ECONNRESET', 'EPIPE']);

/** One socket and the request on it, parsing its answer as the bytes come. */
class Connection {
  private readonly socket: net.Socket;
  private current: Pending | undefined;
  private requests = 0;
  private gotBytes = false;
  private timer: NodeJS.Timeout | undefined;
  private buffered: Buffer = NO_BODY;
  private answer: AnswerInProgress | undefined;
  private closed = false;

  constructor(private readonly pool: Http1Pool) {
    const { url } = pool;
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const secure = url.protocol === 'https:';
    const port = url.port ? Number(url.port) : secure ? 443 : 80;
    this.socket = secure
      ? tls.connect({
          host,
          port,
          servername: net.isIP(host) ? undefined : host,
          ALPNProtocols: ['http/1.1'],
          ...(pool.tlsSession ? { session: pool.tlsSession } : {}),
        })
      : net.connect({ host, port });
    this.socket.setNoDelay(true);
    if (secure) this.socket.on('session', (session: Buffer) => (pool.tlsSession = session));
    this.socket.on('data', (data: Buffer) => this.onData(data));
    this.socket.on('end', () => (this.answer?.framing === 'until-close' ? this.close() : this.close(new Error('the server closed the connection'), true)));
    this.socket.on('error', (error: NodeJS.ErrnoException) => this.close(error, STALE_CODES.has(error.code ?? '')));
    this.socket.on('close', () => this.close(new Error('the connection closed'), true));
  }

  run(pending: Pending): void {
    this.current = pending;
    this.requests++;
    this.gotBytes = false;
    this.socket.ref();
    const { timeoutMs } = this.pool.options;
    this.timer = setTimeout(() => this.close(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const { head, body } = pending;
    if (!body || body.byteLength === 0) this.socket.write(head);
    else if (body.byteLength <= COPY_BODY_BYTES) this.socket.write(Buffer.concat([head, body]));
    else {
      // One writev for head and body, without copying a large body.
      this.socket.cork();
      this.socket.write(head);
      this.socket.write(body);
      this.socket.uncork();
    }
  }

  /**
   * Destroys the socket. The request in flight, if any, completes (an answer read until the close),
   * or fails with `error`: as a StaleSocketError when `maybeStale` and the socket was reused and no
   * byte of an answer came.
   */
  close(error?: Error, maybeStale = false): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.socket.destroy();
    const pending = this.current;
    this.current = undefined;
    if (pending) {
      if (!error && this.answer) pending.resolve(finish(this.answer));
      else if (maybeStale && this.requests > 1 && !this.gotBytes) pending.reject(new StaleSocketError(error!.message, { cause: error }));
      else pending.reject(error ?? new Error('the connection closed'));
    }
    this.pool.closed(this);
  }

  private onData(data: Buffer): void {
    if (!this.current) return this.close(new Error('bytes from the server with no request in flight'));
    this.gotBytes = true;
    this.buffered = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
    try {
      this.parse();
    } catch (error) {
      this.close(error as Error);
    }
  }

  private parse(): void {
    for (;;) {
      let answer = this.answer;
      if (!answer) {
        const end = this.buffered.indexOf(CRLF2);
        if (end === -1 ? this.buffered.length > MAX_HEAD_BYTES : end > MAX_HEAD_BYTES)
          throw new MalformedAnswerError('head-too-large', 'answer headers over 64 KiB');
        if (end === -1) return;
        const head = parseAnswerHead(this.buffered.toString('latin1', 0, end), this.maxBodyBytes);
        this.buffered = this.buffered.subarray(end + 4);
        if (head.status < 200) continue; // 100 Continue and other interim answers
        answer = this.answer = { ...head, left: head.length, chunkState: 'size', chunks: [], bodyBytes: 0 };
      }
      switch (answer.framing) {
        case 'none':
          return this.complete();
        case 'until-close':
          this.addBody(answer, this.buffered);
          this.buffered = NO_BODY;
          return;
        case 'length':
          this.take(answer);
          if (answer.left === 0) return this.complete();
          return;
        case 'chunked':
          if (!this.chunked(answer)) return;
          return this.complete();
      }
    }
  }

  private get maxBodyBytes(): number {
    return this.pool.options.maxBodyBytes ?? MAX_BODY_BYTES;
  }

  private addBody(answer: AnswerInProgress, bytes: Buffer): void {
    if (bytes.length === 0) return;
    answer.bodyBytes += bytes.length;
    if (answer.bodyBytes > this.maxBodyBytes) throw new MalformedAnswerError('body-too-large', `an answer body over the ${this.maxBodyBytes}-byte cap`);
    answer.chunks.push(bytes);
  }

  /** Moves up to `answer.left` buffered bytes into the body. */
  private take(answer: AnswerInProgress): void {
    const n = Math.min(answer.left, this.buffered.length);
    this.addBody(answer, this.buffered.subarray(0, n));
    answer.left -= n;
    this.buffered = this.buffered.subarray(n);
  }

  /** Parses what is buffered of a chunked body; true once the last chunk and the trailers are in. */
  private chunked(answer: AnswerInProgress): boolean {
    for (;;) {
      if (answer.chunkState === 'size') {
        const lineEnd = this.buffered.indexOf('\r\n');
        if ((lineEnd === -1 ? this.buffered.length : lineEnd) > MAX_CHUNK_LINE_BYTES) throw new MalformedAnswerError('chunk', 'a chunk-size line over 4 KiB');
        if (lineEnd === -1) return false;
        answer.left = parseChunkSizeLine(this.buffered.toString('latin1', 0, lineEnd));
        if (answer.bodyBytes + answer.left > this.maxBodyBytes)
          throw new MalformedAnswerError('body-too-large', `an answer body over the ${this.maxBodyBytes}-byte cap`);
        this.buffered = this.buffered.subarray(lineEnd + 2);
        answer.chunkState = answer.left === 0 ? 'trailers' : 'data';
      } else if (answer.chunkState === 'data') {
        this.take(answer);
        if (answer.left > 0) return false;
        answer.chunkState = 'data-end';
      } else if (answer.chunkState === 'data-end') {
        if (this.buffered.length < 2) return false;
        if (this.buffered[0] !== 0x0d || this.buffered[1] !== 0x0a) throw new MalformedAnswerError('chunk', 'a chunk not followed by CRLF');
        this.buffered = this.buffered.subarray(2);
        answer.chunkState = 'size';
      } else {
        // Trailers end with an empty line; they are checked as headers and not kept.
        if (this.buffered.length >= 2 && this.buffered[0] === 0x0d && this.buffered[1] === 0x0a) {
          this.buffered = this.buffered.subarray(2);
          return true;
        }
        const end = this.buffered.indexOf(CRLF2);
        if (end === -1 ? this.buffered.length > MAX_HEAD_BYTES : end > MAX_HEAD_BYTES) throw new MalformedAnswerError('head-too-large', 'trailers over 64 KiB');
        if (end === -1) return false;
        checkTrailers(this.buffered.toString('latin1', 0, end));
        this.buffered = this.buffered.subarray(end + 4);
        return true;
      }
    }
  }

  private complete(): void {
    // One request is in flight at a time: bytes behind its answer are a second answer nobody asked for
    // (a desynchronised or smuggled stream), which llhttp refuses too.
    if (this.buffered.length > 0) throw new MalformedAnswerError('bytes-past-answer', 'bytes past the end of the answer');
    const answer = this.answer!;
    const pending = this.current!;
    this.answer = undefined;
    this.current = undefined;
    clearTimeout(this.timer);
    pending.resolve(finish(answer));
    // Not reused when the server said so.
    if (answer.close) return this.close();
    this.socket.unref();
    this.pool.released(this);
  }
}

function finish(answer: AnswerInProgress): Http1Answer {
  const { chunks } = answer;
  const body = chunks.length === 0 ? NO_BODY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  return { status: answer.status, headers: answer.headers, body };
}
