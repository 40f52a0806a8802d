// An app that puts its stacks in CDK Stages synthesizes them into nested assemblies
// (cdk.out/assembly-<Stage>/): the local gateway finds them there, by any of the names the CDK gives
// a stack, with their own asset directories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, Stack, Stage } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { CloudAssemblyError, LocalGateway, loadCloudAssembly } from '../../local/index.ts';
import { connect } from '../helpers/wsClient.ts';

const chatApp = fileURLToPath(new URL('../fixtures/chat-app', import.meta.url));

/** The chat sample twice, in the stages Dev and Prod, plus a top-level stack without an API. */
function synthStagedApp(outdir: string): void {
  const app = new App({ outdir });
  new dynamodb.Table(new Stack(app, 'Shared'), 'Settings', { partitionKey: { name: 'key', type: dynamodb.AttributeType.STRING } });
  for (const stageName of ['Dev', 'Prod']) {
    const stage = new Stage(app, stageName, { env: { region: 'us-east-1' } });
    const stack = new Stack(stage, 'Chat');
    const table = new dynamodb.Table(stack, 'Connections', {
      partitionKey: { name: 'connectionId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    });
    const fn = (id: string, file: string) =>
      new lambda.Function(stack, id, {
        runtime: lambda.Runtime.NODEJS_24_X,
        code: lambda.Code.fromAsset(chatApp),
        handler: `${file}.handler`,
        timeout: Duration.seconds(10),
        environment: { TABLE_NAME: table.tableName, STAGE_LABEL: stageName },
      });
    const api = new WebSocketApi(stack, 'ChatApi', {
      connectRouteOptions: { integration: new WebSocketLambdaIntegration('Connect', fn('OnConnect', 'onconnect')) },
      disconnectRouteOptions: { integration: new WebSocketLambdaIntegration('Disconnect', fn('OnDisconnect', 'ondisconnect')) },
    });
    api.addRoute('sendmessage', { integration: new WebSocketLambdaIntegration('Send', fn('SendMessage', 'sendmessage')) });
    new WebSocketStage(stack, 'Stage', { webSocketApi: api, stageName: stageName.toLowerCase(), autoDeploy: true });
  }
  app.synth();
}

test('stacks inside Stages are found by path, CloudFormation name or artifact id, and run from their nested assembly', async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-stages-'));
  try {
    synthStagedApp(outdir);
    assert.throws(
      () => loadCloudAssembly({ directory: outdir }),
      (error: Error) => {
        assert.ok(error instanceof CloudAssemblyError);
        assert.match(error.message, /found Dev\/Chat \(Dev-Chat\), Prod\/Chat \(Prod-Chat\): pass stackName/);
        return true;
      },
    );
    assert.throws(
      () => loadCloudAssembly({ directory: outdir, stackName: 'Test/Chat' }),
      /stack Test\/Chat is not in .*; it has Shared, Dev\/Chat \(Dev-Chat\), Prod\/Chat \(Prod-Chat\)$/,
    );

    const byPath = loadCloudAssembly({ directory: outdir, stackName: 'Prod/Chat' });
    assert.equal(byPath.stackName, 'Prod-Chat');
    assert.equal(byPath.gatewayOptions.stage, 'prod');
    assert.deepEqual(loadCloudAssembly({ directory: outdir, stackName: 'Prod-Chat' }).gatewayOptions.stage, 'prod');
    assert.equal(loadCloudAssembly({ directory: outdir, stackName: 'Dev-Chat' }).gatewayOptions.stage, 'dev');
    const connectFn = (byPath.gatewayOptions.routes.$connect as { function: string }).function;
    assert.equal(byPath.environments[connectFn]!.STAGE_LABEL, 'Prod');
    // The nested template names its assets relative to its own directory (../asset.<hash>).
    const entry = (byPath.gatewayOptions.functions![connectFn] as { entry: string }).entry;
    assert.match(entry, /\/asset\.[0-9a-f]+\/onconnect\.mjs$/);
    assert.ok(existsSync(entry), entry);

    const gateway = new LocalGateway({ ...byPath.gatewayOptions, port: 0, dynamoPort: 0, ttlSweepIntervalMs: 0 });
    const { wsUrl } = await gateway.start();
    try {
      const client = await connect(wsUrl);
      client.send(JSON.stringify({ action: 'sendmessage', data: 'from a stage' }));
      assert.equal(await client.message(0, 15_000), 'from a stage');
      await client.close();
    } finally {
      await gateway.stop();
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

test('a manifest the reader cannot parse is a CloudAssemblyError naming the directory', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-broken-'));
  try {
    writeFileSync(join(outdir, 'manifest.json'), '{ not json');
    assert.throws(
      () => loadCloudAssembly({ directory: outdir }),
      (error: Error) => {
        assert.ok(error instanceof CloudAssemblyError);
        assert.match(error.message, /is not a cloud assembly this aws-cdk-lib can read/);
        return true;
      },
    );
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});
