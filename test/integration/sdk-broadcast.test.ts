// sendToAll streams: the ids come page by page from an eventually consistent scan of the small
// connection items, and each page is posted (or, with fan-out, queued in chunks) as it arrives, with
// the exclusion list applied to it. Memory is measured in the cost benchmark (bench/cost.ts), not here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FanoutChunk } from '../../sdk/index.ts';
import { BROADCAST_PAGE_ITEMS } from '../../sdk/gateway/broadcast.ts';
import { GatewayHarness, LOCAL_CREDENTIALS, type TestClient, watchHttpRequests } from '../../testkit/gatewayHarness.ts';

/**
 * More registered connections than one scan page holds. None has a socket, so each post answers 410;
 * their connectedAt is ahead of the clock, so that the prune keeps them as young however long the
 * test runs (the SDK keeps a connection younger than 30 s: its $connect may still be running).
 */
const REGISTERED = BROADCAST_PAGE_ITEMS + 300;

describe('sendToAll streams its scan', { timeout: 180_000 }, () => {
  let h: GatewayHarness;
  let live: TestClient[];
  let registered: string[];
  before(async () => {
    h = await GatewayHarness.start({ gateway: { scanSegments: 1 } });
    live = await h.connectMany(3);
    registered = Array.from({ length: REGISTERED }, (_, i) => `reg${String(i).padStart(12, '0')}=`);
    for (let i = 0; i < registered.length; i += 100) {
      await Promise.all(registered.slice(i, i + 100).map((id) => h.gateway.registerConnection({ connectionId: id, connectedAt: Date.now() + 3_600_000 })));
    }
  });
  after(() => h.stop());

  test('posts the first page while the next one has not been read yet, and reaches every connection once', async () => {
    // The second page is held back until posts of the first have been made: a sendToAll that waited
    // for the whole scan before posting would never get there (and the hold gives up after 20 s).
    let posts = 0;
    let heldPages = 0;
    const onRequest = (request: { method: string; path: string }) => {
      if (request.path.includes('@connections')) posts++;
    };
    const base = new DynamoDBClient({ endpoint: h.endpoints.dynamoEndpoint, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
    base.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { ExclusiveStartKey?: unknown; ConsistentRead?: boolean };
        if (context.commandName === 'ScanCommand') {
          assert.equal(input.ConsistentRead, false, 'the broadcast scan is eventually consistent');
          if (input.ExclusiveStartKey) {
            heldPages++;
            const deadline = Date.now() + 20_000;
            while (posts < 100 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
          }
        }
        return next(args);
      },
      { step: 'initialize', name: 'holdLaterPages' },
    );
    const scanned: number[] = [];
    const gw = h.newGateway({
      scanSegments: 1,
      dynamoDb: DynamoDBDocumentClient.from(base),
      onConsumedCapacity: (e) => void (e.command === 'Scan' && scanned.push(posts)),
    });
    const stopWatching = watchHttpRequests(onRequest);
    try {
      const report = await gw.sendToAll('to everyone');
      assert.equal(report.recipients, REGISTERED + live.length);
      assert.deepEqual([...report.sent].sort(), live.map((c) => c.id).sort());
      assert.equal(report.gone.length, REGISTERED);
      assert.equal(new Set([...report.sent, ...report.gone]).size, report.recipients, 'each connection once');
      assert.ok(heldPages >= 1, 'the scan took more than one page');
      assert.ok(scanned.length >= 2 && scanned.at(-1)! >= 100, `posts had been made before the last page was read (${scanned.join(', ')})`);
    } finally {
      stopWatching();
      base.destroy();
    }
    for (const client of live) assert.equal(await client.next(), 'to everyone');
  });

  test('the exclusion list applies to every page', async () => {
    const excluded = [registered[0]!, registered[registered.length - 1]!, live[0]!.id, 'zzzzzzzzzzzzzzz='];
    const report = await h.gateway.sendToAll('not to all', { exclude: excluded });
    assert.equal(report.recipients, REGISTERED + live.length - 3);
    assert.ok(![...report.sent, ...report.gone].some((id) => excluded.includes(id)));
    assert.deepEqual(
      [...report.sent].sort(),
      live
        .slice(1)
        .map((c) => c.id)
        .sort(),
    );
    for (const client of live.slice(1)) assert.equal(await client.next(), 'not to all');
  });

  for (const maxConcurrentChunks of [4, undefined]) {
    const how = maxConcurrentChunks === undefined ? 'counted first (a COUNT scan) to split the budget' : 'held until past the threshold';
    test(`with fan-out (maxConcurrentChunks ${maxConcurrentChunks}): ${how}, then queued in chunks as they fill; each recipient in one chunk`, async () => {
      const chunks: FanoutChunk[] = [];
      const scans: Array<string | undefined> = [];
      const base = new DynamoDBClient({ endpoint: h.endpoints.dynamoEndpoint, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
      base.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === 'ScanCommand') scans.push((args.input as { Select?: string }).Select);
          return next(args);
        },
        { step: 'initialize', name: 'recordScans' },
      );
      const gw = h.newGateway({
        scanSegments: 2,
        dynamoDb: DynamoDBDocumentClient.from(base),
        fanout: {
          functionName: 'worker',
          threshold: 500,
          chunkSize: 400,
          rateLimit: 1000,
          ...(maxConcurrentChunks !== undefined ? { maxConcurrentChunks } : {}),
          lambda: {
            send: async (command) => {
              chunks.push(JSON.parse(Buffer.from(command.input.Payload as Uint8Array).toString('utf8')) as FanoutChunk);
              return { $metadata: {}, StatusCode: 202 };
            },
          },
        },
      });
      let report;
      try {
        report = await gw.sendToAll('chunked', { exclude: [live[1]!.id] });
      } finally {
        base.destroy();
      }
      const total = REGISTERED + live.length - 1;
      assert.equal(report.recipients, total);
      assert.deepEqual([report.sent, report.gone, report.failed], [[], [], []]);
      assert.equal(report.queued?.recipients, total);
      assert.equal(report.queued?.chunks, chunks.length);
      assert.ok(chunks.length >= Math.ceil(total / 400));
      // The share: rateLimit over the chunks that may run at once (4), or over the chunks the count makes.
      const counted = REGISTERED + live.length;
      const rate = maxConcurrentChunks === undefined ? Math.floor((1000 / Math.ceil(counted / 400)) * 1000) / 1000 : 250;
      assert.equal(report.queued?.chunkRate, rate);
      assert.equal(
        scans.filter((select) => select === 'COUNT').length,
        maxConcurrentChunks === undefined ? 2 : 0,
        'a COUNT scan (2 segments) only without maxConcurrentChunks',
      );
      for (const chunk of chunks) {
        assert.equal(chunk.count, 0, 'the total is unknown while the scan runs');
        assert.equal(chunk.operation, 'sendToAll');
        assert.equal(chunk.rate, rate);
        assert.ok(chunk.recipients.length <= 400);
      }
      assert.deepEqual(
        chunks.map((c) => c.index).sort((x, y) => x - y),
        chunks.map((_, i) => i),
      );
      const all = chunks.flatMap((c) => c.recipients);
      assert.equal(new Set(all).size, all.length);
      assert.deepEqual(all.sort(), [...registered, ...live.map((c) => c.id)].filter((id) => id !== live[1]!.id).sort());
    });
  }

  test('with fan-out, no more than the threshold: posted inline at the end of the scan', async () => {
    const selects: Array<string | undefined> = [];
    const base = new DynamoDBClient({ endpoint: h.endpoints.dynamoEndpoint, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
    base.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ScanCommand') selects.push((args.input as { Select?: string }).Select);
        return next(args);
      },
      { step: 'initialize', name: 'recordScans' },
    );
    const gw = h.newGateway({
      dynamoDb: DynamoDBDocumentClient.from(base),
      fanout: { functionName: 'worker', threshold: 10_000, lambda: { send: async () => assert.fail('nothing is chunked') } },
    });
    let report;
    try {
      report = await gw.sendToAll('inline');
    } finally {
      base.destroy();
    }
    assert.equal(report.queued, undefined);
    assert.ok(selects.length > 0 && !selects.includes('COUNT'), 'no COUNT scan under the threshold');
    assert.equal(report.sent.length, live.length);
    for (const client of live) assert.equal(await client.next(), 'inline');
  });
});
