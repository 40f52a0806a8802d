/**
 * The init sender stops early and cheaply when its client is gone (issue 17, item 3). A client that
 * connects and leaves at once leaves the sender with nothing but 410s; when `$disconnect` is not
 * delivered (it is best effort on AWS) the connection item stays, so the table cannot tell "not open
 * yet" from "gone". Past the connect grace a 410 means gone: the sender stops there instead of posting
 * and reading until `retryUntil` (`$connect`'s deadline plus 2 s). A clock that advances a fixed step
 * on every reading makes the counts exact, whatever the machine's speed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GatewayHarness, LOCAL_CREDENTIALS } from '../../testkit/gatewayHarness.ts';
import { managementClient } from '../helpers/awsClients.ts';
import { createInitSenderHandler, DEFAULT_BACKOFF } from '../../lambdas/initSenderHandler.ts';
import { ConnectionsTable } from '../../sdk/tables.ts';

/** A clock that moves `stepMs` forward each time it is read. */
function steppingClock(stepMs: number) {
  let now = 1_800_000_000_000;
  return () => (now += stepMs);
}

/** A PostToConnection stand-in answering 410 to everything, counting posts; it gives up (403) after `limit`. */
function alwaysGone(limit = 200) {
  let posts = 0;
  const client = {
    async send() {
      posts++;
      if (posts > limit) throw Object.assign(new Error('test: too many posts'), { name: 'ForbiddenException', $metadata: { httpStatusCode: 403 } });
      throw Object.assign(new Error('gone'), { name: 'GoneException', $metadata: { httpStatusCode: 410 } });
    },
  };
  return { client: client as unknown as ApiGatewayManagementApiClient, posts: () => posts };
}

/** A connections table whose item never goes away ($disconnect was never delivered), counting reads. */
function itemStays() {
  let reads = 0;
  const client = {
    async send() {
      reads++;
      return { Item: { connectionId: { S: 'AAAAAAAAAAAAAAA=' } } };
    },
  };
  return { table: { client: client as unknown as DynamoDBClient, tableName: 't', partitionKey: 'connectionId' }, reads: () => reads };
}

describe('the init sender and a client that is gone', () => {
  test('the default grace is 2 s: a handshake takes milliseconds after $connect invokes the sender', () => {
    assert.equal(DEFAULT_BACKOFF.connectGraceMs, 2000);
  });

  test('410s past the connect grace stop it (expired: the item is still there, so it counts as an init that never arrived), though retryUntil is far', async () => {
    const management = alwaysGone();
    const table = itemStays();
    const clock = steppingClock(100);
    const handler = createInitSenderHandler({
      management: management.client,
      connections: table.table,
      backoff: { firstDelayMs: 1, maxDelayMs: 1, existenceCheckEveryMs: 500, connectGraceMs: 1000 },
      now: clock,
      log: () => {},
    });
    const result = await handler({ connectionId: 'AAAAAAAAAAAAAAA=', messages: ['init'], retryUntil: clock() + 60_000 });
    assert.equal(result.outcome, 'expired');
    assert.equal(result.delivered, 0);
    // One clock reading (100 ms) per 410: the 1,000 ms grace ends at the 10th. Without the grace it
    // would go on to retryUntil (600 posts; the stand-in refuses the 201st).
    assert.equal(result.attempts, 10);
    assert.equal(management.posts(), 10);
    assert.ok(table.reads() <= 2, `${table.reads()} existence checks`);
  });

  test('a client whose item is gone (refused, or $disconnect ran) stops the sender after its first 410 and one read', async () => {
    const management = alwaysGone();
    let reads = 0;
    const noItem = { send: async () => (reads++, {}) } as unknown as DynamoDBClient;
    const clock = steppingClock(100);
    const handler = createInitSenderHandler({
      management: management.client,
      connections: { client: noItem, tableName: 't', partitionKey: 'connectionId' },
      backoff: { firstDelayMs: 1, maxDelayMs: 1, existenceCheckEveryMs: 500, connectGraceMs: 2000 },
      now: clock,
      log: () => {},
    });
    const result = await handler({ connectionId: 'AAAAAAAAAAAAAAA=', messages: ['init'], retryUntil: clock() + 60_000 });
    assert.deepEqual([result.outcome, result.attempts, reads], ['gone', 1, 1]);
  });

  test('inside the grace it still retries until the connection opens', async () => {
    let posts = 0;
    const opening = {
      async send() {
        posts++;
        if (posts < 4) throw Object.assign(new Error('gone'), { name: 'GoneException', $metadata: { httpStatusCode: 410 } });
        return {};
      },
    } as unknown as ApiGatewayManagementApiClient;
    const clock = steppingClock(100);
    const handler = createInitSenderHandler({
      management: opening,
      backoff: { firstDelayMs: 1, maxDelayMs: 1, connectGraceMs: 1000 },
      now: clock,
      log: () => {},
    });
    const result = await handler({ connectionId: 'AAAAAAAAAAAAAAA=', messages: ['init'], retryUntil: clock() + 60_000 });
    assert.deepEqual([result.outcome, result.delivered, result.attempts], ['sent', 1, 4]);
  });
});

describe('on the local gateway: a client that connected and left, its $disconnect dropped', { timeout: 60_000 }, () => {
  let h: GatewayHarness;
  before(async () => {
    h = await GatewayHarness.start();
  });
  after(() => h.stop());

  test('the item stays, every post answers 410, and the sender stops at the grace, not at retryUntil', async () => {
    const client = await h.connect();
    const id = client.id;
    h.local.setFaults({ dropDisconnectRate: 1 });
    try {
      await client.close();
    } finally {
      h.local.setFaults({});
    }
    // $disconnect never ran: the connection item is still in the table.
    assert.ok(await h.gateway.getConnection(id), 'the connection item stays');
    const dynamo = new DynamoDBClient({ endpoint: h.endpoints.dynamoEndpoint, region: h.endpoints.region, credentials: LOCAL_CREDENTIALS });
    const management = managementClient(h.endpoints);
    let reads = 0;
    const countingDynamo = { send: (command: never) => (reads++, dynamo.send(command)) } as unknown as DynamoDBClient;
    try {
      const clock = steppingClock(100);
      const handler = createInitSenderHandler({
        management,
        connections: { client: countingDynamo, tableName: h.tables.connections, partitionKey: ConnectionsTable.partitionKey },
        backoff: { firstDelayMs: 1, maxDelayMs: 1, existenceCheckEveryMs: 500, connectGraceMs: 2000 },
        now: clock,
        log: () => {},
      });
      const result = await handler({ connectionId: id, init: true, messages: [], retryUntil: clock() + 12_000 });
      assert.equal(result.outcome, 'expired');
      // 20 posts in the 2 s grace (100 ms a reading), against 120 until retryUntil; a read after the
      // first 410, then every 500 ms (the 1st, 6th, 11th and 16th).
      assert.equal(result.attempts, 20);
      assert.equal(reads, 4);
    } finally {
      management.destroy();
      dynamo.destroy();
    }
  });
});
