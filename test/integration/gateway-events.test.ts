// Fidelity item 2 (A11 MUST 2): events exactly as AWS sends them, checked field by field against the
// key sets of captured AWS events (fixtures/aws-websocket-event-shapes.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { LocalGateway, type WebSocketConnectEvent, type WebSocketDisconnectEvent, type WebSocketMessageEvent, type WebSocketEvent } from '../../local/index.ts';
import { connect, eventually } from '../helpers/wsClient.ts';

const shapes = JSON.parse(readFileSync(new URL('../fixtures/aws-websocket-event-shapes.json', import.meta.url), 'utf8'));
const ID = new RegExp(shapes.idFormat);
const REQUEST_TIME = new RegExp(shapes.requestTimeFormat);

async function recordingGateway() {
  const events: WebSocketEvent[] = [];
  const record = async (event: WebSocketEvent) => {
    events.push(event);
    return { statusCode: 200 };
  };
  const gw = new LocalGateway({ stage: 'prod', ttlSweepIntervalMs: 0, routes: { $connect: record, $disconnect: record, $default: record, chat: record } });
  await gw.start();
  return { gw, events };
}

const sorted = (keys: Iterable<string>) => [...keys].sort();

test('CONNECT carries headers, multiValueHeaders and the AWS requestContext, with the query only when the URL has one', async () => {
  const { gw, events } = await recordingGateway();
  try {
    const plain = await connect(gw.endpoints.wsUrl, { headers: { 'User-Agent': 'test-agent/1.0', Cookie: 'a=1; b=2' } });
    const withQuery = await connect(`${gw.endpoints.wsUrl}?token=abc&tag=x&tag=y`);
    const [first, second] = events as [WebSocketConnectEvent, WebSocketConnectEvent];

    assert.deepEqual(sorted(Object.keys(first)), sorted(shapes.connect.topLevel));
    assert.deepEqual(sorted(Object.keys(second)), sorted([...shapes.connect.topLevel, ...shapes.connect.topLevelWhenQuery]));
    assert.deepEqual(Object.keys(first.requestContext), shapes.connect.requestContext, 'the keys, in the order AWS sends them');
    assert.deepEqual(second.queryStringParameters, { token: 'abc', tag: 'y' });
    assert.deepEqual(second.multiValueQueryStringParameters, { token: ['abc'], tag: ['x', 'y'] });

    for (const name of shapes.connect.headersAdded) assert.ok(first.headers[name], `header ${name}`);
    for (const name of shapes.connect.headersNeverPassed) assert.equal(first.headers[name], undefined, `header ${name}`);
    assert.equal(first.headers['User-Agent'], 'test-agent/1.0');
    assert.equal(first.headers.Cookie, 'a=1; b=2');
    assert.ok(first.headers['Sec-WebSocket-Key']);
    assert.deepEqual(first.multiValueHeaders['User-Agent'], ['test-agent/1.0']);
    assert.match(first.headers['X-Amzn-Trace-Id']!, /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);

    const ctx = first.requestContext;
    assert.equal(ctx.routeKey, '$connect');
    assert.equal(ctx.eventType, 'CONNECT');
    assert.equal(ctx.messageDirection, 'IN');
    assert.equal(ctx.stage, 'prod');
    assert.equal(ctx.apiId, gw.apiId);
    assert.match(ctx.connectionId, ID);
    assert.match(ctx.requestId, ID);
    assert.equal(ctx.extendedRequestId, ctx.requestId);
    assert.match(ctx.requestTime, REQUEST_TIME);
    assert.equal(typeof ctx.connectedAt, 'number');
    assert.ok(ctx.requestTimeEpoch >= ctx.connectedAt);
    assert.deepEqual(ctx.identity, { sourceIp: '127.0.0.1', userAgent: 'test-agent/1.0' });
    assert.deepEqual(Object.keys(ctx.identity), shapes.identity.order, 'userAgent first, as AWS sends it');
    assert.deepEqual(second.requestContext.identity, { sourceIp: '127.0.0.1' }, 'no userAgent when the client sent none');
    assert.equal(first.isBase64Encoded, false);
    await plain.close();
    await withQuery.close();
  } finally {
    await gw.stop();
  }
});

