// Fidelity item 3 (A11 MUST 3): route selection on JSON bodies, the $default fallback, and the
// error frames API Gateway sends (exact spacing: a space after "message":, none after the others).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalGateway, type WebSocketMessageEvent } from '../../local/index.ts';
import { withGateway } from '../helpers/withGateway.ts';
import { connect, eventually } from '../helpers/wsClient.ts';

test('a JSON body selects the route named by $request.body.action; anything else reaches $default with routeKey "$default"', async () => {
  const seen: Array<[string, string]> = [];
  const record = (name: string) => async (e: WebSocketMessageEvent) => void seen.push([name, e.requestContext.routeKey]);
  await withGateway({ routes: { join: record('join'), $default: record('default') } }, async (gw) => {
    const ws = await connect(gw.endpoints.wsUrl);
    for (const body of ['{"action":"join"}', '{"action":"leave"}', 'not json', '{"other":1}', '[1,2]', '{"action":"$connect"}']) ws.send(body);
    await eventually(() => seen.length === 6);
    assert.deepEqual(seen.sort(), [
      ['default', '$default'],
      ['default', '$default'],
      ['default', '$default'],
      ['default', '$default'],
      ['default', '$default'],
      ['join', 'join'],
    ]);
    await ws.close();
  });
});

test('the route selection expression is configurable, including templates of several fields', async () => {
  const keys: string[] = [];
  const record = async (e: WebSocketMessageEvent) => void keys.push(e.requestContext.routeKey);
  await withGateway(
    { routeSelectionExpression: '${request.body.service}/${request.body.op}', routes: { 'chat/send': record, $default: record } },
    async (gw) => {
      const ws = await connect(gw.endpoints.wsUrl);
      ws.send('{"service":"chat","op":"send"}');
      await eventually(() => keys.length === 1);
      ws.send('{"service":"chat"}');
      await eventually(() => keys.length === 2);
      assert.deepEqual(keys, ['chat/send', '$default']);
      await ws.close();
    },
  );
  const nested: string[] = [];
  await withGateway(
    { routeSelectionExpression: '$request.body.meta.type', routes: { ping: async (e: WebSocketMessageEvent) => void nested.push(e.body) } },
    async (gw) => {
      const ws = await connect(gw.endpoints.wsUrl);
      ws.send('{"meta":{"type":"ping"}}');
      await eventually(() => nested.length === 1);
      await ws.close();
    },
  );
});

test('with no $default route an unmatched message gets the Forbidden frame', async () => {
  await withGateway({ routes: { join: async () => undefined } }, async (gw) => {
    const ws = await connect(gw.endpoints.wsUrl);
    ws.send('hello');
    const frame = await ws.message(0);
    assert.match(frame, /^\{"message": "Forbidden", "connectionId":"[A-Za-z0-9_-]{15}=", "requestId":"[A-Za-z0-9_-]{15}="\}$/);
    await ws.close();
  });
});

test('a route whose integration throws or times out sends the Internal server error frame', async () => {
  await withGateway(
    {
      routes: {
        boom: async () => {
          throw new Error('bug');
        },
        slow: 'slow',
      },
      functions: { slow: { handler: () => new Promise(() => {}), timeoutMs: 30 } },
    },
    async (gw) => {
      const ws = await connect(gw.endpoints.wsUrl);
      ws.send('{"action":"boom"}');
      assert.match(await ws.message(0), /^\{"message": "Internal server error", "connectionId":"[A-Za-z0-9_-]{15}=", "requestId":"[A-Za-z0-9_-]{15}="\}$/);
      ws.send('{"action":"slow"}');
      assert.match(await ws.message(1), /"message": "Internal server error"/);
      await ws.close();
    },
  );
});

test('a route with a route response sends the integration body back; a one-way route does not', async () => {
  await withGateway(
    {
      routes: {
        echo: { function: async (e: WebSocketMessageEvent) => ({ statusCode: 200, body: `echo:${e.body}` }), returnResponse: true },
        quiet: async () => ({ statusCode: 200, body: 'never sent' }),
      },
    },
    async (gw) => {
      const ws = await connect(gw.endpoints.wsUrl);
      ws.send('{"action":"quiet"}');
      ws.send('{"action":"echo"}');
      assert.equal(await ws.message(0), 'echo:{"action":"echo"}');
      await ws.close();
      assert.deepEqual(ws.messages, ['echo:{"action":"echo"}']);
    },
  );
});

test('an unsupported route selection expression is refused when the gateway is built', () => {
  assert.throws(() => new LocalGateway({ routeSelectionExpression: '$context.routeKey', routes: {} }), { name: 'RouteSelectionExpressionError' });
  assert.throws(() => new LocalGateway({ routes: { $connect: 'missing' } }), /not in functions/);
});
