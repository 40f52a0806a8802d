// MOCK integrations (local/mockIntegration.ts): routes API Gateway answers itself. A one-way route
// sends nothing back; a mock without a statusCode template fails with the Internal server error
// frame; a two-way route replies with its integration response's template; what the emulator cannot
// render is refused when the gateway is built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalGateway, type WebSocketMessageEvent } from '../../local/index.ts';
import { CompiledMockIntegration, MockIntegrationError, type MockIntegration } from '../../local/mockIntegration.ts';
import { withGateway } from '../helpers/withGateway.ts';
import { connect, eventually, refusedStatus } from '../helpers/wsClient.ts';

const OK = { $default: '{"statusCode": 200}' };
const ERROR_FRAME = (message: string) => new RegExp(`^\\{"message": "${message}", "connectionId":"[A-Za-z0-9_-]{15}=", "requestId":"[A-Za-z0-9_-]{15}="\\}$`);

test('a one-way MOCK route (the ping heartbeat) answers nothing and runs no function; other messages still reach $default', async () => {
  const seen: string[] = [];
  await withGateway(
    {
      routes: {
        ping: { mock: { requestTemplates: OK, templateSelectionExpression: '\\$default' } },
        $default: async (e: WebSocketMessageEvent) => void seen.push(e.body),
      },
    },
    async (gw) => {
      const ws = await connect(gw.endpoints.wsUrl);
      for (let i = 0; i < 3; i++) ws.send('{"action":"ping"}');
      ws.send('after');
      await eventually(() => seen.length === 1);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(seen, ['after']);
      assert.deepEqual(ws.messages, [], 'no reply, no error frame');
      assert.equal(gw.stats().messages, 4, 'the pings were messages (they reset the idle timer)');
      assert.equal(gw.functions.names().length, 1, 'only $default has a function');
      await ws.close();
    },
  );
});

test('a MOCK without a statusCode template fails: the message body has none, so the client gets "Internal server error"', async () => {
  await withGateway({ routes: { ping: { mock: {} } } }, async (gw) => {
    const ws = await connect(gw.endpoints.wsUrl);
    ws.send('{"action":"ping"}');
    assert.match(await ws.message(0), ERROR_FRAME('Internal server error'));
    // Passed through unchanged, a body that carries a statusCode is a valid mock request.
    ws.send('{"action":"ping","statusCode":204}');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(ws.messages.length, 1);
    await ws.close();
  });
});

test('passthroughBehavior NEVER with no matching template refuses with "Unsupported Media Type"', async () => {
  await withGateway(
    {
      routes: {
        ping: { mock: { requestTemplates: { v2: '{"statusCode": 200}' }, templateSelectionExpression: '$request.body.version', passthroughBehavior: 'NEVER' } },
      },
    },
    async (gw) => {
      const ws = await connect(gw.endpoints.wsUrl);
      ws.send('{"action":"ping","version":"v2"}');
      ws.send('{"action":"ping","version":"v1"}');
      assert.match(await ws.message(0), ERROR_FRAME('Unsupported Media Type'));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(ws.messages.length, 1, 'the v2 message matched its template and was answered with nothing');
      await ws.close();
    },
  );
});

test('a two-way MOCK route replies with the template of the integration response its status selects', async () => {
  const mock: MockIntegration = {
    requestTemplates: { $default: '{"statusCode": 200}', teapot: '{"statusCode": 418}' },
    templateSelectionExpression: '${request.body.kind}',
    integrationResponses: [
      {
        key: '$default',
        responseTemplates: { $default: '{"action":"pong","id":"$context.connectionId","route":"${context.routeKey}","echo":$input.json(\'$.n\')}' },
      },
      {
        key: '/4\\d\\d/',
        templateSelectionExpression: '${integration.response.statuscode}',
        responseTemplates: { '418': '{"error":"teapot","kind":"$input.path(\'$.kind\')"}' },
      },
    ],
  };
  await withGateway({ routes: { ping: { mock, returnResponse: true } } }, async (gw) => {
    const ws = await connect(gw.endpoints.wsUrl);
    const id = gw.openConnectionIds()[0]!;
    ws.send('{"action":"ping","n":[1,2]}');
    assert.deepEqual(await ws.json(0), { action: 'pong', id, route: 'ping', echo: [1, 2] });
    ws.send('{"action":"ping","kind":"teapot"}');
    assert.deepEqual(await ws.json(1), { error: 'teapot', kind: 'teapot' });
    await ws.close();
  });
});

