// GatewayBackend's template: tables, API and stage, functions, outputs, the exact IAM grantGateway
// produces, the authorizer, and the props checks. Bundling is skipped here (it is what
// cdk-bundles.test.ts checks); the feature flags are the app's, read from cdk.json.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { GatewayBackendPropsError, NO_AUTHORIZER_WARNING, GatewayBackend, type GatewayBackendProps } from '../../cdk/index.ts';
import { GATEWAY_TABLE_ACTIONS, GATEWAY_SECRET_ACTIONS, FANOUT_WORKER_TABLE_ACTIONS } from '../../cdk/permissions.ts';
import { GatewayEnvVar } from '../../sdk/index.ts';
import { GatewayTables, type GatewayTableRole } from '../../sdk/tables.ts';
import { MetricsEnvVar } from '../../sdk/metricNames.ts';
import { LambdaEnvVar } from '../../lambdas/env.ts';

const cdkJson = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')) as { context: Record<string, unknown> };
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

/** A stack holding one GatewayBackend; props may be built from the stack (for functions they reference). */
function build(props: GatewayBackendProps | ((stack: Stack) => GatewayBackendProps) = {}) {
  const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'TestStack', { env: { account: ACCOUNT, region: REGION } });
  const backend = new GatewayBackend(stack, 'Gateway', typeof props === 'function' ? props(stack) : props);
  return { app, stack, backend, template: () => Template.fromStack(stack) };
}

/** `Ref`/`GetAtt`/`Join` flattened to a readable string: `<LogicalId>`, `<LogicalId.Arn>`. */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  const o = value as Record<string, unknown>;
  if (o.Ref) return `<${o.Ref as string}>`;
  if (o['Fn::GetAtt']) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
  if (o['Fn::Join']) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map(flatten).join(sep);
  }
  return JSON.stringify(value);
}

/** Every Allow in the policies attached to a role, as resource -> actions (robust to how CDK groups statements). */
function accessOf(template: Template, stack: Stack, role: iam.IRole): Record<string, string[]> {
  const roleId = stack.getLogicalId(role.node.defaultChild as iam.CfnRole);
  const access: Record<string, Set<string>> = {};
  const policies = template.findResources('AWS::IAM::Policy');
  for (const policy of Object.values(policies)) {
    const roles = (policy.Properties.Roles as Array<{ Ref: string }>).map((r) => r.Ref);
    if (!roles.includes(roleId)) continue;
    for (const statement of policy.Properties.PolicyDocument.Statement as Array<{ Effect: string; Action: string | string[]; Resource: unknown }>) {
      assert.equal(statement.Effect, 'Allow');
      const actions = [statement.Action].flat();
      for (const resource of [statement.Resource].flat()) {
        const key = flatten(resource);
        for (const action of actions) (access[key] ??= new Set()).add(action);
      }
    }
  }
  return Object.fromEntries(Object.entries(access).map(([k, v]) => [k, [...v].sort()]));
}

const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);

/** `<Table.Arn>` -> the dynamodb: actions of a grant list, for every table the list gives actions on. */
function tableAccess(stack: Stack, backend: GatewayBackend, lists: Record<GatewayTableRole, readonly string[]>): Record<string, string[]> {
  const tables = backend.tablesByRole();
  return Object.fromEntries(
    (Object.keys(lists) as GatewayTableRole[])
      .filter((role) => lists[role].length > 0)
      .map((role) => [`<${logicalId(stack, tables[role])}.Arn>`, lists[role].map((a) => `dynamodb:${a}`).sort()]),
  );
}

