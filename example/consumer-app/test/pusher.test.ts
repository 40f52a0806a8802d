// test/pusher.test.ts: the app's Pusher Lambda against the app's own backend on the local gateway.
// Run `npm run build && npm run synth` first; then `npm test`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from 'serverless-gateway-worker';
import { LocalGateway, loadCloudAssembly, sharedEnvironmentOf, type GatewayEndpoints } from 'serverless-gateway-worker/local';

// The bundles cdk.out holds ($connect with src/events.ts compiled in, the init sender, ...) and the
// tables; free ports, DynamoDB in memory.
const app = loadCloudAssembly({ directory: 'cdk.out', stackName: 'Dev/Chat' });
const local = new LocalGateway({ ...app.gatewayOptions, environment: sharedEnvironmentOf(app) });
let endpoints: GatewayEndpoints;

before(async () => {
  endpoints = await local.start();
  Object.assign(process.env, endpoints.env); // what Gateway.fromEnv() and the AWS SDK read
});
after(() => local.stop());

/** A browser-like client (Node's WebSocket) that hands out the JSON messages it receives, in order. */
async function openClient(query: string) {
  const socket = new WebSocket(`${endpoints.wsUrl}?${query}`);
  const received: string[] = [];
  let wake = () => {};
  socket.addEventListener('message', (event) => {
    received.push(String(event.data));
    wake();
  });
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve);
    socket.addEventListener('error', () => reject(new Error('connection refused')));
  });
  return {
    async next(): Promise<unknown> {
      while (received.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return JSON.parse(received.shift()!);
    },
    close: () => socket.close(),
  };
}

test('the Events module refuses a connection without a token', async () => {
  await assert.rejects(openClient('user=mallory'), /connection refused/);
});

test('the pusher reaches the connection bound to the uid', async () => {
  const client = await openClient('token=t&user=alice');
  try {
    const init = (await client.next()) as { type: string; client_id: string; bind_token: string };
    assert.equal(init.type, 'init');
    // The web backend binds the client after its login, as with GatewayClient's bindUid; the page
    // forwards the init message's bind token with the client id (the construct requires it).
    const backend = Gateway.fromEnv();
    await backend.bindUid(init.client_id, 'alice', { bindToken: init.bind_token });
    backend.destroy();

    const { handler } = await import('../src/pusher.js'); // after the environment is set
    assert.deepEqual(await handler({ uid: 'alice', text: 'hello' }), { sent: 1, gone: 0 });
    assert.deepEqual(await client.next(), { type: 'notice', text: 'hello' });
    assert.deepEqual(await handler({ uid: 'nobody', text: 'lost' }), { sent: 0, gone: 0 });
  } finally {
    client.close();
  }
});
