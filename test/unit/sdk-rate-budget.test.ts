// The SDK's side of the request-rate budget and of the 429 / clock-skew handling: RateLimiter's
// arithmetic on a fake clock, each chunk's share, the options and variables that set them (and the
// errors for bad ones), and ConnectionsApi's retries against scripted answers for the paths a real
// gateway does not take on demand (a 403 without a Date header, a skew that persists).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConnectionsApi, type CallOptions } from '../../sdk/ConnectionsApi.ts';
import { CredentialCache } from '../../sdk/CredentialCache.ts';
import { RateLimiter, checkRateLimit } from '../../sdk/RateLimiter.ts';
import {
  buildChunks,
  chunkRate,
  parseChunk,
  resolveFanoutOptions,
  MAX_CHUNK_EVENT_BYTES,
  type FanoutInvoker,
  type FanoutInvokeCommand,
} from '../../sdk/Fanout.ts';
import { ConfigurationError, ForbiddenError, Gateway, ThrottledError, ValidationError } from '../../sdk/index.ts';
import { EMPTY_PAYLOAD_HASH } from '../../sdk/sigv4.ts';
import { gatewayContext } from '../../sdk/internal.ts';

const tables = { connections: 'c-table', sessions: 'c-sessions', memberships: 'c-memberships', uids: 'u-table', groups: 'g-table' };
const credentials = { accessKeyId: 'AKID', secretAccessKey: 'secret' };
/** What Gateway.fromEnv() reads in a function the construct configured with a fan-out worker. */
const FANOUT_ENV = {
  GATEWAY_CALLBACK_URL: 'http://127.0.0.1:9/local',
  GATEWAY_CONNECTIONS_TABLE: 'c-table',
  GATEWAY_SESSIONS_TABLE: 's-table',
  GATEWAY_MEMBERSHIPS_TABLE: 'm-table',
  GATEWAY_UIDS_TABLE: 'u-table',
  GATEWAY_GROUPS_TABLE: 'g-table',
  GATEWAY_FANOUT_FUNCTION: 'worker',
  AWS_REGION: 'us-east-1',
};

/** A clock whose timers run when the test moves time forward. */
function fakeClock(start = 0) {
  let now = start;
  let timers: Array<{ at: number; run: () => void }> = [];
  return {
    now: () => now,
    setTimeout: (run: () => void, ms: number) => void timers.push({ at: now + ms, run }),
    /** Moves the clock to `to`, firing due timers in order (a late timer fires late: a stall). */
    async advance(to: number) {
      for (;;) {
        timers.sort((a, b) => a.at - b.at);
        const next = timers[0];
        if (!next || next.at > to) break;
        timers = timers.slice(1);
        now = Math.max(now, next.at);
        next.run();
        await new Promise((r) => setImmediate(r));
      }
      now = to;
    },
    /** The process was stalled until `to`: every due timer fires only then. */
    async stall(to: number) {
      now = to;
      await this.advance(to);
    },
  };
}

test('RateLimiter: a rested bucket lets `burst` go at once, then one request every 1/rate s, first come first served', async () => {
  const clock = fakeClock(1_000);
  const limiter = new RateLimiter({ rate: 10, burst: 3 }, clock);
  const granted: Array<[number, number]> = [];
  const all = [0, 1, 2, 3, 4].map((i) => limiter.take().then((ok) => ok && granted.push([i, clock.now()])));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(granted, [
    [0, 1000],
    [1, 1000],
    [2, 1000],
  ]);
  await clock.advance(1_300);
  await Promise.all(all);
  assert.deepEqual(granted.slice(3), [
    [3, 1100],
    [4, 1200],
  ]);
  // A rested bucket holds no more than its burst, however long it rested.
  await clock.advance(60_000);
  const at = [1, 2, 3, 4].map(() => limiter.take());
  await new Promise((r) => setImmediate(r));
  assert.equal(limiter.queued, 1);
  await clock.advance(60_100);
  assert.deepEqual(await Promise.all(at), [true, true, true, true]);
});

