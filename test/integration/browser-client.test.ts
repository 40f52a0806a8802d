// The browser client (clients/browser/gateway-client.js) driven by `ws` in place of the browser's
// WebSocket, against a real local gateway: init on every connection, reconnect after a DELETE, a
// restart on the same port and an init that never comes, the backoff's bounds and cap, the
// heartbeat frame, JSON or text messages, close() for good. test/e2e/browser-example.test.ts runs the
// same module in Chromium.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import {
  connect,
  DEFAULTS,
  type GatewayClientOptions,
  type GatewayClientState,
  type GatewayInit,
  type GatewayStateInfo,
} from '../../clients/browser/gateway-client.js';
import { LocalGateway } from '../../local/index.ts';
import { builtinApp } from '../../local/builtinApp.ts';
import { managementClient } from '../helpers/awsClients.ts';
import { eventually } from '../helpers/wsClient.ts';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';

/** What a client reported, in order. */
function recorder() {
  const inits: GatewayInit[] = [];
  const messages: unknown[] = [];
  const states: Array<{ state: GatewayClientState; info: GatewayStateInfo }> = [];
  const options: GatewayClientOptions = {
    WebSocket: WebSocket as unknown as GatewayClientOptions['WebSocket'],
    onInit: (init) => inits.push(init),
    onMessage: (data) => messages.push(data),
    onStateChange: (state, info) => states.push({ state, info }),
  };
  return { inits, messages, states, options };
}

async function startGateway(options: Partial<ConstructorParameters<typeof LocalGateway>[0]> = {}): Promise<LocalGateway> {
  const gateway = new LocalGateway({ ...builtinApp(), ttlSweepIntervalMs: 0, ...options } as ConstructorParameters<typeof LocalGateway>[0]);
  await gateway.start();
  return gateway;
}

test('the defaults are the documented numbers', () => {
  assert.deepEqual({ ...DEFAULTS }, { initTimeoutMs: 10_000, minDelayMs: 1000, maxDelayMs: 30_000, stableAfterMs: 5000, heartbeatMs: 300_000 });
});

test('init reaches onInit, pushes arrive parsed as JSON or as text, a DELETE makes it reconnect with a new id, close() stops it', async () => {
  const gateway = await startGateway();
  const r = recorder();
  const client = connect(gateway.endpoints.wsUrl, { ...r.options, minDelayMs: 20, maxDelayMs: 100 });
  try {
    assert.equal(client.state, 'connecting');
    await eventually(
      () => r.inits.length,
      (n) => n === 1,
    );
    const first = r.inits[0]!.clientId;
    assert.equal(client.state, 'open');
    assert.equal(client.clientId, first);
    assert.equal(r.inits[0]!.bindToken, undefined); // this handler set sends no token

    const management = managementClient(gateway.endpoints);
    await management.send(new PostToConnectionCommand({ ConnectionId: first, Data: JSON.stringify({ type: 'say', text: 'hi' }) }));
    await management.send(new PostToConnectionCommand({ ConnectionId: first, Data: 'plain text' }));
    await eventually(
      () => r.messages.length,
      (n) => n === 2,
    );
    assert.deepEqual(r.messages, [{ type: 'say', text: 'hi' }, 'plain text']);

    assert.equal(gateway.deleteConnection(first), 'deleted');
    await eventually(
      () => r.inits.length,
      (n) => n === 2,
    );
    const second = r.inits[1]!.clientId;
    assert.notEqual(second, first);
    const reconnecting = r.states.find((s) => s.state === 'reconnecting')!;
    assert.equal(reconnecting.info.code, 1000);
    assert.equal(reconnecting.info.attempt, 1);
    assert.ok(reconnecting.info.delayMs! >= 10 && reconnecting.info.delayMs! <= 20, `first retry waits 10-20 ms, got ${reconnecting.info.delayMs}`);
    assert.equal(client.send({ action: 'hello' }), true);
    await eventually(
      () => r.messages.length,
      (n) => n === 3,
    );
    assert.deepEqual(r.messages[2], { type: 'echo', body: '{"action":"hello"}' });

    client.close();
    assert.equal(client.state, 'closed');
    assert.equal(client.send('late'), false);
    await eventually(
      () => gateway.stats().openConnections,
      (n) => n === 0,
    );
    const connects = gateway.stats().connects;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(gateway.stats().connects, connects, 'no connection after close()');
    assert.deepEqual(
      r.states.map((s) => s.state),
      ['connecting', 'open', 'reconnecting', 'open', 'closed'],
    );
  } finally {
    client.close();
    await gateway.stop();
  }
});