test('MESSAGE carries body and messageId, no headers, and the connectedAt of its connection', async () => {
  const { gw, events } = await recordingGateway();
  try {
    const ws = await connect(gw.endpoints.wsUrl);
    ws.send('{"action":"chat","text":"hi"}');
    ws.send('plain text');
    const [, chat, plain] = (await eventually(
      () => events,
      (e) => e.length >= 3,
    )) as [WebSocketConnectEvent, WebSocketMessageEvent, WebSocketMessageEvent];
    assert.deepEqual(sorted(Object.keys(chat)), sorted(shapes.message.topLevel));
    assert.deepEqual(Object.keys(chat.requestContext), shapes.message.requestContext, 'the keys, in the order AWS sends them');
    assert.equal(chat.body, '{"action":"chat","text":"hi"}');
    assert.equal(chat.requestContext.routeKey, 'chat');
    assert.equal(plain.requestContext.routeKey, '$default');
    assert.equal(chat.requestContext.eventType, 'MESSAGE');
    assert.match(chat.requestContext.messageId, ID);
    assert.notEqual(chat.requestContext.messageId, plain.requestContext.messageId);
    assert.notEqual(chat.requestContext.requestId, plain.requestContext.requestId);
    assert.equal(chat.requestContext.connectedAt, events[0]!.requestContext.connectedAt);
    assert.equal(chat.requestContext.connectionId, events[0]!.requestContext.connectionId);
    await ws.close();
  } finally {
    await gw.stop();
  }
});

test('DISCONNECT carries the four-header stub, the close code and reason, and the same connectedAt', async () => {
  const { gw, events } = await recordingGateway();
  try {
    const a = await connect(gw.endpoints.wsUrl);
    const b = await connect(gw.endpoints.wsUrl, { headers: { 'User-Agent': 'ua' } });
    const c = await connect(gw.endpoints.wsUrl);
    await a.close(4001, 'done here');
    await b.close();
    c.socket.terminate();
    const disconnects = (await eventually(
      () => events.filter((e) => e.requestContext.eventType === 'DISCONNECT'),
      (d) => d.length === 3,
    )) as WebSocketDisconnectEvent[];
    const byId = (client: number) => disconnects.find((d) => d.requestContext.connectionId === events[client]!.requestContext.connectionId)!;
    const [da, db, dc] = [byId(0), byId(1), byId(2)];

    assert.deepEqual(sorted(Object.keys(da)), sorted(shapes.disconnect.topLevel));
    assert.deepEqual(sorted(Object.keys(da.headers)), sorted(shapes.disconnect.headers));
    for (const name of shapes.disconnect.emptyHeaders) assert.equal(da.headers[name], '');
    assert.equal(da.headers.Host, da.requestContext.domainName);
    assert.deepEqual(da.multiValueHeaders.Host, [da.requestContext.domainName]);
    assert.deepEqual(Object.keys(da.requestContext), shapes.disconnect.requestContext, 'the keys, in the order AWS sends them');
    assert.equal(da.requestContext.routeKey, '$disconnect');
    assert.equal(da.requestContext.eventType, 'DISCONNECT');

    assert.deepEqual([da.requestContext.disconnectStatusCode, da.requestContext.disconnectReason], [4001, 'done here']);
    assert.deepEqual([db.requestContext.disconnectStatusCode, db.requestContext.disconnectReason], shapes.disconnect.observedPairs[0]);
    assert.equal(dc.requestContext.disconnectStatusCode, 1006);
    assert.equal(db.requestContext.connectedAt, events[1]!.requestContext.connectedAt);
    assert.deepEqual(db.requestContext.identity, { sourceIp: '127.0.0.1', userAgent: 'ua' });
  } finally {
    await gw.stop();
  }
});

test('connection ids are 16 characters of URL-safe base64 ending in "=" and never repeat', async () => {
  const { gw, events } = await recordingGateway();
  try {
    const clients = await Promise.all(Array.from({ length: 50 }, () => connect(gw.endpoints.wsUrl)));
    const ids = events.map((e) => e.requestContext.connectionId);
    assert.equal(new Set(ids).size, 50);
    for (const id of ids) assert.match(id, ID);
    await Promise.all(clients.map((c) => c.close()));
  } finally {
    await gw.stop();
  }
});
