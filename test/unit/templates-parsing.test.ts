// The template readers without a gateway: CloudFormation's short-form tags, the intrinsics and
// Parameters/Conditions/Mappings they lean on, SAM's Globals, and the Serverless Framework's variables.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTemplateText, TemplateError } from '../../local/templateText.ts';
import { resolveServerlessVariables, type VariableSources } from '../../local/serverlessVariables.ts';
import { loadTemplate } from '../../local/samTemplate.ts';
import { loadServerlessConfig } from '../../local/serverlessConfig.ts';
import { readWebSocketTemplate, type CfnTemplate } from '../../local/webSocketTemplate.ts';

test('the short-form tags become their long forms: scalar, sequence and mapping forms, nested', () => {
  const parsed = parseTemplateText(
    `
a: !Ref Table
b: !GetAtt Fn.Arn
c: !GetAtt [Fn, Arn]
d: !Sub 'arn:\${AWS::Partition}:x'
e: !Sub ['\${A}-\${B}', { A: !Ref P, B: !GetAtt Db.Endpoint.Address }]
f: !Join ['', [a, !Ref B]]
g: !Select [1, !Split [',', 'x,y,z']]
h: !If [IsProd, !Equals [a, b], !Not [!Condition C]]
i: !FindInMap [M, !Ref 'AWS::Region', K]
j: !Base64 { 'Fn::Sub': x }
k: !GetAZs ''
l: !ImportValue shared
m: !And [!Or [!Condition A, !Condition B], !Condition C]
`,
    'inline.yaml',
  );
  assert.deepEqual(parsed, {
    a: { Ref: 'Table' },
    b: { 'Fn::GetAtt': ['Fn', 'Arn'] },
    c: { 'Fn::GetAtt': ['Fn', 'Arn'] },
    d: { 'Fn::Sub': 'arn:${AWS::Partition}:x' },
    e: { 'Fn::Sub': ['${A}-${B}', { A: { Ref: 'P' }, B: { 'Fn::GetAtt': ['Db', 'Endpoint.Address'] } }] },
    f: { 'Fn::Join': ['', ['a', { Ref: 'B' }]] },
    g: { 'Fn::Select': [1, { 'Fn::Split': [',', 'x,y,z'] }] },
    h: { 'Fn::If': ['IsProd', { 'Fn::Equals': ['a', 'b'] }, { 'Fn::Not': [{ Condition: 'C' }] }] },
    i: { 'Fn::FindInMap': ['M', { Ref: 'AWS::Region' }, 'K'] },
    j: { 'Fn::Base64': { 'Fn::Sub': 'x' } },
    k: { 'Fn::GetAZs': '' },
    l: { 'Fn::ImportValue': 'shared' },
    m: { 'Fn::And': [{ 'Fn::Or': [{ Condition: 'A' }, { Condition: 'B' }] }, { Condition: 'C' }] },
  });
});

test('JSON is read as JSON; YAML flow style that starts with { is still YAML; dates stay strings', () => {
  assert.deepEqual(parseTemplateText('{"Resources": {"A": {"Type": "X"}}}', 't.json'), { Resources: { A: { Type: 'X' } } });
  assert.deepEqual(parseTemplateText('{ a: !Ref B }', 't.yaml'), { a: { Ref: 'B' } });
  assert.deepEqual(parseTemplateText('Version: 2012-10-17', 't.yaml'), { Version: '2012-10-17' });
});

test('fails: an unknown tag, bad YAML and a duplicate key are TemplateErrors naming the file', () => {
  assert.throws(
    () => parseTemplateText('a: !Bogus x', 'bad.yaml'),
    (e: unknown) => e instanceof TemplateError && /bad\.yaml: .*!Bogus/.test(e.message),
  );
  assert.throws(
    () => parseTemplateText('a: [1, 2', 'broken.yaml'),
    (e: unknown) => e instanceof TemplateError && /^broken\.yaml: /.test(e.message),
  );
  assert.throws(
    () => parseTemplateText('a: 1\na: 2', 'dup.yaml'),
    (e: unknown) => e instanceof TemplateError && /dup\.yaml: .*unique/i.test(e.message),
  );
});

