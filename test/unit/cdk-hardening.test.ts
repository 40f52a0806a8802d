// Issue 17's deploy-time defaults and options: $connect's own throttle, deletion protection on the
// tables, the logging role's guarded trust policy, a custom domain, and the Gateway API allow-list;
// each in the template, with its `-c` switch, and cdk-nag-clean. Bundling is skipped.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { AwsSolutionsChecks } from 'cdk-nag';
import {
  DEFAULT_CONNECT_THROTTLE,
  GATEWAY_API_PRESETS,
  GatewayBackend,
  GatewayBackendPropsError,
  NO_AUTHORIZER_WARNING,
  type GatewayBackendProps,
} from '../../cdk/index.ts';
import { AppContextError, appSettingsFromContext, domainNameProps, type AppContextKey } from '../../cdk/appContext.ts';
import { acknowledgeOpenConnect, OPEN_CONNECT_REASON } from '../../cdk/openConnect.ts';
import { GATEWAY_API_METHODS_ENV } from '../../lambdas/gatewayApiAccess.ts';

const cdkJson = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')) as { context: Record<string, unknown> };
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const CERTIFICATE_ARN = `arn:aws:acm:${REGION}:${ACCOUNT}:certificate/0f0e1d2c-3b4a-5968-7788-99aabbccddee`;

function build(props: GatewayBackendProps | ((stack: Stack) => GatewayBackendProps) = {}) {
  const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'TestStack', { env: { account: ACCOUNT, region: REGION } });
  const backend = new GatewayBackend(stack, 'Gateway', typeof props === 'function' ? props(stack) : props);
  return { stack, backend, template: () => Template.fromStack(stack) };
}

const zoneOf = (stack: Stack) => route53.HostedZone.fromHostedZoneAttributes(stack, 'Zone', { hostedZoneId: 'Z0123456789ABCDEFGHIJ', zoneName: 'example.com' });
const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
const fails = (props: GatewayBackendProps | ((stack: Stack) => GatewayBackendProps), message: RegExp) =>
  assert.throws(
    () => build(props),
    (e: unknown) => e instanceof GatewayBackendPropsError && message.test(e.message),
  );

describe('$connect has a throttle of its own', () => {
  test('by default: a route setting on the stage for $connect (200/s, burst 400), the stage created after the route', () => {
    const { stack, backend, template } = build();
    const stage = template().findResources('AWS::ApiGatewayV2::Stage')[logicalId(stack, backend.stage)]!;
    assert.deepEqual(stage.Properties.RouteSettings, { $connect: { ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 } });
    assert.deepEqual(DEFAULT_CONNECT_THROTTLE, { rateLimit: 200, burstLimit: 400 });
    // The stage-wide default is unchanged: messages keep 1,000/s.
    assert.deepEqual(stage.Properties.DefaultRouteSettings, { ThrottlingRateLimit: 1000, ThrottlingBurstLimit: 500 });
    assert.ok([stage.DependsOn].flat().includes(logicalId(stack, backend.connectRoute)), 'a route setting needs the route to exist');
  });

  test('connectThrottle sets it; false leaves $connect to the stage default', () => {
    const custom = build({ connectThrottle: { rateLimit: 20, burstLimit: 50 } }).template();
    custom.hasResourceProperties('AWS::ApiGatewayV2::Stage', { RouteSettings: { $connect: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 50 } } });
    const off = build({ connectThrottle: false }).template();
    assert.equal(Object.values(off.findResources('AWS::ApiGatewayV2::Stage'))[0]!.Properties.RouteSettings, undefined);
  });

  test('fails on a throttle that is not positive', () => {
    fails({ connectThrottle: { rateLimit: 0, burstLimit: 10 } }, /connectThrottle\.rateLimit: 0 must be a positive number/);
    fails({ connectThrottle: { rateLimit: 10, burstLimit: 1.5 } }, /connectThrottle\.burstLimit: 1\.5 must be a positive whole number/);
  });
});

