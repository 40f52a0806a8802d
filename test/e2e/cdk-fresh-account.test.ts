// What a fresh account gets from `cdk deploy` (the app in cdk/bin/app.ts, run as the CLI runs it,
// cdk-nag included) and from a stack holding only the construct with default props: nothing in the
// template that a fresh account or region refuses (test/helpers/freshAccount.ts lists the rules and
// why). Bundling is skipped: what is checked is the template, and cdk-app.test.ts bundles.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { GatewayBackend, type GatewayBackendProps } from '../../cdk/index.ts';
import { appSettingsFromContext, type AppContextKey } from '../../cdk/appContext.ts';
import { freshAccountRefusals, type TemplateJson } from '../helpers/freshAccount.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cdkJson = JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { app: string; context: Record<string, unknown> };

/** Runs cdk/bin/app.ts as the CLI does (context in CDK_CONTEXT_JSON, output in CDK_OUTDIR) and returns the stack's template. */
function synthApp(context: Partial<Record<AppContextKey, string>> = {}): TemplateJson {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-fresh-'));
  try {
    const [command, ...args] = cdkJson.app.split(' ');
    const result = spawnSync(command!, args, {
      cwd: root,
      env: {
        ...process.env,
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context }),
      },
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    return JSON.parse(readFileSync(join(outdir, `${context.stackName ?? 'ServerlessGatewayWorker'}.template.json`), 'utf8')) as TemplateJson;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** A stack of the user's own holding only the construct. */
function constructOnly(props?: GatewayBackendProps): TemplateJson {
  const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'UserStack', { env: { account: '123456789012', region: 'ap-southeast-7' } });
  new GatewayBackend(stack, 'Gateway', props);
  return Template.fromStack(stack).toJSON() as TemplateJson;
}

/** The props the app builds from these context values, in a construct-only stack (the app's mapping, without a synth each). */
function asTheAppWould(context: Partial<Record<AppContextKey, string>>): TemplateJson {
  return constructOnly(appSettingsFromContext((key) => context[key]).props);
}

const ofType = (template: TemplateJson, type: string) => Object.values(template.Resources).filter((r) => r.Type === type);

describe('the default app (`cdk deploy` with no context)', () => {
  const template = synthApp();

  test('nothing a fresh account refuses', () => {
    assert.deepEqual(freshAccountRefusals(template), []);
  });

  test("it sets the region's logging role itself (retained), so the stage has access logs; the fan-out worker reserves nothing", () => {
    assert.equal(ofType(template, 'AWS::ApiGateway::Account').length, 1);
    const stage = ofType(template, 'AWS::ApiGatewayV2::Stage')[0]!;
    assert.ok(stage.Properties!.AccessLogSettings);
    for (const fn of ofType(template, 'AWS::Lambda::Function')) assert.equal(fn.Properties!.ReservedConcurrentExecutions, undefined);
  });
});

describe('a second copy of the app (staging + prod), with every fan-out switch set', () => {
  const staging = synthApp({
    stackName: 'ServerlessGatewayWorkerStaging',
    fanoutThreshold: '250',
    fanoutReservedConcurrency: '5',
    fanoutMemorySize: '2048',
    fanoutTimeout: '90s',
    fanoutRetryAttempts: '1',
    fanoutMaxEventAge: '30m',
    fanoutFailureRetention: '2d',
  });

  test('the context values reach the template', () => {
    const worker = ofType(staging, 'AWS::Lambda::Function').find((fn) => fn.Properties!.ReservedConcurrentExecutions !== undefined)!;
    assert.deepEqual([worker.Properties!.ReservedConcurrentExecutions, worker.Properties!.MemorySize, worker.Properties!.Timeout], [5, 2048, 90]);
    const config = ofType(staging, 'AWS::Lambda::EventInvokeConfig').find((c) => c.Properties!.MaximumRetryAttempts === 1)!;
    assert.equal(config.Properties!.MaximumEventAgeInSeconds, 1800);
    assert.equal(ofType(staging, 'AWS::SQS::Queue')[0]!.Properties!.MessageRetentionPeriod, 2 * 86400);
    const thresholds = ofType(staging, 'AWS::Lambda::Function')
      .map((fn) => (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables.GATEWAY_FANOUT_THRESHOLD)
      .filter(Boolean);
    assert.deepEqual([...new Set(thresholds)], ['250']);
  });

  test('the only refusal is the reservation that was asked for; nothing has a fixed name, and its logging role is its own and retained', () => {
    assert.deepEqual(
      freshAccountRefusals(staging).map((r) => r.replace(/^\w+: /, '')),
      ['reserves 5 concurrent executions'],
    );
  });
});

describe('a stack holding only the construct, with default props', () => {
  const template = constructOnly();

  test('nothing a fresh account refuses', () => {
    assert.deepEqual(freshAccountRefusals(template), []);
  });

  test('no account-wide resource at all: no AWS::ApiGateway::Account, no role for it, no access logs, no reservation', () => {
    assert.equal(ofType(template, 'AWS::ApiGateway::Account').length, 0);
    for (const role of ofType(template, 'AWS::IAM::Role')) {
      assert.deepEqual(
        (role.Properties!.AssumeRolePolicyDocument as { Statement: Array<{ Principal: unknown }> }).Statement.map((s) => s.Principal),
        [{ Service: 'lambda.amazonaws.com' }],
      );
    }
    assert.equal(ofType(template, 'AWS::ApiGatewayV2::Stage')[0]!.Properties!.AccessLogSettings, undefined);
  });

  test('with apiGatewayCloudWatchRole it deploys on a fresh account too, with access logs', () => {
    const withRole = constructOnly({ apiGatewayCloudWatchRole: true });
    assert.deepEqual(freshAccountRefusals(withRole), []);
    assert.ok(ofType(withRole, 'AWS::ApiGatewayV2::Stage')[0]!.Properties!.AccessLogSettings);
  });
});

describe('control: the rules report what a fresh account refuses', () => {
  test("a reservation asked for through the app's context", () => {
    assert.deepEqual(
      freshAccountRefusals(asTheAppWould({ fanoutReservedConcurrency: '10' })).map((r) => r.replace(/^\w+: /, '')),
      ['reserves 10 concurrent executions'],
    );
  });

  test('access logs stated to be safe (accessLogs without the role) need a region that already has its role', () => {
    const refusals = freshAccountRefusals(asTheAppWould({ apiGatewayCloudWatchRole: 'false', accessLogs: 'true' }));
    assert.equal(refusals.length, 1);
    assert.match(refusals[0]!, /access logs without an AWS::ApiGateway::Account created before the stage/);
    assert.deepEqual(freshAccountRefusals(asTheAppWould({ apiGatewayCloudWatchRole: 'false' })), [], 'without the role the app turns access logs off');
  });

  test('a logging role deleted with the stack, and a fixed physical name', () => {
    const template = constructOnly({ apiGatewayCloudWatchRole: true });
    const roleId = Object.entries(template.Resources).find(
      ([, r]) => r.Type === 'AWS::IAM::Role' && JSON.stringify(r.Properties).includes('apigateway.amazonaws.com'),
    )![0];
    const broken: TemplateJson = {
      Resources: {
        ...template.Resources,
        [roleId]: { ...template.Resources[roleId]!, DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' },
        Named: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'fixed' } },
      },
    };
    const refusals = freshAccountRefusals(broken);
    assert.ok(
      refusals.some((r) => r.startsWith(`${roleId}: the region's logging role is deleted with the stack`)),
      refusals.join('\n'),
    );
    assert.ok(
      refusals.some((r) => r.startsWith('Named: fixed QueueName')),
      refusals.join('\n'),
    );
  });
});
