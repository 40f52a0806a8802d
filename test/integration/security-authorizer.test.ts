// The token authorizer end to end: a stack with GatewayBackend's `authorizer` prop and a real
// authorizer function (test/fixtures/security/tokenAuthorizer.ts, bundled by NodejsFunction like
// the construct's own functions) is synthesized into a private directory, read back with
// loadCloudAssembly and run on the local gateway with its bundles. What a client gets:
// - no token (or an empty one, or one in a header instead of the query string): 401, and neither
//   the authorizer nor `$connect` runs;
// - a wrong token: 403 from the authorizer's Deny; `$connect` never runs, nothing is stored;
// - the right token: 101, `$connect` runs once with the authorizer's context, the connection item is
//   stored and the init message arrives.
// To see what ran, the authorizer and `$connect` are relayed through counting functions that invoke
// the bundled ones, unchanged.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { GatewayBackend } from '../../cdk/index.ts';
import { LocalGateway, loadCloudAssembly, type GatewayEndpoints, type InlineFunctionDefinition, type RouteDefinition } from '../../local/index.ts';
import { Gateway, type GatewayTableNames } from '../../sdk/index.ts';
import { connect, refusedStatus } from '../helpers/wsClient.ts';
import { tableNamesOf } from '../../testkit/synthesizedApp.ts';

const cdkJson = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')) as { context: Record<string, unknown> };
const AUTHORIZER_ENTRY = fileURLToPath(new URL('../fixtures/security/tokenAuthorizer.ts', import.meta.url));
const TOKEN = 's3cr3t-T0ken_for-the-test';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);

let outdir: string;
let gw: LocalGateway;
let endpoints: GatewayEndpoints;
let tables: GatewayTableNames;
let doc: DynamoDBDocumentClient;
let sdk: Gateway;
let template: { Resources: Record<string, { Type: string; Properties?: Record<string, any> }> };
/** The events each relayed function received, in order. */
const calls = { authorizer: [] as Array<Record<string, any>>, connect: [] as Array<Record<string, any>> };

before(async () => {
  outdir = mkdtempSync(join(tmpdir(), 'security-authorizer-'));
  const app = new App({ outdir, context: { ...cdkJson.context, 'aws:cdk:enable-asset-metadata': true } });
  const stack = new Stack(app, 'AuthorizedGateway', { env: { account: '123456789012', region: 'us-east-1' } });
  // The authorizer as an application would deploy it: its own role, allowed only to write its own logs.
  const logGroup = new logs.LogGroup(stack, 'TokenAuthorizerLogs');
  const role = new iam.Role(stack, 'TokenAuthorizerRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  logGroup.grantWrite(role);
  const authorizer = new NodejsFunction(stack, 'TokenAuthorizer', {
    entry: AUTHORIZER_ENTRY,
    handler: 'handler',
    runtime: lambda.Runtime.NODEJS_24_X,
    role,
    logGroup,
    environment: { EXPECTED_TOKEN: TOKEN },
    bundling: { forceDockerBundling: false, format: OutputFormat.ESM, minify: true },
  });
  new GatewayBackend(stack, 'Gateway', { authorizer: { handler: authorizer } });
  template = app.synth().getStackByName('AuthorizedGateway').template;

  const assembly = loadCloudAssembly({ directory: outdir });
  const options = assembly.gatewayOptions;
  assert.ok(options.authorizer, 'the template puts an authorizer on $connect');
  const authorizerName = options.authorizer.function as string;
  const connectName = (options.routes.$connect as RouteDefinition).function as string;
  tables = tableNamesOf(assembly);
  // Counting relays in front of the bundled authorizer and $connect (same names, so the routes and the authorizer point at them).
  const relay = (bundle: string, log: Array<Record<string, any>>): InlineFunctionDefinition => ({
    timeoutMs: 25_000,
    handler: async (event: Record<string, any>) => {
      log.push(event);
      const outcome = await gw.invoke(bundle, event);
      if (!outcome.ok) throw Object.assign(new Error(outcome.error.errorMessage), { name: outcome.error.errorType });
      return outcome.value;
    },
  });
  gw = new LocalGateway({
    ...options,
    ttlSweepIntervalMs: 0,
    functions: {
      ...options.functions,
      [`${authorizerName}-bundle`]: options.functions![authorizerName]!,
      [`${connectName}-bundle`]: options.functions![connectName]!,
      [authorizerName]: relay(`${authorizerName}-bundle`, calls.authorizer),
      [connectName]: relay(`${connectName}-bundle`, calls.connect),
    },
  });
  endpoints = await gw.start();
  doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }));
  sdk = new Gateway({ callbackUrl: endpoints.callbackUrl, tables, region: endpoints.region, credentials, dynamoDb: doc, logger: { warn: () => {} } });
});

after(async () => {
  sdk?.destroy();
  await gw?.stop();
  doc?.destroy();
  rmSync(outdir, { recursive: true, force: true });
});

