// The local gateway's throttling (local/throttling.ts): the stage's default route throttling and
// per-route overrides (a token bucket per route, on $connect and messages), the account's bucket
// (also over @connections), the 429s each answers with, and the gateway's per-second record.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { LocalGateway, type WebSocketMessageEvent } from '../../local/index.ts';
import { TokenBucket, GatewayThrottles, ThrottleSettingsError } from '../../local/throttling.ts';
import { withGateway } from '../helpers/withGateway.ts';
import { connect, eventually } from '../helpers/wsClient.ts';
import { managementClient } from '../helpers/awsClients.ts';

function rawUpgrade(gw: LocalGateway): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${gw.endpoints.httpUrl}/${gw.stage}`, {
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode!, body: '' });
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('a token bucket starts full, refills at its rate and never holds more than its burst', () => {
  let now = 0;
  const bucket = new TokenBucket({ rateLimit: 10, burstLimit: 3 }, () => now);
  assert.deepEqual([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()], [true, true, true, false]);
  now += 100; // one token
  assert.deepEqual([bucket.tryTake(), bucket.tryTake()], [true, false]);
  now += 60_000; // capped at the burst
  assert.equal([1, 2, 3, 4].filter(() => bucket.tryTake()).length, 3);
  const closed = new TokenBucket({ rateLimit: 0, burstLimit: 0 }, () => now);
  assert.equal(closed.tryTake(), false, 'rate 0 / burst 0 refuses everything, as on AWS');
});

test('route buckets are separate; a route setting overrides the stage default field by field; the account bucket is shared', () => {
  let now = 0;
  const throttles = new GatewayThrottles(
    { stage: { rateLimit: 1, burstLimit: 2 }, routes: { chat: { burstLimit: 1 } }, account: { rateLimit: 1, burstLimit: 4 } },
    () => now,
  );
  assert.deepEqual(
    [throttles.admit('message', '$default'), throttles.admit('message', '$default'), throttles.admit('message', '$default')],
    [true, true, false],
  );
  assert.deepEqual([throttles.admit('message', 'chat'), throttles.admit('message', 'chat')], [true, false], 'chat: burst 1 of its own, rate 1 from the stage');
  assert.equal(throttles.admit('management'), true, 'the fourth account token');
  assert.equal(throttles.admit('management'), false, 'the account bucket is empty');
  now += 1000;
  assert.equal(throttles.admit('management'), true, 'refilled at the account rate');
  const report = throttles.meter.report();
  assert.equal(report.message.admitted, 3);
  assert.equal(report.message.throttled, 2);
  assert.deepEqual(report.management.perSecond, [
    { second: 0, admitted: 1, throttled: 1 },
    { second: 1, admitted: 1, throttled: 0 },
  ]);
  assert.throws(() => new GatewayThrottles({ stage: { rateLimit: -1, burstLimit: 1 } }), ThrottleSettingsError);
  assert.throws(() => new GatewayThrottles({ account: { rateLimit: 1, burstLimit: 1.5 } }), ThrottleSettingsError);
  assert.throws(() => new GatewayThrottles({ routes: { chat: { rateLimit: Number.NaN } } }), ThrottleSettingsError);
});

test('$connect over the stage throttle is answered 429 {"message":"Too Many Requests"} before any integration runs', async () => {
  let connects = 0;
  await withGateway({ throttle: { rateLimit: 0.001, burstLimit: 2 }, routes: { $connect: async () => void connects++ } }, async (gw) => {
    const first = await connect(gw.endpoints.wsUrl);
    const second = await connect(gw.endpoints.wsUrl);
    const refused = await rawUpgrade(gw);
    assert.equal(refused.status, 429);
    assert.deepEqual(JSON.parse(refused.body), { message: 'Too Many Requests' });
    assert.equal(connects, 2, '$connect ran only for the admitted upgrades');
    assert.equal(gw.stats().rejectedConnects, 1);
    assert.deepEqual({ admitted: gw.throttleReport().connect.admitted, throttled: gw.throttleReport().connect.throttled }, { admitted: 2, throttled: 1 });
    await first.close();
    await second.close();
  });
});

test('a message over its route bucket gets the "Too Many Requests" error frame and is not integrated; other routes keep their own bucket', async () => {
  const seen: string[] = [];
  const record = async (e: WebSocketMessageEvent) => void seen.push(e.requestContext.routeKey);
  await withGateway({ routeThrottles: { chat: { rateLimit: 0.001, burstLimit: 1 } }, routes: { chat: record, $default: record } }, async (gw) => {
    const ws = await connect(gw.endpoints.wsUrl);
    ws.send('{"action":"chat"}');
    ws.send('{"action":"chat"}');
    const frame = await ws.message(0);
    assert.match(frame, /^\{"message": "Too Many Requests", "connectionId":"[A-Za-z0-9_-]{15}=", "requestId":"[A-Za-z0-9_-]{15}="\}$/);
    for (let i = 0; i < 5; i++) ws.send('not json');
    await eventually(() => seen.length === 6);
    assert.deepEqual(seen.sort(), ['$default', '$default', '$default', '$default', '$default', 'chat']);
    assert.equal(gw.throttleReport().message.throttled, 1);
    await ws.close();
  });
});

test('the account throttle covers @connections: 429 LimitExceededException {"message":"Too Many Requests"}, counted per second', async () => {
  await withGateway({ accountThrottle: { rateLimit: 0.001, burstLimit: 4 }, routes: { $default: async () => undefined } }, async (gw) => {
    const ws = await connect(gw.endpoints.wsUrl); // one account token
    const id = gw.openConnectionIds()[0]!;
    const client = managementClient(gw.endpoints);
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      try {
        await client.send(new PostToConnectionCommand({ ConnectionId: id, Data: Buffer.from(`m${i}`) }));
        outcomes.push('sent');
      } catch (error) {
        const e = error as { name: string; message: string; $metadata: { httpStatusCode: number } };
        outcomes.push(`${e.$metadata.httpStatusCode} ${e.name} ${e.message}`);
      }
    }
    assert.deepEqual(outcomes, ['sent', 'sent', 'sent', '429 LimitExceededException Too Many Requests']);
    assert.deepEqual(ws.messages, ['m0', 'm1', 'm2']);
    const report = gw.throttleReport();
    assert.deepEqual([report.management.admitted, report.management.throttled, report.connect.admitted], [3, 1, 1]);
    const perSecond = report.management.perSecond;
    assert.equal(
      perSecond.reduce((n, s) => n + s.admitted, 0),
      3,
    );
    assert.ok(perSecond.every((s) => Number.isInteger(s.second) && Math.abs(s.second * 1000 - Date.now()) < 60_000));
    client.destroy();
    await ws.close();
  });
});

test('without throttle options nothing is throttled (the defaults of a hand-built gateway)', async () => {
  await withGateway({ routes: { $default: async () => undefined } }, async (gw) => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => connect(gw.endpoints.wsUrl)));
    for (const c of clients) for (let i = 0; i < 10; i++) c.send('x');
    await eventually(() => gw.stats().messages === 200);
    assert.equal(gw.throttleReport().message.throttled, 0);
    assert.equal(gw.throttleReport().connect.throttled, 0);
    await Promise.all(clients.map((c) => c.close()));
  });
});