test('RateLimiter: a stall is not made up for: after one, at most `burst` go at once, then the rate again', async () => {
  const clock = fakeClock(0);
  const limiter = new RateLimiter({ rate: 100, burst: 5 }, clock);
  const starts: number[] = [];
  const all = Array.from({ length: 200 }, () => limiter.take().then(() => starts.push(clock.now())));
  await clock.advance(200);
  // The process stalls for a second: no timer fires until then.
  await clock.stall(1_200);
  await clock.advance(6_200);
  await Promise.all(all);
  for (let from = 0; from < 3000; from += 100) {
    const inWindow = starts.filter((t) => t >= from && t < from + 1000).length;
    assert.ok(inWindow <= 100 + 5, `${inWindow} starts in [${from}, ${from + 1000})`);
  }
});

test('RateLimiter.take: false, taking nothing, when the token would come after the deadline; a waiter whose deadline passed in a stall is let go', async () => {
  const clock = fakeClock(0);
  const limiter = new RateLimiter({ rate: 20, burst: 1 }, clock);
  assert.equal(await limiter.take(), true);
  assert.equal(await limiter.take(10), false, 'the next token is 50 ms away');
  assert.equal(limiter.queued, 0);
  const late = limiter.take(60);
  await clock.advance(500); // the timer (due at 50) fires late, at 50; then nothing is overdue
  assert.equal(await late, true);
  assert.equal(await limiter.take(), true, 'a token had come in again by 500');
  const stalled = limiter.take(clock.now() + 100);
  assert.equal(limiter.queued, 1, 'its token (at 550) comes before its deadline (600)');
  await clock.stall(2_000);
  assert.equal(await stalled, false);
});

test('rate limits are checked: positive finite rates, whole bursts', () => {
  assert.deepEqual(checkRateLimit({ rate: 0.5 }, 'x'), { rate: 0.5 });
  for (const bad of [null, 5, { rate: 0 }, { rate: -1 }, { rate: Number.POSITIVE_INFINITY }, { rate: '5' }, { rate: 5, burst: 0 }, { rate: 5, burst: 1.5 }]) {
    assert.throws(() => checkRateLimit(bad, 'x'), ConfigurationError, JSON.stringify(bad));
  }
});

test("each chunk's share is the budget over the chunks that may run at once, never adding up to more", () => {
  assert.equal(chunkRate(2000, 4, undefined), 500);
  assert.equal(chunkRate(2000, 100, 10), 200, 'a reservation of 10: ten chunks at a time');
  assert.equal(chunkRate(2000, 3, 10), 666.666, 'fewer chunks than the reservation');
  assert.equal(chunkRate(200, 6, undefined), 33.333);
  assert.ok(chunkRate(2000, 7, undefined) * 7 <= 2000);
  assert.equal(chunkRate(1, 100_000, undefined), 0.001, 'a floor, so that a chunk always moves');
});

test('chunks carry their rate within the size bound, and a worker refuses a malformed one', async () => {
  const ids = Array.from({ length: 3000 }, (_, i) => `${String(i).padStart(15, 'A')}=`);
  const recipients = new Map(ids.map((id) => [id, []]));
  const chunks = buildChunks('f', 'sendToAll', Buffer.from('x'.repeat(100_000)), recipients, 10_000);
  for (const chunk of chunks) assert.ok(Buffer.byteLength(JSON.stringify({ ...chunk, rate: 999_999.999 })) <= MAX_CHUNK_EVENT_BYTES);
  const good = { ...chunks[0]!, rate: 12.5 };
  assert.equal(parseChunk(JSON.parse(JSON.stringify(good))).chunk.rate, 12.5);
  assert.equal(parseChunk(JSON.parse(JSON.stringify(chunks[0]))).chunk.rate, undefined, 'a chunk from an SDK before the budget');
  for (const rate of [0, -1, '5', null]) assert.throws(() => parseChunk({ ...good, rate }), ValidationError);

  // The queued chunks, as the worker receives them.
  const sent: unknown[] = [];
  const lambda: FanoutInvoker = {
    send: async (command: FanoutInvokeCommand) => (sent.push(JSON.parse(Buffer.from(command.input.Payload).toString())), { StatusCode: 202 }),
  };
  const gateway = new Gateway({
    callbackUrl: 'http://127.0.0.1:9/local',
    tables,
    region: 'us-east-1',
    credentials,
    fanout: { functionName: 'w', lambda, threshold: 0, chunkSize: 10, rateLimit: 90, maxConcurrentChunks: 2 },
  });
  const report = await gateway.sendToAll('hi', { clientIds: ids.slice(0, 30) });
  assert.equal(report.queued?.chunkRate, 45);
  assert.deepEqual(
    sent.map((c) => (c as { rate: number }).rate),
    [45, 45, 45],
  );
  gateway.destroy();
});