async function storedConnections(): Promise<string[]> {
  return ((await doc.send(new ScanCommand({ TableName: tables.connections, ConsistentRead: true }))).Items ?? []).map((i) => i.connectionId as string);
}

describe('the token authorizer on $connect', { timeout: 60_000 }, () => {
  test("the template: a REQUEST authorizer reading the token from the query string, on $connect only, invocable by API Gateway from this API's authorizers only", () => {
    const resources = Object.entries(template.Resources);
    const authorizers = resources.filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Authorizer');
    assert.equal(authorizers.length, 1);
    const [authorizerId, authorizerResource] = authorizers[0]!;
    assert.equal(authorizerResource.Properties!.AuthorizerType, 'REQUEST');
    assert.deepEqual(authorizerResource.Properties!.IdentitySource, ['route.request.querystring.token']);
    for (const [, route] of resources.filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Route')) {
      const isConnect = route.Properties!.RouteKey === '$connect';
      assert.equal(route.Properties!.AuthorizationType, isConnect ? 'CUSTOM' : 'NONE', route.Properties!.RouteKey);
      if (isConnect) assert.deepEqual(route.Properties!.AuthorizerId, { Ref: authorizerId });
    }
    const authorizerFunctionId = resources.find(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('TokenAuthorizer'))![0];
    const permissions = resources.filter(
      ([, r]) => r.Type === 'AWS::Lambda::Permission' && JSON.stringify(r.Properties!.FunctionName).includes(authorizerFunctionId),
    );
    assert.equal(permissions.length, 1, 'one way to invoke the authorizer');
    const permission = permissions[0]![1].Properties!;
    assert.equal(permission.Principal, 'apigateway.amazonaws.com');
    assert.match(
      JSON.stringify(permission.SourceArn),
      new RegExp(`"Ref":"${resources.find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Api')![0]}".*/authorizers/`),
    );
  });

  test('no token: 401 before any handler runs (neither the authorizer nor $connect), nothing stored', async () => {
    const stats = gw.stats();
    for (const [label, url, headers] of [
      ['no query string', endpoints.wsUrl, {}],
      ['an empty token', `${endpoints.wsUrl}?token=`, {}],
      ['another parameter', `${endpoints.wsUrl}?access_token=${TOKEN}`, {}],
      ['the token in a header', endpoints.wsUrl, { token: TOKEN, Authorization: TOKEN }],
    ] as const) {
      assert.equal(await refusedStatus(url, { headers }), 401, label);
    }
    assert.deepEqual([calls.authorizer.length, calls.connect.length], [0, 0]);
    assert.deepEqual(await storedConnections(), []);
    assert.equal(gw.stats().connects, stats.connects);
    assert.equal(gw.stats().rejectedConnects, stats.rejectedConnects + 4);
  });

  test("a wrong token (30 runs): 403 from the authorizer's Deny; $connect never runs, nothing stored", async () => {
    const wrong = fc.oneof(
      fc.string({ minLength: 1, maxLength: 64 }),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 16 }),
      fc.constantFrom(
        `${TOKEN}x`,
        TOKEN.slice(0, -1),
        TOKEN.toUpperCase(),
        ` ${TOKEN}`,
        `${TOKEN} `,
        `${TOKEN}\u0000`,
        TOKEN.normalize('NFKD').replace('0', 'O'),
        `${TOKEN}${TOKEN}`,
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        wrong.filter((t) => t !== TOKEN),
        async (token) => {
          const before = calls.authorizer.length;
          assert.equal(await refusedStatus(`${endpoints.wsUrl}?token=${encodeURIComponent(token)}`), 403, JSON.stringify(token));
          assert.equal(calls.authorizer.length, before + 1, 'the authorizer ran');
          assert.equal(calls.authorizer.at(-1)!.queryStringParameters.token, token, 'with the token as sent');
          assert.equal(calls.connect.length, 0, '$connect did not run');
        },
      ),
      { numRuns: 30, ...(seed === undefined ? {} : { seed }) },
    );
    assert.deepEqual(await storedConnections(), []);
  });

  test("the right token: $connect runs once, with the authorizer's context; the item is stored, init arrives, sends reach it", async () => {
    const client = await connect(`${endpoints.wsUrl}?token=${encodeURIComponent(TOKEN)}`);
    const init = await client.json(0, 20_000);
    assert.equal(init.type, 'init');
    assert.equal(calls.connect.length, 1);
    const context = calls.connect[0]!.requestContext;
    assert.equal(context.connectionId, init.client_id);
    assert.equal(context.authorizer.principalId, 'token-user');
    assert.equal(context.authorizer.tokenUser, 'token-user');
    assert.deepEqual(await storedConnections(), [init.client_id]);
    assert.deepEqual((await sdk.sendToClient(init.client_id, 'for the token holder')).sent, [init.client_id]);
    assert.equal(await client.message(1, 20_000), 'for the token holder');
    await client.close();
    while ((await storedConnections()).length > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  });
});