/** A template with one inline function, its environment the values under test. */
function withEnvironment(variables: Record<string, unknown>, extra: Partial<CfnTemplate> = {}): CfnTemplate {
  return {
    ...extra,
    Resources: {
      Api: { Type: 'AWS::ApiGatewayV2::Api', Properties: { ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.action' } },
      Stage: { Type: 'AWS::ApiGatewayV2::Stage', Properties: { ApiId: { Ref: 'Api' }, StageName: { Ref: 'StageName' } } },
      Table: {
        Type: 'AWS::DynamoDB::Table',
        Properties: {
          TableName: { 'Fn::Sub': '${AWS::StackName}-t' },
          KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        },
      },
      Fn: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          Runtime: 'nodejs22.x',
          Handler: 'index.handler',
          Code: { ZipFile: 'exports.handler = async () => 1;' },
          Environment: { Variables: variables },
        },
      },
      ...(extra.Resources ?? {}),
    },
  };
}

function environmentOf(template: CfnTemplate, parameters: Record<string, string> = {}) {
  const app = readWebSocketTemplate({
    stackName: 'st',
    template,
    region: 'eu-west-1',
    accountId: '111122223333',
    apiId: 'api1',
    parameters,
    locateCode: () => '/dev/null',
  });
  return { environment: app.environments.Fn!, warnings: app.warnings, app };
}

test('intrinsics with Parameters, Conditions and Mappings: defaults, overrides, lists, Fn::If with AWS::NoValue, FindInMap, Base64, GetAZs', () => {
  const template = withEnvironment(
    {
      STAGE: { Ref: 'StageName' },
      SECOND: { 'Fn::Select': [1, { Ref: 'Names' }] },
      MODE: { 'Fn::If': ['IsProd', 'strict', 'relaxed'] },
      ONLY_PROD: { 'Fn::If': ['IsProd', 'yes', { Ref: 'AWS::NoValue' }] },
      SIZE: { 'Fn::FindInMap': ['Sizes', { Ref: 'StageName' }, 'Memory'] },
      B64: { 'Fn::Base64': { 'Fn::Sub': '${StageName}!' } },
      AZ: { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] },
      TABLE_ARN: { 'Fn::GetAtt': ['Table', 'Arn'] },
      LITERAL: { 'Fn::Sub': '${!NotAVariable}-${AWS::AccountId}' },
      WITH_VARS: { 'Fn::Sub': ['${Name}/${Table}', { Name: { Ref: 'AWS::StackName' } }] },
    },
    {
      Parameters: { StageName: { Type: 'String', Default: 'dev', AllowedValues: ['dev', 'prod'] }, Names: { Type: 'CommaDelimitedList', Default: 'a, b ,c' } },
      Conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'StageName' }, 'prod'] } },
      Mappings: { Sizes: { dev: { Memory: 128 }, prod: { Memory: 1024 } } },
    },
  );
  const dev = environmentOf(template);
  assert.deepEqual(dev.environment, {
    STAGE: 'dev',
    SECOND: 'b',
    MODE: 'relaxed',
    SIZE: '128',
    B64: Buffer.from('dev!').toString('base64'),
    AZ: 'eu-west-1a',
    TABLE_ARN: 'arn:aws:dynamodb:eu-west-1:111122223333:table/st-t',
    LITERAL: '${NotAVariable}-111122223333',
    WITH_VARS: 'st/st-t',
  });
  assert.equal(dev.app.gatewayOptions.stage, 'dev');
  const prod = environmentOf(template, { StageName: 'prod' });
  assert.deepEqual(
    [prod.environment.MODE, prod.environment.ONLY_PROD, prod.environment.SIZE, prod.app.gatewayOptions.stage],
    ['strict', 'yes', '1024', 'prod'],
  );
});

