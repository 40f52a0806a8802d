// Hosted functions (fidelity item 7): each module function runs in its own worker with the
// gateway's endpoints in its environment, keeps module scope between invocations, and gets a fresh
// environment after a timeout or a crash, as on Lambda.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { LocalGateway } from '../../local/index.ts';

const fixture = (file: string) => fileURLToPath(new URL(`../../testkit/functions/${file}`, import.meta.url));
let gw: LocalGateway;

before(async () => {
  gw = new LocalGateway({
    ttlSweepIntervalMs: 0,
    routes: {},
    environment: (urls) => ({ CALLBACK_URL: urls.callbackUrl }),
    functions: {
      probe: { entry: fixture('envProbe.mjs'), environment: { CUSTOM_SETTING: 'yes' } },
      fragile: { entry: fixture('slowThenCrash.mjs'), timeoutMs: 300 },
      typed: { entry: fixture('typescriptHandler.ts') },
      httpsGet: { entry: fixture('httpsGetProbe.mjs') },
    },
  });
  await gw.start();
});
after(() => gw.stop());

test('a module function sees the DynamoDB and Lambda endpoints, credentials, its own variables, and keeps module scope', async () => {
  const first = await gw.invoke('probe', {});
  const second = await gw.invoke('probe', {});
  assert.ok(first.ok && second.ok);
  assert.deepEqual(first.value, {
    invocations: 1,
    dynamoEndpoint: gw.endpoints.dynamoEndpoint,
    lambdaEndpoint: gw.endpoints.httpUrl,
    region: 'us-east-1',
    functionName: 'probe',
    custom: 'yes',
    hasCredentials: true,
  });
  assert.equal((second.value as { invocations: number }).invocations, 2);
  assert.equal(gw.endpoints.env.CALLBACK_URL, gw.endpoints.callbackUrl);
});

test('a timeout fails the invocation and the next one starts a fresh environment', async () => {
  assert.deepEqual((await gw.invoke('fragile', {})).ok, true);
  const timedOut = await gw.invoke('fragile', { hang: true });
  assert.equal(timedOut.ok, false);
  assert.ok(!timedOut.ok && timedOut.error.errorType === 'Sandbox.Timedout');
  assert.match(!timedOut.ok ? timedOut.error.errorMessage : '', /Task timed out after 0\.30 seconds/);
  const fresh = await gw.invoke('fragile', {});
  assert.deepEqual(fresh.ok && fresh.value, { invocations: 1 });
});

test('a crash of the runtime fails what is under way and the next invocation starts fresh', async () => {
  await gw.invoke('fragile', {});
  await gw.invoke('fragile', { crash: true });
  await new Promise((r) => setTimeout(r, 50));
  const after = await gw.invoke('fragile', {});
  assert.deepEqual(after.ok && after.value, { invocations: 1 });
});

test('a TypeScript module runs as is', async () => {
  const result = await gw.invoke('typed', { name: 'ts' });
  assert.deepEqual(result.ok && result.value, { greeting: 'hello ts' });
});

test('a module that fails to load reports Runtime.ImportModuleError', async () => {
  const broken = new LocalGateway({ ttlSweepIntervalMs: 0, routes: {}, functions: { broken: { entry: fixture('does-not-exist.mjs') } } });
  await broken.start();
  try {
    const result = await broken.invoke('broken', {});
    assert.ok(!result.ok);
    assert.equal(result.error.errorType, 'Runtime.ImportModuleError');
  } finally {
    await broken.stop();
  }
});

test("https.get to the API's AWS host reaches the local gateway too", async () => {
  const result = await gw.invoke('httpsGet', { apiId: gw.apiId, stage: gw.stage });
  assert.deepEqual(result.ok && result.value, { status: 410, errorType: 'GoneException' });
});