describe('tables', () => {
  test('five pay-per-request tables keyed as sdk/tables.ts says, TTL on expiresAt, point-in-time recovery on, retained', () => {
    const { template } = build();
    const t = template();
    t.resourceCountIs('AWS::DynamoDB::Table', 5);
    for (const keys of Object.values(GatewayTables)) {
      const keySchema = [
        { AttributeName: keys.partitionKey, KeyType: 'HASH' },
        ...('sortKey' in keys ? [{ AttributeName: keys.sortKey, KeyType: 'RANGE' }] : []),
      ];
      t.hasResource('AWS::DynamoDB::Table', {
        Properties: {
          KeySchema: keySchema,
          AttributeDefinitions: keySchema.map((k) => ({ AttributeName: k.AttributeName, AttributeType: 'S' })),
          BillingMode: 'PAY_PER_REQUEST',
          TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        },
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
    }
  });

  test('removal policy and point-in-time recovery follow the props', () => {
    const t = build({ removalPolicy: RemovalPolicy.DESTROY, pointInTimeRecovery: false }).template();
    const tables = Object.values(t.findResources('AWS::DynamoDB::Table'));
    assert.equal(tables.length, 5);
    for (const table of tables) {
      assert.equal(table.DeletionPolicy, 'Delete');
      assert.deepEqual(table.Properties.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: false });
    }
    for (const group of Object.values(t.findResources('AWS::Logs::LogGroup'))) assert.equal(group.DeletionPolicy, 'Delete');
  });
});

describe('API and stage', () => {
  test('a WebSocket API selecting routes by $request.body.action; $connect, $disconnect, $default and custom routes go to their functions', () => {
    const { stack, backend, template } = build({ routes: ['chat', 'typing'] });
    const t = template();
    t.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.action' });
    const routes = Object.values(t.findResources('AWS::ApiGatewayV2::Route'));
    assert.deepEqual(routes.map((r) => r.Properties.RouteKey).sort(), ['$connect', '$default', '$disconnect', 'chat', 'ping', 'typing']);
    const integrations = t.findResources('AWS::ApiGatewayV2::Integration');
    const functionOf = (routeKey: string) => {
      const route = routes.find((r) => r.Properties.RouteKey === routeKey)!;
      const integrationId = (flatten(route.Properties.Target).match(/<(\w+)>/) ?? [])[1]!;
      const integration = integrations[integrationId]!;
      assert.equal(integration.Properties.IntegrationType, 'AWS_PROXY');
      return flatten(integration.Properties.IntegrationUri).match(/<(\w+)\.Arn>/)![1];
    };
    assert.equal(functionOf('$connect'), logicalId(stack, backend.connectFunction));
    assert.equal(functionOf('$disconnect'), logicalId(stack, backend.disconnectFunction));
    for (const key of ['$default', 'chat', 'typing']) assert.equal(functionOf(key), logicalId(stack, backend.messageFunction));
    for (const route of routes) assert.equal(route.Properties.AuthorizationType, 'NONE');
  });

  test('the heartbeat route: ping answered by a MOCK integration (status 200 from its request template), one-way, no Lambda', () => {
    const { stack, backend, template } = build();
    const t = template();
    const routes = t.findResources('AWS::ApiGatewayV2::Route');
    const ping = Object.values(routes).find((r) => r.Properties.RouteKey === 'ping')!;
    assert.equal(
      logicalId(stack, backend.heartbeatRoute!),
      Object.keys(routes).find((id) => routes[id] === ping),
    );
    const integrationId = (flatten(ping.Properties.Target).match(/<(\w+)>/) ?? [])[1]!;
    const integration = t.findResources('AWS::ApiGatewayV2::Integration')[integrationId]!.Properties;
    assert.deepEqual(
      [integration.IntegrationType, integration.RequestTemplates, integration.TemplateSelectionExpression],
      ['MOCK', { $default: '{"statusCode": 200}' }, '\\$default'],
    );
    assert.equal(ping.Properties.RouteResponseSelectionExpression, undefined, 'one-way: nothing is sent back');
    const routeResponses = Object.values(t.findResources('AWS::ApiGatewayV2::RouteResponse'));
    assert.ok(routeResponses.every((r) => flatten(r.Properties.RouteId) !== `<${logicalId(stack, backend.heartbeatRoute!)}>`));
    for (const permission of Object.values(t.findResources('AWS::Lambda::Permission'))) assert.doesNotMatch(JSON.stringify(permission), /ping/);
  });

  test('heartbeatRoute: another key, or false for none (pings then reach $default); a clash with routes or a bad key is refused', () => {
    const keys = (props: GatewayBackendProps) =>
      Object.values(build(props).template().findResources('AWS::ApiGatewayV2::Route'))
        .map((r) => r.Properties.RouteKey)
        .sort();
    assert.deepEqual(keys({ heartbeatRoute: 'hb' }), ['$connect', '$default', '$disconnect', 'hb']);
    assert.deepEqual(keys({ heartbeatRoute: false }), ['$connect', '$default', '$disconnect']);
    assert.equal(build({ heartbeatRoute: false }).backend.heartbeatRoute, undefined);
    assert.deepEqual(keys({ heartbeatRoute: false, routes: ['ping'] }), ['$connect', '$default', '$disconnect', 'ping']);
    for (const [props, message] of [
      [{ routes: ['ping'] }, /routes: "ping" is the heartbeat route/],
      [{ heartbeatRoute: '$ping' }, /heartbeatRoute: "\$ping" must be a route key/],
      [{ heartbeatRoute: 'two words' }, /heartbeatRoute/],
    ] as const) {
      assert.throws(
        () => build(props as GatewayBackendProps),
        (e: Error) => e instanceof GatewayBackendPropsError && message.test(e.message),
      );
    }
  });

  test('a custom route selection expression and stage name', () => {
    const t = build({ routeSelectionExpression: '$request.body.type', stageName: 'live' }).template();
    t.hasResourceProperties('AWS::ApiGatewayV2::Api', { RouteSelectionExpression: '$request.body.type' });
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: 'live' });
  });

  test('the stage auto-deploys and throttles every route; by default it has no access logs, which a fresh region refuses', () => {
    const { backend, template } = build();
    const t = template();
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: 'prod',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 500 },
    });
    const stage = Object.values(t.findResources('AWS::ApiGatewayV2::Stage'))[0]!;
    assert.equal(stage.Properties.AccessLogSettings, undefined);
    assert.equal(stage.Properties.DefaultRouteSettings.LoggingLevel, undefined, 'execution logs need the account role too');
    assert.equal(backend.accessLogGroup, undefined);
    t.resourceCountIs('AWS::ApiGateway::Account', 0);
    t.resourceCountIs('AWS::Logs::LogGroup', 6);
  });

  test('accessLogs: true writes JSON access logs to their own log group, without creating the account role', () => {
    const { stack, backend, template } = build({ accessLogs: true });
    const t = template();
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [logicalId(stack, backend.accessLogGroup!), 'Arn'] },
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId".*"routeKey":"\\$context.routeKey".*"connectionId":"\\$context.connectionId"'),
      },
    });
    const format = JSON.parse(Object.values(t.findResources('AWS::ApiGatewayV2::Stage'))[0]!.Properties.AccessLogSettings.Format as string);
    assert.equal(format.status, '$context.status');
    t.hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Retain' });
    t.resourceCountIs('AWS::Logs::LogGroup', 7);
    t.resourceCountIs('AWS::ApiGateway::Account', 0);
  });

  test('throttling follows the props', () => {
    const t = build({ throttle: { rateLimit: 50, burstLimit: 20 } }).template();
    t.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 20 } });
  });

  test("apiGatewayCloudWatchRole: the region's role and setting, both retained even with removalPolicy DESTROY, access logs on, the stage waiting for the setting", () => {
    const { stack, backend, template } = build({ apiGatewayCloudWatchRole: true, removalPolicy: RemovalPolicy.DESTROY });
    const t = template();
    t.resourceCountIs('AWS::ApiGateway::Account', 1);
    const roleId = logicalId(stack, backend.cloudWatchRole!);
    t.hasResource('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'apigateway.amazonaws.com' } })] },
        ManagedPolicyArns: [
          Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([':iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs'])]) }),
        ],
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    const account = t.findResources('AWS::ApiGateway::Account')[stack.getLogicalId(backend.apiGatewayAccount!)]!;
    assert.deepEqual([account.DeletionPolicy, account.UpdateReplacePolicy], ['Retain', 'Retain']);
    assert.deepEqual(account.Properties.CloudWatchRoleArn, { 'Fn::GetAtt': [roleId, 'Arn'] });
    const stage = t.findResources('AWS::ApiGatewayV2::Stage')[logicalId(stack, backend.stage)]!;
    assert.ok((stage.DependsOn as string[]).includes(stack.getLogicalId(backend.apiGatewayAccount!)));
    assert.ok(stage.Properties.AccessLogSettings, 'access logs follow the role');
    // The rest follows removalPolicy: only the region-wide pieces outlive the stack.
    t.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
  });

  test('apiGatewayCloudWatchRole with accessLogs: false sets the region up and leaves this stage unlogged', () => {
    const t = build({ apiGatewayCloudWatchRole: true, accessLogs: false }).template();
    t.resourceCountIs('AWS::ApiGateway::Account', 1);
    assert.equal(Object.values(t.findResources('AWS::ApiGatewayV2::Stage'))[0]!.Properties.AccessLogSettings, undefined);
  });

  test('two stacks of the same app in one region each get their own retained role: neither deletion leaves the setting naming a deleted role', () => {
    const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
    const copies = ['Staging', 'Prod'].map((name) => {
      const stack = new Stack(app, name, { env: { account: ACCOUNT, region: REGION } });
      return { stack, backend: new GatewayBackend(stack, 'Gateway', { apiGatewayCloudWatchRole: true }) };
    });
    const roles = copies.map(({ stack, backend }) => Template.fromStack(stack).findResources('AWS::IAM::Role')[logicalId(stack, backend.cloudWatchRole!)]!);
    for (const role of roles) {
      assert.equal(role.DeletionPolicy, 'Retain');
      assert.equal(role.Properties.RoleName, undefined, 'a fixed name would make the second stack fail with AlreadyExists');
    }
  });
});

