/**
 * The SDK's HTTP/1.1 client (sdk/http1Pool.ts) against Node's own parser (llhttp), on random answers
 * and mutations of them: the same bytes, from a raw TCP server, reach http.request and the pool.
 * Whenever llhttp refuses an answer the pool refuses it too; when both accept, they agree on the
 * status, the headers (first value of each name) and the body. The pool may refuse more (it takes
 * only `chunked` as a Transfer-Encoding, and no status under 100).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { answeringServer, parseWithNode, parseWithPool, type Parsed } from '../helpers/answerOracle.ts';

const TOKEN = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}$/);
const VALUE = fc.stringMatching(/^[\x20-\x7e]{0,16}$/);
const BODY = fc.stringMatching(/^[\x20-\x7e]{0,40}$/);

/** Headers that decide framing, in the forms smuggling attempts use. */
const FRAMING_TWISTS = [
  'Content-Length: 3\r\n',
  'Content-Length: 999\r\n',
  'Content-Length: 0\r\n',
  'Content-Length: 2, 2\r\n',
  'Transfer-Encoding: chunked\r\n',
  'Transfer-Encoding: gzip, chunked\r\n',
  'Transfer-Encoding: chunked, gzip\r\n',
  'Transfer-Encoding: xchunked\r\n',
  'Transfer-Encoding: identity\r\n',
  'X-Folded: a\r\n b\r\n',
  'X-Nul: a\x00b\r\n',
  'X-Del: a\x7fb\r\n',
  'X Space: 1\r\n',
  'X-Bare-Lf: 1\n',
  'Connection: close\r\n',
];
/** Bytes a mutation inserts or writes over another. */
const INTERESTING = [0x00, 0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x2c, 0x3b, 0x30, 0x61, 0x7f, 0xff, 0x22];

const answerArbitrary = fc.record({
  version: fc.constantFrom('1.1', '1.1', '1.0'),
  interim: fc.boolean(),
  status: fc.constantFrom(200, 201, 202, 204, 304, 400, 403, 404, 410, 429, 500, 502),
  reason: fc.constantFrom('OK', '', 'Gone', 'Some Reason'),
  headers: fc.array(fc.tuple(TOKEN, VALUE), { maxLength: 4 }),
  framing: fc.constantFrom('length', 'chunked', 'until-close'),
  body: BODY,
  chunkSizes: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 5 }),
  extension: fc.constantFrom('', ';a=b', ';q="x y"', ';a;b'),
  trailers: fc.array(fc.tuple(TOKEN, VALUE), { maxLength: 2 }),
  twist: fc.option(fc.constantFrom(...FRAMING_TWISTS), { freq: 2 }),
  mutations: fc.oneof(
    { weight: 2, arbitrary: fc.constant([]) },
    {
      weight: 3,
      arbitrary: fc.array(fc.record({ at: fc.nat(), kind: fc.constantFrom('insert', 'replace', 'delete'), byte: fc.constantFrom(...INTERESTING) }), {
        minLength: 1,
        maxLength: 3,
      }),
    },
  ),
});

type AnswerSpec = typeof answerArbitrary extends fc.Arbitrary<infer T> ? T : never;

function render(spec: AnswerSpec): Buffer {
  let head = spec.interim ? 'HTTP/1.1 100 Continue\r\n\r\n' : '';
  head += `HTTP/${spec.version} ${spec.status}${spec.reason ? ` ${spec.reason}` : ''}\r\n`;
  for (const [name, value] of spec.headers) head += `${name}: ${value}\r\n`;
  if (spec.twist !== null) head += spec.twist;
  let body = spec.body;
  if (spec.framing === 'length') head += `Content-Length: ${body.length}\r\n`;
  else if (spec.framing === 'chunked') {
    head += 'Transfer-Encoding: chunked\r\n';
    let chunked = '';
    for (let i = 0, n = 0; i < body.length; i += spec.chunkSizes[n % spec.chunkSizes.length]!, n++) {
      const piece = body.slice(i, i + spec.chunkSizes[n % spec.chunkSizes.length]!);
      chunked += `${piece.length.toString(16)}${spec.extension}\r\n${piece}\r\n`;
    }
    body = `${chunked}0\r\n${spec.trailers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
  } else head += 'Connection: close\r\n';
  const bytes = [...Buffer.from(`${head}\r\n${body}`, 'latin1')];
  for (const { at, kind, byte } of spec.mutations) {
    const i = at % (bytes.length + 1);
    if (kind === 'insert') bytes.splice(i, 0, byte);
    else if (kind === 'replace' && i < bytes.length) bytes[i] = byte;
    else if (kind === 'delete') bytes.splice(i, 1);
  }
  return Buffer.from(bytes);
}

function comparable(parsed: Parsed & { ok: true }) {
  return { status: parsed.status, headers: Object.fromEntries(parsed.headers), body: parsed.body };
}

test('random and mutated answers: what llhttp refuses the pool refuses; what both accept they read alike', { timeout: 120_000 }, async () => {
  let current: Buffer = Buffer.alloc(0);
  const server = await answeringServer(() => current);
  const counts = { bothAccept: 0, bothRefuse: 0, onlyPoolRefuses: 0 };
  try {
    await fc.assert(
      fc.asyncProperty(answerArbitrary, async (spec) => {
        current = render(spec);
        const node = await parseWithNode(server.port);
        const pool = await parseWithPool(server.port);
        const shown = JSON.stringify(current.toString('latin1'));
        if (!node.ok) {
          assert.equal(pool.ok, false, `llhttp refused (${node.error}) what the pool accepted: ${shown}`);
          counts.bothRefuse++;
        } else if (pool.ok) {
          assert.deepEqual(comparable(pool), comparable(node), shown);
          counts.bothAccept++;
        } else counts.onlyPoolRefuses++;
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
    );
  } finally {
    await server.close();
  }
  // The generator must reach both sides of the property, or it proves little.
  assert.ok(counts.bothAccept > 30 && counts.bothRefuse > 30, JSON.stringify(counts));
  console.log(`llhttp vs Http1Pool: ${JSON.stringify(counts)}`);
});
