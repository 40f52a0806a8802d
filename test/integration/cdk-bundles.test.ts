// The real bundles: NodejsFunction with the local esbuild (no Docker), ESM, minified, the Events
// module compiled into the three handler bundles through the alias, the AWS SDK inside. Then the
// bundles themselves, not the sources, run on the local gateway: init, an Events reply, the session.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GatewayBackend } from '../../cdk/index.ts';
import { LocalGateway, type GatewayEndpoints } from '../../local/index.ts';
import { Gateway, gatewayEnvironment, type GatewayTableNames } from '../../sdk/index.ts';
import { localTables } from '../../testkit/gatewayHarness.ts';
import { LambdaEnvVar } from '../../lambdas/env.ts';
import { connect, eventually } from '../helpers/wsClient.ts';

const cdkJson = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')) as { context: Record<string, unknown> };
const eventsModule = fileURLToPath(new URL('../fixtures/events/chatEvents.ts', import.meta.url));
const MARKER = 'onWebSocketConnect failed on purpose'; // a string only the fixture module contains

describe('bundles built by GatewayBackend', () => {
  let outdir: string;
  let code: Record<'connect' | 'disconnect' | 'message' | 'initSender' | 'fanoutWorker', { dir: string; source: string }>;

  before(() => {
    outdir = mkdtempSync(join(tmpdir(), 'gateway-bundles-'));
    // As the CLI does: record each asset's path in the template, as the local gateway's template mode reads it.
    const app = new App({ outdir, context: { ...cdkJson.context, 'aws:cdk:enable-asset-metadata': true } });
    const stack = new Stack(app, 'BundleStack', { env: { account: '123456789012', region: 'us-east-1' } });
    const backend = new GatewayBackend(stack, 'Gateway', { eventsModule, routes: ['chat'] });
    const assembly = app.synth();
    const template = assembly.getStackByName('BundleStack').template as { Resources: Record<string, { Metadata?: Record<string, string> }> };
    const assetOf = (fn: lambda.Function) => {
      const dir = join(outdir, template.Resources[stack.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)]!.Metadata!['aws:asset:path']!);
      return { dir, source: readFileSync(join(dir, 'index.mjs'), 'utf8') };
    };
    code = {
      connect: assetOf(backend.connectFunction),
      disconnect: assetOf(backend.disconnectFunction),
      message: assetOf(backend.messageFunction),
      initSender: assetOf(backend.initSenderFunction),
      fanoutWorker: assetOf(backend.fanoutWorkerFunction),
    };
  });

  after(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  test('each function is one minified ESM file with the AWS SDK inside', () => {
    for (const [name, { dir, source }] of Object.entries(code)) {
      assert.deepEqual(readdirSync(dir), ['index.mjs'], name);
      assert.match(source, /export\s*\{[^}]*\bas handler\b|export\s*\{\s*\w+ as handler/, `${name} exports handler as ESM`);
      assert.ok(!/\bmodule\.exports\s*=/.test(source.slice(-2000)), `${name} is not CommonJS`);
      assert.ok(source.split('\n').length < 100, `${name} is minified`);
      // One exception: sdk/Fanout.ts's lazy import of @aws-sdk/client-lambda, for a LambdaClient given as
      // fanout.lambda, which no entry point gives: left out of the bundle (externalModules), never run.
      const lazyClientLambda = /import\(["']@aws-sdk\/client-lambda["']\)/g;
      assert.ok(
        !/from\s*["']@aws-sdk\//.test(source) && !/import\(["']@aws-sdk\//.test(source.replace(lazyClientLambda, '')),
        `${name} imports no @aws-sdk package at run time`,
      );
      assert.ok(!source.includes('"@aws-sdk/client-lambda",version'), `${name} does not carry @aws-sdk/client-lambda`);
    }
  });

  test('the Events module is compiled into $connect, $disconnect and message, and not into the init sender or the fan-out worker', () => {
    for (const name of ['connect', 'disconnect', 'message'] as const) assert.ok(code[name].source.includes(MARKER), `${name} has the Events module`);
    assert.ok(!code.initSender.source.includes(MARKER));
    assert.ok(!code.fanoutWorker.source.includes(MARKER));
    assert.ok(!code.connect.source.includes('@gateway-backend/events'), 'the alias was resolved at bundle time');
  });

  describe('the bundles on the local gateway', () => {
    let local: LocalGateway;
    let endpoints: GatewayEndpoints;
    let doc: DynamoDBDocumentClient;
    const tables: GatewayTableNames = {
      connections: 'bundle-connections',
      sessions: 'bundle-sessions',
      memberships: 'bundle-memberships',
      uids: 'bundle-uids',
      groups: 'bundle-groups',
    };

    before(async () => {
      local = new LocalGateway({
        ttlSweepIntervalMs: 0,
        tables: localTables(tables),
        environment: (urls) => gatewayEnvironment(urls.callbackUrl, tables),
        functions: {
          connect: { entry: join(code.connect.dir, 'index.mjs'), environment: { [LambdaEnvVar.initFunction]: 'initSender' }, timeoutMs: 15_000 },
          disconnect: { entry: join(code.disconnect.dir, 'index.mjs'), timeoutMs: 15_000 },
          message: { entry: join(code.message.dir, 'index.mjs'), timeoutMs: 15_000 },
          initSender: { entry: join(code.initSender.dir, 'index.mjs'), timeoutMs: 20_000, maxRetryAttempts: 0 },
          fanoutWorker: { entry: join(code.fanoutWorker.dir, 'index.mjs'), timeoutMs: 60_000 },
        },
        routes: { $connect: 'connect', $disconnect: 'disconnect', $default: 'message', chat: 'message' },
      });
      endpoints = await local.start();
      doc = DynamoDBDocumentClient.from(
        new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }),
      );
    });

    after(async () => {
      await local.stop();
      doc.destroy();
    });

    test('init, the welcome queued by onWebSocketConnect, an echo from onMessage, and the session saved', async () => {
      const client = await connect(`${endpoints.wsUrl}?token=t`);
      const init = await client.json(0, 20_000);
      assert.equal(init.type, 'init');
      assert.deepEqual(await client.json(1, 20_000), { type: 'welcome', clientId: init.client_id });
      client.send(JSON.stringify({ action: 'chat', text: 'from the bundle' }));
      assert.deepEqual(await client.json(2, 20_000), { type: 'echo', text: 'from the bundle', count: 1, routeKey: 'chat' });
      const session = await eventually(
        async () => (await doc.send(new GetCommand({ TableName: tables.sessions, Key: { connectionId: init.client_id }, ConsistentRead: true }))).Item?.session,
        (s) => (s as Record<string, unknown> | undefined)?.count === 1,
        20_000,
      );
      assert.equal((session as { data: { get: { token: string } } }).data.get.token, 't');
      await client.close();
      await eventually(
        async () => (await doc.send(new GetCommand({ TableName: tables.connections, Key: { connectionId: init.client_id }, ConsistentRead: true }))).Item,
        (item) => item === undefined,
        20_000,
      );
    });

    test('the bundled fan-out worker delivers a chunked send', async () => {
      const clients = await Promise.all([connect(`${endpoints.wsUrl}?token=a`), connect(`${endpoints.wsUrl}?token=b`)]);
      const ids = await Promise.all(clients.map(async (c) => (await c.json(0, 20_000)).client_id as string));
      await Promise.all(clients.map((c) => c.message(1, 20_000))); // the welcome
      const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
      const lambda = new LambdaClient({ endpoint: endpoints.httpUrl, region: endpoints.region, credentials, maxAttempts: 1 });
      const gateway = new Gateway({
        callbackUrl: endpoints.callbackUrl,
        tables,
        region: endpoints.region,
        credentials,
        fanout: { functionName: 'fanoutWorker', threshold: 0, lambda },
      });
      try {
        const report = await gateway.sendToAll('through the bundled worker', { clientIds: ids });
        assert.deepEqual([report.queued?.chunks, report.queued?.recipients, report.failed], [1, 2, []]);
        for (const c of clients) assert.equal(await c.message(2, 20_000), 'through the bundled worker');
      } finally {
        gateway.destroy();
        lambda.destroy();
        await Promise.all(clients.map((c) => c.close()));
      }
    });
  });
});
