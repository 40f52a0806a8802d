// Fidelity item 8: fault injection. $disconnect is best effort on AWS, and @connections answers 429
// (throttling, or a full client buffer) and 500; tests of code above the gateway need all three.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { LocalGateway, type WebSocketEvent } from '../../local/index.ts';
import { connect, eventually } from '../helpers/wsClient.ts';
import { managementClient } from '../helpers/awsClients.ts';

async function gatewayWithRecorder(options: Partial<ConstructorParameters<typeof LocalGateway>[0]> = {}) {
  const events: WebSocketEvent[] = [];
  const record = async (e: WebSocketEvent) => void events.push(e);
  const gw = new LocalGateway({ ttlSweepIntervalMs: 0, routes: { $connect: record, $disconnect: record }, ...options });
  await gw.start();
  return { gw, events };
}

test('dropDisconnectRate 1 loses every $disconnect; 0 delivers them again', async () => {
  const { gw, events } = await gatewayWithRecorder({ faults: { dropDisconnectRate: 1 } });
  try {
    const a = await connect(gw.endpoints.wsUrl);
    await a.close();
    await eventually(() => gw.stats().droppedDisconnects === 1);
    assert.equal(events.filter((e) => e.requestContext.eventType === 'DISCONNECT').length, 0);
    gw.setFaults({ dropDisconnectRate: 0 });
    const b = await connect(gw.endpoints.wsUrl);
    await b.close();
    await eventually(() => events.filter((e) => e.requestContext.eventType === 'DISCONNECT').length === 1);
  } finally {
    await gw.stop();
  }
});

test('throttleRate answers 429 LimitExceededException and serverErrorRate answers 500, for the chosen share', async () => {
  let n = 0;
  const sequence = [0.1, 0.9, 0.1]; // request 1: throttle roll hits; request 2: throttle roll misses, error roll hits
  const { gw, events } = await gatewayWithRecorder({ faults: { throttleRate: 0.5, serverErrorRate: 0.5, random: () => sequence[n++ % sequence.length]! } });
  try {
    const ws = await connect(gw.endpoints.wsUrl);
    const id = events[0]!.requestContext.connectionId;
    const client = managementClient(gw.endpoints);
    await assert.rejects(client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'a' })), { name: 'LimitExceededException' });
    await assert.rejects(
      client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'b' })),
      (e: Error & { $metadata: { httpStatusCode: number } }) => e.$metadata.httpStatusCode === 500,
    );
    gw.setFaults({});
    await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'c' }));
    assert.deepEqual([await ws.message(0)], ['c'], 'faulted posts deliver nothing');
    await ws.close();
  } finally {
    await gw.stop();
  }
});

test('with injected faults the stock SDK client, which retries 429 and 500, still delivers every message', async () => {
  const { gw, events } = await gatewayWithRecorder({ faults: { throttleRate: 0.2, serverErrorRate: 0.1 } });
  try {
    const ws = await connect(gw.endpoints.wsUrl);
    const id = events[0]!.requestContext.connectionId;
    const client = managementClient(gw.endpoints, 10);
    for (let i = 0; i < 20; i++) await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: String(i) }));
    await ws.message(19);
    assert.deepEqual(
      ws.messages,
      Array.from({ length: 20 }, (_, i) => String(i)),
    );
    await ws.close();
  } finally {
    await gw.stop();
  }
});

test('fault rates outside 0..1 are refused', () => {
  assert.throws(() => new LocalGateway({ routes: {}, faults: { throttleRate: 2 } }), RangeError);
});

test('a client whose buffer is full gets 429, as AWS answers for a slow consumer', async () => {
  const { gw, events } = await gatewayWithRecorder({ limits: { clientBufferBytes: 0 } });
  try {
    const ws = await connect(gw.endpoints.wsUrl);
    ws.socket.pause();
    const id = events[0]!.requestContext.connectionId;
    let throttled = false;
    for (let i = 0; i < 200 && !throttled; i++) throttled = gw.postToConnection(id, Buffer.alloc(100_000, 97)) === 'client-buffer-full';
    assert.ok(throttled);
    ws.socket.resume();
    await ws.close();
  } finally {
    await gw.stop();
  }
});

test('dropConnection cuts the socket without a close frame; $disconnect reports 1006', async () => {
  const { gw, events } = await gatewayWithRecorder();
  try {
    const ws = await connect(gw.endpoints.wsUrl);
    const id = events[0]!.requestContext.connectionId;
    assert.equal(gw.dropConnection(id), true);
    assert.equal((await ws.closed).code, 1006);
    const disconnect = await eventually(() => events.find((e) => e.requestContext.eventType === 'DISCONNECT'));
    assert.equal(disconnect!.requestContext.disconnectStatusCode, 1006);
  } finally {
    await gw.stop();
  }
});
