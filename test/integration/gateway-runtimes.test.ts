// Lambda's Node.js runtimes as the local gateway presents them (local/runtimes.ts): callback handlers
// with callbackWaitsForEmptyEventLoop on nodejs18.x-22.x, Runtime.CallbackHandlerDeprecated on
// nodejs24.x, the context and the variables each runtime gives, and the template's Runtime honoured.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { LocalGateway, loadCloudAssembly, type InvocationOutcome, type ModuleFunctionDefinition } from '../../local/index.ts';

const fixtures = fileURLToPath(new URL('../../testkit/functions/', import.meta.url));
const fn = (file: string, runtime: string, extra: Partial<ModuleFunctionDefinition> = {}): ModuleFunctionDefinition => ({
  entry: join(fixtures, file),
  runtime,
  ...extra,
});

let gw: LocalGateway;
before(async () => {
  gw = new LocalGateway({
    ttlSweepIntervalMs: 0,
    routes: {},
    functions: {
      callback22: fn('callbackHandler.cjs', 'nodejs22.x', { timeoutMs: 1000 }),
      callback20: fn('callbackHandler.cjs', 'nodejs20.x'),
      callback18: fn('callbackHandler.cjs', 'nodejs18.x'),
      callback24: fn('callbackHandler.cjs', 'nodejs24.x'),
      asyncCallbackParam24: fn('asyncWithCallbackParam.mjs', 'nodejs24.x'),
      sync22: fn('syncHandler.cjs', 'nodejs22.x'),
      sync24: fn('syncHandler.cjs', 'nodejs24.x'),
      neverSettles22: fn('neverSettles.mjs', 'nodejs22.x', { timeoutMs: 1000 }),
      neverSettles24: fn('neverSettles.mjs', 'nodejs24.x', { timeoutMs: 1000 }),
      context22: fn('contextProbe.mjs', 'nodejs22.x'),
      context24: fn('contextProbe.mjs', 'nodejs24.x'),
      contextDefault: { entry: join(fixtures, 'contextProbe.mjs') },
      readsWithPromises20: fn('readsWithPromises.mjs', 'nodejs20.x'),
    },
  });
  await gw.start();
});
after(() => gw.stop());

function value(outcome: InvocationOutcome): unknown {
  assert.ok(outcome.ok, `expected success, got ${JSON.stringify(!outcome.ok && outcome.error)}`);
  return outcome.value;
}

function error(outcome: InvocationOutcome): { errorType: string; errorMessage: string } {
  assert.ok(!outcome.ok, `expected a failure, got ${JSON.stringify(outcome.ok && outcome.value)}`);
  return outcome.error;
}

test('nodejs18.x, 20.x and 22.x answer through the callback, context.succeed/fail and callback errors', async () => {
  for (const name of ['callback18', 'callback20', 'callback22']) {
    assert.deepEqual(value(await gw.invoke(name, {})), { via: 'callback', waits: true }, name);
  }
  assert.deepEqual(value(await gw.invoke('callback22', { mode: 'later' })), { via: 'later' });
  assert.deepEqual(value(await gw.invoke('callback22', { mode: 'succeed' })), { via: 'succeed' });
  const thrown = error(await gw.invoke('callback22', { mode: 'error' }));
  assert.deepEqual([thrown.errorType, thrown.errorMessage], ['TypeError', 'bad input']);
  const plain = error(await gw.invoke('callback22', { mode: 'string-error' }));
  assert.deepEqual([plain.errorType, plain.errorMessage], ['string', 'plain failure']);
  const failed = error(await gw.invoke('callback22', { mode: 'fail' }));
  assert.deepEqual([failed.errorType, failed.errorMessage], ['string', 'handled']);
});

test('callbackWaitsForEmptyEventLoop: a timer left after the callback holds the answer (here past the timeout) unless it is set to false', async () => {
  const held = error(await gw.invoke('callback22', { mode: 'linger', lingerMs: 30_000 }));
  assert.equal(held.errorType, 'Sandbox.Timedout', 'the callback ran, but the event loop never emptied');
  assert.deepEqual(value(await gw.invoke('callback22', { mode: 'linger', lingerMs: 30_000, dontWait: true })), { via: 'callback', waits: false });
});

