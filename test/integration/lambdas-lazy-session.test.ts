// The message handler reads the session only when onMessage touches ctx.session. The read is a
// prepared GetItem sent synchronously from the getter (sdk/blockingHttp.ts), so this test runs the
// handler on this thread against a DynamoDB (dynalite) on another thread, as a Lambda environment
// is against DynamoDB: had the DynamoDB been on this thread, the handler would read before onMessage
// (the last test shows that fallback).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { CreateTableCommand, DynamoDBClient, type KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createMessageHandler } from '../../lambdas/messageHandler.ts';
import type { GatewayEvents } from '../../lambdas/events.ts';
import type { WebSocketMessageEvent } from '../../lambdas/webSocketEvent.ts';
import { formatRequestTime } from '../../local/events.ts';
import { Gateway, NetworkError, ServiceError, type ConsumedCapacityEvent, type GatewayTableNames } from '../../sdk/index.ts';
import { GatewayTables } from '../../sdk/tables.ts';
import { GatewayHarness, LOCAL_CREDENTIALS } from '../../testkit/gatewayHarness.ts';

const tables: GatewayTableNames = { connections: 'lazy-connections', sessions: 'lazy-sessions', memberships: 'lazy-memberships', uids: 'lazy-uids', groups: 'lazy-groups' };
const CLIENT = 'LazyLazyLazy01A=';

/** dynalite on a worker thread of its own; resolves with its port. */
async function dynaliteOnAnotherThread(): Promise<{ port: number; stop: () => Promise<number> }> {
  const worker = new Worker(
    "const { parentPort } = require('node:worker_threads'); const server = require('dynalite')({ createTableMs: 0 }); server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));",
    { eval: true },
  );
  const [port] = (await once(worker, 'message')) as [number];
  return { port, stop: () => worker.terminate() };
}

function messageEvent(clientId: string, body: string): WebSocketMessageEvent {
  const now = Date.now();
  return {
    body,
    isBase64Encoded: false,
    requestContext: {
      routeKey: '$default',
      eventType: 'MESSAGE',
      extendedRequestId: 'r',
      requestTime: formatRequestTime(now),
      messageDirection: 'IN',
      connectionId: clientId,
      connectedAt: now,
      requestId: 'r',
      requestTimeEpoch: now,
      stage: 'test',
      domainName: '127.0.0.1',
      apiId: 'local',
      identity: { sourceIp: '127.0.0.1' },
      messageId: 'm',
    },
  };
}

