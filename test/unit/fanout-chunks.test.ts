/**
 * The chunk format and the fan-out options, without a network: how recipients are split (counts,
 * the byte budget, the index keys each chunk carries), how the message travels, what the worker
 * accepts, and the configuration errors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildChunks,
  encodeChunkMessage,
  parseChunk,
  parseThreshold,
  queueChunks,
  resolveFanoutOptions,
  type FanoutChunk,
  type FanoutIndexRole,
} from '../../sdk/Fanout.ts';
import { ConfigurationError, Gateway, GatewayEnvVar, ServiceError, ThrottledError, ValidationError, ForbiddenError } from '../../sdk/index.ts';
import { MAX_CHUNK_EVENT_BYTES } from '../../sdk/Fanout.ts';

/** `n` distinct well-formed connection ids. */
const ids = (n: number, prefix = 'a') => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(14, '0')}=`.slice(-16));
const recipientsOf = (list: string[], via: Array<{ role: FanoutIndexRole; key: string }> = []) => new Map(list.map((id) => [id, via]));
const size = (chunk: FanoutChunk) => Buffer.byteLength(JSON.stringify(chunk));

describe('buildChunks', () => {
  test('splits into ceil(n / chunkSize) chunks whose counts differ by one at most, in order, each id once', () => {
    for (const [n, chunkSize, expected] of [
      [150, 40, [38, 38, 37, 37]],
      [1001, 1000, [501, 500]],
      [1000, 1000, [1000]],
      [7, 3, [3, 2, 2]],
      [1, 1000, [1]],
    ] as const) {
      const list = ids(n);
      const chunks = buildChunks('f', 'sendToGroup', Buffer.from('m'), recipientsOf(list), chunkSize);
      assert.deepEqual(
        chunks.map((c) => c.recipients.length),
        expected,
        `${n} by ${chunkSize}`,
      );
      assert.deepEqual(
        chunks.flatMap((c) => c.recipients),
        list,
      );
      for (const [i, c] of chunks.entries())
        assert.deepEqual([c.index, c.count, c.fanoutId, c.operation, c.type, c.version], [i, chunks.length, 'f', 'sendToGroup', 'gateway.fanout.chunk', 1]);
    }
    assert.deepEqual(buildChunks('f', 'sendToAll', Buffer.from('m'), new Map(), 10), []);
  });

  test('a chunk never passes MAX_CHUNK_EVENT_BYTES: the largest message that is not UTF-8 leaves room for about 1,500 ids', () => {
    const message = Buffer.alloc(131072, 0xff);
    const list = ids(10_000);
    const chunks = buildChunks('f', 'sendToAll', message, recipientsOf(list), 10_000);
    for (const c of chunks) assert.ok(size(c) <= MAX_CHUNK_EVENT_BYTES, `${size(c)} bytes`);
    assert.ok(chunks.length >= 6 && chunks.length <= 8, `${chunks.length} chunks`);
    assert.ok(chunks[0]!.recipients.length >= 1400, `${chunks[0]!.recipients.length} ids in a full chunk`);
    assert.deepEqual(
      chunks.flatMap((c) => c.recipients),
      list,
    );
    assert.ok('base64' in chunks[0]!.message);
    // A typical message lets a chunk hold 10,000 ids.
    const small = buildChunks('f', 'sendToAll', Buffer.from('{"type":"news"}'), recipientsOf(list), 10_000);
    assert.equal(small.length, 1);
    assert.ok(size(small[0]!) <= MAX_CHUNK_EVENT_BYTES);
  });

  test('each chunk carries only the index keys its own recipients were found through, each once', () => {
    const g1 = ids(30, 'g');
    const g2 = ids(30, 'h');
    const both = ids(5, 'b');
    const recipients = new Map<string, Array<{ role: FanoutIndexRole; key: string }>>();
    for (const id of g1) recipients.set(id, [{ role: 'groups', key: 'one' }]);
    for (const id of both)
      recipients.set(id, [
        { role: 'groups', key: 'one' },
        { role: 'groups', key: 'two' },
      ]);
    for (const id of g2) recipients.set(id, [{ role: 'groups', key: 'two' }]);
    const chunks = buildChunks('f', 'sendToGroup', Buffer.from('m'), recipients, 22);
    assert.deepEqual(
      chunks.map((c) => c.via),
      [
        [['groups', 'one']],
        [
          ['groups', 'one'],
          ['groups', 'two'],
        ],
        [['groups', 'two']],
      ],
    );
    assert.equal(buildChunks('f', 'sendToAll', Buffer.from('m'), recipientsOf(ids(3)), 10)[0]!.via, undefined);
  });

  test('the message travels as UTF-8 text when that is not longer than base64, else as base64; the worker gets the same bytes', () => {
    assert.deepEqual(encodeChunkMessage(Buffer.from('{"a":1}')), { utf8: '{"a":1}' });
    assert.deepEqual(encodeChunkMessage(Buffer.from([0xff, 0x00])), { base64: '/wA=' });
    // Valid UTF-8 that JSON would escape six-fold goes as base64.
    const controls = Buffer.alloc(300, 0x01);
    assert.ok('base64' in encodeChunkMessage(controls));
    for (const bytes of [Buffer.from('héllo ✓ 𝄞'), Buffer.from([0xff, 0xfe, 0x00]), controls, Buffer.alloc(0)]) {
      const [chunk] = buildChunks('f', 'sendToAll', bytes, recipientsOf(ids(1)), 10);
      assert.deepEqual(parseChunk(JSON.parse(JSON.stringify(chunk))).payload, bytes);
    }
  });
});

describe('parseChunk', () => {
  const valid = (): FanoutChunk => buildChunks('f', 'sendToUid', Buffer.from('m'), recipientsOf(ids(3), [{ role: 'uids', key: 'u' }]), 10)[0]!;

  test('accepts a chunk and returns its bytes and the index keys to prune by; duplicate ids count once', () => {
    const chunk = { ...valid(), recipients: [...valid().recipients, valid().recipients[0]!] };
    const parsed = parseChunk(chunk);
    assert.deepEqual(parsed.chunk.recipients, valid().recipients);
    assert.deepEqual(parsed.via, [{ role: 'uids', key: 'u' }]);
    assert.deepEqual(parsed.payload, Buffer.from('m'));
  });

  test('refuses anything else with a ValidationError that says what is wrong', () => {
    for (const [bad, message] of [
      [null, /must be an object/],
      [{ ...valid(), type: 'other' }, /not a fan-out chunk of version 1/],
      [{ ...valid(), version: 2 }, /not a fan-out chunk of version 1/],
      [{ ...valid(), fanoutId: '' }, /fanoutId/],
      [{ ...valid(), index: 1, count: 1 }, /index must be a whole number below chunk\.count/],
      [{ ...valid(), operation: 'sendToClient' }, /operation/],
      [{ ...valid(), message: { text: 'x' } }, /message must be/],
      [{ ...valid(), message: { utf8: 'x'.repeat(131073) } }, /131073 bytes/],
      [{ ...valid(), recipients: ['no/pe'] }, /chunk\.recipients\[0\] must be a connection id \(1-128 URL-safe characters/],
      [{ ...valid(), via: [['sessions', 'x']] }, /chunk\.via\[0\]/],
      [{ ...valid(), via: [['groups', '']] }, /chunk\.via\[0\]\[1\] must not be empty/],
    ] as const) {
      assert.throws(
        () => parseChunk(bad),
        (error: unknown) => error instanceof ValidationError && message.test(error.message),
        String(message),
      );
    }
  });

  test('refuses holes and fields that cannot be read with a ValidationError, never a raw error', () => {
    const [a] = valid().recipients;
    // eslint-disable-next-line no-sparse-arrays
    const holes: unknown[] = [, a];
    assert.throws(
      () => parseChunk({ ...valid(), recipients: holes }),
      (e: unknown) => e instanceof ValidationError && /chunk\.recipients\[0\] is a hole/.test(e.message),
    );
    // eslint-disable-next-line no-sparse-arrays
    assert.throws(
      () => parseChunk({ ...valid(), via: [, ['uids', 'u']] }),
      (e: unknown) => e instanceof ValidationError && /chunk\.via\[0\] must be/.test(e.message),
    );
    const boom = new TypeError('boom');
    const getter = Object.defineProperty({ ...valid() }, 'recipients', {
      get: () => {
        throw boom;
      },
    });
    assert.throws(
      () => parseChunk(getter),
      (e: unknown) => e instanceof ValidationError && e.cause === boom && /chunk\.recipients could not be read: boom/.test(e.message),
    );
    const { proxy, revoke } = Proxy.revocable({ ...valid() }, {});
    revoke();
    assert.throws(
      () => parseChunk(proxy),
      (e: unknown) => e instanceof ValidationError && /could not be read/.test(e.message),
    );
    const message = Object.defineProperty({}, 'utf8', {
      get: () => {
        throw boom;
      },
    });
    assert.throws(
      () => parseChunk({ ...valid(), message }),
      (e: unknown) => e instanceof ValidationError && e.cause === boom,
    );
  });
});

describe('queueChunks', () => {
  const chunks = buildChunks('f', 'sendToAll', Buffer.from('m'), recipientsOf(ids(50)), 10);
  const backoff = { baseDelayMs: 0, maxDelayMs: 0, random: () => 0 };
  const options = (send: (payload: FanoutChunk) => Promise<{ StatusCode?: number }>, extra: { maxRetries?: number; invokeConcurrency?: number } = {}) =>
    resolveFanoutOptions(
      {
        functionName: 'worker',
        ...extra,
        lambda: {
          send: async (command) => {
            assert.equal(command.input.InvocationType, 'Event');
            assert.equal(command.input.FunctionName, 'worker');
            return { $metadata: {}, ...(await send(JSON.parse(Buffer.from(command.input.Payload as Uint8Array).toString('utf8')) as FanoutChunk)) };
          },
        },
      },
      { region: 'us-east-1' },
    );

  test('invokes once per chunk, at most invokeConcurrency at a time, and reports them in chunk order', async () => {
    let inFlight = 0;
    let most = 0;
    const outcome = await queueChunks(
      options(
        async () => {
          most = Math.max(most, ++inFlight);
          await new Promise((resolve) => setImmediate(resolve));
          inFlight--;
          return { StatusCode: 202 };
        },
        { invokeConcurrency: 2 },
      ),
      chunks,
      backoff,
    );
    assert.equal(most, 2);
    assert.deepEqual(
      outcome.queued.map((c) => c.index),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(outcome.failed, []);
  });

  test('retries 429, 5xx and network errors up to maxRetries; other errors at once; each failure keeps its error type', async () => {
    const attempts = new Map<number, number>();
    const errors: Record<number, () => Error> = {
      0: () => Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } }),
      1: () => Object.assign(new Error('boom'), { name: 'ServiceException', $metadata: { httpStatusCode: 500 } }),
      2: () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      3: () => Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }),
    };
    const outcome = await queueChunks(
      options(
        async (chunk) => {
          attempts.set(chunk.index, (attempts.get(chunk.index) ?? 0) + 1);
          const error = errors[chunk.index];
          if (error) throw error();
          return { StatusCode: 202 };
        },
        { maxRetries: 2 },
      ),
      chunks,
      backoff,
    );
    assert.deepEqual(Object.fromEntries(attempts), { 0: 3, 1: 3, 2: 3, 3: 1, 4: 1 });
    assert.deepEqual(
      outcome.queued.map((c) => c.index),
      [4],
    );
    const [throttled, server, network, denied] = outcome.failed.map((f) => f.error);
    assert.ok(throttled instanceof ThrottledError && throttled.statusCode === 429);
    assert.ok(server instanceof ServiceError && server.statusCode === 500 && server.errorType === 'ServiceException');
    assert.equal(network!.code, 'NETWORK');
    assert.ok(denied instanceof ForbiddenError);
    assert.match(denied.message, /Invoke \(Event\) of worker failed: AccessDeniedException: denied/);
  });
});

describe('configuration', () => {
  const base = {
    callbackUrl: 'https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod',
    tables: { connections: 'c-table', sessions: 'c-sessions', memberships: 'c-memberships', uids: 'u-table', groups: 'g-table' },
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  };

  test('fanout options out of range are ConfigurationErrors naming the option', () => {
    for (const [fanout, message] of [
      [{ functionName: '' }, /fanout\.functionName must be the worker Lambda's name or ARN/],
      [{ functionName: 'w', threshold: -1 }, /fanout\.threshold must be a whole number from 0/],
      [{ functionName: 'w', chunkSize: 0 }, /fanout\.chunkSize must be a whole number from 1 to 10000/],
      [{ functionName: 'w', chunkSize: 10_001 }, /fanout\.chunkSize must be a whole number from 1 to 10000/],
      [{ functionName: 'w', invokeConcurrency: 1.5 }, /fanout\.invokeConcurrency/],
      [{ functionName: 'w', maxRetries: -1 }, /fanout\.maxRetries/],
      ['worker', /fanout must be an object or false/],
    ] as const) {
      assert.throws(
        () => new Gateway({ ...base, fanout: fanout as never }),
        (error: unknown) => error instanceof ConfigurationError && message.test(error.message),
        String(message),
      );
    }
  });

  test('fromEnv: the threshold must be a whole number; without a function name there is no fan-out', () => {
    const env = {
      [GatewayEnvVar.callbackUrl]: base.callbackUrl,
      [GatewayEnvVar.connectionsTable]: 'c-table',
      [GatewayEnvVar.sessionsTable]: 'c-sessions',
      [GatewayEnvVar.membershipsTable]: 'c-memberships',
      [GatewayEnvVar.uidsTable]: 'u-table',
      [GatewayEnvVar.groupsTable]: 'g-table',
    };
    assert.throws(
      () => Gateway.fromEnv({ credentials: base.credentials }, { ...env, [GatewayEnvVar.fanoutFunction]: 'w', [GatewayEnvVar.fanoutThreshold]: '1e3' }),
      /GATEWAY_FANOUT_THRESHOLD must be a whole number of recipients, got "1e3"/,
    );
    assert.equal(parseThreshold('X', ' 250 '), 250);
    Gateway.fromEnv({ credentials: base.credentials }, { ...env, [GatewayEnvVar.fanoutThreshold]: 'ignored without a function' }).destroy();
    Gateway.fromEnv({ credentials: base.credentials }, { ...env, [GatewayEnvVar.fanoutFunction]: 'w' }).destroy();
  });
});
