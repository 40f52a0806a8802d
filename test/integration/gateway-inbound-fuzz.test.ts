// Bad input on the wire: random text, binary, invalid JSON, oversized frames and raw garbage after the
// handshake. Every case ends either routed (text up to the limits) or closed with a documented code,
// and neither the gateway nor any other connection is disturbed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LocalGateway, type WebSocketMessageEvent } from '../../local/index.ts';
import { connect, eventually, type TestClient } from '../helpers/wsClient.ts';
import { openRawWebSocket } from '../helpers/rawWebSocket.ts';

/** Close codes the gateway documents for bad inbound data. */
const DOCUMENTED_CLOSE_CODES = new Set([1002, 1003, 1007, 1009]);

let gw: LocalGateway;
const routed = new Map<string, string[]>();
let bystander: TestClient;

before(async () => {
  gw = new LocalGateway({
    ttlSweepIntervalMs: 0,
    routes: {
      $default: async (e: WebSocketMessageEvent) => {
        const list = routed.get(e.requestContext.connectionId) ?? [];
        list.push(e.body);
        routed.set(e.requestContext.connectionId, list);
      },
      chat: async (e: WebSocketMessageEvent) => void (routed.get('chat') ?? routed.set('chat', []).get('chat')!).push(e.body),
    },
  });
  await gw.start();
  bystander = await connect(gw.endpoints.wsUrl);
});

after(async () => {
  await bystander.close();
  await gw.stop();
});

async function assertHealthy(): Promise<void> {
  assert.equal(bystander.socket.readyState, bystander.socket.OPEN, 'a bystander connection is never disturbed');
  const probe = await connect(gw.endpoints.wsUrl);
  const marker = `probe-${Math.random()}`;
  probe.send(marker);
  await eventually(() => [...routed.values()].some((bodies) => bodies.includes(marker)));
  await probe.close();
}

test('any text message within the limits is routed with its exact body and the connection stays open', async () => {
  const client = await connect(gw.endpoints.wsUrl);
  const sent: string[] = [];
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.string({ maxLength: 200, unit: 'grapheme' }),
        fc.json({ maxDepth: 3 }),
        fc.string({ maxLength: 50 }).map((s) => `{"action": ${JSON.stringify(s)}`), // truncated JSON
        fc.constant('{"action":"chat"}'.slice(0, 9)),
      ),
      async (body) => {
        client.send(body);
        sent.push(body);
      },
    ),
    { numRuns: 200 },
  );
  const total = () => [...routed.values()].reduce((n, list) => n + list.length, 0);
  await eventually(total, (n) => n >= sent.length);
  const received = [...routed.values()].flat().sort();
  assert.deepEqual(received, [...sent].sort());
  assert.equal(client.socket.readyState, client.socket.OPEN);
  await client.close();
  routed.clear();
});

test('any binary frame closes its connection with 1003 and reaches no route', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 2048 }), async (bytes) => {
      const client = await connect(gw.endpoints.wsUrl);
      client.send(Buffer.from(bytes), { binary: true });
      assert.equal((await client.closed).code, 1003);
    }),
    { numRuns: 25 },
  );
  assert.equal(routed.size, 0);
  await assertHealthy();
  routed.clear();
});

test('a text frame over 32 KB closes with 1009, whatever its content', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 32 * 1024 + 1, max: 200 * 1024 }), fc.string({ minLength: 1, maxLength: 8 }), async (size, seed) => {
      const client = await connect(gw.endpoints.wsUrl);
      client.send(seed.repeat(Math.ceil(size / seed.length)).slice(0, size));
      assert.equal((await client.closed).code, 1009);
    }),
    { numRuns: 15 },
  );
  assert.equal(routed.size, 0);
  await assertHealthy();
  routed.clear();
});

test('raw garbage after the handshake ends in a documented close code, and the gateway carries on', async () => {
  await fc.assert(
    // A client close frame would be answered with its own code; every other opcode is fair game.
    fc.asyncProperty(
      fc.uint8Array({ minLength: 1, maxLength: 512 }).filter((b) => (b[0]! & 0x0f) !== 0x8),
      async (bytes) => {
        const { socket, closeCode } = await openRawWebSocket(gw.endpoints.wsUrl);
        socket.write(Buffer.from(bytes));
        // Bytes that happen to form an incomplete frame leave the connection waiting for more: end it.
        const timer = setTimeout(() => socket.end(), 200);
        const code = await closeCode;
        clearTimeout(timer);
        socket.destroy();
        if (code !== undefined) assert.ok(DOCUMENTED_CLOSE_CODES.has(code), `close code ${code}`);
      },
    ),
    { numRuns: 60 },
  );
  await eventually(
    () => gw.stats().openConnections,
    (n) => n === 1,
  );
  await assertHealthy();
});
