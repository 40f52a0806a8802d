// Fidelity item 5 (A11 MUST 5 and 6): the quotas, each shortened or exercised here, and the
// $disconnect that follows every close with its code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalGateway, type LocalGatewayOptions, type WebSocketDisconnectEvent } from '../../local/index.ts';
import { connect, eventually } from '../helpers/wsClient.ts';
import { openRawWebSocket } from '../helpers/rawWebSocket.ts';

async function withGateway(
  options: Partial<LocalGatewayOptions>,
  body: (gw: LocalGateway, disconnects: WebSocketDisconnectEvent[], bodies: string[]) => Promise<void>,
) {
  const disconnects: WebSocketDisconnectEvent[] = [];
  const bodies: string[] = [];
  const gw = new LocalGateway({
    ttlSweepIntervalMs: 0,
    routes: {
      $disconnect: async (e: WebSocketDisconnectEvent) => void disconnects.push(e),
      $default: async (e: { body: string }) => void bodies.push(e.body),
    },
    ...options,
  });
  await gw.start();
  try {
    await body(gw, disconnects, bodies);
  } finally {
    await gw.stop();
  }
}

test('a single frame over 32 KB closes the connection with 1009 and is never routed', async () => {
  await withGateway({}, async (gw, disconnects, bodies) => {
    const ws = await connect(gw.endpoints.wsUrl);
    ws.send('x'.repeat(32 * 1024 + 1));
    assert.equal((await ws.closed).code, 1009);
    await eventually(() => disconnects.length === 1);
    assert.equal(disconnects[0]!.requestContext.disconnectStatusCode, 1009);
    assert.deepEqual(bodies, []);
  });
});

test('a 100 KB message in 32 KB frames is delivered whole', async () => {
  await withGateway({}, async (gw, _d, bodies) => {
    const ws = await connect(gw.endpoints.wsUrl);
    const chunk = 'y'.repeat(25 * 1024);
    for (let i = 0; i < 4; i++) ws.send(chunk, { fin: i === 3 });
    await eventually(() => bodies.length === 1);
    assert.equal(bodies[0]!.length, 100 * 1024);
    await ws.close();
  });
});

test('a message over 128 KB, even in small frames, closes with 1009', async () => {
  await withGateway({}, async (gw, disconnects, bodies) => {
    const ws = await connect(gw.endpoints.wsUrl);
    const chunk = 'z'.repeat(30 * 1024);
    for (let i = 0; i < 5; i++) ws.send(chunk, { fin: i === 4 });
    assert.equal((await ws.closed).code, 1009);
    await eventually(() => disconnects.length === 1);
    assert.equal(disconnects[0]!.requestContext.disconnectStatusCode, 1009);
    assert.deepEqual(bodies, []);
  });
});

test('an inbound binary frame closes the connection with 1003', async () => {
  await withGateway({}, async (gw, disconnects, bodies) => {
    const ws = await connect(gw.endpoints.wsUrl);
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.equal((await ws.closed).code, 1003);
    await eventually(() => disconnects.length === 1);
    assert.equal(disconnects[0]!.requestContext.disconnectStatusCode, 1003);
    assert.deepEqual(bodies, []);
  });
});

test('an idle connection is closed with 1001 after the idle timeout; messages keep it open', async () => {
  await withGateway({ limits: { idleTimeoutMs: 300 } }, async (gw, disconnects) => {
    const busy = await connect(gw.endpoints.wsUrl);
    const idle = await connect(gw.endpoints.wsUrl);
    const keepAlive = setInterval(() => busy.send('ping'), 50);
    try {
      assert.equal((await idle.closed).code, 1001);
      assert.equal(busy.socket.readyState, busy.socket.OPEN, 'the busy connection outlives the idle one');
    } finally {
      clearInterval(keepAlive);
    }
    await eventually(() => disconnects.length >= 1);
    assert.equal(disconnects[0]!.requestContext.disconnectStatusCode, 1001);
    await busy.close();
  });
});

test('a connection is closed with 1001 at the maximum duration even when busy', async () => {
  await withGateway({ limits: { maxConnectionDurationMs: 300 } }, async (gw, disconnects) => {
    const ws = await connect(gw.endpoints.wsUrl);
    const keepAlive = setInterval(() => ws.socket.readyState === ws.socket.OPEN && ws.send('ping'), 50);
    try {
      assert.equal((await ws.closed).code, 1001);
    } finally {
      clearInterval(keepAlive);
    }
    await eventually(() => disconnects.length === 1);
    assert.equal(disconnects[0]!.requestContext.disconnectStatusCode, 1001);
  });
});

test('limits are configurable: a 1 KB message limit closes a 2 KB message with 1009', async () => {
  await withGateway({ limits: { maxMessageBytes: 1024, maxFrameBytes: 512 } }, async (gw) => {
    const ws = await connect(gw.endpoints.wsUrl);
    ws.send('a'.repeat(400), { fin: false });
    ws.send('a'.repeat(400), { fin: false });
    ws.send('a'.repeat(400), { fin: true });
    assert.equal((await ws.closed).code, 1009);
  });
});

/** A client frame: FIN, the opcode, masked with a zero key unless `masked` is false. */
function clientFrame(opcode: number, payload: Buffer, masked = true): Buffer {
  const header = Buffer.from([0x80 | opcode, (masked ? 0x80 : 0) | payload.length]);
  return Buffer.concat([header, masked ? Buffer.alloc(4) : Buffer.alloc(0), payload]);
}

test('a malformed frame closes with 1002 and invalid UTF-8 with 1007; $disconnect reports those codes', async () => {
  await withGateway({}, async (gw, disconnects, bodies) => {
    const unmasked = await openRawWebSocket(gw.endpoints.wsUrl);
    unmasked.socket.write(clientFrame(0x1, Buffer.from('hi'), false));
    assert.equal(await unmasked.closeCode, 1002);
    unmasked.socket.destroy();
    const badUtf8 = await openRawWebSocket(gw.endpoints.wsUrl);
    badUtf8.socket.write(clientFrame(0x1, Buffer.from([0xc3, 0x28])));
    assert.equal(await badUtf8.closeCode, 1007);
    badUtf8.socket.destroy();
    await eventually(() => disconnects.length === 2);
    assert.deepEqual(disconnects.map((d) => d.requestContext.disconnectStatusCode).sort(), [1002, 1007]);
    assert.deepEqual(bodies, []);
  });
});
