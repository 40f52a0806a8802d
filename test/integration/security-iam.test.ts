// Least privilege and throttling, read from synthesized templates: the app as `cdk synth` wrote it
// (cdk.out), and GatewayBackend stacks synthesized here into private directories (the app's
// configuration, with an authorizer, with grantGateway on another function, with custom throttling).
//
// The least-privilege rules, checked statement by statement on every identity policy:
// - no wildcard in any action (no `*`, no `service:*`, no `service:Get*`), no NotAction / NotResource;
// - no resource `*`, and a resource with a `*` in it only where a cdk-nag acknowledgement on the
//   policy (or an enclosing construct) names that very resource and gives a reason;
// - every resource is a resource of this stack: execute-api only as ManageConnections on this API's
//   own stage's `@connections/*` for POST / GET / DELETE; DynamoDB only data actions on the ARNs of
//   this stack's tables (no index or stream ARNs); lambda:InvokeFunction only on this stack's
//   functions; logs only CreateLogStream / PutLogEvents on this stack's log groups; SQS only data
//   actions on this stack's queues; Secrets Manager only GetSecretValue on this stack's secrets (the
//   bind token key); any other service is a finding to review;
// - roles are assumed by lambda or apigateway only; a managed policy needs an acknowledged reason;
//   every function has a role of its own; Lambda permissions let only API Gateway invoke, from this API;
// - resource policies allow nothing to `*`.
// A control stack with each kind of excess proves every rule reports.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { rules, NagRuleCompliance } from 'cdk-nag';
import { GatewayBackend, NO_AUTHORIZER_WARNING, type GatewayBackendProps } from '../../cdk/index.ts';

const cdkJson = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')) as { context: Record<string, unknown> };
const CDK_OUT = fileURLToPath(new URL('../../cdk.out', import.meta.url));

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, any>;
  readonly Metadata?: Record<string, unknown>;
  readonly DependsOn?: unknown;
}
interface Template {
  readonly Resources: Record<string, CfnResource>;
}
interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}
interface SynthesizedStack {
  readonly name: string;
  readonly template: Template;
  readonly acknowledgements: readonly Acknowledgement[];
}