test('a resource whose Condition is false is left out; Fn::ImportValue and an unknown GetAtt are warnings', () => {
  const template = withEnvironment(
    { SHARED: { 'Fn::ImportValue': 'other-stack-export' }, ODD: { 'Fn::GetAtt': ['Queue', 'QueueUrl'] } },
    {
      Parameters: { StageName: { Type: 'String', Default: 'dev' } },
      Conditions: { IsProd: { 'Fn::Equals': [{ Ref: 'StageName' }, 'prod'] } },
      Resources: {
        ProdTable: { Type: 'AWS::DynamoDB::Table', Condition: 'IsProd', Properties: { KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] } },
        Queue: { Type: 'AWS::SQS::Queue' },
      },
    },
  );
  const { app, warnings, environment } = environmentOf(template);
  assert.deepEqual(
    app.gatewayOptions.tables!.map((t) => t.name),
    ['st-t'],
  );
  assert.equal(environment.SHARED, 'UNRESOLVED(Fn::ImportValue)');
  assert.ok(
    warnings.some((w) => /Fn::ImportValue "other-stack-export" reads another stack's export/.test(w)),
    warnings.join('\n'),
  );
  assert.ok(
    warnings.some((w) => /Fn::GetAtt Queue\.QueueUrl is not evaluated locally/.test(w)),
    warnings.join('\n'),
  );
});

test('fails: a parameter without a value, one outside AllowedValues, an undeclared override, a missing Mappings entry', () => {
  const base = (parameters: CfnTemplate['Parameters']) => withEnvironment({ X: { Ref: 'StageName' } }, { Parameters: parameters });
  assert.throws(
    () => environmentOf(base({ StageName: { Type: 'String' } })),
    /parameter StageName has no Default: pass --parameter-overrides StageName=<value>/,
  );
  assert.throws(
    () => environmentOf(base({ StageName: { Default: 'dev', AllowedValues: ['dev'] } }), { StageName: 'qa' }),
    /"qa" is not one of its AllowedValues \(dev\)/,
  );
  assert.throws(() => environmentOf(base({ StageName: { Default: 'dev' } }), { Stage: 'x' }), /parameter Stage is not declared/);
  const missing = withEnvironment({ X: { 'Fn::FindInMap': ['M', 'a', 'b'] } }, { Mappings: { M: {} } });
  assert.throws(
    () => environmentOf(missing),
    (e: unknown) => e instanceof TemplateError && /Fn::FindInMap M\.a\.b is not in the template's Mappings/.test(e.message),
  );
});

const scratchDirectories: string[] = [];
after(() => {
  for (const dir of scratchDirectories) rmSync(dir, { recursive: true, force: true });
});

