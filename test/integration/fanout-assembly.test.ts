/**
 * The chunked path as deployed: GatewayBackend synthesized (real bundles) into a private outdir,
 * read back by the local gateway's template mode (functions, environment, EventInvokeConfig), and a
 * send configured from the functions' own environment (GATEWAY_FANOUT_FUNCTION / _THRESHOLD) goes
 * through the invoke API to the bundled worker.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { GatewayBackend } from '../../cdk/index.ts';
import { LocalGateway, loadCloudAssembly, type CloudAssemblyApp, type GatewayEndpoints, type ModuleFunctionDefinition } from '../../local/index.ts';
import { Gateway, GatewayEnvVar } from '../../sdk/index.ts';
import { connect, type TestClient } from '../helpers/wsClient.ts';

const cdkJson = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')) as { context: Record<string, unknown> };

let outdir: string;
let app: CloudAssemblyApp;
let local: LocalGateway;
let endpoints: GatewayEndpoints;
let workerName: string;

before(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'fanout-cdk-'));
  const cdkApp = new App({ outdir, context: { ...cdkJson.context, 'aws:cdk:enable-asset-metadata': true } });
  const stack = new Stack(cdkApp, 'FanoutStack', { env: { account: '123456789012', region: 'us-east-1' } });
  const backend = new GatewayBackend(stack, 'Gateway', { fanout: { threshold: 5 } });
  cdkApp.synth();
  app = loadCloudAssembly({ directory: outdir });
  workerName = app.physicalNames[stack.getLogicalId(backend.fanoutWorkerFunction.node.defaultChild as never)]!;
  local = new LocalGateway({ ...app.gatewayOptions, ttlSweepIntervalMs: 0, asyncRetryDelaysMs: [10, 20] });
  endpoints = await local.start();
});

after(async () => {
  await local?.stop();
  rmSync(outdir, { recursive: true, force: true });
});

test('the template carries the worker, its retries and its failure queue; the local gateway logs that an SQS destination is not run', () => {
  const worker = app.gatewayOptions.functions![workerName] as ModuleFunctionDefinition;
  assert.ok(worker, 'the worker is a hosted function');
  assert.equal(worker.maxRetryAttempts, 2);
  assert.equal(worker.onFailure, undefined);
  assert.equal(worker.timeoutMs, 60_000);
  assert.equal(worker.memoryMB, 1024);
  assert.ok(
    app.warnings.some((w) => /on-failure destination arn:aws:sqs:.*FanoutFailures.* is not a Lambda function; failures are only logged/.test(w)),
    app.warnings.join('\n'),
  );
  // Every SDK user gets the worker's name and the threshold; the worker itself gets neither.
  const messageEnv = Object.values(app.environments).find((env) => env[GatewayEnvVar.fanoutFunction]);
  assert.equal(messageEnv?.[GatewayEnvVar.fanoutFunction], workerName);
  assert.equal(messageEnv?.[GatewayEnvVar.fanoutThreshold], '5');
  assert.equal(app.environments[workerName]![GatewayEnvVar.fanoutFunction], undefined);
});

test("a send above the template's threshold, configured from the functions' environment, is delivered by the bundled worker", async () => {
  const clients: TestClient[] = [];
  for (let i = 0; i < 8; i++) clients.push(await connect(endpoints.wsUrl));
  const ids = await Promise.all(clients.map(async (c) => (await c.json(0, 20_000)).client_id as string));
  const env = Object.values(app.environments).find((e) => e[GatewayEnvVar.fanoutFunction])!;
  const saved = process.env.AWS_ENDPOINT_URL_LAMBDA;
  process.env.AWS_ENDPOINT_URL_LAMBDA = endpoints.httpUrl;
  const sdk = Gateway.fromEnv(
    { callbackUrl: endpoints.callbackUrl, region: endpoints.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
    { ...env, [GatewayEnvVar.callbackUrl]: endpoints.callbackUrl },
  );
  try {
    const report = await sdk.sendToAll('from the template', { clientIds: ids });
    assert.deepEqual(
      [report.recipients, report.queued?.functionName, report.queued?.chunks, report.queued?.recipients, report.failed],
      [8, workerName, 1, 8, []],
    );
    for (const c of clients) assert.equal(await c.message(1, 20_000), 'from the template');
  } finally {
    sdk.destroy();
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_LAMBDA;
    else process.env.AWS_ENDPOINT_URL_LAMBDA = saved;
    for (const c of clients) c.socket.terminate();
  }
});