describe('careful defaults', () => {
  test('deletion protection on all five tables; deletionProtection: false turns it off', () => {
    const on = Object.values(build().template().findResources('AWS::DynamoDB::Table'));
    assert.equal(on.length, 5);
    for (const table of on) assert.equal(table.Properties.DeletionProtectionEnabled, true);
    for (const table of Object.values(build({ deletionProtection: false }).template().findResources('AWS::DynamoDB::Table'))) {
      assert.equal(table.Properties.DeletionProtectionEnabled, false);
    }
  });

  test("the API Gateway logging role trusts API Gateway only on this account's behalf, for this region's API Gateway resources", () => {
    const { stack, backend, template } = build({ apiGatewayCloudWatchRole: true });
    const role = template().findResources('AWS::IAM::Role')[stack.getLogicalId(backend.cloudWatchRole!.node.defaultChild as never)]!;
    assert.deepEqual(role.Properties.AssumeRolePolicyDocument.Statement, [
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'apigateway.amazonaws.com' },
        Condition: {
          StringEqualsIfExists: { 'aws:SourceAccount': ACCOUNT },
          ArnLikeIfExists: { 'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:apigateway:${REGION}::/*`]] } },
        },
      },
    ]);
  });
});

describe('a custom domain', () => {
  test('with a hosted zone: a certificate validated by DNS in the zone, a regional domain name, the mapping to the stage, an alias record, and the wss:// URL as an output', () => {
    const { stack, backend, template } = build((s) => ({ domainName: { domainName: 'ws.example.com', hostedZone: zoneOf(s) } }));
    const t = template();
    t.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'ws.example.com',
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: 'ws.example.com', HostedZoneId: 'Z0123456789ABCDEFGHIJ' }],
    });
    const certificateId = stack.getLogicalId(backend.certificate!.node.defaultChild as never);
    t.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'ws.example.com',
      DomainNameConfigurations: [Match.objectLike({ CertificateArn: { Ref: certificateId }, EndpointType: 'REGIONAL', SecurityPolicy: 'TLS_1_2' })],
    });
    const domainId = logicalId(stack, backend.domainName!);
    t.hasResource('AWS::ApiGatewayV2::ApiMapping', {
      Properties: { ApiId: { Ref: logicalId(stack, backend.webSocketApi) }, Stage: 'prod', DomainName: { Ref: domainId } },
      DependsOn: [logicalId(stack, backend.stage)],
    });
    assert.equal(
      Object.values(t.findResources('AWS::ApiGatewayV2::ApiMapping'))[0]!.Properties.ApiMappingKey,
      undefined,
      'the root of the domain: wss://ws.example.com, no path',
    );
    t.hasResourceProperties('AWS::Route53::RecordSet', {
      Name: 'ws.example.com.',
      Type: 'A',
      HostedZoneId: 'Z0123456789ABCDEFGHIJ',
      AliasTarget: { DNSName: { 'Fn::GetAtt': [domainId, 'RegionalDomainName'] }, HostedZoneId: { 'Fn::GetAtt': [domainId, 'RegionalHostedZoneId'] } },
    });
    assert.equal(backend.url, 'wss://ws.example.com');
    const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
    const output = (prefix: string) => Object.entries(outputs).find(([id]) => id.startsWith(prefix))?.[1].Value;
    assert.equal(output('GatewayCustomDomainUrl'), 'wss://ws.example.com');
    assert.deepEqual(output('GatewayCustomDomainTarget'), { 'Fn::GetAtt': [domainId, 'RegionalDomainName'] });
    // The execute-api URL stays an output (it works before DNS does), and the callback URL stays on it.
    assert.match(JSON.stringify(output('GatewayWebSocketUrl')), /wss:\/\/.*execute-api/);
    assert.match(JSON.stringify(backend.callbackUrl), /execute-api/);
  });

  test('a given certificate is used as is; without a zone no record is made; aliasRecord: false skips it', () => {
    const given = build((s) => ({ domainName: { domainName: 'ws.example.com', certificate: acm.Certificate.fromCertificateArn(s, 'Cert', CERTIFICATE_ARN) } }));
    const t = given.template();
    t.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    t.resourceCountIs('AWS::Route53::RecordSet', 0);
    t.hasResourceProperties('AWS::ApiGatewayV2::DomainName', { DomainNameConfigurations: [Match.objectLike({ CertificateArn: CERTIFICATE_ARN })] });
    assert.equal(given.backend.aliasRecord, undefined);
    const noAlias = build((s) => ({ domainName: { domainName: 'ws.example.com', hostedZone: zoneOf(s), aliasRecord: false } })).template();
    noAlias.resourceCountIs('AWS::Route53::RecordSet', 0);
    noAlias.resourceCountIs('AWS::CertificateManager::Certificate', 1);
  });

  test('without domainName: no domain resources, url is the execute-api one', () => {
    const { backend, template } = build();
    const t = template();
    for (const type of ['AWS::ApiGatewayV2::DomainName', 'AWS::ApiGatewayV2::ApiMapping', 'AWS::CertificateManager::Certificate', 'AWS::Route53::RecordSet'])
      t.resourceCountIs(type, 0);
    assert.equal(backend.url, backend.stage.url);
    assert.ok(!Object.keys(t.toJSON().Outputs).some((id) => id.includes('CustomDomain')));
  });

  test('fails on a name that is not a host name, and on an alias record with no zone', () => {
    for (const bad of ['wss://ws.example.com', 'WS.example.com', '*.example.com', 'localhost', 'ws.example.com/prod', 'ws.example.com:443']) {
      fails({ domainName: { domainName: bad } }, /domainName\.domainName: .* must be a lower-case host name/);
    }
    fails({ domainName: { domainName: 'ws.example.com', aliasRecord: true } }, /an alias record needs domainName\.hostedZone/);
  });
});