test('options and variables that set the budget, and their errors', () => {
  const client = { region: 'us-east-1' };
  assert.equal(resolveFanoutOptions({ functionName: 'w' }, client).rateLimit, 2000);
  assert.equal(resolveFanoutOptions({ functionName: 'w' }, client).maxConcurrentChunks, undefined);
  for (const rateLimit of [0, -1, Number.NaN, 2_000_000, '10'])
    assert.throws(() => resolveFanoutOptions({ functionName: 'w', rateLimit: rateLimit as number }, client), /fanout\.rateLimit/);
  for (const maxConcurrentChunks of [0, 1.5, '2'])
    assert.throws(() => resolveFanoutOptions({ functionName: 'w', maxConcurrentChunks: maxConcurrentChunks as number }, client), /fanout\.maxConcurrentChunks/);
  const base = { callbackUrl: 'http://127.0.0.1:9/local', tables, region: 'us-east-1', credentials };
  for (const sendRate of [0, -5, Number.POSITIVE_INFINITY, '100', true])
    assert.throws(() => new Gateway({ ...base, sendRate: sendRate as number }), /sendRate/);
  for (const name of ['throttleBaseDelayMs', 'throttleMaxDelayMs']) assert.throws(() => new Gateway({ ...base, [name]: -1 }), new RegExp(name));
  new Gateway({ ...base, sendRate: false }).destroy();

  const env = FANOUT_ENV;
  assert.throws(
    () => Gateway.fromEnv({ credentials, region: 'us-east-1' }, { ...env, GATEWAY_FANOUT_RATE: 'fast' }),
    /GATEWAY_FANOUT_RATE must be a positive number of requests per second, got "fast"/,
  );
  assert.throws(() => Gateway.fromEnv({ credentials, region: 'us-east-1' }, { ...env, GATEWAY_FANOUT_RATE: '0' }), /GATEWAY_FANOUT_RATE/);
  assert.throws(
    () => Gateway.fromEnv({ credentials, region: 'us-east-1' }, { ...env, GATEWAY_FANOUT_CONCURRENCY: '2.5' }),
    /GATEWAY_FANOUT_CONCURRENCY must be a whole number of chunks/,
  );
  assert.throws(() => Gateway.fromEnv({ credentials, region: 'us-east-1' }, { ...env, GATEWAY_FANOUT_CONCURRENCY: '0' }), /fanout\.maxConcurrentChunks/);
  Gateway.fromEnv({ credentials, region: 'us-east-1' }, { ...env, GATEWAY_FANOUT_RATE: '750.5', GATEWAY_FANOUT_CONCURRENCY: '4' }).destroy();
  assert.throws(
    () => Gateway.fromEnv({ credentials, region: 'us-east-1' }, { ...env, GATEWAY_SEND_RATE: 'unlimited' }),
    /GATEWAY_SEND_RATE must be a positive number of requests per second, got "unlimited"/,
  );
  Gateway.fromEnv({ credentials, region: 'us-east-1' }, { ...env, GATEWAY_SEND_RATE: 'off' }).destroy();
  Gateway.fromEnv({ credentials, region: 'us-east-1' }, { ...env, GATEWAY_SEND_RATE: '500' }).destroy();
});

test('fromEnv hands the budget and the reservation to every chunk', async () => {
  const sent: Array<{ rate: number }> = [];
  const lambda: FanoutInvoker = {
    send: async (command: FanoutInvokeCommand) => (sent.push(JSON.parse(Buffer.from(command.input.Payload).toString())), { StatusCode: 202 }),
  };
  const env = { ...FANOUT_ENV, GATEWAY_FANOUT_THRESHOLD: '0', GATEWAY_FANOUT_RATE: '300', GATEWAY_FANOUT_CONCURRENCY: '3' };
  const gateway = Gateway.fromEnv({ credentials, region: 'us-east-1' }, env);
  // fromEnv builds its own LambdaClient; swap the invoker for one that records.
  (gatewayContext(gateway).fanout as unknown as { lambda: FanoutInvoker }).lambda = lambda;
  const ids = Array.from({ length: 5000 }, (_, i) => `${String(i).padStart(15, 'B')}=`);
  await gateway.sendToAll('hi', { clientIds: ids });
  assert.equal(sent.length, 5);
  assert.ok(
    sent.every((c) => c.rate === 100),
    '300/s over the 3 chunks that may run at once',
  );
  gateway.destroy();
});

