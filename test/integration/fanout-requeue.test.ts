/**
 * Issue 17, item 8 (first half): a fan-out chunk whose recipients partly fail with a retryable error
 * (500 here, from the local gateway's fault injection; a worker retries 429s until its deadline, so
 * a 429 outlives it only when the deadline is near) re-queues those recipients to a new invocation
 * of the worker instead of only logging them. The worker is the real handler on the real SDK, hosted
 * by the local gateway as a function and re-invoked through its Lambda API with the SDK's own signed
 * invoke, as on AWS. The faults are scripted (the first K `@connections` requests answer 500), so
 * which count fails is exact; the per-post retries and the in-process rounds are off so that only
 * the re-queue can deliver to them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayHarness, LOCAL_CREDENTIALS } from '../../testkit/gatewayHarness.ts';
import { createFanoutWorkerHandler, type FanoutWorkerLogLine } from '../../lambdas/fanoutWorkerHandler.ts';
import { buildChunks, MAX_CHUNK_REQUEUES, parseChunk, type FanoutChunk } from '../../sdk/Fanout.ts';
import { LambdaEventInvoker } from '../../sdk/lambdaInvoke.ts';
import { ValidationError } from '../../sdk/index.ts';

const WORKER = 'fanoutWorker';

/** A FaultSettings random that makes the first `k` `@connections` requests roll a fault, and none after. */
function firstFailing(k: number) {
  let calls = 0;
  return () => (calls++ < k ? 0 : 0.99);
}

describe('re-queueing the recipients a chunk could not reach', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  let invoker: LambdaEventInvoker;
  const lines: FanoutWorkerLogLine[] = [];
  const events: FanoutChunk[] = [];
  before(async () => {
    h = await GatewayHarness.start();
    invoker = new LambdaEventInvoker({ region: h.endpoints.region, endpoint: h.endpoints.httpUrl, credentials: LOCAL_CREDENTIALS });
    const workerGateway = h.newGateway({ fanout: false, maxRetries: 0 });
    const handler = createFanoutWorkerHandler({
      gateway: workerGateway,
      extraRounds: 0,
      log: (line) => lines.push(line),
      requeue: { lambda: invoker, functionName: WORKER, delayMs: 20 },
    });
    h.local.functions.define(WORKER, {
      handler: async (event: FanoutChunk, context: { getRemainingTimeInMillis(): number }) => {
        events.push(event);
        return handler(event, context);
      },
      timeoutMs: 30_000,
      maxRetryAttempts: 0,
    });
  });
  after(async () => {
    invoker.destroy();
    await h.stop();
  });

  test('5 of 12 recipients answered 500: the worker re-queues exactly those 5 to itself, and every recipient gets the message once', async () => {
    lines.length = 0;
    events.length = 0;
    const clients = await Promise.all(Array.from({ length: 12 }, () => h.connect()));
    await h.gateway.bindUid(clients[0]!.id, 'requeue-u');
    const recipients = new Map(clients.map((c) => [c.id, [{ role: 'groups' as const, key: 'requeue-room' }]]));
    const [chunk] = buildChunks('f-requeue', 'sendToGroup', Buffer.from('to everyone'), recipients, 100);
    h.local.setFaults({ serverErrorRate: 0.5, random: firstFailing(5) });
    try {
      invoker.send({ input: { FunctionName: WORKER, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ ...chunk, rate: 500 })) } });
      for (const client of clients) assert.equal(await client.next(), 'to everyone');
      await h.local.functions.drain();
    } finally {
      h.local.setFaults({});
    }
    assert.deepEqual(
      lines.map((l) => [l.recipients, l.sent, l.failed, l.requeued, l.failedCodes]),
      [
        [12, 7, 5, 5, { SERVICE_ERROR: 5 }],
        [5, 5, 0, 0, {}],
      ],
    );
    // The second invocation's chunk: the five, the same message, keys and rate, one requeue, a pause.
    const requeued = events[1]!;
    assert.equal(requeued.recipients.length, 5);
    assert.deepEqual(new Set(requeued.recipients), new Set(lines[0]!.failedIds));
    assert.deepEqual(
      [requeued.fanoutId, requeued.index, requeued.message, requeued.via, requeued.rate, requeued.requeue],
      ['f-requeue', 0, { utf8: 'to everyone' }, [['groups', 'requeue-room']], 500, 1],
    );
    assert.equal(typeof requeued.notBefore, 'number');
    // Nobody got it twice.
    for (const client of clients) assert.deepEqual(client.unread(), []);
  });

  test(`a chunk re-queued ${MAX_CHUNK_REQUEUES} times is not re-queued again: its failures are logged`, async () => {
    lines.length = 0;
    events.length = 0;
    const clients = await Promise.all(Array.from({ length: 3 }, () => h.connect()));
    const [chunk] = buildChunks('f-last', 'sendToAll', Buffer.from('last try'), new Map(clients.map((c) => [c.id, []])), 100);
    h.local.setFaults({ serverErrorRate: 0.5, random: firstFailing(1) });
    try {
      invoker.send({
        input: { FunctionName: WORKER, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify({ ...chunk, requeue: MAX_CHUNK_REQUEUES })) },
      });
      await h.local.functions.drain();
      while (lines.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      await h.local.functions.drain();
    } finally {
      h.local.setFaults({});
    }
    assert.equal(events.length, 1, 'no further invocation');
    assert.deepEqual([lines[0]!.sent, lines[0]!.failed, lines[0]!.requeued], [2, 1, 0]);
    assert.equal(clients.filter((c) => c.messages.includes('last try')).length, 2);
  });

  test('the chunk format: requeue and notBefore are checked like every other field', () => {
    const [chunk] = buildChunks('f', 'sendToAll', Buffer.from('m'), new Map([['AAAAAAAAAAAAAAA=', []]]), 10);
    assert.deepEqual(parseChunk({ ...chunk, requeue: 1, notBefore: 1_800_000_000_000 }).chunk, { ...chunk, requeue: 1, notBefore: 1_800_000_000_000 });
    for (const bad of [{ requeue: 0 }, { requeue: MAX_CHUNK_REQUEUES + 1 }, { requeue: 1.5 }, { notBefore: 'soon' }, { notBefore: Number.NaN }]) {
      assert.throws(() => parseChunk({ ...chunk, ...bad }), ValidationError, JSON.stringify(bad));
    }
  });
});
