// Bad inbound frames against the whole backend: the synthesized app from cdk.out (its bundled
// $connect, $disconnect, message and init-sender Lambdas) on the local gateway. It extends
// gateway-inbound-fuzz.test.ts, which fuzzes the bare gateway with inline routes, with what only the
// real backend can show:
// - every text message within the limits (random text, invalid JSON, JSON of any shape, route keys
//   that name special routes, fragmented messages up to 128 KB) is routed to the real message
//   Lambda, which never fails on it (no "Internal server error" frame) and stores nothing;
// - binary frames, text frames that are not UTF-8, frames over 32 KB, messages over 128 KB and raw
//   garbage end with a documented close code (1002, 1003, 1007, 1009) or a cut socket, after which
//   the real $disconnect removes that connection's items;
// - in every case the other connections' items, bindings, groups and sessions stay byte-identical, and
//   they are still reached by sends.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LocalGateway, type GatewayEndpoints } from '../../local/index.ts';
import { Gateway, type GatewayTableNames } from '../../sdk/index.ts';
import { connect, type TestClient } from '../helpers/wsClient.ts';
import { openRawWebSocket } from '../helpers/rawWebSocket.ts';
import { copySynthesizedApp, tableNamesOf } from '../../testkit/synthesizedApp.ts';

/** Close codes the gateway documents for bad inbound data (local/limits.ts and ws's protocol errors). */
const DOCUMENTED_CLOSE_CODES = new Set([1002, 1003, 1007, 1009]);
const FRAME_LIMIT = 32 * 1024;
const MESSAGE_LIMIT = 128 * 1024;
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const params = (numRuns: number) => ({ numRuns, ...(seed === undefined ? {} : { seed }) });

let gw: LocalGateway;
let endpoints: GatewayEndpoints;
let tables: GatewayTableNames;
let raw: DynamoDBClient;
let doc: DynamoDBDocumentClient;
let sdk: Gateway;
let disposeAssembly: () => void;
/** Connections that are not fuzzed: bound, grouped, with sessions. */
const bystanders: Array<{ client: TestClient; id: string }> = [];
/** The other connections' stored state, as it must stay. */
let baseline: string;

before(async () => {
  const synthesized = copySynthesizedApp('properties-frames');
  disposeAssembly = synthesized.dispose;
  const { app } = synthesized;
  tables = tableNamesOf(app);
  gw = new LocalGateway({ ...app.gatewayOptions, ttlSweepIntervalMs: 0 });
  endpoints = await gw.start();
  raw = new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials });
  doc = DynamoDBDocumentClient.from(raw);
  sdk = new Gateway({ callbackUrl: endpoints.callbackUrl, tables, region: endpoints.region, credentials, dynamoDb: doc, logger: { warn: () => {} } });
  for (let i = 0; i < 3; i++) bystanders.push(await open());
  await sdk.bindUid(bystanders[0]!.id, 'bystander-uid');
  for (const b of bystanders) await sdk.joinGroup(b.id, 'bystanders');
  await sdk.joinGroup(bystanders[1]!.id, 'second-group');
  await sdk.setSession(bystanders[1]!.id, { name: 'b1', nested: { n: 1, list: [1, 'two', null] } });
  await sdk.updateSession(bystanders[2]!.id, { counter: 3 });
  baseline = await othersState();
});

after(async () => {
  // The bystanders are still there and still reached, whatever the fuzzing did.
  try {
    assert.equal(await othersState(), baseline);
    const report = await sdk.sendToGroup('bystanders', 'still here');
    assert.deepEqual(report.sent.sort(), bystanders.map((b) => b.id).sort());
    for (const b of bystanders) await until(() => b.client.messages.includes('still here'));
  } finally {
    for (const b of bystanders) b.client.socket.terminate();
    sdk.destroy();
    await gw.stop();
    doc.destroy();
    raw.destroy();
    disposeAssembly();
  }
});

async function until(probe: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await probe())) await new Promise((resolve) => setTimeout(resolve, 2));
}

/**
 * A connection through the real $connect; its id is the one the gateway opened. It waits for the init
 * message, as a browser would before misbehaving (so that no init sender is still retrying when the
 * connection is closed).
 */
