// One connection's onMessage must never see another connection's session. The read of A's session
// is made slow (a proxy in front of DynamoDB holds the answer, sending JSON whitespace meanwhile so
// the socket never idles), longer than the Gateway's request timeout; then a message of B is
// handled in the same process. The helper-thread read this replaced took A's late answer as B's
// (B's onMessage saw A's session, and its change was merged under B). Each read now belongs to its
// own call: B sees B's session whatever A's read does, and each change is written under its own id.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { CreateTableCommand, DynamoDBClient, type KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createMessageHandler } from '../../lambdas/messageHandler.ts';
import type { WebSocketMessageEvent } from '../../lambdas/webSocketEvent.ts';
import { formatRequestTime } from '../../local/events.ts';
import { Gateway, type GatewayTableNames } from '../../sdk/index.ts';
import { GatewayTables } from '../../sdk/tables.ts';
import { LOCAL_CREDENTIALS } from '../../testkit/gatewayHarness.ts';

const tables: GatewayTableNames = {
  connections: 'iso-connections',
  sessions: 'iso-sessions',
  memberships: 'iso-memberships',
  uids: 'iso-uids',
  groups: 'iso-groups',
};
const CLIENT_A = 'AAAAslowslowA01=';
const CLIENT_B = 'BBBBfastfastB01=';
/** Longer than the Gateway's request timeout plus the old mechanism's extra second. */
const SLOW_MS = 2500;

interface SlowDynamo {
  readonly port: number;
  /** The next `count` GetItems naming the slow id answer after SLOW_MS. */
  slowNext(count: number): Promise<void>;
  stop(): Promise<number>;
}

/**
 * dynalite and, in front of it, a proxy that can answer GetItems naming `slowId` after `slowMs` (the
 * status line at once, then a space every 100 ms, then DynamoDB's JSON), both on a worker thread so
 * that they answer while this thread waits.
 */