describe('functions', () => {
  test('six functions on Node 24, arm64, with their own log groups, roles without managed policies, and the init sender never retried', () => {
    const { stack, backend, template } = build();
    const t = template();
    t.resourceCountIs('AWS::Lambda::Function', 6);
    const functions = t.findResources('AWS::Lambda::Function');
    for (const [fn, logs, timeout, memory] of [
      [backend.connectFunction, backend.functionLogGroups.connect, 10, 256],
      [backend.disconnectFunction, backend.functionLogGroups.disconnect, 10, 256],
      [backend.messageFunction, backend.functionLogGroups.message, 10, 256],
      [backend.initSenderFunction, backend.functionLogGroups.initSender, 15, 256],
      [backend.fanoutWorkerFunction, backend.functionLogGroups.fanoutWorker, 60, 1024],
      [backend.gatewayApiFunction, backend.functionLogGroups.gatewayApi, 10, 256],
    ] as const) {
      const props = functions[logicalId(stack, fn)]!.Properties;
      assert.equal(props.Runtime, 'nodejs24.x');
      assert.deepEqual(props.Architectures, ['arm64']);
      assert.equal(props.Handler, 'index.handler');
      assert.equal(props.MemorySize, memory);
      assert.equal(props.Timeout, timeout);
      assert.deepEqual(props.LoggingConfig, { LogGroup: { Ref: logicalId(stack, logs) } });
      assert.equal(props.ReservedConcurrentExecutions, undefined);
    }
    for (const role of Object.values(t.findResources('AWS::IAM::Role'))) assert.equal(role.Properties.ManagedPolicyArns, undefined);
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack, backend.initSenderFunction) },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });

  test('the handlers get the SDK environment, $connect also the init sender and the init switch, plus the user environment', () => {
    const { stack, backend, template } = build({ environment: { APP_SECRET_NAME: 'my-secret' }, initMessage: false });
    const functions = template().findResources('AWS::Lambda::Function');
    const env = (fn: lambda.Function) => functions[logicalId(stack, fn)]!.Properties.Environment.Variables as Record<string, unknown>;
    const tableEnvironment = {
      [GatewayEnvVar.callbackUrl]: stack.resolve(backend.callbackUrl),
      [GatewayEnvVar.connectionsTable]: { Ref: logicalId(stack, backend.connectionsTable) },
      [GatewayEnvVar.sessionsTable]: { Ref: logicalId(stack, backend.sessionsTable) },
      [GatewayEnvVar.membershipsTable]: { Ref: logicalId(stack, backend.membershipsTable) },
      [GatewayEnvVar.uidsTable]: { Ref: logicalId(stack, backend.uidsTable) },
      [GatewayEnvVar.groupsTable]: { Ref: logicalId(stack, backend.groupsTable) },
    };
    const metricsEnvironment = { [MetricsEnvVar.namespace]: 'ServerlessGatewayWorker', [MetricsEnvVar.service]: 'TestStack-Gateway' };
    const sdkEnvironment = {
      ...tableEnvironment,
      ...metricsEnvironment,
      [GatewayEnvVar.fanoutFunction]: { Ref: logicalId(stack, backend.fanoutWorkerFunction) },
      [GatewayEnvVar.fanoutThreshold]: '1000',
      [GatewayEnvVar.bindTokenSecret]: { Ref: logicalId(stack, backend.bindTokenSecret) },
      [GatewayEnvVar.requireBindToken]: 'true',
      [GatewayEnvVar.fanoutRate]: '2000',
      [GatewayEnvVar.recoveryWindow]: '120',
    };
    assert.deepEqual(env(backend.connectFunction), {
      APP_SECRET_NAME: 'my-secret',
      ...sdkEnvironment,
      [LambdaEnvVar.initFunction]: { Ref: logicalId(stack, backend.initSenderFunction) },
      [LambdaEnvVar.initMessage]: 'false',
    });
    assert.deepEqual(env(backend.disconnectFunction), { APP_SECRET_NAME: 'my-secret', ...sdkEnvironment });
    assert.deepEqual(env(backend.messageFunction), { APP_SECRET_NAME: 'my-secret', ...sdkEnvironment });
    assert.deepEqual(env(backend.initSenderFunction), {
      [GatewayEnvVar.callbackUrl]: sdkEnvironment[GatewayEnvVar.callbackUrl],
      [GatewayEnvVar.connectionsTable]: sdkEnvironment[GatewayEnvVar.connectionsTable],
      [GatewayEnvVar.bindTokenSecret]: sdkEnvironment[GatewayEnvVar.bindTokenSecret],
      ...metricsEnvironment,
    });
    // The worker gets what Gateway.fromEnv() needs and no fan-out settings: a chunk never fans out again.
    assert.deepEqual(env(backend.fanoutWorkerFunction), { ...tableEnvironment, ...metricsEnvironment });
    // The Gateway API is an SDK user like any other (large sends chunk), and runs no user code.
    assert.deepEqual(env(backend.gatewayApiFunction), sdkEnvironment);
  });

  test('the init sender may only post to this stage, read the connections table and read the bind token secret; $connect may invoke only the init sender', () => {
    const { stack, backend, template } = build();
    const t = template();
    const api = logicalId(stack, backend.webSocketApi);
    assert.deepEqual(accessOf(t, stack, backend.initSenderFunction.role!), {
      [`<${logicalId(stack, backend.functionLogGroups.initSender)}.Arn>`]: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      [`arn:aws:execute-api:${REGION}:${ACCOUNT}:<${api}>/prod/POST/@connections/*`]: ['execute-api:ManageConnections'],
      [`<${logicalId(stack, backend.connectionsTable)}.Arn>`]: ['dynamodb:GetItem'],
      [`<${logicalId(stack, backend.bindTokenSecret)}>`]: ['secretsmanager:GetSecretValue'],
    });
    const connectAccess = accessOf(t, stack, backend.connectFunction.role!);
    const invokable = Object.entries(connectAccess).filter(([, actions]) => actions.some((a) => a.startsWith('lambda:')));
    assert.deepEqual(Object.fromEntries(invokable), {
      [`<${logicalId(stack, backend.initSenderFunction)}.Arn>`]: ['lambda:InvokeFunction'],
      [`<${logicalId(stack, backend.fanoutWorkerFunction)}.Arn>`]: ['lambda:InvokeFunction'],
    });
  });

  test('the fan-out worker may only post to this stage, prune what a 410 leaves, send to its failure queue, and re-queue to itself', () => {
    const { stack, backend, template } = build();
    const t = template();
    const api = logicalId(stack, backend.webSocketApi);
    const dynamo = (actions: readonly string[]) => actions.map((a) => `dynamodb:${a}`).sort();
    assert.deepEqual(accessOf(t, stack, backend.fanoutWorkerFunction.role!), {
      [`<${logicalId(stack, backend.functionLogGroups.fanoutWorker)}.Arn>`]: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      [`arn:aws:execute-api:${REGION}:${ACCOUNT}:<${api}>/prod/POST/@connections/*`]: ['execute-api:ManageConnections'],
      ...tableAccess(stack, backend, FANOUT_WORKER_TABLE_ACTIONS),
      [`<${stack.getLogicalId(backend.fanoutFailureQueue.node.defaultChild as never)}.Arn>`]: ['sqs:SendMessage'],
      // Its own unqualified ARN only: recipients that still fail go to a new invocation of itself.
      [`<${logicalId(stack, backend.fanoutWorkerFunction)}.Arn>`]: ['lambda:InvokeFunction'],
    });
    // GetItem and UpdateItem, DeleteItem on sessions, PutItem on memberships: a 410 of a browser-client connection (held, buffered, or removed).
    assert.deepEqual(dynamo(FANOUT_WORKER_TABLE_ACTIONS.connections), ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem']);
    assert.deepEqual(dynamo(FANOUT_WORKER_TABLE_ACTIONS.sessions), ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem']);
    assert.deepEqual(dynamo(FANOUT_WORKER_TABLE_ACTIONS.memberships), ['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:Query']);
    assert.deepEqual(dynamo(FANOUT_WORKER_TABLE_ACTIONS.uids), ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem']);
    assert.deepEqual(dynamo(FANOUT_WORKER_TABLE_ACTIONS.groups), ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem']);
  });

  test('the fan-out worker: retried twice, an hour in the queue at most, then its failure queue (encrypted, TLS only, 14 days)', () => {
    const { stack, backend, template } = build();
    const t = template();
    const queueId = stack.getLogicalId(backend.fanoutFailureQueue.node.defaultChild as never);
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack, backend.fanoutWorkerFunction) },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 3600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
    });
    t.resourceCountIs('AWS::SQS::Queue', 1);
    t.hasResource('AWS::SQS::Queue', {
      Properties: { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 },
      DeletionPolicy: 'Retain',
    });
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: [Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Principal: { AWS: '*' } })],
      },
    });
  });

  test('fan-out props: threshold (into GATEWAY_FANOUT_THRESHOLD), rate (GATEWAY_FANOUT_RATE), concurrency (also GATEWAY_FANOUT_CONCURRENCY), memory, timeout, retries, event age, retention', () => {
    const { stack, backend, template } = build({
      fanout: {
        threshold: 250,
        rateLimit: 500,
        reservedConcurrency: 3,
        memorySize: 2048,
        timeout: Duration.seconds(30),
        retryAttempts: 0,
        maxEventAge: Duration.minutes(5),
        failureRetention: Duration.days(1),
      },
    });
    const t = template();
    const functions = t.findResources('AWS::Lambda::Function');
    const worker = functions[logicalId(stack, backend.fanoutWorkerFunction)]!.Properties;
    assert.deepEqual([worker.ReservedConcurrentExecutions, worker.MemorySize, worker.Timeout], [3, 2048, 30]);
    const env = functions[logicalId(stack, backend.messageFunction)]!.Properties.Environment.Variables;
    assert.deepEqual([env[GatewayEnvVar.fanoutThreshold], env[GatewayEnvVar.fanoutRate], env[GatewayEnvVar.fanoutConcurrency]], ['250', '500', '3']);
    assert.equal(backend.fanoutThreshold, 250);
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalId(stack, backend.fanoutWorkerFunction) },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 300,
    });
    t.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 86400 });
  });

  test('no reservation by default (Lambda refuses one that leaves under 100 unreserved executions, and new accounts have fewer); false is the same', () => {
    for (const fanout of [undefined, { reservedConcurrency: false as const }]) {
      const { stack, backend, template } = build(fanout ? { fanout } : {});
      const functions = template().findResources('AWS::Lambda::Function');
      assert.equal(functions[logicalId(stack, backend.fanoutWorkerFunction)]!.Properties.ReservedConcurrentExecutions, undefined);
      for (const fn of Object.values(functions)) assert.equal(fn.Properties.ReservedConcurrentExecutions, undefined);
      const env = functions[logicalId(stack, backend.messageFunction)]!.Properties.Environment.Variables;
      assert.equal(env[GatewayEnvVar.fanoutConcurrency], undefined, 'no bound known: every chunk may run at once');
    }
  });

  test('sendRate: the per-process inline budget reaches every granted function as GATEWAY_SEND_RATE (a number, or off); unset leaves the SDK default', () => {
    const sendRateOf = (props: Parameters<typeof build>[0]) => {
      const { stack, backend, template } = build(props);
      const appFunction = new lambda.Function(stack, 'AppBackend', {
        runtime: lambda.Runtime.NODEJS_24_X,
        code: lambda.Code.fromInline('export const handler = () => {}'),
        handler: 'index.handler',
      });
      backend.grantGateway(appFunction);
      const functions = template().findResources('AWS::Lambda::Function');
      const of = (fn: lambda.IFunction) => functions[logicalId(stack, fn)]!.Properties.Environment.Variables[GatewayEnvVar.sendRate];
      return [of(backend.messageFunction), of(backend.gatewayApiFunction), of(appFunction), backend.environment[GatewayEnvVar.sendRate]];
    };
    assert.deepEqual(sendRateOf({}), [undefined, undefined, undefined, undefined]);
    assert.deepEqual(sendRateOf({ sendRate: 500 }), ['500', '500', '500', '500']);
    assert.deepEqual(sendRateOf({ sendRate: false }), ['off', 'off', 'off', 'off']);
    for (const sendRate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => build({ sendRate }),
        (e: Error) => e instanceof GatewayBackendPropsError && /sendRate: .* must be a positive number of requests per second, or false/.test(e.message),
        String(sendRate),
      );
    }
  });

  test('fanout.rateLimit must be a positive number of requests per second', () => {
    for (const rateLimit of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, 2_000_000]) {
      assert.throws(
        () => build({ fanout: { rateLimit } }),
        (e: Error) => e instanceof GatewayBackendPropsError && /fanout\.rateLimit/.test(e.message),
        String(rateLimit),
      );
    }
  });
});