describe('the Gateway API allow-list', () => {
  const env = (backend: GatewayBackend, t: Template, stack: Stack) =>
    (t.findResources('AWS::Lambda::Function')[logicalId(stack, backend.gatewayApiFunction)]!.Properties.Environment.Variables as Record<string, unknown>)[
      GATEWAY_API_METHODS_ENV
    ];

  test("'all' by default: GATEWAY_API_METHODS unset, every method allowed", () => {
    const { stack, backend, template } = build();
    assert.equal(env(backend, template(), stack), undefined);
    assert.deepEqual(backend.gatewayApiMethods, [...GATEWAY_API_PRESETS.all].sort());
  });

  test('a preset travels by name; a list sorted and de-duplicated; nothing else in the backend changes', () => {
    const readOnly = build({ gatewayApi: { methods: 'read-only' } });
    assert.equal(env(readOnly.backend, readOnly.template(), readOnly.stack), 'read-only');
    assert.ok(
      readOnly.backend.gatewayApiMethods.includes('getSession') &&
        !readOnly.backend.gatewayApiMethods.some((m) => m.startsWith('send') || m.startsWith('close') || m === 'bindUid'),
    );
    const list = build({ gatewayApi: { methods: ['sendToUid', 'isOnline', 'sendToUid'] } });
    assert.equal(env(list.backend, list.template(), list.stack), 'isOnline,sendToUid');
    assert.deepEqual(GATEWAY_API_PRESETS['send-only'], ['sendToClient', 'sendToUid', 'sendToGroup', 'sendToAll']);
  });

  test('fails closed at synth: an unknown preset, an unknown method, an empty list', () => {
    fails({ gatewayApi: { methods: 'readonly' as never } }, /gatewayApi\.methods: unknown Gateway API preset "readonly"; presets: all, read-only, send-only/);
    fails({ gatewayApi: { methods: ['sendToUid', 'sendToUids'] } }, /gatewayApi\.methods: unknown Gateway API method "sendToUids"/);
    fails({ gatewayApi: { methods: [] } }, /gatewayApi\.methods: the Gateway API method list must name at least one method/);
  });
});

