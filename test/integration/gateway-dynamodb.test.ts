// Fidelity item 7: the embedded DynamoDB: tables from definitions, in memory or on disk, and TTL
// expiry, which dynalite lacks and the gateway adds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { LocalGateway, type LocalTableDefinition } from '../../local/index.ts';
import { documentClient } from '../helpers/awsClients.ts';

const tables: LocalTableDefinition[] = [
  { name: 'things', partitionKey: 'pk', sortKey: 'sk', timeToLiveAttribute: 'expiresAt' },
  { name: 'plain', partitionKey: 'id', globalSecondaryIndexes: [{ indexName: 'byOwner', partitionKey: 'owner' }] },
];

test('tables are created from their definitions, with keys and indexes', async () => {
  const gw = new LocalGateway({ routes: {}, tables, ttlSweepIntervalMs: 0 });
  const { dynamoEndpoint, region } = await gw.start();
  try {
    const client = new DynamoDBClient({ endpoint: dynamoEndpoint, region, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const things = await client.send(new DescribeTableCommand({ TableName: 'things' }));
    assert.deepEqual(things.Table!.KeySchema, [
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    const plain = await client.send(new DescribeTableCommand({ TableName: 'plain' }));
    assert.equal(plain.Table!.GlobalSecondaryIndexes![0]!.IndexName, 'byOwner');
  } finally {
    await gw.stop();
  }
});

test('DescribeTimeToLive reports ENABLED with the attribute for a table with a TTL attribute, DISABLED otherwise', async () => {
  const gw = new LocalGateway({ routes: {}, tables, ttlSweepIntervalMs: 0 });
  const { dynamoEndpoint, region } = await gw.start();
  try {
    // maxAttempts 1: a wrong x-amz-crc32 would make the SDK fail (and retry) instead of parsing.
    const client = new DynamoDBClient({ endpoint: dynamoEndpoint, region, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    const things = await client.send(new DescribeTimeToLiveCommand({ TableName: 'things' }));
    assert.deepEqual(things.TimeToLiveDescription, { AttributeName: 'expiresAt', TimeToLiveStatus: 'ENABLED' });
    const plain = await client.send(new DescribeTimeToLiveCommand({ TableName: 'plain' }));
    assert.deepEqual(plain.TimeToLiveDescription, { TimeToLiveStatus: 'DISABLED' });
    await assert.rejects(client.send(new DescribeTimeToLiveCommand({ TableName: 'missing' })), ResourceNotFoundException);
  } finally {
    await gw.stop();
  }
});

test('the TTL sweep deletes items whose expiry has passed and keeps the rest', async () => {
  const gw = new LocalGateway({ routes: {}, tables, ttlSweepIntervalMs: 0 });
  await gw.start();
  try {
    const docs = documentClient(gw.endpoints);
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < 30; i++) {
      await docs.send(new PutCommand({ TableName: 'things', Item: { pk: 'p', sk: `expired-${i}`, expiresAt: now - 10 } }));
    }
    await docs.send(new PutCommand({ TableName: 'things', Item: { pk: 'p', sk: 'live', expiresAt: now + 3600 } }));
    await docs.send(new PutCommand({ TableName: 'things', Item: { pk: 'p', sk: 'no-ttl' } }));
    await docs.send(new PutCommand({ TableName: 'things', Item: { pk: 'p', sk: 'string-ttl', expiresAt: 'soon' } }));
    assert.equal(await gw.sweepExpiredItems(), 30);
    const left = await docs.send(new ScanCommand({ TableName: 'things' }));
    assert.deepEqual(left.Items!.map((i) => i.sk).sort(), ['live', 'no-ttl', 'string-ttl']);
  } finally {
    await gw.stop();
  }
});

test('the TTL sweeper runs on its own at the configured interval', async () => {
  const gw = new LocalGateway({ routes: {}, tables, ttlSweepIntervalMs: 50 });
  await gw.start();
  try {
    const docs = documentClient(gw.endpoints);
    await docs.send(new PutCommand({ TableName: 'things', Item: { pk: 'p', sk: 'old', expiresAt: 1 } }));
    for (let i = 0; i < 100; i++) {
      const item = await docs.send(new GetCommand({ TableName: 'things', Key: { pk: 'p', sk: 'old' } }));
      if (!item.Item) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('the expired item was never swept');
  } finally {
    await gw.stop();
  }
});

test('with a dynamoPath the data survives a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-dynamo-'));
  try {
    const first = new LocalGateway({ routes: {}, tables, dynamoPath: dir, ttlSweepIntervalMs: 0 });
    await first.start();
    try {
      await documentClient(first.endpoints).send(new PutCommand({ TableName: 'plain', Item: { id: 'kept', owner: 'me' } }));
    } finally {
      await first.stop();
    }

    const second = new LocalGateway({ routes: {}, tables, dynamoPath: dir, ttlSweepIntervalMs: 0 });
    await second.start();
    try {
      const item = await documentClient(second.endpoints).send(new GetCommand({ TableName: 'plain', Key: { id: 'kept' } }));
      assert.deepEqual(item.Item, { id: 'kept', owner: 'me' });
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