describe('grantGateway', () => {
  test("gives another Lambda exactly the SDK's IAM (this stage's @connections, the SDK's table actions, no wildcard action) and sets the env vars Gateway.fromEnv() reads", () => {
    const { stack, backend, template } = build();
    const appFunction = new lambda.Function(stack, 'AppBackend', {
      runtime: lambda.Runtime.NODEJS_24_X,
      code: lambda.Code.fromInline('export const handler = () => {}'),
      handler: 'index.handler',
    });
    const grant = backend.grantGateway(appFunction);
    assert.ok(grant.success);
    const t = template();

    const api = logicalId(stack, backend.webSocketApi);
    const connectionsArn = (method: string) => `arn:aws:execute-api:${REGION}:${ACCOUNT}:<${api}>/prod/${method}/@connections/*`;
    const dynamo = (actions: readonly string[]) => actions.map((a) => `dynamodb:${a}`).sort();
    assert.deepEqual(accessOf(t, stack, appFunction.role!), {
      [connectionsArn('DELETE')]: ['execute-api:ManageConnections'],
      [connectionsArn('GET')]: ['execute-api:ManageConnections'],
      [connectionsArn('POST')]: ['execute-api:ManageConnections'],
      ...tableAccess(stack, backend, GATEWAY_TABLE_ACTIONS),
      // The fan-out worker's unqualified ARN only: no other function, no version or alias (`:*`).
      [`<${logicalId(stack, backend.fanoutWorkerFunction)}.Arn>`]: ['lambda:InvokeFunction'],
      // The bind token secret only, and only its value (no DescribeSecret).
      [`<${logicalId(stack, backend.bindTokenSecret)}>`]: GATEWAY_SECRET_ACTIONS.map((a) => `secretsmanager:${a}`),
    });
    assert.deepEqual(dynamo(GATEWAY_TABLE_ACTIONS.connections), [
      'dynamodb:BatchGetItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Scan',
      'dynamodb:UpdateItem',
    ]);
    assert.deepEqual(dynamo(GATEWAY_TABLE_ACTIONS.sessions), [
      'dynamodb:BatchGetItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Scan',
      'dynamodb:UpdateItem',
    ]);
    assert.deepEqual(dynamo(GATEWAY_TABLE_ACTIONS.memberships), ['dynamodb:BatchWriteItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:Query']);
    assert.deepEqual(dynamo(GATEWAY_TABLE_ACTIONS.uids), [
      'dynamodb:BatchWriteItem',
      'dynamodb:DeleteItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:Scan',
    ]);
    assert.deepEqual(dynamo(GATEWAY_TABLE_ACTIONS.groups), [
      'dynamodb:BatchWriteItem',
      'dynamodb:DeleteItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:Scan',
    ]);
    for (const action of Object.values(accessOf(t, stack, appFunction.role!)).flat()) assert.ok(!action.includes('*'), `${action} is not a wildcard`);

    const env = t.findResources('AWS::Lambda::Function')[logicalId(stack, appFunction)]!.Properties.Environment.Variables;
    // GATEWAY_FANOUT_CONCURRENCY only with a reservation (none by default); GATEWAY_SEND_RATE only when the user sets it.
    assert.deepEqual(
      Object.keys(env).sort(),
      [
        ...Object.values(GatewayEnvVar).filter((n) => n !== GatewayEnvVar.fanoutConcurrency && n !== GatewayEnvVar.sendRate),
        ...Object.values(MetricsEnvVar),
      ].sort(),
    );
    assert.deepEqual(env[GatewayEnvVar.fanoutFunction], { Ref: logicalId(stack, backend.fanoutWorkerFunction) });
    assert.equal(env[GatewayEnvVar.fanoutThreshold], '1000');
    assert.deepEqual(env[GatewayEnvVar.callbackUrl], stack.resolve(backend.callbackUrl));
    assert.match(flatten(env[GatewayEnvVar.callbackUrl]), new RegExp(`^https://<${api}>\\.execute-api\\.${REGION}\\.<AWS::URLSuffix>/prod$`));
    assert.deepEqual(env[GatewayEnvVar.connectionsTable], { Ref: logicalId(stack, backend.connectionsTable) });
    assert.deepEqual(env[GatewayEnvVar.sessionsTable], { Ref: logicalId(stack, backend.sessionsTable) });
    assert.deepEqual(env[GatewayEnvVar.membershipsTable], { Ref: logicalId(stack, backend.membershipsTable) });
    assert.deepEqual(env[GatewayEnvVar.uidsTable], { Ref: logicalId(stack, backend.uidsTable) });
    assert.deepEqual(env[GatewayEnvVar.groupsTable], { Ref: logicalId(stack, backend.groupsTable) });
  });

  test('grantGatewayPermissions serves compute that is not a Lambda (here a role), with `environment` to pass on', () => {
    const { stack, backend, template } = build();
    const role = new iam.Role(stack, 'TaskRole', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    backend.grantGatewayPermissions(role);
    const access = accessOf(template(), stack, role);
    assert.equal(Object.keys(access).length, 10); // 3 @connections methods, 5 tables, the worker, the bind token secret
    assert.deepEqual(access[`<${logicalId(stack, backend.bindTokenSecret)}>`], ['secretsmanager:GetSecretValue']);
    assert.deepEqual(access[`<${logicalId(stack, backend.fanoutWorkerFunction)}.Arn>`], ['lambda:InvokeFunction']);
    assert.deepEqual(
      Object.keys(backend.environment).sort(),
      [
        ...Object.values(GatewayEnvVar).filter((n) => n !== GatewayEnvVar.fanoutConcurrency && n !== GatewayEnvVar.sendRate),
        ...Object.values(MetricsEnvVar),
      ].sort(),
    );
  });
});

describe('grantInvokeGatewayApi', () => {
  test("allows lambda:InvokeFunction on the Gateway API's unqualified ARN and nothing else; the function itself has the SDK's IAM", () => {
    const { stack, backend, template } = build();
    const role = new iam.Role(stack, 'PhpAppRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    assert.ok(backend.grantInvokeGatewayApi(role).success);
    const t = template();
    assert.deepEqual(accessOf(t, stack, role), { [`<${logicalId(stack, backend.gatewayApiFunction)}.Arn>`]: ['lambda:InvokeFunction'] });
    const api = accessOf(t, stack, backend.gatewayApiFunction.role!);
    assert.equal(Object.keys(api).length, 11, 'its log group, the three @connections methods, the five tables, the fan-out worker and the bind token secret');
    assert.deepEqual(api[`<${logicalId(stack, backend.fanoutWorkerFunction)}.Arn>`], ['lambda:InvokeFunction']);
  });
});

describe('authorizer', () => {
  test('a REQUEST authorizer on $connect only, reading the token from the query string', () => {
    const { template } = build((stack) => ({
      authorizer: {
        handler: new lambda.Function(stack, 'Authorizer', { runtime: lambda.Runtime.NODEJS_24_X, code: lambda.Code.fromInline('x'), handler: 'index.handler' }),
      },
    }));
    const t = template();
    t.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { AuthorizerType: 'REQUEST', IdentitySource: ['route.request.querystring.token'] });
    const authorizerId = Object.keys(t.findResources('AWS::ApiGatewayV2::Authorizer'))[0]!;
    for (const route of Object.values(t.findResources('AWS::ApiGatewayV2::Route'))) {
      if (route.Properties.RouteKey === '$connect') {
        assert.equal(route.Properties.AuthorizationType, 'CUSTOM');
        assert.deepEqual(route.Properties.AuthorizerId, { Ref: authorizerId });
      } else {
        assert.equal(route.Properties.AuthorizationType, 'NONE');
      }
    }
    t.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'apigateway.amazonaws.com',
      FunctionName: Match.objectLike({ 'Fn::GetAtt': [Match.stringLikeRegexp('^Authorizer'), 'Arn'] }),
    });
  });

  test('without an authorizer the construct warns, in a form an app can acknowledge; with one it does not', () => {
    const open = build();
    open.template();
    Annotations.fromStack(open.stack).hasWarning(
      '/TestStack/Gateway',
      Match.stringLikeRegexp(`No authorizer on \\$connect.*\\[ack: ${NO_AUTHORIZER_WARNING}\\]`),
    );
    const guarded = build((stack) => ({
      authorizer: {
        handler: new lambda.Function(stack, 'Auth', { runtime: lambda.Runtime.NODEJS_24_X, code: lambda.Code.fromInline('x'), handler: 'index.handler' }),
      },
    }));
    guarded.template();
    Annotations.fromStack(guarded.stack).hasNoWarning('*', Match.anyValue());
  });

  test('the query parameter can be renamed', () => {
    const { template } = build((stack) => ({
      authorizer: {
        handler: new lambda.Function(stack, 'Auth', { runtime: lambda.Runtime.NODEJS_24_X, code: lambda.Code.fromInline('x'), handler: 'index.handler' }),
        queryParameter: 'access_token',
      },
    }));
    template().hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { IdentitySource: ['route.request.querystring.access_token'] });
  });
});