async function open(): Promise<{ client: TestClient; id: string }> {
  const before = new Set(gw.openConnectionIds());
  const client = await connect(endpoints.wsUrl);
  const id = gw.openConnectionIds().find((x) => !before.has(x))!;
  await until(() => client.messages.length > 0);
  const init = JSON.parse(client.messages[0]!);
  assert.deepEqual([init.type, init.client_id, typeof init.bind_token], ['init', id, 'string']);
  return { client, id };
}

/** Every item of the five tables that does not belong to `except`, exactly as stored. */
async function othersState(except?: string): Promise<string> {
  const state: Record<string, Array<Record<string, AttributeValue>>> = {};
  for (const [role, name] of Object.entries(tables)) {
    const items = (await raw.send(new ScanCommand({ TableName: name, ConsistentRead: true }))).Items ?? [];
    state[role] = items
      .filter((item) => item.connectionId?.S !== except)
      .map((item) => Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1))))
      .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
  }
  return JSON.stringify(state);
}

/** Whether any of the five tables still holds an item of the connection. */
async function anyItemOf(id: string): Promise<boolean> {
  for (const name of Object.values(tables)) {
    const items = (await raw.send(new ScanCommand({ TableName: name, ConsistentRead: true }))).Items ?? [];
    if (items.some((item) => item.connectionId?.S === id)) return true;
  }
  return false;
}

let bound = 0;
/** Gives a fuzzed connection what a real one has before it misbehaves: a uid, groups, a session. */
async function bindLikeAnApp(id: string): Promise<void> {
  await sdk.bindUid(id, `fuzzed-${bound++}`);
  await sdk.joinGroup(id, 'fuzzed');
  await sdk.joinGroup(id, 'bystanders');
  await sdk.setSession(id, { fuzzed: true });
}

/** After a connection was closed for bad input: its $disconnect removed its item and its index items; nobody else changed. */
async function assertCleanedUp(id: string): Promise<void> {
  await until(async () => !(await anyItemOf(id)));
  assert.equal(await othersState(), baseline, 'the other connections are untouched');
}

const isErrorFrame = (m: string) => m.includes('"message": "Internal server error"') || m.includes('"message": "Forbidden"');