test('nodejs24.x refuses a handler with a callback parameter at init, as Lambda does, even an async one', async () => {
  for (const name of ['callback24', 'asyncCallbackParam24']) {
    const refused = error(await gw.invoke(name, {}));
    assert.equal(refused.errorType, 'Runtime.CallbackHandlerDeprecated', name);
    assert.match(refused.errorMessage, /^ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node\.js 24\./);
  }
});

test("a plain handler's return value: null on nodejs22.x (it never called back), the value on nodejs24.x", async () => {
  assert.equal(value(await gw.invoke('sync22', {})), null);
  assert.deepEqual(value(await gw.invoke('sync24', {})), { answer: 42 });
});

test('an async handler awaiting fs/promises on nodejs20.x answers its value: the pending read keeps the event loop busy', async () => {
  assert.deepEqual(value(await gw.invoke('readsWithPromises20', {})), { read: true });
});

test('a promise that never settles answers null on nodejs22.x once the loop is empty, and times out on nodejs24.x', async () => {
  assert.equal(value(await gw.invoke('neverSettles22', {})), null);
  assert.equal(error(await gw.invoke('neverSettles24', {})).errorType, 'Sandbox.Timedout');
});

test("each runtime's context and variables: AWS_EXECUTION_ENV, _HANDLER, the callback members only up to nodejs22.x", async () => {
  const base = [
    'awsRequestId',
    'functionName',
    'functionVersion',
    'getRemainingTimeInMillis',
    'invokedFunctionArn',
    'logGroupName',
    'logStreamName',
    'memoryLimitInMB',
  ];
  assert.deepEqual(value(await gw.invoke('context22', {})), {
    contextKeys: [...base, 'callbackWaitsForEmptyEventLoop', 'done', 'fail', 'succeed'].sort(),
    executionEnv: 'AWS_Lambda_nodejs22.x',
    handler: 'contextProbe.handler',
    initializationType: 'on-demand',
  });
  const on24 = value(await gw.invoke('context24', {})) as { contextKeys: string[]; executionEnv: string };
  assert.deepEqual(on24.contextKeys, base);
  assert.equal(on24.executionEnv, 'AWS_Lambda_nodejs24.x');
  assert.equal(
    (value(await gw.invoke('contextDefault', {})) as { executionEnv: string }).executionEnv,
    'AWS_Lambda_nodejs24.x',
    'no runtime given: the newest',
  );
});

test('a retired or non-Node.js runtime is refused when the function is defined', () => {
  assert.throws(() => new LocalGateway({ routes: {}, functions: { old: fn('syncHandler.cjs', 'nodejs16.x') } }), /runtime nodejs16\.x is retired/);
  assert.throws(() => new LocalGateway({ routes: {}, functions: { py: fn('syncHandler.cjs', 'python3.13') } }), /not a Node\.js runtime/);
});

test("a synthesized template's Runtime is honoured: a nodejs22.x callback handler answers a WebSocket route", async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
  try {
    const app = new App({ outdir });
    const stack = new Stack(app, 'CallbackStack', { env: { region: 'us-east-1' } });
    const handler = new lambda.Function(stack, 'Legacy', {
      runtime: lambda.Runtime.NODEJS_22_X,
      code: lambda.Code.fromAsset(fixtures),
      handler: 'callbackHandler.handler',
      timeout: Duration.seconds(5),
    });
    const api = new WebSocketApi(stack, 'Api', { defaultRouteOptions: { integration: new WebSocketLambdaIntegration('LegacyIntegration', handler) } });
    new WebSocketStage(stack, 'Stage', { webSocketApi: api, stageName: 'prod', autoDeploy: true });
    app.synth();
    const assembly = loadCloudAssembly({ directory: outdir });
    const name = Object.keys(assembly.gatewayOptions.functions!)[0]!;
    assert.equal((assembly.gatewayOptions.functions![name] as ModuleFunctionDefinition).runtime, 'nodejs22.x');
    const served = new LocalGateway({ ...assembly.gatewayOptions, ttlSweepIntervalMs: 0 });
    await served.start();
    try {
      assert.deepEqual(value(await served.invoke(name, {})), { via: 'callback', waits: true });
    } finally {
      await served.stop();
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});