/** Reads every stack of a cloud assembly directory: its template and the acknowledgements recorded in its metadata. */
function readAssembly(directory: string): SynthesizedStack[] {
  const manifest = JSON.parse(readFileSync(join(directory, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { templateFile?: string }; metadata?: Record<string, unknown[]>; additionalMetadataFile?: string }>;
  };
  return Object.entries(manifest.artifacts)
    .filter(([, a]) => a.type === 'aws:cloudformation:stack')
    .map(([name, a]) => {
      const metadata = (a.additionalMetadataFile ? JSON.parse(readFileSync(join(directory, a.additionalMetadataFile), 'utf8')) : (a.metadata ?? {})) as Record<
        string,
        Array<{ type: string; data: unknown }>
      >;
      const acknowledgements: Acknowledgement[] = [];
      for (const [path, entries] of Object.entries(metadata)) {
        for (const entry of entries) {
          if (entry.type !== 'aws:cdk:acknowledged-rules') continue;
          for (const [id, value] of Object.entries(entry.data as Record<string, unknown>)) {
            const reason = typeof value === 'string' ? value : String((value as { reason?: unknown })?.reason ?? '');
            acknowledgements.push({ path: path.replace(/^\//, ''), id: id.replace(/^annotation::/i, ''), reason });
          }
        }
      }
      return { name, template: JSON.parse(readFileSync(join(directory, a.properties!.templateFile!), 'utf8')) as Template, acknowledgements };
    });
}

/** An intrinsic as cdk-nag names it in finding ids: Ref -> `<Id>`, GetAtt -> `<Id.Attr>`, Join joined, Sub's `${x}` -> `<x>`. */
function flatten(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(flatten).join(',');
  const o = value as Record<string, unknown>;
  if (o?.Ref !== undefined) return `<${o.Ref as string}>`;
  if (o?.['Fn::GetAtt'] !== undefined) {
    const getAtt = o['Fn::GetAtt'];
    return `<${Array.isArray(getAtt) ? getAtt.join('.') : String(getAtt)}>`;
  }
  if (o?.['Fn::Join'] !== undefined) {
    const [separator, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map(flatten).join(separator);
  }
  if (o?.['Fn::Sub'] !== undefined) {
    const sub = o['Fn::Sub'];
    return String(Array.isArray(sub) ? sub[0] : sub).replace(/\$\{([^}]+)\}/g, '<$1>');
  }
  return JSON.stringify(value);
}

const DYNAMODB_DATA_ACTIONS = new Set([
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
  'ConditionCheckItem',
]);
const SQS_DATA_ACTIONS = new Set(['SendMessage', 'ReceiveMessage', 'DeleteMessage', 'ChangeMessageVisibility', 'GetQueueAttributes', 'GetQueueUrl']);
const LOGS_ACTIONS = new Set(['CreateLogStream', 'PutLogEvents']);
const MANAGE_CONNECTIONS_METHODS = new Set(['POST', 'GET', 'DELETE']);
const TRUSTED_SERVICES = new Set(['lambda.amazonaws.com', 'apigateway.amazonaws.com']);
/** Managed policies that may be attached, with an acknowledged reason: the account-level API Gateway logging role's. */
const ALLOWED_MANAGED_POLICIES = [/:iam::aws:policy\/service-role\/AmazonAPIGatewayPushToCloudWatchLogs$/];

/** Every least-privilege finding in a synthesized stack; empty when it grants nothing more than needed. */
function leastPrivilegeFindings(stack: SynthesizedStack): string[] {
  const findings: string[] = [];
  const resources = stack.template.Resources;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const idsOf = (type: string) => new Set(ofType(type).map(([id]) => id));
  const tables = idsOf('AWS::DynamoDB::Table');
  const functions = idsOf('AWS::Lambda::Function');
  const logGroups = idsOf('AWS::Logs::LogGroup');
  const queues = idsOf('AWS::SQS::Queue');
  const secrets = idsOf('AWS::SecretsManager::Secret');
  const apis = ofType('AWS::ApiGatewayV2::Api').filter(([, r]) => r.Properties?.ProtocolType === 'WEBSOCKET');
  const stages = ofType('AWS::ApiGatewayV2::Stage');
  if (apis.length !== 1) findings.push(`expected one WebSocket API, found ${apis.length}`);
  const apiId = apis[0]?.[0] ?? '?';
  const stageNames = new Set(stages.filter(([, r]) => r.Properties?.ApiId?.Ref === apiId).map(([, r]) => String(r.Properties?.StageName)));
  const pathOf = (id: string) => String(resources[id]?.Metadata?.['aws:cdk:path'] ?? id);
  const acknowledged = (id: string, findingId: string) =>
    stack.acknowledgements.some((a) => a.id === findingId && a.reason.trim().length >= 20 && (pathOf(id) === a.path || pathOf(id).startsWith(`${a.path}/`)));
  const arnOf = (set: Set<string>, resource: string) => {
    const match = /^<([A-Za-z0-9]+)\.Arn>$/.exec(resource);
    return match !== null && set.has(match[1]!);
  };
  const connectionsArn = new RegExp(
    `^arn:(?:aws[a-z-]*|<AWS::Partition>):execute-api:(?:[a-z0-9-]+|<AWS::Region>):(?:[0-9]{12}|<AWS::AccountId>):<${apiId}>/([^/]+)/([A-Z]+)/@connections/\\*$`,
  );

  const checkStatement = (id: string, where: string, s: Record<string, any>) => {
    for (const key of ['NotAction', 'NotResource', 'NotPrincipal']) if (s[key] !== undefined) findings.push(`${where}: uses ${key}`);
    if (s.Effect !== 'Allow') return; // a Deny only narrows
    const actions = [s.Action].flat().map(String);
    const resourceList = [s.Resource].flat().map(flatten);
    for (const action of actions) if (!/^[a-z0-9-]+:[A-Za-z0-9]+$/.test(action)) findings.push(`${where}: wildcard action ${action}`);
    for (const resource of resourceList) {
      if (resource === '*') {
        if (!acknowledged(id, 'AwsSolutions-IAM5[Resource::*]')) findings.push(`${where}: resource * for ${actions.join(', ')}`);
        continue;
      }
      if (resource.includes('*') && !acknowledged(id, `AwsSolutions-IAM5[Resource::${resource}]`)) {
        findings.push(`${where}: wildcard resource ${resource} without an acknowledged reason`);
      }
      for (const action of actions) {
        const [service, name] = action.split(':') as [string, string];
        switch (service) {
          case 'execute-api': {
            const match = connectionsArn.exec(resource);
            if (name !== 'ManageConnections') findings.push(`${where}: ${action} (only ManageConnections is needed)`);
            else if (!match) findings.push(`${where}: ${action} on ${resource}, not this API's @connections`);
            else if (!stageNames.has(match[1]!)) findings.push(`${where}: ${action} on stage ${match[1]}, not this API's stage`);
            else if (!MANAGE_CONNECTIONS_METHODS.has(match[2]!)) findings.push(`${where}: ${action} for method ${match[2]}`);
            break;
          }
          case 'dynamodb':
            if (!DYNAMODB_DATA_ACTIONS.has(name)) findings.push(`${where}: ${action} is not a data action`);
            if (!arnOf(tables, resource)) findings.push(`${where}: ${action} on ${resource}, not one of this stack's tables`);
            break;
          case 'lambda':
            if (name !== 'InvokeFunction') findings.push(`${where}: ${action}`);
            if (!arnOf(functions, resource)) findings.push(`${where}: ${action} on ${resource}, not one of this stack's functions`);
            break;
          case 'logs':
            if (!LOGS_ACTIONS.has(name)) findings.push(`${where}: ${action}`);
            if (!arnOf(logGroups, resource)) findings.push(`${where}: ${action} on ${resource}, not one of this stack's log groups`);
            break;
          case 'sqs':
            if (!SQS_DATA_ACTIONS.has(name)) findings.push(`${where}: ${action} is not a data action`);
            if (!arnOf(queues, resource)) findings.push(`${where}: ${action} on ${resource}, not one of this stack's queues`);
            break;
          case 'secretsmanager': {
            // A secret's Ref is its ARN.
            const ref = /^<([A-Za-z0-9]+)>$/.exec(resource)?.[1];
            if (name !== 'GetSecretValue') findings.push(`${where}: ${action} (only GetSecretValue is needed)`);
            if (!ref || !secrets.has(ref)) findings.push(`${where}: ${action} on ${resource}, not one of this stack's secrets`);
            break;
          }
          default:
            findings.push(`${where}: ${action} on ${resource} (a service this backend does not use: review it)`);
        }
      }
    }
  };

  for (const [id, r] of Object.entries(resources)) {
    const documents: Array<[string, Record<string, any>]> = [];
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') documents.push([id, r.Properties?.PolicyDocument]);
    if (r.Type === 'AWS::IAM::Role') {
      for (const p of r.Properties?.Policies ?? []) documents.push([`${id}.${p.PolicyName}`, p.PolicyDocument]);
      for (const s of r.Properties?.AssumeRolePolicyDocument?.Statement ?? []) {
        const services = [s.Principal?.Service].flat().filter(Boolean);
        if (s.Principal?.AWS !== undefined || s.Principal === '*' || services.length === 0) findings.push(`${id}: assumable by ${JSON.stringify(s.Principal)}`);
        for (const service of services) if (!TRUSTED_SERVICES.has(service)) findings.push(`${id}: assumable by ${service}`);
        if (![s.Action].flat().every((a: string) => a === 'sts:AssumeRole')) findings.push(`${id}: trust action ${JSON.stringify(s.Action)}`);
      }
      for (const arn of (r.Properties?.ManagedPolicyArns ?? []).map(flatten)) {
        if (!ALLOWED_MANAGED_POLICIES.some((p) => p.test(arn))) findings.push(`${id}: managed policy ${arn}`);
        else if (!acknowledged(id, `AwsSolutions-IAM4[Policy::${arn}]`)) findings.push(`${id}: managed policy ${arn} without an acknowledged reason`);
      }
    }
    for (const [where, document] of documents) {
      for (const s of [document?.Statement ?? []].flat()) checkStatement(id, where, s);
    }
    if (r.Type === 'AWS::Lambda::Permission') {
      const p = r.Properties!;
      if (p.Action !== 'lambda:InvokeFunction') findings.push(`${id}: permission for ${p.Action}`);
      if (p.Principal !== 'apigateway.amazonaws.com') findings.push(`${id}: ${p.Principal} may invoke`);
      if (!arnOf(functions, flatten(p.FunctionName))) findings.push(`${id}: for ${flatten(p.FunctionName)}`);
      if (p.SourceArn === undefined || !flatten(p.SourceArn).includes(`:<${apiId}>/`))
        findings.push(`${id}: invocable from ${p.SourceArn === undefined ? 'any source' : flatten(p.SourceArn)}`);
    }
    if (/::(QueuePolicy|TopicPolicy|BucketPolicy)$/.test(r.Type)) {
      for (const s of [r.Properties?.PolicyDocument?.Statement ?? []].flat()) {
        if (s.Effect === 'Allow' && (s.Principal === '*' || [s.Principal?.AWS].flat().includes('*')))
          findings.push(`${id}: allows ${JSON.stringify(s.Action)} to anyone`);
      }
    }
  }

  // Every function has a role of its own.
  const roleUsers = new Map<string, string[]>();
  for (const [id, r] of ofType('AWS::Lambda::Function')) {
    const role = flatten(r.Properties?.Role);
    roleUsers.set(role, [...(roleUsers.get(role) ?? []), id]);
  }
  for (const [role, users] of roleUsers) if (users.length > 1) findings.push(`${role} is shared by ${users.join(', ')}`);
  return findings;
}

// ---------------------------------------------------------------------------------------------
// Stacks
// ---------------------------------------------------------------------------------------------

const outdirs: string[] = [];

/** Synthesizes one stack into a private directory (no bundling: this reads IAM, not code) and reads it back. */
function synth(build: (stack: Stack) => void, name = 'SecurityStack'): SynthesizedStack {
  const outdir = mkdtempSync(join(tmpdir(), 'security-iam-'));
  outdirs.push(outdir);
  // Path metadata, as the CLI records it, ties each resource to its construct's acknowledgements.
  const app = new App({ outdir, context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], 'aws:cdk:enable-path-metadata': true } });
  const stack = new Stack(app, name, { env: { account: '123456789012', region: 'eu-west-1' } });
  build(stack);
  app.synth();
  return readAssembly(outdir).find((s) => s.name === name)!;
}

/** A function of the application with a role of its own that may only write its own logs. */
function appFunction(stack: Stack, id: string): lambda.Function {
  const logGroup = new logs.LogGroup(stack, `${id}Logs`);
  const role = new iam.Role(stack, `${id}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  logGroup.grantWrite(role);
  return new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    code: lambda.Code.fromInline('export const handler = async () => ({})'),
    handler: 'index.handler',
    role,
    logGroup,
  });
}

/** A GatewayBackend; one without an authorizer acknowledges the warning, as the app does (this file is not about that). */
function gatewayBackend(stack: Stack, props: GatewayBackendProps = {}): GatewayBackend {
  const gateway = new GatewayBackend(stack, 'Gateway', props);
  if (!props.authorizer)
    Validations.of(gateway).acknowledge({
      id: `annotation::${NO_AUTHORIZER_WARNING}`,
      reason: 'The IAM tests read policies; connecting without a token is tested elsewhere.',
    });
  return gateway;
}
const backend =
  (props: GatewayBackendProps = {}) =>
  (stack: Stack) =>
    gatewayBackend(stack, props);

after(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

describe('least privilege', () => {
  let app: SynthesizedStack;
  before(() => {
    assert.ok(existsSync(join(CDK_OUT, 'manifest.json')), 'cdk.out exists: run `npx cdk synth` (npm test does)');
    const stacks = readAssembly(CDK_OUT).filter((s) => Object.values(s.template.Resources).some((r) => r.Type === 'AWS::ApiGatewayV2::Api'));
    assert.equal(stacks.length, 1);
    app = stacks[0]!;
  });

  test('the synthesized app (cdk.out): no wildcard action, every resource scoped to this stack, wildcards only where acknowledged with a reason', () => {
    assert.deepEqual(leastPrivilegeFindings(app), []);
  });

  test("the synthesized app: execute-api only for this stage's @connections, DynamoDB only on the five tables", () => {
    const resources = app.template.Resources;
    const statements = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => [r.Properties!.PolicyDocument.Statement].flat() as Array<Record<string, unknown>>);
    const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!.Properties!.StageName as string;
    const executeApi = statements.filter((s) => [s.Action].flat().some((a) => String(a).startsWith('execute-api:')));
    assert.ok(executeApi.length > 0);
    for (const s of executeApi) {
      assert.deepEqual([s.Action].flat(), ['execute-api:ManageConnections']);
      for (const r of [s.Resource].flat().map(flatten))
        assert.match(r, new RegExp(`^arn:aws:execute-api:[a-z0-9-]+:<AWS::AccountId>:<[A-Za-z0-9]+>/${stage}/(POST|GET|DELETE)/@connections/\\*$`));
    }
    const tables = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::DynamoDB::Table');
    assert.equal(tables.length, 5);
    const tableArns = new Set(tables.map(([id]) => `<${id}.Arn>`));
    const dynamo = statements.filter((s) => [s.Action].flat().some((a) => String(a).startsWith('dynamodb:')));
    assert.ok(dynamo.length > 0);
    for (const s of dynamo) for (const r of [s.Resource].flat().map(flatten)) assert.ok(tableArns.has(r), `${r} is one of the five tables`);
  });

  test("the construct's configurations: the app's, with an authorizer, with grantGateway on another function, with a custom stage", () => {
    const configurations: Array<[string, (stack: Stack) => void]> = [
      ["the app's configuration", backend({ apiGatewayCloudWatchRole: true })],
      ['defaults', backend()],
      ['an authorizer', (stack) => gatewayBackend(stack, { authorizer: { handler: appFunction(stack, 'Authorizer') } })],
      ['grantGateway on an application function', (stack) => gatewayBackend(stack).grantGateway(appFunction(stack, 'AppBackend'))],
      ['a custom stage, routes and throttling', backend({ stageName: 'live', routes: ['chat'], throttle: { rateLimit: 10, burstLimit: 5 } })],
    ];
    for (const [label, build] of configurations) assert.deepEqual(leastPrivilegeFindings(synth(build)), [], label);
  });

  test('fails on each kind of excess (control: the rules above report)', () => {
    const stack = synth((s) => {
      const gateway = gatewayBackend(s);
      const fn = appFunction(s, 'Greedy');
      gateway.grantGateway(fn);
      const add = (actions: string[], resources: string[]) => fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));
      add(['dynamodb:*'], [gateway.connectionsTable.tableArn]);
      add(['dynamodb:GetItem'], ['*']);
      add(['dynamodb:DeleteTable'], [gateway.uidsTable.tableArn]);
      add(['dynamodb:Query'], [`${gateway.groupsTable.tableArn}/index/*`]);
      add(['execute-api:ManageConnections'], [`arn:aws:execute-api:eu-west-1:123456789012:*/*/POST/@connections/*`]);
      add(['execute-api:Invoke'], [gateway.connectionsArn('POST')]);
      add(['lambda:InvokeFunction'], [`${gateway.connectFunction.functionArn}:*`]);
      add(['logs:CreateLogGroup'], [gateway.functionLogGroups.connect.logGroupArn]);
      add(['s3:GetObject'], ['arn:aws:s3:::some-bucket/key']);
      add(['secretsmanager:DescribeSecret'], [gateway.bindTokenSecret.secretArn]);
      add(['secretsmanager:GetSecretValue'], ['arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-AbCdEf']);
      fn.role!.addManagedPolicy(iam.ManagedPolicy.fromAwsManagedPolicyName('AdministratorAccess'));
      new iam.Role(s, 'AnyoneRole', { assumedBy: new iam.AnyPrincipal() });
      gateway.connectFunction.addPermission('Open', { principal: new iam.ServicePrincipal('apigateway.amazonaws.com') });
      new lambda.Function(s, 'SharesARole', {
        runtime: lambda.Runtime.NODEJS_24_X,
        code: lambda.Code.fromInline('x'),
        handler: 'index.handler',
        role: fn.role,
      });
    }, 'ControlStack');
    const findings = leastPrivilegeFindings(stack).join('\n');
    for (const expected of [
      /wildcard action dynamodb:\*/,
      /resource \* for dynamodb:GetItem/,
      /dynamodb:DeleteTable is not a data action/,
      /dynamodb:Query on <\w+\.Arn>\/index\/\*, not one of this stack's tables/,
      /wildcard resource arn:aws:execute-api:eu-west-1:123456789012:\*\/\*\/POST\/@connections\/\* without an acknowledged reason/,
      /execute-api:ManageConnections on arn:aws:execute-api:eu-west-1:123456789012:\*\/\*\/POST\/@connections\/\*, not this API's @connections/,
      /execute-api:Invoke \(only ManageConnections is needed\)/,
      /lambda:InvokeFunction on <\w+\.Arn>:\*, not one of this stack's functions/,
      /logs:CreateLogGroup/,
      /s3:GetObject on arn:aws:s3:::some-bucket\/key \(a service this backend does not use/,
      /secretsmanager:DescribeSecret \(only GetSecretValue is needed\)/,
      /secretsmanager:GetSecretValue on arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-AbCdEf, not one of this stack's secrets/,
      /managed policy arn:<AWS::Partition>:iam::aws:policy\/AdministratorAccess/,
      /AnyoneRole\w*: assumable by/,
      /invocable from any source/,
      /is shared by/,
    ]) {
      assert.match(findings, expected);
    }
  });
});

