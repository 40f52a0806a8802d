// The gateway's own lifecycle: start once, stop drains what is under way, stop is idempotent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalGateway, type WebSocketDisconnectEvent } from '../../local/index.ts';
import { connect } from '../helpers/wsClient.ts';

test('stop() closes clients with 1001 and waits for their $disconnect handlers to finish', async () => {
  const finished: number[] = [];
  const gw = new LocalGateway({
    ttlSweepIntervalMs: 0,
    routes: {
      $disconnect: async (e: WebSocketDisconnectEvent) => {
        await new Promise((r) => setTimeout(r, 100));
        finished.push(e.requestContext.disconnectStatusCode);
      },
    },
  });
  await gw.start();
  const clients = await Promise.all([connect(gw.endpoints.wsUrl), connect(gw.endpoints.wsUrl)]);
  await gw.stop();
  assert.deepEqual(finished, [1001, 1001]);
  for (const c of clients) assert.equal((await c.closed).code, 1001);
});

test('stop() waits for a message handler that is still running', async () => {
  let done = false;
  const gw = new LocalGateway({
    ttlSweepIntervalMs: 0,
    routes: {
      $default: async () => {
        await new Promise((r) => setTimeout(r, 100));
        done = true;
      },
    },
  });
  await gw.start();
  const ws = await connect(gw.endpoints.wsUrl);
  ws.send('work');
  await new Promise((r) => setTimeout(r, 20));
  await gw.stop();
  assert.equal(done, true);
});

test('start() twice is refused, stop() twice is harmless, and a stopped gateway refuses upgrades', async () => {
  const gw = new LocalGateway({ ttlSweepIntervalMs: 0, routes: {} });
  const { wsUrl } = await gw.start();
  await assert.rejects(gw.start(), /start\(\) called on a gateway that is running/);
  await gw.stop();
  await gw.stop();
  await assert.rejects(connect(wsUrl));
});

test('the endpoints are reported for a backend: URLs, region and the AWS SDK environment', async () => {
  const gw = new LocalGateway({ ttlSweepIntervalMs: 0, routes: {}, stage: 'dev', region: 'eu-west-1', environment: { MY_TABLE: 't1' } });
  const endpoints = await gw.start();
  try {
    assert.match(endpoints.wsUrl, /^ws:\/\/127\.0\.0\.1:\d+\/dev$/);
    assert.match(endpoints.callbackUrl, /^http:\/\/127\.0\.0\.1:\d+\/dev$/);
    assert.equal(endpoints.region, 'eu-west-1');
    assert.equal(endpoints.env.AWS_ENDPOINT_URL_DYNAMODB, endpoints.dynamoEndpoint);
    assert.equal(endpoints.env.AWS_REGION, 'eu-west-1');
    assert.equal(endpoints.env.MY_TABLE, 't1');
  } finally {
    await gw.stop();
  }
});
