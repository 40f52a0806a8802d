// The gateway as a generic emulator for a synthesized CDK app: routes, functions (their asset code
// and environment), tables and the authorizer are read from cdk.out, and the app runs unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { LocalGateway, loadCloudAssembly, sharedEnvironmentOf } from '../../local/index.ts';
import { connect, refusedStatus } from '../helpers/wsClient.ts';

const chatApp = fileURLToPath(new URL('../fixtures/chat-app', import.meta.url));

/** The chat sample as a CDK stack, with plain asset code (no bundling) and a token authorizer. */
function synthChatStack(outdir: string): void {
  const app = new App({ outdir });
  const stack = new Stack(app, 'ChatStack', { env: { region: 'us-east-1' } });
  const table = new dynamodb.Table(stack, 'Connections', {
    partitionKey: { name: 'connectionId', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: 'expiresAt',
  });
  const fn = (id: string, file: string) =>
    new lambda.Function(stack, id, {
      runtime: lambda.Runtime.NODEJS_24_X,
      code: lambda.Code.fromAsset(chatApp),
      handler: `${file}.handler`,
      timeout: Duration.seconds(10),
      environment: { TABLE_NAME: table.tableName },
    });
  const authorizerFn = new lambda.Function(stack, 'Authorizer', {
    runtime: lambda.Runtime.NODEJS_24_X,
    code: lambda.Code.fromInline('unused'),
    handler: 'index.handler',
  });
  const api = new WebSocketApi(stack, 'ChatApi', {
    connectRouteOptions: {
      integration: new WebSocketLambdaIntegration('Connect', fn('OnConnect', 'onconnect')),
      authorizer: new WebSocketLambdaAuthorizer('TokenAuthorizer', authorizerFn, { identitySource: ['route.request.querystring.token'] }),
    },
    disconnectRouteOptions: { integration: new WebSocketLambdaIntegration('Disconnect', fn('OnDisconnect', 'ondisconnect')) },
  });
  api.addRoute('sendmessage', { integration: new WebSocketLambdaIntegration('Send', fn('SendMessage', 'sendmessage')) });
  new WebSocketStage(stack, 'Stage', { webSocketApi: api, stageName: 'prod', autoDeploy: true });
  app.synth();
}

test('a synthesized stack is read into routes, functions, tables and the authorizer', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
  try {
    synthChatStack(outdir);
    const app = loadCloudAssembly({ directory: outdir });
    const options = app.gatewayOptions;
    assert.equal(app.stackName, 'ChatStack');
    assert.equal(options.stage, 'prod');
    assert.deepEqual(Object.keys(options.routes).sort(), ['$connect', '$disconnect', 'sendmessage']);
    const connectFn = (options.routes.$connect as { function: string }).function;
    assert.ok(options.functions![connectFn]);
    const table = options.tables!.find((t) => t.partitionKey === 'connectionId')!;
    assert.equal(table.timeToLiveAttribute, 'expiresAt');
    assert.equal(app.environments[connectFn]!.TABLE_NAME, table.name);
    assert.deepEqual(options.authorizer?.identitySource, ['route.request.querystring.token']);
    assert.match((options.functions![connectFn] as { entry: string }).entry, /asset\.[0-9a-f]+\/onconnect\.mjs$/);
    const connectDefinition = options.functions![connectFn] as { runtime?: string; role?: string };
    assert.equal(connectDefinition.runtime, 'nodejs24.x', "the template's Runtime");
    assert.match(connectDefinition.role ?? '', /^arn:aws:iam::000000000000:role\/OnConnectServiceRole/);
    // What the functions share is what a backend process needs: here the table name.
    assert.deepEqual(sharedEnvironmentOf(app), { TABLE_NAME: table.name });
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

test('the synthesized chat stack runs on the gateway from its cdk.out', async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-out-'));
  synthChatStack(outdir);
  const app = loadCloudAssembly({ directory: outdir });
  // The inline authorizer code cannot run locally; a test stands in for it by name.
  const authorizerName = app.gatewayOptions.authorizer!.function as string;
  const gateway = new LocalGateway({
    ...app.gatewayOptions,
    ttlSweepIntervalMs: 0,
    functions: {
      ...app.gatewayOptions.functions,
      [authorizerName]: async (event: { queryStringParameters: Record<string, string>; methodArn: string }) => ({
        principalId: 'p',
        policyDocument: {
          Statement: [{ Action: 'execute-api:Invoke', Effect: event.queryStringParameters.token === 'secret' ? 'Allow' : 'Deny', Resource: event.methodArn }],
        },
      }),
    },
  });
  const { wsUrl } = await gateway.start();
  try {
    assert.equal(await refusedStatus(wsUrl), 401);
    assert.equal(await refusedStatus(`${wsUrl}?token=wrong`), 403);
    const alice = await connect(`${wsUrl}?token=secret`);
    const bob = await connect(`${wsUrl}?token=secret`);
    alice.send(JSON.stringify({ action: 'sendmessage', data: 'from the template' }));
    assert.equal(await alice.message(0, 15_000), 'from the template');
    assert.equal(await bob.message(0, 15_000), 'from the template');
    await alice.close();
    await bob.close();
  } finally {
    await gateway.stop();
    rmSync(outdir, { recursive: true, force: true });
  }
});

test('a directory without a cloud assembly gives an actionable error', () => {
  assert.throws(() => loadCloudAssembly({ directory: join(tmpdir(), 'nothing-here') }), /run `npx cdk synth` first/);
});