describe('stage throttling', () => {
  test("the synthesized app's stage sets default route throttling (1000 requests/s, burst 500) and no route overrides it upwards", () => {
    const app = readAssembly(CDK_OUT).find((s) => Object.values(s.template.Resources).some((r) => r.Type === 'AWS::ApiGatewayV2::Stage'))!;
    const stages = Object.values(app.template.Resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Stage');
    assert.equal(stages.length, 1);
    const settings = stages[0]!.Properties!;
    assert.deepEqual(settings.DefaultRouteSettings, { ThrottlingBurstLimit: 500, ThrottlingRateLimit: 1000 });
    for (const [route, s] of Object.entries(
      (settings.RouteSettings ?? {}) as Record<string, { ThrottlingRateLimit?: number; ThrottlingBurstLimit?: number }>,
    )) {
      assert.ok((s.ThrottlingRateLimit ?? 0) <= 1000 && (s.ThrottlingBurstLimit ?? 0) <= 500, `route ${route} is throttled no looser than the default`);
    }
  });

  test("every stage the construct builds passes cdk-nag's APIGWDefaultThrottling rule, with the defaults or given limits", () => {
    for (const props of [{}, { throttle: { rateLimit: 50, burstLimit: 20 } }, { stageName: 'live' }] satisfies GatewayBackendProps[]) {
      const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
      const stack = new Stack(app, 'ThrottleStack');
      const gateway = gatewayBackend(stack, props);
      const cfnStage = gateway.stage.node.defaultChild as apigwv2.CfnStage;
      assert.equal(rules.apigw.APIGWDefaultThrottling(cfnStage), NagRuleCompliance.COMPLIANT, JSON.stringify(props));
      const resolved = stack.resolve(cfnStage.defaultRouteSettings) as { throttlingRateLimit: number; throttlingBurstLimit: number };
      const expected = ('throttle' in props ? props.throttle : undefined) ?? { rateLimit: 1000, burstLimit: 500 };
      assert.deepEqual([resolved.throttlingRateLimit, resolved.throttlingBurstLimit], [expected.rateLimit, expected.burstLimit]);
    }
    // The rule itself reports a stage without throttling (control).
    const stack = new Stack(new App(), 'Unthrottled');
    const api = new apigwv2.WebSocketApi(stack, 'Api');
    const bare = new apigwv2.WebSocketStage(stack, 'Stage', { webSocketApi: api, stageName: 'x' });
    assert.equal(rules.apigw.APIGWDefaultThrottling(bare.node.defaultChild as apigwv2.CfnStage), NagRuleCompliance.NON_COMPLIANT);
  });
});