test('a two-way MOCK with no integration response for its status, or none with a template, is an error or silence', async () => {
  await withGateway(
    {
      routes: {
        a: { mock: { requestTemplates: OK, integrationResponses: [{ key: '/5\\d\\d/', responseTemplates: { $default: 'x' } }] }, returnResponse: true },
        b: { mock: { requestTemplates: OK, integrationResponses: [{ key: '$default' }] }, returnResponse: true },
      },
    },
    async (gw) => {
      const ws = await connect(gw.endpoints.wsUrl);
      ws.send('{"action":"b"}');
      ws.send('{"action":"a"}');
      assert.match(await ws.message(0), ERROR_FRAME('Internal server error'));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(ws.messages.length, 1, 'b: an empty mock response sends nothing');
      await ws.close();
    },
  );
});

test('a MOCK on $connect admits with a 2xx status and refuses with any other', async () => {
  await withGateway({ routes: { $connect: { mock: { requestTemplates: OK } } } }, async (gw) => {
    const ws = await connect(gw.endpoints.wsUrl);
    await ws.close();
  });
  await withGateway({ routes: { $connect: { mock: { requestTemplates: { $default: '{"statusCode": 403}' } } } } }, async (gw) => {
    assert.equal(await refusedStatus(gw.endpoints.wsUrl), 403);
  });
  await withGateway({ routes: { $connect: { mock: {} } } }, async (gw) => {
    assert.equal(await refusedStatus(gw.endpoints.wsUrl), 500, 'no statusCode: a configuration error');
  });
});

test('templates the emulator cannot render are refused when the gateway is built, with what to change', () => {
  const build = (mock: object) => new LocalGateway({ routes: { ping: { mock } } });
  assert.throws(() => build({ requestTemplates: { $default: '#set($x = 1)\n{"statusCode": 200}' } }), /VTL directives/);
  assert.throws(() => build({ requestTemplates: { $default: '{"statusCode": $util.parseJson(1)}' } }), /\$util\.parseJson is not emulated locally/);
  assert.throws(
    () => build({ requestTemplates: { $default: '{"id": "$context.authorizer.principalId"}' } }),
    /\$context\.authorizer\.principalId is not emulated/,
  );
  assert.throws(() => build({ requestTemplates: { $default: "$input.json('$.a[0]')" } }), /JSONPath/);
  assert.throws(() => build({ templateSelectionExpression: '$context.routeKey' }), /supports request\.body/);
  assert.throws(() => build({ passthroughBehavior: 'SOMETIMES' }), /passthroughBehavior/);
  assert.throws(() => build({ integrationResponses: [{ key: '200' }] }), /must be \$default or a \/regular expression\//);
  assert.throws(() => build({ integrationResponses: [{ key: '/(/' }] }), /not a valid regular expression/);
  assert.throws(() => new CompiledMockIntegration('x', null as never, false), MockIntegrationError);
});

test('the selection expression: static text, \\$default, and body paths; a missing path falls back to $default', () => {
  const mock = new CompiledMockIntegration(
    'r',
    { requestTemplates: { 'v-2': '{"statusCode": 202}', $default: '{"statusCode": 200}' }, templateSelectionExpression: 'v-${request.body.meta.v}' },
    false,
  );
  const run = (body: string) => mock.run({ body, context: {} });
  assert.deepEqual(run('{"meta":{"v":2}}'), { ok: true, statusCode: 202 });
  assert.deepEqual(run('{"meta":{}}'), { ok: true, statusCode: 200 });
  assert.deepEqual(run('not json'), { ok: true, statusCode: 200 });
});
