// The synthesized app (cdk.out) on the local gateway: the browser client's heartbeat,
// {"action":"ping"}, is answered by the construct's MOCK route with nothing and runs no Lambda, while
// other messages still reach the message function; the stage's throttling comes from the template.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalGateway, type CloudAssemblyApp, type GatewayEndpoints } from '../../local/index.ts';
import { copySynthesizedApp } from '../../testkit/synthesizedApp.ts';
import { connect, eventually } from '../helpers/wsClient.ts';

let app: CloudAssemblyApp;
let dispose: () => void;
let gw: LocalGateway;
let endpoints: GatewayEndpoints;
const invoked: string[] = [];

before(async () => {
  ({ app, dispose } = copySynthesizedApp('heartbeat'));
  gw = new LocalGateway({ ...app.gatewayOptions, ttlSweepIntervalMs: 0 });
  const invoke = gw.functions.invoke.bind(gw.functions);
  gw.functions.invoke = (name, event, timeoutMs) => {
    invoked.push(`${name} ${(event as { requestContext?: { routeKey?: string } }).requestContext?.routeKey ?? ''}`);
    return invoke(name, event, timeoutMs);
  };
  endpoints = await gw.start();
});

after(async () => {
  await gw.stop();
  dispose();
});

test('the template gives ping a MOCK integration and the stage its throttling', () => {
  const ping = app.gatewayOptions.routes.ping as { mock: { requestTemplates: Record<string, string> }; returnResponse: boolean };
  assert.deepEqual(ping, { mock: { requestTemplates: { $default: '{"statusCode": 200}' }, templateSelectionExpression: '\\$default' }, returnResponse: false });
  assert.deepEqual(app.gatewayOptions.throttle, { rateLimit: 1000, burstLimit: 500 });
  assert.ok(!app.warnings.some((w) => /ping/.test(w)), `no warning about the ping route: ${app.warnings.join('; ')}`);
});

test('{"action":"ping"} gets nothing back and invokes nothing; other messages still reach the message function', async () => {
  const ws = await connect(endpoints.wsUrl);
  await ws.message(0); // the init message
  const before = invoked.length;
  for (let i = 0; i < 5; i++) ws.send('{"action":"ping"}');
  ws.send('{"action":"hello"}');
  await eventually(() => invoked.slice(before).some((line) => line.endsWith(' $default')));
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(
    invoked
      .slice(before)
      .filter((line) => !line.includes('$disconnect'))
      .map((line) => line.split(' ')[1]),
    ['$default'],
    'only the other message ran a function',
  );
  assert.equal(ws.messages.length, 1, 'no reply and no error frame to the pings');
  assert.equal(gw.throttleReport().message.admitted, 6, 'the pings are messages: they count against the stage, and keep the connection from its idle timeout');
  await ws.close();
});
