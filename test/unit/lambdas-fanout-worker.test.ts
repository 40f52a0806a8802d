/**
 * The fan-out worker's policy in isolation (a stand-in Gateway): one log line per chunk with the
 * counts and the failed ids; a chunk that delivered nothing fails the invocation (so Lambda retries
 * it and then keeps it), one that delivered something never does; the deadline passed to the SDK.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ForbiddenError, ThrottledError, ValidationError, type Gateway } from '../../sdk/index.ts';
import type { ChunkReport, DeliverChunkOptions } from '../../sdk/Gateway.ts';
import { createFanoutWorkerHandler, FanoutChunkFailedError, type FanoutWorkerLogLine } from '../../lambdas/fanoutWorkerHandler.ts';

const A = 'AAAAAAAAAAAAAAA=';
const B = 'BBBBBBBBBBBBBBB=';
const C = 'CCCCCCCCCCCCCCC=';

function fakeGateway(report: Partial<ChunkReport> | Error, seen: Array<{ event: unknown; options: DeliverChunkOptions }> = []): Gateway {
  return {
    async deliverChunk(event: unknown, options: DeliverChunkOptions) {
      seen.push({ event, options });
      if (report instanceof Error) throw report;
      return {
        fanoutId: 'f-1',
        index: 2,
        count: 5,
        operation: 'sendToGroup',
        rounds: 1,
        recipients: 3,
        sent: [],
        gone: [],
        failed: [],
        ...report,
      } as ChunkReport;
    },
  } as unknown as Gateway;
}

describe('fan-out worker', () => {
  test('logs one line with the counts, the failed ids and their codes, and succeeds when something was delivered', async () => {
    const lines: FanoutWorkerLogLine[] = [];
    const handler = createFanoutWorkerHandler({
      gateway: fakeGateway({ sent: [A], gone: [B], failed: [{ connectionId: C, error: new ThrottledError('429', { statusCode: 429 }) }], rounds: 3 }),
      log: (line) => lines.push(line),
    });
    const result = await handler({ any: 'event' });
    assert.equal(lines.length, 1);
    const { durationMs, ...line } = lines[0]!;
    assert.ok(durationMs >= 0);
    assert.deepEqual(line, {
      message: 'gateway fan-out chunk',
      fanoutId: 'f-1',
      chunk: 2,
      chunks: 5,
      operation: 'sendToGroup',
      recipients: 3,
      sent: 1,
      gone: 1,
      failed: 1,
      failedIds: [C],
      failedCodes: { THROTTLED: 1 },
      rounds: 3,
      outcome: 'delivered',
    });
    assert.deepEqual(
      { ...result, durationMs: 0 },
      {
        fanoutId: 'f-1',
        chunk: 2,
        chunks: 5,
        operation: 'sendToGroup',
        recipients: 3,
        sent: 1,
        gone: 1,
        failed: 1,
        failedCodes: { THROTTLED: 1 },
        rounds: 3,
        durationMs: 0,
        outcome: 'delivered',
      },
    );
  });

  test('only gone recipients is a delivered chunk, not a failure', async () => {
    const handler = createFanoutWorkerHandler({ gateway: fakeGateway({ gone: [A, B, C] }), log: () => {} });
    assert.equal((await handler({})).outcome, 'delivered');
  });

  test('a chunk that delivered nothing fails the invocation, after logging', async () => {
    const lines: FanoutWorkerLogLine[] = [];
    const forbidden = new ForbiddenError('POST @connections answered 403');
    const handler = createFanoutWorkerHandler({
      gateway: fakeGateway({ failed: [A, B, C].map((connectionId) => ({ connectionId, error: forbidden })) }),
      log: (line) => lines.push(line),
    });
    await assert.rejects(
      handler({}),
      (error: unknown) =>
        error instanceof FanoutChunkFailedError &&
        /chunk 3\/5 of fan-out f-1 delivered nothing \(3 FORBIDDEN\); first error: POST @connections answered 403/.test(error.message),
    );
    assert.deepEqual([lines[0]!.outcome, lines[0]!.failedIds], ['failed', [A, B, C]]);
  });

  test('a malformed chunk rejects (the failure destination keeps it)', async () => {
    const handler = createFanoutWorkerHandler({ gateway: fakeGateway(new ValidationError('not a fan-out chunk of version 1')), log: () => {} });
    await assert.rejects(handler({ hello: 'world' }), ValidationError);
  });

  test('passes the invocation deadline minus the margin, and the round settings, to deliverChunk', async () => {
    const seen: Array<{ event: unknown; options: DeliverChunkOptions }> = [];
    const handler = createFanoutWorkerHandler({
      gateway: fakeGateway({ sent: [A] }, seen),
      log: () => {},
      extraRounds: 1,
      roundDelayMs: 50,
      deadlineMarginMs: 2000,
    });
    const before = Date.now();
    await handler({ e: 1 }, { getRemainingTimeInMillis: () => 30_000 });
    const after = Date.now();
    const { deadlineMs, ...rest } = seen[0]!.options;
    assert.deepEqual(rest, { extraRounds: 1, roundDelayMs: 50 });
    assert.ok(deadlineMs! >= before + 28_000 && deadlineMs! <= after + 28_000);
    assert.deepEqual(seen[0]!.event, { e: 1 });
    await handler({ e: 2 });
    assert.equal(seen[1]!.options.deadlineMs, undefined);
  });
});
