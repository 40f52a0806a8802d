/**
 * The grammar of the HTTP/1.1 answers sdk/http1Pool.ts reads, as strict as llhttp (Node's own
 * parser) or stricter: an answer llhttp refuses is refused here too (test/unit/sdk-http1-fuzz.test.ts
 * compares the two on random and mutated answers). A lenient parser in front of a proxy or a
 * poisoned cache is how request smuggling and response splitting start; AWS's endpoints never send
 * any of what is refused below.
 */

/** Why an answer was refused. */
export type MalformedAnswerReason =
  | 'status-line'
  | 'header'
  | 'obs-fold'
  | 'content-length'
  | 'transfer-encoding'
  | 'chunk'
  | 'head-too-large'
  | 'body-too-large'
  | 'bytes-past-answer';

/** The server's answer broke HTTP/1.1: its socket is closed and the request fails with this. */
export class MalformedAnswerError extends Error {
  override readonly name = 'MalformedAnswerError';
  constructor(
    readonly reason: MalformedAnswerReason,
    message: string,
  ) {
    super(message);
  }
}

export type BodyFraming = 'none' | 'length' | 'chunked' | 'until-close';

export interface AnswerHead {
  readonly status: number;
  /** Lower-case names; the first value of each. */
  readonly headers: Map<string, string>;
  /** The socket is not reused after this answer. */
  readonly close: boolean;
  readonly framing: BodyFraming;
  /** 'length': the body's size. */
  readonly length: number;
}

/** RFC 9110 token: a header name, a chunk extension's name. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A field value: HTAB, SP, visible ASCII and obs-text; no other control byte (NUL, CR, LF, DEL). */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** `HTTP/1.x NNN[ reason]`; llhttp takes any 3-digit code, this one 100-999 (below 100 is no HTTP status). */
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;
/** `size[;name[=token|"quoted"]]...` with no whitespace, as llhttp reads chunk-size lines. */
const CHUNK_SIZE_LINE =
  /^([0-9A-Fa-f]+)(?:;[!#$%&'*+.^_`|~0-9A-Za-z-]+(?:=(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+|"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*"))?)*$/;

/** A chunk-size line (without its CRLF): the chunk's size. */
export function parseChunkSizeLine(line: string): number {
  const match = CHUNK_SIZE_LINE.exec(line);
  if (!match) throw new MalformedAnswerError('chunk', `a malformed chunk size line: ${JSON.stringify(line.slice(0, 40))}`);
  const digits = match[1]!.replace(/^0+(?=.)/, '');
  // Past 13 hex digits the size passes 2^52: far beyond any cap, and not exact as a number.
  return digits.length > 13 ? Number.MAX_SAFE_INTEGER : Number.parseInt(digits, 16);
}

/** One `name: value` line of a head or of the trailers; throws on what llhttp refuses. */
export function parseFieldLine(line: string): [name: string, value: string] {
  if (line.startsWith(' ') || line.startsWith('\t')) throw new MalformedAnswerError('obs-fold', 'a header continued on the next line (obs-fold)');
  const colon = line.indexOf(':');
  const name = colon === -1 ? line : line.slice(0, colon);
  if (colon <= 0 || !TOKEN.test(name)) throw new MalformedAnswerError('header', `a malformed header name: ${JSON.stringify(name.slice(0, 40))}`);
  const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
  if (!FIELD_VALUE.test(value)) throw new MalformedAnswerError('header', `a control character in the value of header ${name}`);
  return [name.toLowerCase(), value];
}

/** Checks trailer lines (after the last chunk) as header lines; their values are not kept. */
export function checkTrailers(text: string): void {
  if (text === '') return;
  for (const line of text.split('\r\n')) parseFieldLine(line);
}

/**
 * The status line and headers of an answer (the text before its blank line) and how its body is
 * framed. Content-Length is refused when repeated (even with the same value, as llhttp does), when
 * not all digits, when over `maxBodyBytes`, and next to Transfer-Encoding; Transfer-Encoding must be
 * `chunked` alone (this client decodes no other coding; llhttp refuses several of the forms too).
 */
export function parseAnswerHead(text: string, maxBodyBytes: number): AnswerHead {
  const lines = text.split('\r\n');
  const statusLine = STATUS_LINE.exec(lines[0]!);
  if (!statusLine) throw new MalformedAnswerError('status-line', `not an HTTP/1.x answer: ${JSON.stringify(lines[0]!.slice(0, 40))}`);
  const headers = new Map<string, string>();
  let contentLength: string | undefined;
  const codings: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const [name, value] = parseFieldLine(lines[i]!);
    if (name === 'content-length') {
      if (contentLength !== undefined) throw new MalformedAnswerError('content-length', 'Content-Length given twice');
      contentLength = value;
    } else if (name === 'transfer-encoding') {
      codings.push(...value.split(',').map((coding) => coding.trim().toLowerCase()));
    }
    if (!headers.has(name)) headers.set(name, value);
  }
  const status = Number(statusLine[2]);
  const connection = headers.get('connection')?.toLowerCase();
  const close = connection === 'close' || (statusLine[1] === '0' && connection !== 'keep-alive');
  const head = (framing: BodyFraming, length = 0, closes = close): AnswerHead => ({ status, headers, close: closes, framing, length });
  if (codings.length > 0) {
    if (contentLength !== undefined) throw new MalformedAnswerError('transfer-encoding', 'Content-Length next to Transfer-Encoding');
    if (codings.length !== 1 || codings[0] !== 'chunked')
      throw new MalformedAnswerError('transfer-encoding', `a Transfer-Encoding other than chunked: ${JSON.stringify(codings.join(', ').slice(0, 40))}`);
  }
  if (contentLength !== undefined && !/^\d{1,15}$/.test(contentLength))
    throw new MalformedAnswerError('content-length', `a malformed Content-Length: ${JSON.stringify(contentLength.slice(0, 20))}`);
  if (status < 200 || status === 204 || status === 304) return head('none');
  if (codings.length > 0) return head('chunked');
  if (contentLength === undefined) return head('until-close', 0, true);
  const length = Number(contentLength);
  if (length > maxBodyBytes) throw new MalformedAnswerError('body-too-large', `an answer body of ${length} bytes, over the ${maxBodyBytes}-byte cap`);
  return length === 0 ? head('none') : head('length', length);
}

/** A request target this client may put on the wire: visible ASCII only (no space, CR, LF, NUL, DEL). */
export function isValidRequestTarget(path: string): boolean {
  return /^\/[\x21-\x7e]*$/.test(path);
}