/** A scripted @connections endpoint: each request gets the next answer (the last one repeats). */
async function scripted(answers: Array<(req: IncomingMessage, res: ServerResponse) => void>, maxRetries = 2) {
  const seen: Array<{ amzDate: string }> = [];
  const server = createServer((req, res) => {
    seen.push({ amzDate: String(req.headers['x-amz-date']) });
    req.resume();
    answers[Math.min(seen.length - 1, answers.length - 1)]!(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const api = new ConnectionsApi({
    callbackUrl: new URL(`http://127.0.0.1:${port}/prod`),
    region: 'us-east-1',
    credentials: new CredentialCache(credentials),
    maxSockets: 4,
    timeoutMs: 5000,
    retry: { maxRetries, baseDelayMs: 1, maxDelayMs: 2, random: () => 0, throttleBaseDelayMs: 20, throttleMaxDelayMs: 40 },
  });
  return {
    api,
    seen,
    async close() {
      api.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const answer =
  (status: number, errorType?: string, message?: string, headers: Record<string, string> = {}, sendDate = true) =>
  (_req: IncomingMessage, res: ServerResponse) => {
    res.sendDate = sendDate;
    res.writeHead(status, { ...(errorType ? { 'x-amzn-ErrorType': errorType } : {}), 'content-type': 'application/json', ...headers });
    res.end(message ? JSON.stringify({ message }) : '');
  };
const expired = (serverMs: number) =>
  answer(
    403,
    'InvalidSignatureException',
    'Signature expired: 20200101T000000Z is now earlier than 20260101T000000Z (20260101T000500Z - 5 min.)',
    { date: new Date(serverMs).toUTCString() },
    false,
  );
const ID = 'AAAAAAAAAAAAAAA=';

test('429: counted, retried with the throttle backoff maxRetries times without a deadline, then ThrottledError', async () => {
  const s = await scripted([answer(429, 'LimitExceededException', 'Too Many Requests')]);
  const counters = { throttled: 0 };
  await assert.rejects(s.api.post(ID, Buffer.from('x'), EMPTY_PAYLOAD_HASH, { counters }), ThrottledError);
  assert.equal(s.seen.length, 3, 'the first attempt and maxRetries (2) retries');
  assert.equal(counters.throttled, 3);
  await s.close();
});

test('429 with a deadline: retried past maxRetries until the next wait would pass it', async () => {
  const s = await scripted([
    answer(429, 'LimitExceededException', 'Too Many Requests'),
    answer(429, 'LimitExceededException'),
    answer(429, 'LimitExceededException'),
    answer(429, 'LimitExceededException'),
    answer(200),
  ]);
  const counters = { throttled: 0 };
  assert.equal(await s.api.post(ID, Buffer.from('x'), EMPTY_PAYLOAD_HASH, { counters, deadlineMs: Date.now() + 10_000 }), 'sent');
  assert.deepEqual([s.seen.length, counters.throttled], [5, 4]);
  await s.close();

  const t = await scripted([answer(429, 'LimitExceededException')]);
  const started = Date.now();
  await assert.rejects(t.api.post(ID, Buffer.from('x'), EMPTY_PAYLOAD_HASH, { deadlineMs: started + 300 }), ThrottledError);
  assert.ok(Date.now() - started < 2000, 'gave up at the deadline');
  assert.ok(t.seen.length > 3, `${t.seen.length} attempts: more than maxRetries allows`);
  await t.close();
});

test('a call whose budget has no slot before its deadline is not sent: ThrottledError, nothing on the wire', async () => {
  const s = await scripted([answer(200)]);
  const call: CallOptions = { limiter: new RateLimiter({ rate: 1, burst: 1 }), deadlineMs: Date.now() + 200 };
  assert.equal(await s.api.post(ID, Buffer.from('x'), EMPTY_PAYLOAD_HASH, call), 'sent');
  await assert.rejects(
    s.api.post(ID, Buffer.from('x'), EMPTY_PAYLOAD_HASH, call),
    (e: Error) => e instanceof ThrottledError && /no slot left before the deadline/.test(e.message),
  );
  assert.equal(s.seen.length, 1);
  await s.close();
});

test('clock skew: one retry signed with the offset from the Date header; later requests keep it', async () => {
  const serverMs = Date.now() + 20 * 60_000;
  const s = await scripted([expired(serverMs), answer(200)]);
  assert.equal(await s.api.post(ID, Buffer.from('x'), EMPTY_PAYLOAD_HASH), 'sent');
  assert.equal(await s.api.post(ID, Buffer.from('y'), EMPTY_PAYLOAD_HASH), 'sent');
  const [first, retry, later] = s.seen.map((x) => Date.parse(x.amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z')));
  assert.ok(Math.abs(first! - Date.now()) < 5000, 'first signed with the host clock');
  assert.ok(Math.abs(retry! - serverMs) < 5000 && Math.abs(later! - serverMs) < 5000, 'then with the server clock');
  await s.close();
});

test('clock skew: no Date header, a second refusal, or another 403 is a ForbiddenError without (more) retries', async () => {
  const noDate = await scripted([answer(403, 'InvalidSignatureException', 'Signature expired: x', {}, false)]);
  await assert.rejects(noDate.api.post(ID, Buffer.from('x'), EMPTY_PAYLOAD_HASH), ForbiddenError);
  assert.equal(noDate.seen.length, 1);
  await noDate.close();

  const persistent = await scripted([expired(Date.now() + 20 * 60_000)]);
  await assert.rejects(
    persistent.api.post(ID, Buffer.from('x'), EMPTY_PAYLOAD_HASH),
    (e: Error) => e instanceof ForbiddenError && /Signature expired/.test(e.message),
  );
  assert.equal(persistent.seen.length, 2, 'retried once');
  await persistent.close();

  const denied = await scripted([answer(403, 'AccessDeniedException', 'User is not authorized', { date: new Date(Date.now() + 20 * 60_000).toUTCString() })]);
  await assert.rejects(denied.api.post(ID, Buffer.from('x'), EMPTY_PAYLOAD_HASH), ForbiddenError);
  assert.equal(denied.seen.length, 1);
  await denied.close();
});

test('a kept-alive socket the server reset before answering is replaced once, on a fresh socket, without spending a retry', async () => {
  let first: IncomingMessage['socket'] | undefined;
  // maxRetries 0: only the stale-socket resend can deliver the second post.
  const s = await scripted(
    [
      (req, res) => ((first = req.socket), res.writeHead(200).end()),
      (req, res) => (req.socket === first ? req.socket.resetAndDestroy() : res.writeHead(200).end()),
    ],
    0,
  );
  try {
    assert.equal(await s.api.post(ID, Buffer.from('x'), EMPTY_PAYLOAD_HASH), 'sent');
    assert.equal(await s.api.post(ID, Buffer.from('y'), EMPTY_PAYLOAD_HASH), 'sent');
    assert.equal(s.seen.length, 3, 'the first post, the reset one and its resend');
  } finally {
    await s.close();
  }
});

test('GATEWAY_SEND_RATE sets the process budget (explicit options win); off lifts it', () => {
  const env = {
    GATEWAY_CALLBACK_URL: 'http://127.0.0.1:9/prod',
    GATEWAY_CONNECTIONS_TABLE: 'c-table',
    GATEWAY_SESSIONS_TABLE: 's-table',
    GATEWAY_MEMBERSHIPS_TABLE: 'm-table',
    GATEWAY_UIDS_TABLE: 'u-table',
    GATEWAY_GROUPS_TABLE: 'g-table',
  };
  const limiterOf = (g: Gateway) => (gatewayContext(g).api as unknown as { options: { limiter?: RateLimiter } }).options.limiter;
  const fromEnv = (extra: Record<string, string>, overrides = {}) => Gateway.fromEnv({ credentials, region: 'us-east-1', ...overrides }, { ...env, ...extra });
  const cases: Array<[Gateway, number | undefined]> = [
    [fromEnv({}), 2000],
    [fromEnv({ GATEWAY_SEND_RATE: '40' }), 40],
    [fromEnv({ GATEWAY_SEND_RATE: 'off' }), undefined],
    [fromEnv({ GATEWAY_SEND_RATE: '40' }, { sendRate: false }), undefined],
  ];
  assert.deepEqual(
    cases.map(([g]) => limiterOf(g)?.rate),
    cases.map(([, rate]) => rate),
  );
  // A second's worth, at most 1,000: one send up to the chunking threshold goes out unpaced.
  assert.deepEqual([limiterOf(cases[0]![0])?.burst, limiterOf(cases[1]![0])?.burst], [1000, 40]);
  for (const [g] of cases) g.destroy();
});
