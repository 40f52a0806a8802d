// End to end: a chat app written like AWS's WebSocket chat sample runs unchanged on the local
// gateway, each function in its own worker with its own environment, the unmodified AWS SDK
// talking to the embedded DynamoDB and the @connections API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { LocalGateway } from '../../local/index.ts';
import { connect, eventually } from '../helpers/wsClient.ts';
import { documentClient } from '../helpers/awsClients.ts';

const app = (file: string) => fileURLToPath(new URL(`../fixtures/chat-app/${file}`, import.meta.url));

test('the AWS-style chat sample runs unchanged: connect stores ids, sendmessage reaches every client, stale ids are pruned', async () => {
  const environment = { TABLE_NAME: 'simplechat_connections' };
  const gw = new LocalGateway({
    stage: 'Prod',
    ttlSweepIntervalMs: 0,
    tables: [{ name: 'simplechat_connections', partitionKey: 'connectionId' }],
    functions: {
      OnConnectFunction: { entry: app('onconnect.mjs'), environment, timeoutMs: 10_000 },
      OnDisconnectFunction: { entry: app('ondisconnect.mjs'), environment, timeoutMs: 10_000 },
      SendMessageFunction: { entry: app('sendmessage.mjs'), environment, timeoutMs: 10_000 },
    },
    routes: { $connect: 'OnConnectFunction', $disconnect: 'OnDisconnectFunction', sendmessage: 'SendMessageFunction' },
  });
  const { wsUrl } = await gw.start();
  const table = documentClient(gw.endpoints);
  try {
    const alice = await connect(wsUrl);
    const bob = await connect(wsUrl);
    const carol = await connect(wsUrl);
    const stored = await table.send(new ScanCommand({ TableName: 'simplechat_connections' }));
    assert.equal(stored.Items!.length, 3);

    // A stale id, as a lost $disconnect leaves behind: the post answers 410 and the app deletes it.
    await table.send(new PutCommand({ TableName: 'simplechat_connections', Item: { connectionId: 'AAAAAAAAAAAAAAA=' } }));

    alice.send(JSON.stringify({ action: 'sendmessage', data: 'hello everyone' }));
    for (const client of [alice, bob, carol]) assert.equal(await client.message(0, 15_000), 'hello everyone');
    // The sample deletes the stale id after its 410, in the same invocation.
    await eventually(
      async () => (await table.send(new ScanCommand({ TableName: 'simplechat_connections' }))).Items!.length,
      (n) => n === 3,
      15_000,
    );

    await carol.close();
    await eventually(
      async () => (await table.send(new ScanCommand({ TableName: 'simplechat_connections' }))).Items!.length,
      (n) => n === 2,
      15_000,
    );
    bob.send(JSON.stringify({ action: 'sendmessage', data: 'carol left' }));
    assert.equal(await alice.message(1, 15_000), 'carol left');
    assert.equal(await bob.message(1, 15_000), 'carol left');
    assert.equal(carol.messages.length, 1);
    await alice.close();
    await bob.close();
  } finally {
    await gw.stop();
  }
});