test("outputs: the wss URL and the callback URL of the stage, the five table names, the fan-out worker's and the Gateway API's names, and the bind token secret's ARN", () => {
  const { stack, backend, template } = build();
  const outputs = template().findOutputs('*');
  const values = Object.values(outputs).map((o) => flatten(o.Value));
  const api = logicalId(stack, backend.webSocketApi);
  const names = [...Object.values(backend.tablesByRole()), backend.fanoutWorkerFunction, backend.gatewayApiFunction, backend.bindTokenSecret].map(
    (t) => `<${logicalId(stack, t)}>`,
  );
  assert.deepEqual(
    values.sort(),
    [`https://<${api}>.execute-api.${REGION}.<AWS::URLSuffix>/prod`, `wss://<${api}>.execute-api.${REGION}.<AWS::URLSuffix>/prod`, ...names].sort(),
  );
  assert.deepEqual(stack.resolve(backend.urlOutput.value), stack.resolve(backend.url));
  assert.deepEqual(stack.resolve(backend.callbackUrlOutput.value), stack.resolve(backend.callbackUrl));
});

test('construct ids are stable: the logical ids the local gateway and deployed stacks rely on', () => {
  const { stack, backend } = build();
  const ids = {
    connections: logicalId(stack, backend.connectionsTable),
    sessions: logicalId(stack, backend.sessionsTable),
    memberships: logicalId(stack, backend.membershipsTable),
    uids: logicalId(stack, backend.uidsTable),
    groups: logicalId(stack, backend.groupsTable),
    api: logicalId(stack, backend.webSocketApi),
    stage: logicalId(stack, backend.stage),
    connect: logicalId(stack, backend.connectFunction),
    disconnect: logicalId(stack, backend.disconnectFunction),
    message: logicalId(stack, backend.messageFunction),
    initSender: logicalId(stack, backend.initSenderFunction),
    fanoutWorker: logicalId(stack, backend.fanoutWorkerFunction),
    fanoutFailures: stack.getLogicalId(backend.fanoutFailureQueue.node.defaultChild as never),
    gatewayApi: logicalId(stack, backend.gatewayApiFunction),
  };
  for (const [name, id] of Object.entries(ids)) assert.match(id, /^Gateway[A-Za-z]+[0-9A-F]{8}$/, name);
  assert.match(ids.connections, /^GatewayConnections/);
  assert.match(ids.initSender, /^GatewayInitSenderFunction/);
  assert.match(ids.fanoutWorker, /^GatewayFanoutWorkerFunction/);
  assert.match(ids.fanoutFailures, /^GatewayFanoutFailures/);
  assert.match(ids.gatewayApi, /^GatewayGatewayApiFunction/);
});