describe('-c switches', () => {
  const settings = (context: Partial<Record<AppContextKey, string>>) => appSettingsFromContext((key) => context[key]);
  const failsWith = (context: Partial<Record<AppContextKey, string>>, message: RegExp) =>
    assert.throws(
      () => settings(context),
      (e: unknown) => e instanceof AppContextError && message.test(e.message),
    );

  test('deletionProtection, connectThrottle, gatewayApiMethods: unset leaves the construct defaults', () => {
    const { props, domain } = settings({});
    assert.deepEqual([props.deletionProtection, props.connectThrottle, props.gatewayApi, domain], [undefined, undefined, undefined, undefined]);
    const set = settings({ deletionProtection: 'false', connectThrottle: '50/100', gatewayApiMethods: 'send-only' }).props;
    assert.deepEqual([set.deletionProtection, set.connectThrottle, set.gatewayApi], [false, { rateLimit: 50, burstLimit: 100 }, { methods: 'send-only' }]);
    assert.equal(settings({ connectThrottle: 'off' }).props.connectThrottle, false);
    assert.deepEqual(settings({ gatewayApiMethods: 'sendToUid, getSession' }).props.gatewayApi, { methods: ['sendToUid', 'getSession'] });
    assert.deepEqual(settings({ gatewayApiMethods: 'isOnline' }).props.gatewayApi, { methods: ['isOnline'] });
    failsWith({ connectThrottle: '200' }, /context connectThrottle must be \$connect's own throttle as 'RATE\/BURST'/);
    failsWith({ connectThrottle: '0/10' }, /context connectThrottle/);
    failsWith({ deletionProtection: 'no' }, /context deletionProtection must be/);
    // An unknown method name reaches the construct, which refuses it.
    assert.throws(() => build(settings({ gatewayApiMethods: 'read_only' }).props), GatewayBackendPropsError);
  });

  test('domainName with certificateArn and the hosted zone: imported, and the stack gets the domain', () => {
    const { domain } = settings({
      domainName: 'ws.example.com',
      certificateArn: CERTIFICATE_ARN,
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      hostedZoneName: 'example.com',
    });
    assert.deepEqual(domain, {
      domainName: 'ws.example.com',
      certificateArn: CERTIFICATE_ARN,
      hostedZone: { id: 'Z0123456789ABCDEFGHIJ', name: 'example.com' },
    });
    const t = build((s) => ({ domainName: domainNameProps(s, domain!) })).template();
    t.resourceCountIs('AWS::CertificateManager::Certificate', 0);
    t.hasResourceProperties('AWS::ApiGatewayV2::DomainName', { DomainNameConfigurations: [Match.objectLike({ CertificateArn: CERTIFICATE_ARN })] });
    t.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'ws.example.com.', HostedZoneId: 'Z0123456789ABCDEFGHIJ' });
    failsWith({ certificateArn: CERTIFICATE_ARN }, /context certificateArn belongs to a custom domain: set domainName too/);
    failsWith({ domainName: 'ws.example.com', hostedZoneId: 'Z0123456789ABCDEFGHIJ' }, /hostedZoneId and hostedZoneName go together/);
    failsWith(
      { domainName: 'ws.example.com', certificateArn: 'arn:aws:iam::123456789012:role/x' },
      /context certificateArn must be the ARN of an ACM certificate/,
    );
  });
});

test('cdk-nag: a custom domain with a created certificate and alias record, a read-only Gateway API and the $connect throttle add no finding', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-nag-h17-'));
  try {
    const app = new App({ outdir, context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'NagStack', { env: { account: ACCOUNT, region: REGION } });
    const backend = new GatewayBackend(stack, 'Gateway', {
      domainName: { domainName: 'ws.example.com', hostedZone: zoneOf(stack) },
      gatewayApi: { methods: 'read-only' },
      apiGatewayCloudWatchRole: true,
    });
    const reason = 'test: open $connect';
    Validations.of(backend.connectRoute).acknowledge({ id: 'AwsSolutions-APIG4', reason });
    Validations.of(backend).acknowledge({ id: `annotation::${NO_AUTHORIZER_WARNING}`, reason });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    let failure: unknown;
    try {
      app.synth();
    } catch (error) {
      failure = error;
    }
    const reportFile = join(outdir, 'validation-report.json');
    const report = existsSync(reportFile)
      ? (JSON.parse(readFileSync(reportFile, 'utf8')) as { pluginReports: Array<{ violations?: Array<{ ruleName: string }> }> })
      : { pluginReports: [] };
    const findings = report.pluginReports.flatMap((r) => (r.violations ?? []).map((v) => v.ruleName));
    assert.deepEqual(findings, []);
    if (failure) throw failure;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

test("the app's acknowledgement of the open $connect says that sendToAll reaches unbound connections, on the route and the warning", () => {
  assert.doesNotMatch(OPEN_CONNECT_REASON, /nothing private reaches an unbound connection/);
  assert.match(OPEN_CONNECT_REASON, /unbound connection receives its own client id and bind token, and whatever the application sends with sendToAll/);
  const { backend } = build();
  acknowledgeOpenConnect(backend);
  const acknowledged = (scope: { node: { metadata: Array<{ type: string; data: unknown }> } }) =>
    Object.assign(
      {},
      ...scope.node.metadata.filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY).map((m) => m.data as Record<string, string>),
    ) as Record<string, string>;
  const onRoute = Object.entries(acknowledged(backend.connectRoute)).find(([id]) => id.endsWith('AwsSolutions-APIG4'));
  const onBackend = Object.entries(acknowledged(backend)).find(([id]) => id.endsWith(NO_AUTHORIZER_WARNING));
  assert.equal(onRoute?.[1], OPEN_CONNECT_REASON);
  assert.equal(onBackend?.[1], OPEN_CONNECT_REASON);
});