test('the gateway stopped and started again on the same port: the 1001 reconnects at once, the retries after it back off up to the cap, then the client binds with a new id', async () => {
  let gateway = await startGateway();
  const port = Number(new URL(gateway.endpoints.wsUrl).port);
  const r = recorder();
  const client = connect(gateway.endpoints.wsUrl, { ...r.options, minDelayMs: 20, maxDelayMs: 80 });
  try {
    await eventually(
      () => r.inits.length,
      (n) => n === 1,
    );
    await gateway.stop(); // closes every client with 1001
    await eventually(
      () => r.states.filter((s) => s.state === 'reconnecting').length,
      (n) => n >= 5,
      5000,
    );
    const [first, ...retries] = r.states.filter((s) => s.state === 'reconnecting').map((s) => s.info);
    // A 1001 (the gateway going away: its cut, idle, a deploy) reconnects at once; the failures after it back off.
    assert.equal(first!.code, 1001);
    assert.equal(first!.delayMs, 0);
    retries.forEach((info, n) => {
      const ceiling = Math.min(80, 20 * 2 ** n);
      assert.ok(info.delayMs! >= ceiling / 2 && info.delayMs! <= ceiling, `retry ${n + 1} waited ${info.delayMs} ms, outside [${ceiling / 2}, ${ceiling}]`);
      assert.equal(info.attempt, n + 1);
    });
    gateway = await startGateway({ port });
    await eventually(
      () => r.inits.length,
      (n) => n === 2,
      5000,
    );
    assert.notEqual(r.inits[1]!.clientId, r.inits[0]!.clientId);
    assert.equal(client.state, 'open');
  } finally {
    client.close();
    await gateway.stop();
  }
});

test('no init within the timeout closes the connection and retries; an init that comes later is taken', async () => {
  let sendInit = false;
  const app = builtinApp();
  const gateway = await startGateway({
    ...app,
    routes: {
      ...app.routes,
      $connect: async (event: any, context: any) => (sendInit ? (app.routes.$connect as any)(event, context) : { statusCode: 200 }),
    },
  });
  const r = recorder();
  const client = connect(gateway.endpoints.wsUrl, { ...r.options, initTimeoutMs: 150, minDelayMs: 20, maxDelayMs: 40 });
  try {
    await eventually(
      () => r.states.filter((s) => s.state === 'reconnecting').length,
      (n) => n >= 2,
      5000,
    );
    assert.equal(r.states.find((s) => s.state === 'reconnecting')!.info.reason, 'no init');
    assert.equal(client.state === 'reconnecting' || client.state === 'connecting', true);
    // The client closed each initless connection itself.
    await eventually(
      () => gateway.stats().disconnects,
      (n) => n >= 2,
    );
    sendInit = true;
    await eventually(
      () => r.inits.length,
      (n) => n === 1,
      5000,
    );
    assert.equal(client.state, 'open');
  } finally {
    client.close();
    await gateway.stop();
  }
});

test('the heartbeat sends {"action":"ping"} on the open connection', async () => {
  const gateway = await startGateway();
  const r = recorder();
  const client = connect(gateway.endpoints.wsUrl, { ...r.options, heartbeatMs: 40 });
  try {
    // builtinApp echoes every message back to its sender.
    await eventually(
      () => r.messages.length,
      (n) => n >= 2,
      5000,
    );
    assert.deepEqual(r.messages[0], { type: 'echo', body: '{"action":"ping"}' });
  } finally {
    client.close();
    await gateway.stop();
  }
});

test('a refused upgrade (nothing listening) is retried with backoff; close() while waiting stops it', async () => {
  const gateway = await startGateway();
  const url = gateway.endpoints.wsUrl;
  await gateway.stop();
  const r = recorder();
  const client = connect(url, { ...r.options, minDelayMs: 10, maxDelayMs: 40 });
  await eventually(
    () => r.states.filter((s) => s.state === 'reconnecting').length,
    (n) => n >= 4,
    5000,
  );
  const delays = r.states.filter((s) => s.state === 'reconnecting').map((s) => s.info.delayMs!);
  assert.ok(
    delays.slice(3).every((d) => d >= 20 && d <= 40),
    `capped at 40: ${delays}`,
  );
  client.close();
  const count = r.states.length;
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(r.states.length, count, 'nothing happens after close()');
  assert.equal(client.state, 'closed');
});