function scratch(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sgw-templates-'));
  scratchDirectories.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const API = `
  Api: { Type: AWS::ApiGatewayV2::Api, Properties: { ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action } }
  Stage: { Type: AWS::ApiGatewayV2::Stage, Properties: { ApiId: !Ref Api, StageName: live } }
`;

test('SAM: Globals merge (maps merged, own scalars win), CodeUri folders, SimpleTable defaults, other events and types are warnings', () => {
  const dir = scratch({
    'template.yaml': `
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: nodejs22.x
    Timeout: 7
    Environment: { Variables: { SHARED: global, OVERRIDDEN: global } }
  Api: { Cors: '*' }
Resources:${API}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: lib/app.main
      Timeout: 9
      Environment: { Variables: { OVERRIDDEN: own, TABLE: !Ref Ids } }
      Events: { Http: { Type: Api, Properties: { Path: /, Method: get } } }
  Ids: { Type: AWS::Serverless::SimpleTable }
  Rest: { Type: AWS::Serverless::Api, Properties: { StageName: x } }
`,
    'src/lib/app.mjs': 'export const main = async () => 1;',
  });
  const app = loadTemplate({ path: join(dir, 'template.yaml') });
  assert.deepEqual(app.environments.Fn, { SHARED: 'global', OVERRIDDEN: 'own', TABLE: 'Ids' });
  const fn = app.gatewayOptions.functions!.Fn as { entry: string; handlerName: string; timeoutMs: number; runtime: string };
  assert.deepEqual([fn.entry, fn.handlerName, fn.timeoutMs, fn.runtime], [join(dir, 'src/lib/app.mjs'), 'main', 9000, 'nodejs22.x']);
  assert.deepEqual(app.gatewayOptions.tables, [{ name: 'Ids', partitionKey: 'id', partitionKeyType: 'S' }]);
  assert.ok(app.warnings.some((w) => /Globals\.Api is not used locally/.test(w)));
  assert.ok(app.warnings.some((w) => /Fn: event Http \(Api\) is not served locally/.test(w)));
  assert.ok(app.warnings.some((w) => /Rest: AWS::Serverless::Api is not served locally/.test(w)));
});

test('SAM: an AWS::Serverless::WebSocketApi becomes its API, stage, routes (one with a route response) and $connect authorizer', () => {
  const dir = scratch({
    'template.yaml': `
Transform: AWS::Serverless-2016-10-31
Globals: { Function: { Runtime: nodejs22.x, CodeUri: src } }
Resources:
  Chat:
    Type: AWS::Serverless::WebSocketApi
    Properties:
      StageName: beta
      RouteSelectionExpression: $request.body.type
      Auth: { AuthType: CUSTOM, AuthArn: !GetAtt Auth.Arn, IdentitySource: [route.request.header.Token] }
      Routes:
        $connect: { FunctionArn: !GetAtt Connect.Arn }
        send: { FunctionArn: !GetAtt Send.Arn, RouteResponseSelectionExpression: $default }
  Connect: { Type: AWS::Serverless::Function, Properties: { Handler: app.connect } }
  Send: { Type: AWS::Serverless::Function, Properties: { Handler: app.send } }
  Auth: { Type: AWS::Serverless::Function, Properties: { Handler: app.auth } }
`,
    'src/app.mjs': 'export const connect = async () => ({ statusCode: 200 });',
  });
  const app = loadTemplate({ path: join(dir, 'template.yaml') });
  assert.equal(app.gatewayOptions.stage, 'beta');
  assert.equal(app.gatewayOptions.routeSelectionExpression, '$request.body.type');
  assert.deepEqual(app.gatewayOptions.routes, { $connect: { function: 'Connect', returnResponse: false }, send: { function: 'Send', returnResponse: true } });
  assert.deepEqual(app.gatewayOptions.authorizer, { function: 'Auth', identitySource: ['route.request.header.Token'] });
  assert.deepEqual(app.warnings, []);
});

test('fails: a SAM function whose handler file is not in its CodeUri folder, or whose folder is missing', () => {
  const dir = scratch({
    'template.yaml': `Resources:${API}
  Fn: { Type: AWS::Serverless::Function, Properties: { CodeUri: src, Handler: app.handler, Runtime: nodejs22.x } }
`,
    'src/other.mjs': '',
  });
  assert.throws(
    () => loadTemplate({ path: join(dir, 'template.yaml') }),
    /function Fn: no app\.mjs, \.js, \.cjs or \.ts in .*src \(its handler is app\.handler\)/,
  );
  const noFolder = scratch({
    'template.yaml': `Resources:${API}\n  Fn: { Type: AWS::Serverless::Function, Properties: { CodeUri: nowhere, Handler: app.handler } }\n`,
  });
  assert.throws(() => loadTemplate({ path: join(noFolder, 'template.yaml') }), /its code folder .*nowhere does not exist/);
});

const sources = (extra: Partial<VariableSources> = {}): VariableSources => ({
  options: {},
  env: {},
  region: 'us-east-1',
  accountId: '000000000000',
  baseDirectory: '/',
  warn: () => {},
  ...extra,
});

test('serverless variables: self, opt with a default, env with and without a default, sls:stage, nested, fallback chains, types kept', () => {
  const config = {
    service: 'chat',
    provider: { stage: "${opt:stage, 'dev'}", timeout: '${self:custom.timeouts.${sls:stage}}' },
    custom: {
      table: '${self:service}-${sls:stage}-connections',
      timeouts: { dev: 5, prod: 29 },
      region: "${opt:region, self:custom.fallbackRegion, 'us-east-1'}",
      fallbackRegion: 'eu-west-2',
      token: '${env:TOKEN}',
      missingEnv: "${env:NOT_SET, 'none'}",
      quoted: '${env:NOT_SET, "double"}',
      flag: '${env:NOT_SET, true}',
      nested: '${self:custom.${env:WHICH}}',
      cfn: '!Sub ${AWS::Region}-${MyFunction.Arn}-${envName}-${cfStack}-${selfLink}',
      account: '${aws:accountId}',
    },
  };
  const resolved = resolveServerlessVariables(config, sources({ env: { TOKEN: 'secret', WHICH: 'table' } })) as typeof config & Record<string, any>;
  assert.equal(resolved.provider.stage, 'dev');
  assert.equal(resolved.provider.timeout, 5, 'a whole-string variable keeps its number');
  assert.equal(resolved.custom.table, 'chat-dev-connections');
  assert.equal(resolved.custom.region, 'eu-west-2');
  assert.deepEqual([resolved.custom.token, resolved.custom.missingEnv, resolved.custom.quoted, resolved.custom.flag], ['secret', 'none', 'double', true]);
  assert.equal(resolved.custom.nested, 'chat-dev-connections');
  assert.equal(
    resolved.custom.cfn,
    '!Sub ${AWS::Region}-${MyFunction.Arn}-${envName}-${cfStack}-${selfLink}',
    "CloudFormation's Sub syntax is left alone, names that start like a source too",
  );
  assert.equal(resolved.custom.account, '000000000000');
  const prod = resolveServerlessVariables(config, sources({ options: { stage: 'prod' }, env: { TOKEN: 't', WHICH: 'table' } })) as Record<string, any>;
  assert.deepEqual([prod.provider.stage, prod.provider.timeout, prod.custom.table], ['prod', 29, 'chat-prod-connections']);
});

test('serverless variables fail like the framework: no value and no fallback names the variable and where; a cycle; account sources warn', () => {
  assert.throws(
    () => resolveServerlessVariables({ provider: { environment: { KEY: '${env:MISSING_KEY}' } } }, sources()),
    (e: unknown) => e instanceof TemplateError && /cannot resolve variable \$\{env:MISSING_KEY\} at provider\.environment\.KEY/.test(e.message),
  );
  assert.throws(() => resolveServerlessVariables({ a: '${self:b}', b: '${self:a}' }, sources()), /cycle/);
  const warnings: string[] = [];
  const resolved = resolveServerlessVariables({ secret: '${ssm:/app/secret}' }, sources({ warn: (w) => warnings.push(w) }));
  assert.equal(resolved.secret, 'UNRESOLVED(ssm:/app/secret)');
  assert.match(warnings[0]!, /secret: \$\{ssm:\/app\/secret\} reads ssm in an AWS account/);
});

test('serverless.yml: ${file(...)} values, function names, defaults (6 s, 1024 MB), an authorizer that is not a function of the service is a warning', () => {
  const dir = scratch({
    'serverless.yml': `
service: { name: files }
provider: { name: aws, runtime: nodejs22.x, region: "\${opt:region, 'eu-central-1'}", environment: { FROM_FILE: '\${file(./config.yml):greeting}', REGION: '\${aws:region}' } }
functions:
  connect:
    handler: handler.connect
    events: [{ websocket: { route: $connect, authorizer: arn:aws:lambda:us-east-1:1:function:elsewhere } }]
`,
    'config.yml': 'greeting: from a file',
    'handler.mjs': 'export const connect = async () => ({ statusCode: 200 });',
  });
  const app = loadServerlessConfig({ path: join(dir, 'serverless.yml'), env: {} });
  const fn = app.gatewayOptions.functions!['files-dev-connect'] as { timeoutMs: number; memoryMB: number; environment: Record<string, string> };
  assert.deepEqual([fn.timeoutMs, fn.memoryMB, fn.environment.FROM_FILE], [6000, 1024, 'from a file']);
  assert.deepEqual(
    [fn.environment.REGION, app.gatewayOptions.region],
    ['eu-central-1', 'eu-central-1'],
    '${aws:region} is the region provider.region computes',
  );
  assert.equal(app.gatewayOptions.stage, 'dev');
  assert.equal(app.gatewayOptions.authorizer, undefined);
  assert.ok(
    app.warnings.some((w) => /the \$connect authorizer arn:aws:lambda:us-east-1:1:function:elsewhere is not a function of this service/.test(w)),
    app.warnings.join('\n'),
  );
  const noRoutes = scratch({ 'serverless.yml': 'service: x\nfunctions: { a: { handler: a.b } }\n' });
  assert.throws(() => loadServerlessConfig({ path: join(noRoutes, 'serverless.yml') }), /no function has a websocket event/);
});

test('fails: code that cannot be served locally is a TemplateError naming the function (bundle error, a .zip, a bad handler, a bad key type)', () => {
  const dir = scratch({
    'template.yaml': `Resources:${API}
  Broken: { Type: AWS::Serverless::Function, Properties: { CodeUri: src, Handler: broken.handler, Runtime: nodejs22.x } }
`,
    'src/broken.ts': 'export const handler = async (: number) => 1;',
  });
  assert.throws(
    () => loadTemplate({ path: join(dir, 'template.yaml') }),
    (e: unknown) => e instanceof TemplateError && /function Broken: esbuild could not bundle .*broken\.ts: .*\(.*broken\.ts:1\)/.test(e.message),
  );
  const zipped = scratch({
    'template.yaml': `Resources:${API}\n  Fn: { Type: AWS::Lambda::Function, Properties: { Code: code.zip, Handler: index.handler, Runtime: nodejs22.x } }\n`,
    'code.zip': 'PK',
  });
  assert.throws(() => loadTemplate({ path: join(zipped, 'template.yaml') }), /function Fn: .*code\.zip is not a folder \(a \.zip is not unpacked locally/);
  const noExport = scratch({
    'template.yaml': `Resources:${API}\n  Fn: { Type: AWS::Lambda::Function, Properties: { Code: ., Handler: index, Runtime: nodejs22.x } }\n`,
  });
  assert.throws(() => loadTemplate({ path: join(noExport, 'template.yaml') }), /function Fn: the handler "index" is not file\.export/);
  const badKey = scratch({
    'template.yaml': `Resources:${API}\n  T: { Type: AWS::Serverless::SimpleTable, Properties: { PrimaryKey: { Name: id, Type: Date } } }\n`,
  });
  assert.throws(() => loadTemplate({ path: join(badKey, 'template.yaml') }), /SimpleTable PrimaryKey type Date is not String, Number or Binary/);
  const notTemplate = scratch({ 'template.yaml': 'just: text\n' });
  assert.throws(() => loadTemplate({ path: join(notTemplate, 'template.yaml') }), /is not a CloudFormation template: it has no Resources/);
});

test('fails: Conditions that refer to themselves or to no condition; a serverless authorizer off $connect; a websocket event without a route', () => {
  const conditions = (c: Record<string, unknown>) =>
    withEnvironment({ X: { 'Fn::If': ['A', 'yes', 'no'] } }, { Parameters: { StageName: { Default: 'dev' } }, Conditions: c });
  assert.throws(() => environmentOf(conditions({ A: { Condition: 'A' } })), /condition A refers to itself/);
  assert.throws(() => environmentOf(conditions({})), /condition A is not in the template's Conditions/);
  const offConnect = scratch({
    'serverless.yml': 'service: s\nfunctions:\n  a: { handler: h.a, events: [{ websocket: { route: send, authorizer: a } }] }\n',
  });
  assert.throws(
    () => loadServerlessConfig({ path: join(offConnect, 'serverless.yml') }),
    /function a: an authorizer is only allowed on the \$connect route \(route send\)/,
  );
  const noRoute = scratch({
    'serverless.yml': 'service: s\nfunctions:\n  a: { handler: h.a, events: [{ websocket: { routeResponseSelectionExpression: $default } }] }\n',
  });
  assert.throws(() => loadServerlessConfig({ path: join(noRoute, 'serverless.yml') }), /function a: a websocket event has no route/);
});

test('serverless.yml: a .ts handler is bundled with esbuild, with the Framework v4 build.esbuild settings (format esm: an .mjs bundle)', () => {
  const dir = scratch({
    'serverless.yml': `
service: v4
frameworkVersion: '4'
build: { esbuild: { format: esm, minify: true } }
provider: { name: aws, runtime: nodejs22.x }
functions:
  connect: { handler: src/connect.handler, events: [{ websocket: $connect }] }
`,
    'src/connect.ts':
      'export const handler = async (event: { requestContext: { connectionId: string } }): Promise<{ statusCode: number }> => ({ statusCode: event.requestContext.connectionId ? 200 : 400 });',
  });
  const app = loadServerlessConfig({ path: join(dir, 'serverless.yml'), env: {} });
  const fn = app.gatewayOptions.functions!['v4-dev-connect'] as { entry: string; handlerName: string };
  assert.match(fn.entry, /ConnectLambdaFunction-[0-9a-f]+\/src\/connect\.mjs$/);
  assert.equal(fn.handlerName, 'handler');
  assert.doesNotMatch(readFileSync(fn.entry, 'utf8'), /: Promise</, 'the types are gone');
});
