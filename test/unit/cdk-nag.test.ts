// cdk-nag's AwsSolutions pack over the backend: no unacknowledged finding, whatever the options,
// and every acknowledgement carries a written reason. A control proves the check is live.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { GatewayBackend, NO_AUTHORIZER_WARNING, type GatewayBackendProps } from '../../cdk/index.ts';

const cdkJson = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')) as { context: Record<string, unknown> };

/**
 * Synthesizes one stack with the AwsSolutions pack. Returns every finding of every validation plugin
 * (cdk-nag's, and the CloudFormation rules the feature flags turn on), warnings included, as
 * `<plugin>: <rule> @ <construct paths>`; empty when clean.
 */
function synthWithNag(configure: (stack: Stack) => void): { findings: string[]; app: App } {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-nag-'));
  const app = new App({ outdir, context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'NagStack', { env: { account: '123456789012', region: 'us-east-1' } });
  configure(stack);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let failure: unknown;
  try {
    app.synth();
  } catch (error) {
    failure = error;
  }
  try {
    const reportFile = join(outdir, 'validation-report.json');
    const report = existsSync(reportFile)
      ? (JSON.parse(readFileSync(reportFile, 'utf8')) as {
          pluginReports: Array<{ pluginName: string; violations?: Array<{ ruleName: string; violatingConstructs?: Array<{ constructPath: string }> }> }>;
        })
      : { pluginReports: [] };
    const findings = report.pluginReports.flatMap((r) =>
      (r.violations ?? []).map((v) => `${r.pluginName}: ${v.ruleName} @ ${(v.violatingConstructs ?? []).map((c) => c.constructPath).join(', ')}`),
    );
    if (failure && findings.length === 0) throw failure;
    return { findings, app };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** The acknowledgements recorded anywhere in the tree: rule id -> reason. */
function acknowledgements(root: IConstruct): Array<{ path: string; id: string; reason: string }> {
  const found: Array<{ path: string; id: string; reason: string }> = [];
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, value] of Object.entries(entry.data as Record<string, unknown>)) {
        const reason = typeof value === 'string' ? value : String((value as { reason?: string })?.reason ?? '');
        found.push({ path: construct.node.path, id, reason });
      }
    }
  }
  return found;
}

/** As cdk/bin/app.ts builds it: the seed, open on connect (acknowledged there), with the account logging role. */
function appLikeStack(props: GatewayBackendProps = {}) {
  return (stack: Stack) => {
    const backend = new GatewayBackend(stack, 'Gateway', { apiGatewayCloudWatchRole: true, ...props });
    const reason = 'Test of the seed configuration: push-only and open on connect, as cdk/bin/app.ts acknowledges it.';
    Validations.of(backend.connectRoute).acknowledge({ id: 'AwsSolutions-APIG4', reason });
    Validations.of(backend).acknowledge({ id: `annotation::${NO_AUTHORIZER_WARNING}`, reason });
    return backend;
  };
}

test("the app's configuration has no unacknowledged AwsSolutions finding", () => {
  const { findings } = synthWithNag(appLikeStack());
  assert.deepEqual(findings, []);
});

test('the construct with default props (no account role, so no access logs) has none; the missing access logs are acknowledged on the stage, with why', () => {
  const { findings, app } = synthWithNag(appLikeStack({ apiGatewayCloudWatchRole: undefined }));
  assert.deepEqual(findings, []);
  const stageAcks = acknowledgements(app).filter((a) => a.path === 'NagStack/Gateway/Stage');
  assert.deepEqual(
    stageAcks.map((a) => a.id.replace(/^[Aa]nnotation::/, '')),
    ['AwsSolutions-APIG1'],
  );
  assert.match(stageAcks[0]!.reason, /CloudWatch Logs role/);
  // With access logs on, nothing needs acknowledging there.
  const withLogs = synthWithNag(appLikeStack({ apiGatewayCloudWatchRole: undefined, accessLogs: true }));
  assert.deepEqual(withLogs.findings, []);
  assert.deepEqual(
    acknowledgements(withLogs.app).filter((a) => a.path === 'NagStack/Gateway/Stage'),
    [],
  );
});

test('every option on (authorizer, custom routes, no PITR, X-Ray tracing, JSON logs, access logs, a granted application Lambda) still has none', () => {
  const { findings } = synthWithNag((stack) => {
    const role = (id: string) => new iam.Role(stack, id, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const authorizer = new lambda.Function(stack, 'Authorizer', {
      runtime: lambda.Runtime.NODEJS_24_X,
      code: lambda.Code.fromInline('x'),
      handler: 'index.handler',
      role: role('AuthorizerRole'),
    });
    const backend = new GatewayBackend(stack, 'Gateway', {
      authorizer: { handler: authorizer },
      routes: ['chat', 'typing'],
      pointInTimeRecovery: false,
      removalPolicy: RemovalPolicy.DESTROY,
      tracing: true,
      logFormat: 'json',
      accessLogs: true,
    });
    const appFunction = new lambda.Function(stack, 'AppBackend', {
      runtime: lambda.Runtime.NODEJS_24_X,
      code: lambda.Code.fromInline('x'),
      handler: 'index.handler',
      role: role('AppBackendRole'),
    });
    backend.grantGateway(appFunction);
  });
  assert.deepEqual(findings, []);
});

test('control: the check is live; an open $connect nobody acknowledged is a finding, and so is an old runtime', () => {
  const { findings } = synthWithNag((stack) => {
    new GatewayBackend(stack, 'Gateway');
    const role = new iam.Role(stack, 'OldRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    new lambda.Function(stack, 'Old', { runtime: lambda.Runtime.NODEJS_20_X, code: lambda.Code.fromInline('x'), handler: 'index.handler', role });
  });
  const nag = findings.filter((f) => f.startsWith('AwsSolutions: '));
  assert.deepEqual(nag.map((f) => f.split(' ')[1]).sort(), ['AwsSolutions-APIG4', 'AwsSolutions-L1']);
  assert.match(nag.find((f) => f.includes('AwsSolutions-APIG4'))!, /NagStack\/Gateway\/Api\/\$connect-Route\/Resource/);
});

test('every acknowledgement the construct and the app make has a written reason', (t) => {
  const { app } = synthWithNag(appLikeStack());
  const acks = acknowledgements(app);
  assert.ok(acks.length > 0);
  for (const ack of acks) {
    assert.ok(ack.reason.length >= 60, `${ack.id} on ${ack.path} has a reason worth reading: ${JSON.stringify(ack.reason)}`);
    t.diagnostic(`${ack.id} @ ${ack.path.replace(/^NagStack\/Gateway\/?/, '')}`);
  }
  const ids = new Set(acks.map((a) => a.id.replace(/^[Aa]nnotation::/, '')));
  for (const method of ['POST', 'GET', 'DELETE']) {
    assert.ok(
      [...ids].some((id) => id.startsWith('AwsSolutions-IAM5[Resource::') && id.endsWith(`/prod/${method}/@connections/*]`)),
      `the ${method} @connections wildcard is acknowledged`,
    );
  }
  // The fan-out worker's own: its POST wildcard, and its failure queue having no DLQ (it is one).
  assert.ok(acks.some((a) => a.path.endsWith('/FanoutWorkerFunctionRole') && a.id.includes('/prod/POST/@connections/*]')));
  assert.deepEqual(
    acks.filter((a) => a.id.replace(/^[Aa]nnotation::/, '') === 'AwsSolutions-SQS3').map((a) => a.path),
    ['NagStack/Gateway/FanoutFailures'],
  );
});