describe('the lazy ctx.session, against a DynamoDB on another thread', { timeout: 60_000 }, () => {
  let dynamo: { port: number; stop: () => Promise<number> };
  let base: DynamoDBClient;
  let gateway: Gateway;
  const events: ConsumedCapacityEvent[] = [];
  const sessionReads = () => events.filter((e) => e.table === tables.sessions && e.command === 'GetItem');
  const sessionWrites = () => events.filter((e) => e.table === tables.sessions && e.command === 'UpdateItem');
  const logged: string[] = [];
  const handlerFor = (onMessage: NonNullable<GatewayEvents['onMessage']>, gw: Gateway = gateway) =>
    createMessageHandler({ events: { onMessage }, gateway: gw, log: (message) => void logged.push(message) });

  before(async () => {
    dynamo = await dynaliteOnAnotherThread();
    base = new DynamoDBClient({ endpoint: `http://127.0.0.1:${dynamo.port}`, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
    for (const role of Object.keys(tables) as Array<keyof GatewayTableNames>) {
      const keys = GatewayTables[role];
      const keySchema: KeySchemaElement[] = [{ AttributeName: keys.partitionKey, KeyType: 'HASH' }, ...('sortKey' in keys ? [{ AttributeName: keys.sortKey, KeyType: 'RANGE' as const }] : [])];
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
      onConsumedCapacity: (e) => void events.push(e),
    });
    await gateway.registerConnection({ connectionId: CLIENT, connectedAt: Date.now() });
    await gateway.setSession(CLIENT, { count: 1, keep: 'me' });
  });

  after(async () => {
    gateway.destroy();
    base.destroy();
    await dynamo.stop();
  });

  test('a callback that never touches ctx.session costs no session read and no write', async () => {
    events.length = 0;
    let seen = '';
    await handlerFor((_id, message) => void (seen = message))(messageEvent(CLIENT, 'ping'));
    assert.equal(seen, 'ping');
    assert.deepEqual(events, []);
  });

  test('reading it reads the session once (synchronously, in the getter); a change is saved as a merge', async () => {
    events.length = 0;
    const counts: unknown[] = [];
    await handlerFor((_id, _m, ctx) => {
      counts.push(ctx.session.count);
      ctx.session.count = Number(ctx.session.count) + 1;
      counts.push(ctx.session.count);
    })(messageEvent(CLIENT, 'x'));
    assert.deepEqual(counts, [1, 2]);
    assert.equal(sessionReads().filter((e) => e.operation === 'getSession').length, 1, 'one read for the getter');
    assert.equal(sessionWrites().length, 1);
    assert.deepEqual(await gateway.getSession(CLIENT), { count: 2, keep: 'me' });
  });

  test('reading it without changing it writes nothing', async () => {
    events.length = 0;
    await handlerFor((_id, _m, ctx) => void ctx.session.keep)(messageEvent(CLIENT, 'x'));
    assert.equal(sessionReads().length, 1);
    assert.equal(sessionWrites().length, 0);
  });

  test('replacing it without reading it first still reads it, so that only what changed is written', async () => {
    events.length = 0;
    await handlerFor((_id, _m, ctx) => {
      ctx.session = { count: 2, keep: 'me', added: true };
    })(messageEvent(CLIENT, 'x'));
    assert.equal(sessionReads().filter((e) => e.operation === 'getSession').length, 1);
    assert.deepEqual(await gateway.getSession(CLIENT), { count: 2, keep: 'me', added: true });
  });

  test('after an await: the getter still reads then', async () => {
    await handlerFor(async (_id, _m, ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      ctx.session.late = 'yes';
    })(messageEvent(CLIENT, 'x'));
    assert.equal((await gateway.getSession(CLIENT))?.late, 'yes');
  });

  test('a client that is gone: ctx.session is {}, and a change is logged, not saved', async () => {
    logged.length = 0;
    const gone = 'GoneGoneGone01A=';
    let session: unknown;
    await handlerFor((_id, _m, ctx) => {
      session = { ...ctx.session };
      ctx.session.x = 1;
    })(messageEvent(gone, 'x'));
    assert.deepEqual(session, {});
    assert.deepEqual(logged, ['onMessage: the session was not saved; the client is gone']);
    assert.equal(await gateway.getSession(gone), undefined);
  });

  test('a read DynamoDB refuses is a typed error thrown from the getter, and the invocation fails', async () => {
    const wrong = new Gateway({
      callbackUrl: 'http://127.0.0.1:9/local',
      tables: { ...tables, sessions: 'no-such-sessions' },
      region: 'us-east-1',
      credentials: LOCAL_CREDENTIALS,
      dynamoDb: DynamoDBDocumentClient.from(base),
    });
    let thrown: unknown;
    try {
      await assert.rejects(
        handlerFor((_id, _m, ctx) => {
          try {
            void ctx.session.x;
          } catch (error) {
            thrown = error;
            throw error;
          }
        }, wrong)(messageEvent(CLIENT, 'x')),
        (e: unknown) => e instanceof ServiceError && e.errorType === 'ResourceNotFoundException' && e.statusCode === 400,
      );
    } finally {
      wrong.destroy();
    }
    assert.ok(thrown instanceof ServiceError);
  });

  test('a DynamoDB that does not answer: a NetworkError after the retries', async () => {
    const closed = new DynamoDBClient({ endpoint: 'http://127.0.0.1:9', region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
    const unreachable = new Gateway({ callbackUrl: 'http://127.0.0.1:9/local', tables, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, dynamoDb: DynamoDBDocumentClient.from(closed), random: () => 0 });
    try {
      await assert.rejects(handlerFor((_id, _m, ctx) => void ctx.session.x, unreachable)(messageEvent(CLIENT, 'x')), NetworkError);
    } finally {
      unreachable.destroy();
      closed.destroy();
    }
  });
});

describe('the fallback, with the DynamoDB on this thread (the in-process local gateway)', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  before(async () => {
    h = await GatewayHarness.start();
  });
  after(() => h.stop());

  test('the session is read before onMessage, as blocking for it here would never end; the answers are the same', async () => {
    const client = await h.connect();
    await h.gateway.setSession(client.id, { n: 1 });
    const events: ConsumedCapacityEvent[] = [];
    const gw = h.newGateway({ onConsumedCapacity: (e) => void events.push(e) });
    await createMessageHandler({ events: { onMessage: () => {} }, gateway: gw })(messageEvent(client.id, 'x'));
    assert.deepEqual(
      events.map((e) => [e.operation, e.command, e.table]),
      [['getSession', 'GetItem', h.tables.sessions]],
    );
    await createMessageHandler({ events: { onMessage: (_id, _m, ctx) => void (ctx.session.n = 2) }, gateway: gw })(messageEvent(client.id, 'x'));
    assert.deepEqual(await gw.getSession(client.id), { n: 2 });
  });
});