describe('props checks fail with a message that says what to change', () => {
  const fails = (props: GatewayBackendProps, message: RegExp) =>
    assert.throws(
      () => build(props),
      (error: unknown) => error instanceof GatewayBackendPropsError && message.test(error.message),
    );

  test('fails on an events module that is not a file', () => {
    fails({ eventsModule: 'no/such/events.ts' }, /eventsModule: "no\/such\/events\.ts" resolves to .*no\/such\/events\.ts, which is not a file/);
    fails({ eventsModule: fileURLToPath(new URL('../../cdk.json', import.meta.url)) }, /must be a \.ts, \.mts, \.cts, \.js, \.mjs or \.cjs file/);
  });

  test('fails on reserved, malformed or repeated route keys', () => {
    fails({ routes: ['$custom'] }, /starts with '\$', which API Gateway reserves/);
    fails({ routes: ['two words'] }, /1-128 characters without whitespace/);
    fails({ routes: ['chat', 'chat'] }, /"chat" is listed twice/);
  });

  test('fails on a route selection expression that does not read the body, and on a bad stage name', () => {
    fails({ routeSelectionExpression: '$request.header.x' }, /must select from the message body/);
    fails({ stageName: 'a/b' }, /stageName: "a\/b" must be 1-128 letters, digits/);
  });

  test('fails on throttling, memory and timeout out of range', () => {
    fails({ throttle: { rateLimit: 0, burstLimit: 10 } }, /throttle\.rateLimit: 0 must be a positive number/);
    fails({ throttle: { rateLimit: 10, burstLimit: 1.5 } }, /throttle\.burstLimit: 1\.5 must be a positive whole number/);
    fails({ memorySize: 64 }, /memorySize: 64 must be a whole number of MB from 128 to 10240/);
    fails({ timeout: Duration.seconds(30) }, /timeout: 30 seconds must be from 1 second to 29 seconds/);
  });

  test('fails on fan-out settings out of range', () => {
    fails({ fanout: { threshold: -1 } }, /fanout\.threshold: -1 must be a whole number of recipients from 0/);
    fails({ fanout: { reservedConcurrency: 0 } }, /fanout\.reservedConcurrency: 0 must be a whole number from 1/);
    fails({ fanout: { memorySize: 100 } }, /fanout\.memorySize: 100 must be a whole number of MB from 128 to 10240/);
    fails({ fanout: { timeout: Duration.minutes(16) } }, /fanout\.timeout: 16 minutes must be from 10 seconds to 15 minutes/);
    fails({ fanout: { retryAttempts: 3 } }, /fanout\.retryAttempts: 3 must be a whole number from 0 to 2/);
    fails({ fanout: { maxEventAge: Duration.hours(7) } }, /fanout\.maxEventAge: 7 hours must be from 1 minute to 6 hours/);
    fails({ fanout: { failureRetention: Duration.days(15) } }, /fanout\.failureRetention: 15 days must be from 1 minute to 14 days/);
  });

  test('fails on an authorizer query parameter that cannot be in a URL as is', () => {
    assert.throws(
      () =>
        build((stack) => ({
          authorizer: {
            handler: new lambda.Function(stack, 'Auth', { runtime: lambda.Runtime.NODEJS_24_X, code: lambda.Code.fromInline('x'), handler: 'index.handler' }),
            queryParameter: 'a b',
          },
        })),
      (error: unknown) =>
        error instanceof GatewayBackendPropsError && /authorizer\.queryParameter: "a b" must be 1-128 URL-safe characters/.test(error.message),
    );
  });
});