async function slowDynamoOnAnotherThread(slowId: string, slowMs: number): Promise<SlowDynamo> {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads');
    const http = require('node:http');
    const dynamo = require('dynalite')({ createTableMs: 0 });
    let slowLeft = 0;
    parentPort.on('message', (count) => { slowLeft = count; parentPort.postMessage('ok'); });
    dynamo.listen(0, '127.0.0.1', () => {
      const target = dynamo.address().port;
      const proxy = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks);
          const slow = slowLeft > 0 && String(req.headers['x-amz-target']).endsWith('.GetItem') && body.includes(workerData.slowId);
          if (slow) slowLeft--;
          const upstream = http.request({ port: target, host: '127.0.0.1', method: req.method, path: req.url, headers: req.headers }, (up) => {
            const answer = [];
            up.on('data', (c) => answer.push(c));
            up.on('end', () => {
              const headers = { ...up.headers };
              delete headers['content-length'];
              delete headers['x-amz-crc32'];
              res.writeHead(up.statusCode, headers);
              if (!slow) return res.end(Buffer.concat(answer));
              const started = Date.now();
              const tick = setInterval(() => {
                if (Date.now() - started < workerData.slowMs) return void res.write(' ');
                clearInterval(tick);
                res.end(Buffer.concat(answer));
              }, 100);
            });
          });
          upstream.end(body);
        });
      });
      proxy.listen(0, '127.0.0.1', () => parentPort.postMessage(proxy.address().port));
    });`;
  const worker = new Worker(source, { eval: true, workerData: { slowId, slowMs } });
  const [port] = (await once(worker, 'message')) as [number];
  return {
    port,
    slowNext: async (count) => {
      worker.postMessage(count);
      await once(worker, 'message');
    },
    stop: () => worker.terminate(),
  };
}

function messageEvent(clientId: string): WebSocketMessageEvent {
  const now = Date.now();
  return {
    body: 'x',
    isBase64Encoded: false,
    requestContext: {
      routeKey: '$default',
      eventType: 'MESSAGE',
      extendedRequestId: `r-${clientId}`,
      requestTime: formatRequestTime(now),
      messageDirection: 'IN',
      connectionId: clientId,
      connectedAt: now,
      requestId: `r-${clientId}`,
      requestTimeEpoch: now,
      stage: 'test',
      domainName: '127.0.0.1',
      apiId: 'local',
      identity: { sourceIp: '127.0.0.1' },
      messageId: `m-${clientId}`,
    },
  };
}

describe('a slow session read of one connection and the next message of another', { timeout: 60_000 }, () => {
  let dynamo: SlowDynamo;
  let base: DynamoDBClient;
  let gateway: Gateway;

  before(async () => {
    dynamo = await slowDynamoOnAnotherThread(CLIENT_A, SLOW_MS);
    base = new DynamoDBClient({ endpoint: `http://127.0.0.1:${dynamo.port}`, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
    for (const role of Object.keys(tables) as Array<keyof GatewayTableNames>) {
      const keys = GatewayTables[role];
      const keySchema: KeySchemaElement[] = [
        { AttributeName: keys.partitionKey, KeyType: 'HASH' },
        ...('sortKey' in keys ? [{ AttributeName: keys.sortKey, KeyType: 'RANGE' as const }] : []),
      ];
      await base.send(
        new CreateTableCommand({
          TableName: tables[role],
          KeySchema: keySchema,
          AttributeDefinitions: keySchema.map((k) => ({ AttributeName: k.AttributeName!, AttributeType: 'S' })),
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    }
    gateway = new Gateway({
      callbackUrl: 'http://127.0.0.1:9/local',
      tables,
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
      dynamoDb: DynamoDBDocumentClient.from(base, { marshallOptions: { removeUndefinedValues: true } }),
      requestTimeoutMs: 300,
      random: () => 0,
    });
    for (const [id, owner] of [
      [CLIENT_A, 'A'],
      [CLIENT_B, 'B'],
    ] as const) {
      await gateway.registerConnection({ connectionId: id, connectedAt: Date.now() });
      await gateway.setSession(id, { owner });
    }
  });

  after(async () => {
    gateway.destroy();
    base.destroy();
    await dynamo.stop();
  });

  test("B's onMessage sees B's session, never A's, and each change is written under its own id", async () => {
    const seen: Record<string, unknown> = {};
    const handler = createMessageHandler({
      events: {
        onMessage: (clientId, _message, ctx) => {
          seen[clientId] = ctx.session.owner;
          ctx.session.seenBy = clientId;
        },
      },
      gateway,
    });
    // A's read is slow (and its retry, had it one); whether A's invocation then succeeds or fails, B's must be B's own.
    await dynamo.slowNext(2);
    await handler(messageEvent(CLIENT_A)).catch(() => undefined);
    await handler(messageEvent(CLIENT_B));
    assert.equal(seen[CLIENT_B], 'B', "B's onMessage saw another connection's session");
    assert.deepEqual(await gateway.getSession(CLIENT_B), { owner: 'B', seenBy: CLIENT_B });
    const a = await gateway.getSession(CLIENT_A);
    assert.equal(a?.owner, 'A');
    assert.notEqual(a?.seenBy, CLIENT_B);
  });

  test('two messages handled at once (as an in-process host may) each read and write their own session', async () => {
    const seen: Record<string, unknown> = {};
    const handler = createMessageHandler({
      events: {
        onMessage: (clientId, _message, ctx) => {
          seen[clientId] = ctx.session.owner;
          ctx.session.together = clientId;
        },
      },
      gateway,
    });
    await dynamo.slowNext(1);
    await Promise.all([handler(messageEvent(CLIENT_A)).catch(() => undefined), handler(messageEvent(CLIENT_B))]);
    assert.equal(seen[CLIENT_B], 'B');
    assert.equal((await gateway.getSession(CLIENT_B))?.together, CLIENT_B);
    assert.notEqual((await gateway.getSession(CLIENT_A))?.together, CLIENT_B);
  });
});
