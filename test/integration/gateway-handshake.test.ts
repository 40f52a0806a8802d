// Fidelity item 1 (A11 MUST 1): the upgrade waits for $connect; its result decides the HTTP answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import type { WebSocketConnectEvent } from '../../local/index.ts';
import { withGateway } from '../helpers/withGateway.ts';
import { connect, deferred, refusedStatus } from '../helpers/wsClient.ts';
import { managementClient } from '../helpers/awsClients.ts';

test('the socket opens only after $connect returns, and a post during $connect answers 410 GoneException', async () => {
  const release = deferred();
  const connectStarted = deferred<string>();
  await withGateway(
    {
      routes: {
        $connect: async (event: WebSocketConnectEvent) => {
          connectStarted.resolve(event.requestContext.connectionId);
          await release.promise;
          return { statusCode: 200 };
        },
      },
    },
    async (gw) => {
      let opened = false;
      const opening = connect(gw.endpoints.wsUrl).then((c) => ((opened = true), c));
      const connectionId = await connectStarted.promise;
      const client = managementClient(gw.endpoints);
      await assert.rejects(client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'too early' })), { name: 'GoneException' });
      assert.equal(opened, false, 'the upgrade must be pending while $connect runs');
      release.resolve();
      const ws = await opening;
      await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'now' }));
      assert.equal(await ws.message(0), 'now');
      await ws.close();
    },
  );
});

test('a 2xx $connect answers 101 with the headers it returned, Sec-WebSocket-Protocol among them', async () => {
  await withGateway(
    { routes: { $connect: async () => ({ statusCode: 200, headers: { 'Sec-WebSocket-Protocol': 'chat.v2', 'X-Session-Hint': 'abc' } }) } },
    async (gw) => {
      const ws = await connect(gw.endpoints.wsUrl, { protocols: ['chat.v1', 'chat.v2'] });
      assert.equal(ws.socket.protocol, 'chat.v2');
      assert.equal(ws.upgradeResponse.statusCode, 101);
      assert.equal(ws.upgradeResponse.headers['x-session-hint'], 'abc');
      await ws.close();
    },
  );
});

test('a $connect that omits the requested subprotocol fails the client handshake, as browsers do on AWS', async () => {
  await withGateway({ routes: { $connect: async () => ({ statusCode: 200 }) } }, async (gw) => {
    await assert.rejects(connect(gw.endpoints.wsUrl, { protocols: ['chat.v1'] }), /Server sent no subprotocol/);
  });
});

test('a $connect that returns nothing accepts the connection', async () => {
  await withGateway({ routes: { $connect: async () => undefined } }, async (gw) => {
    const ws = await connect(gw.endpoints.wsUrl);
    await ws.close();
  });
});

test('a non-2xx $connect answers the upgrade with that status', async () => {
  for (const status of [400, 401, 403, 429, 500]) {
    await withGateway({ routes: { $connect: async () => ({ statusCode: status, body: 'no' }) } }, async (gw) => {
      assert.equal(await refusedStatus(gw.endpoints.wsUrl), status);
      assert.equal(gw.stats().openConnections, 0);
    });
  }
});

test('a $connect that throws, times out or returns a malformed result answers 502', async () => {
  const cases = [
    {
      name: 'throws',
      handler: async () => {
        throw new Error('boom');
      },
    },
    { name: 'bad statusCode', handler: async () => ({ statusCode: 'ok' }) },
    { name: 'not an object', handler: async () => 'ok' },
    { name: 'timeout', handler: { handler: () => new Promise(() => {}), timeoutMs: 50 } },
  ];
  for (const c of cases) {
    await withGateway({ routes: { $connect: 'connect' }, functions: { connect: c.handler as never } }, async (gw) => {
      assert.equal(await refusedStatus(gw.endpoints.wsUrl), 502, c.name);
    });
  }
});

test('an upgrade to a path other than the stage is refused with 403 before any handler runs', async () => {
  let calls = 0;
  await withGateway(
    {
      stage: 'prod',
      routes: {
        $connect: async () => {
          calls++;
        },
      },
    },
    async (gw) => {
      assert.equal(await refusedStatus(gw.endpoints.wsUrl.replace('/prod', '/other')), 403);
      assert.equal(calls, 0);
    },
  );
});

test('a plain HTTP GET on the WebSocket URL or a path below it gets 426 Upgrade Required, and no handler runs', async () => {
  let calls = 0;
  await withGateway(
    {
      stage: 'prod',
      routes: {
        $connect: async () => {
          calls++;
        },
      },
    },
    async (gw) => {
      const stageUrl = gw.endpoints.wsUrl.replace(/^ws:/, 'http:');
      for (const url of [stageUrl, `${stageUrl}/`, `${stageUrl}?token=abc`, `${stageUrl}/chat`, `${stageUrl}/a/b?x=1`]) {
        const response = await fetch(url);
        assert.equal(response.status, 426, url);
        assert.equal(response.statusText, 'Upgrade Required');
        assert.equal(response.headers.get('upgrade'), 'websocket');
        assert.equal(await response.text(), '');
      }
      assert.equal((await fetch(stageUrl.replace('/prod', '/other'))).status, 403, 'another path is not the WebSocket URL');
      assert.equal(calls, 0);
    },
  );
});

test('the new-connection rate limit answers 429 past the configured rate', async () => {
  await withGateway({ routes: {}, limits: { newConnectionsPerSecond: 2 } }, async (gw) => {
    const a = await connect(gw.endpoints.wsUrl);
    const b = await connect(gw.endpoints.wsUrl);
    assert.equal(await refusedStatus(gw.endpoints.wsUrl), 429);
    await a.close();
    await b.close();
  });
});

test('a token authorizer refuses a missing token with 401 and a denied one with 403 before $connect runs', async () => {
  let connects = 0;
  const seen: WebSocketConnectEvent[] = [];
  await withGateway(
    {
      routes: {
        $connect: async (e: WebSocketConnectEvent) => {
          connects++;
          seen.push(e);
        },
        $default: async () => ({ statusCode: 200 }),
      },
      authorizer: {
        identitySource: ['route.request.querystring.token'],
        function: async (event: { queryStringParameters: Record<string, string>; methodArn: string }) => ({
          principalId: 'user-1',
          policyDocument: {
            Version: '2012-10-17',
            Statement: [{ Action: 'execute-api:Invoke', Effect: event.queryStringParameters.token === 'good' ? 'Allow' : 'Deny', Resource: event.methodArn }],
          },
          context: { role: 'admin' },
        }),
      },
    },
    async (gw) => {
      assert.equal(await refusedStatus(gw.endpoints.wsUrl), 401);
      assert.equal(await refusedStatus(`${gw.endpoints.wsUrl}?token=bad`), 403);
      assert.equal(connects, 0);
      const ws = await connect(`${gw.endpoints.wsUrl}?token=good`);
      assert.equal(connects, 1);
      assert.deepEqual(seen[0]!.requestContext.authorizer, { role: 'admin', principalId: 'user-1' });
      await ws.close();
    },
  );
});

test('an authorizer that throws "Unauthorized" gives 401, any other failure 500', async () => {
  for (const [message, status] of [
    ['Unauthorized', 401],
    ['database down', 500],
  ] as const) {
    await withGateway(
      {
        routes: {},
        authorizer: {
          identitySource: ['route.request.header.Authorization'],
          function: async () => {
            throw new Error(message);
          },
        },
      },
      async (gw) => {
        assert.equal(await refusedStatus(gw.endpoints.wsUrl, { headers: { Authorization: 'token' } }), status);
      },
    );
  }
});