describe('bind tokens', () => {
  test('one generated 64-character secret; binds require its tokens by default, and requireBindToken: false turns that off', () => {
    const { stack, backend, template } = build();
    const t = template();
    t.resourceCountIs('AWS::SecretsManager::Secret', 1);
    t.hasResourceProperties('AWS::SecretsManager::Secret', { GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false } });
    const secretRef = { Ref: logicalId(stack, backend.bindTokenSecret) };
    assert.deepEqual(stack.resolve(backend.environment[GatewayEnvVar.bindTokenSecret]), secretRef);
    assert.equal(backend.environment[GatewayEnvVar.requireBindToken], 'true');
    const env = (fn: lambda.IFunction) => t.findResources('AWS::Lambda::Function')[logicalId(stack, fn)]!.Properties.Environment.Variables;
    // The init sender signs with the secret; every function grantGateway set up verifies with it.
    assert.deepEqual(env(backend.initSenderFunction)[GatewayEnvVar.bindTokenSecret], secretRef);
    for (const fn of [backend.connectFunction, backend.messageFunction, backend.disconnectFunction]) {
      assert.deepEqual(env(fn)[GatewayEnvVar.bindTokenSecret], secretRef);
      assert.equal(env(fn)[GatewayEnvVar.requireBindToken], 'true');
    }
    assert.equal(build({ requireBindToken: false }).backend.environment[GatewayEnvVar.requireBindToken], 'false');
  });

  test('recoveryWindow: 2 minutes by default, whole seconds from 0 (off) to a day, in GATEWAY_RECOVERY_WINDOW_SECONDS', () => {
    assert.equal(build({ recoveryWindow: Duration.seconds(0) }).backend.environment[GatewayEnvVar.recoveryWindow], '0');
    assert.equal(build({ recoveryWindow: Duration.minutes(5) }).backend.environment[GatewayEnvVar.recoveryWindow], '300');
    assert.throws(() => build({ recoveryWindow: Duration.days(2) }), /recoveryWindow: 172800 s must be whole seconds from 0 \(off\) to 86400/);
    assert.throws(() => build({ recoveryWindow: Duration.millis(1500) }), /recoveryWindow/);
  });

  test('the secret follows removalPolicy as the tables do: retained by default, deleted with DESTROY', () => {
    const retained = Object.values(build().template().findResources('AWS::SecretsManager::Secret'));
    assert.equal(retained.length, 1);
    assert.deepEqual([retained[0]!.DeletionPolicy, retained[0]!.UpdateReplacePolicy], ['Retain', 'Retain']);
    const destroyed = Object.values(build({ removalPolicy: RemovalPolicy.DESTROY }).template().findResources('AWS::SecretsManager::Secret'));
    assert.deepEqual([destroyed[0]!.DeletionPolicy, destroyed[0]!.UpdateReplacePolicy], ['Delete', 'Delete']);
  });
});
