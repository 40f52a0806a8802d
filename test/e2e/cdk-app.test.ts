// The app as a user runs it: `npx cdk synth` with the project's cdk.json, offline settings, the
// cdk-nag check inside the app (a finding would fail the command), real esbuild bundling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const root = fileURLToPath(new URL('../..', import.meta.url));

function cdkSynth(args: string[]): { status: number | null; output: string; outdir: string; seconds: number } {
  const outdir = mkdtempSync(join(tmpdir(), 'cdk-app-'));
  const started = performance.now();
  const result = spawnSync('npx', ['--no-install', 'cdk', 'synth', '--quiet', '--output', outdir, ...args], {
    cwd: root,
    env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' },
    encoding: 'utf8',
  });
  return { status: result.status, output: `${result.stdout}\n${result.stderr}`, outdir, seconds: (performance.now() - started) / 1000 };
}

test('cdk.json runs the app with tsx, offline: no notices, no telemetry', () => {
  const cdkJson = JSON.parse(readFileSync(join(root, 'cdk.json'), 'utf8')) as { app: string; notices?: boolean; context: Record<string, unknown> };
  assert.equal(cdkJson.app, 'node --import tsx cdk/bin/app.ts');
  assert.equal(cdkJson.notices, false);
  assert.equal(cdkJson.context['cli-telemetry'], false);
});

test('`npx cdk synth` builds the stack, bundles six functions, and passes the nag check', (t) => {
  const run = cdkSynth([]);
  try {
    t.diagnostic(`cdk synth took ${run.seconds.toFixed(1)} s`);
    assert.equal(run.status, 0, run.output);
    const template = JSON.parse(readFileSync(join(run.outdir, 'ServerlessGatewayWorker.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
      Outputs: Record<string, unknown>;
    };
    const types = Object.values(template.Resources).map((r) => r.Type);
    assert.equal(types.filter((type) => type === 'AWS::Lambda::Function').length, 6);
    assert.equal(types.filter((type) => type === 'AWS::SQS::Queue').length, 1, 'the fan-out failure queue');
    assert.equal(types.filter((type) => type === 'AWS::DynamoDB::Table').length, 5);
    assert.equal(types.filter((type) => type === 'AWS::ApiGateway::Account').length, 1, 'the app sets the account logging role by default');
    const outputIds = Object.keys(template.Outputs).map((key) => key.replace(/^Gateway|[0-9A-F]{8}$/g, ''));
    assert.deepEqual(outputIds.sort(), [
      'BindTokenSecretArn',
      'CallbackUrl',
      'ConnectionsTableName',
      'FanoutFunctionName',
      'GatewayApiFunctionName',
      'GroupsTableName',
      'MembershipsTableName',
      'SessionsTableName',
      'UidsTableName',
      'WebSocketUrl',
    ]);
    const report = JSON.parse(readFileSync(join(run.outdir, 'validation-report.json'), 'utf8')) as { pluginReports: Array<{ violations?: unknown[] }> };
    assert.deepEqual(
      report.pluginReports.flatMap((r) => r.violations ?? []),
      [],
    );
  } finally {
    rmSync(run.outdir, { recursive: true, force: true });
  }
});

test('context picks an Events module, custom routes and a stage name; a bad value fails with a message', () => {
  const run = cdkSynth([
    '-c',
    'eventsModule=test/fixtures/events/chatEvents.ts',
    '-c',
    'routes=chat,typing',
    '-c',
    'stageName=live',
    '-c',
    'apiGatewayCloudWatchRole=false',
  ]);
  try {
    assert.equal(run.status, 0, run.output);
    const template = JSON.parse(readFileSync(join(run.outdir, 'ServerlessGatewayWorker.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const resources = Object.values(template.Resources);
    assert.deepEqual(
      resources
        .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
        .map((r) => r.Properties.RouteKey)
        .sort(),
      ['$connect', '$default', '$disconnect', 'chat', 'ping', 'typing'],
    );
    assert.equal(resources.find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!.Properties.StageName, 'live');
    assert.equal(resources.filter((r) => r.Type === 'AWS::ApiGateway::Account').length, 0);
  } finally {
    rmSync(run.outdir, { recursive: true, force: true });
  }
  const bad = cdkSynth(['-c', 'eventsModule=does/not/exist.ts']);
  rmSync(bad.outdir, { recursive: true, force: true });
  assert.notEqual(bad.status, 0);
  assert.match(bad.output, /eventsModule: "does\/not\/exist\.ts" resolves to .*, which is not a file/);
});