describe('text within the limits is routed to the real message Lambda', { timeout: 60_000 }, () => {
  test('any text message up to 32 KB in one frame (400 runs): routed, no error frame, the connection stays open, nothing stored changes', async () => {
    const { client, id } = await open();
    const own = await othersState();
    const routedBefore = gw.stats().messages;
    let sent = 0;
    const body = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.string({ unit: 'grapheme', maxLength: 200 }),
      fc.json({ maxDepth: 4 }),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ action: v })),
      fc.constantFrom('$connect', '$disconnect', '$default', 'init', '', ' ', 'null', '[]').map((a) => JSON.stringify({ action: a })),
      fc.string({ maxLength: 40 }).map((s) => `{"action": ${JSON.stringify(s)}`), // truncated JSON
      fc.integer({ min: 100, max: 3000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`), // deep JSON
      fc.integer({ min: FRAME_LIMIT - 64, max: FRAME_LIMIT }).map((n) => JSON.stringify({ action: 'x', pad: 'p'.repeat(n - 25) }).slice(0, n)),
    );
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        if (Buffer.byteLength(text, 'utf8') > FRAME_LIMIT) return; // the frame limit has its own test
        client.send(text);
        sent++;
      }),
      params(400),
    );
    await until(() => gw.stats().messages - routedBefore >= sent);
    await gw.functions.drain();
    assert.equal(gw.stats().messages - routedBefore, sent, 'every message was routed');
    assert.deepEqual(client.messages.filter(isErrorFrame), [], 'the message Lambda never failed');
    assert.equal(client.socket.readyState, client.socket.OPEN);
    assert.equal(await othersState(), own, "no item changed, the sender's included");
    client.socket.close();
    await assertCleanedUp(id);
  });

  test('fragmented messages (60 runs): up to 128 KB in frames of at most 32 KB are routed whole; over 128 KB closes with 1009 and $disconnect cleans up', async () => {
    const message = fc.record({
      total: fc.oneof(
        fc.integer({ min: 1, max: MESSAGE_LIMIT }),
        fc.integer({ min: MESSAGE_LIMIT - 16, max: MESSAGE_LIMIT + 16 }),
        fc.integer({ min: MESSAGE_LIMIT + 1, max: 2 * MESSAGE_LIMIT }),
      ),
      frame: fc.integer({ min: 1024, max: FRAME_LIMIT }),
    });
    await fc.assert(
      fc.asyncProperty(message, async ({ total, frame }) => {
        const { client, id } = await open();
        const routedBefore = gw.stats().messages;
        const bytes = Buffer.alloc(total, 'a');
        for (let offset = 0; offset < total; offset += frame)
          client.send(bytes.subarray(offset, offset + frame), { binary: false, fin: offset + frame >= total });
        if (total <= MESSAGE_LIMIT) {
          await until(() => gw.stats().messages > routedBefore);
          await gw.functions.drain();
          assert.equal(client.socket.readyState, client.socket.OPEN, `${total} bytes in frames of ${frame}`);
          assert.deepEqual(client.messages.filter(isErrorFrame), []);
          client.socket.close();
        } else {
          assert.equal((await client.closed).code, 1009, `${total} bytes in frames of ${frame}`);
          assert.equal(gw.stats().messages, routedBefore, 'nothing was routed');
        }
        await assertCleanedUp(id);
      }),
      params(60),
    );
  });
});

describe('bad frames end in a documented close code, and $disconnect cleans up', { timeout: 60_000 }, () => {
  test("binary frames (50 runs): 1003, nothing routed; the bound connection's uid, groups and session go with it", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (bytes) => {
        const { client, id } = await open();
        await bindLikeAnApp(id);
        const routedBefore = gw.stats().messages;
        client.send(Buffer.from(bytes), { binary: true });
        assert.equal((await client.closed).code, 1003);
        assert.equal(gw.stats().messages, routedBefore);
        await assertCleanedUp(id);
      }),
      params(50),
    );
  });

  test('text frames that are not UTF-8 (50 runs): 1007, nothing routed', async () => {
    const invalid = fc
      .tuple(
        fc.string({ maxLength: 20 }),
        fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]),
        fc.string({ maxLength: 20 }),
      )
      .map(([before, bad, after]) => Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]));
    await fc.assert(
      fc.asyncProperty(invalid, async (bytes) => {
        const { client, id } = await open();
        await bindLikeAnApp(id);
        const routedBefore = gw.stats().messages;
        client.send(bytes, { binary: false });
        assert.equal((await client.closed).code, 1007);
        assert.equal(gw.stats().messages, routedBefore);
        await assertCleanedUp(id);
      }),
      params(50),
    );
  });

  test('one frame over 32 KB (25 runs): 1009, nothing routed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: FRAME_LIMIT + 1, max: MESSAGE_LIMIT + 1024 }), fc.boolean(), async (size, binary) => {
        const { client, id } = await open();
        await bindLikeAnApp(id);
        const routedBefore = gw.stats().messages;
        client.send(Buffer.alloc(size, 'b'), { binary });
        assert.equal((await client.closed).code, 1009);
        assert.equal(gw.stats().messages, routedBefore);
        await assertCleanedUp(id);
      }),
      params(25),
    );
  });

  test('raw bytes after the handshake (150 runs): a documented close code or a cut socket; $disconnect cleans up either way', async () => {
    await fc.assert(
      // A client close frame would be answered with its own code; every other opcode is fair game.
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 512 }).filter((b) => (b[0]! & 0x0f) !== 0x8),
        async (bytes) => {
          const before = new Set(gw.openConnectionIds());
          const { socket, closeCode, firstTextFrame: initReceived } = await openRawWebSocket(endpoints.wsUrl);
          const id = gw.openConnectionIds().find((x) => !before.has(x))!;
          await initReceived;
          await bindLikeAnApp(id);
          socket.write(Buffer.from(bytes));
          // Bytes that form an incomplete frame leave the connection waiting for more: end it then.
          const timer = setTimeout(() => socket.end(), 200);
          const code = await closeCode;
          clearTimeout(timer);
          socket.destroy();
          if (code !== undefined) assert.ok(DOCUMENTED_CLOSE_CODES.has(code), `close code ${code}`);
          await assertCleanedUp(id);
        },
      ),
      params(150),
    );
  });
});
