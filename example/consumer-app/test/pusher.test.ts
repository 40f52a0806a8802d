// The app's Pusher Lambda tested against the app's own backend on the local gateway: the bundles in
// cdk.out ($connect with src/events.ts compiled in, the tables, the init sender) run as they would on
// AWS, a real WebSocket client connects, and the handler runs in this process with the environment
// the gateway hands a backend. Run `npm run build && npm run synth` first.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Gateway } from 'serverless-gateway-worker';
import { LocalGateway, loadCloudAssembly, sharedEnvironmentOf, type GatewayEndpoints } from 'serverless-gateway-worker/local';

const app = loadCloudAssembly({ directory: 'cdk.out', stackName: 'Dev/Chat' });
// Ports 0: free ones; DynamoDB in memory. sharedEnvironmentOf: the table names and callback URL.
const local = new LocalGateway({ ...app.gatewayOptions, environment: sharedEnvironmentOf(app) });
let endpoints: GatewayEndpoints;

before(async () => {
  endpoints = await local.start();
  // What Gateway.fromEnv() and the AWS SDK read: region, credentials, endpoints, table names.
  Object.assign(process.env, endpoints.env);
});
after(() => local.stop());

/** A browser-style client that collects the messages it receives. */
async function openClient(query: string): Promise<{ next(): Promise<unknown>; close(): void }> {
  const socket = new WebSocket(`${endpoints.wsUrl}?${query}`);
  const received: string[] = [];
  const waiters: Array<() => void> = [];
  socket.addEventListener('message', (event) => {
    received.push(String(event.data));
    waiters.shift()?.();
  });
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', () => reject(new Error('the connection was refused')), { once: true });
  });
  return {
    async next() {
      while (received.length === 0) await new Promise<void>((resolve) => waiters.push(resolve));
      return JSON.parse(received.shift()!);
    },
    close: () => socket.close(),
  };
}

test('the Events module refuses a connection without a token', async () => {
  await assert.rejects(openClient('user=mallory'), /refused/);
});

test('the pusher reaches every connection bound to the uid', async () => {
  const client = await openClient('token=t&user=alice');
  try {
    const init = (await client.next()) as { type: string; client_id: string };
    assert.equal(init.type, 'init');
    // The app's web backend binds the client after its login, as GatewayClient's bindUid does.
    const backend = Gateway.fromEnv();
    await backend.bindUid(init.client_id, 'alice');
    backend.destroy();

    const { handler } = await import('../src/pusher.js');
    assert.deepEqual(await handler({ uid: 'alice', text: 'hello' }), { sent: 1, gone: 0 });
    assert.deepEqual(await client.next(), { type: 'notice', text: 'hello' });
    assert.deepEqual(await handler({ uid: 'nobody', text: 'lost' }), { sent: 0, gone: 0 });
  } finally {
    client.close();
  }
});
