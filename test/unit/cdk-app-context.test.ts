// The app's `-c key=value` switches (cdk/appContext.ts): every fan-out prop has one, bad values fail
// with a message naming the switch, and the README's Deploy section names every switch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { APP_CONTEXT_KEYS, AppContextError, appSettingsFromContext, type AppContextKey } from '../../cdk/appContext.ts';
import type { GatewayFanoutProps } from '../../cdk/index.ts';

const settings = (context: Partial<Record<AppContextKey, string>>) => appSettingsFromContext((key) => context[key]);
const seconds = (d: Duration | undefined) => d?.toSeconds();

test("no context: the stack name, retained data, the region's logging role with access logs, and the construct's fan-out defaults", () => {
  const { stackName, props } = settings({});
  assert.equal(stackName, 'ServerlessGatewayWorker');
  assert.equal(props.removalPolicy, RemovalPolicy.RETAIN);
  assert.equal(props.apiGatewayCloudWatchRole, true);
  assert.equal(props.accessLogs, true);
  assert.deepEqual(props.fanout, {});
});

test('every fan-out prop has a switch; durations take seconds or s/m/h/d', () => {
  const every: Record<keyof Required<GatewayFanoutProps>, AppContextKey> = {
    threshold: 'fanoutThreshold',
    reservedConcurrency: 'fanoutReservedConcurrency',
    memorySize: 'fanoutMemorySize',
    timeout: 'fanoutTimeout',
    retryAttempts: 'fanoutRetryAttempts',
    maxEventAge: 'fanoutMaxEventAge',
    failureRetention: 'fanoutFailureRetention',
    rateLimit: 'fanoutRateLimit',
  };
  for (const key of Object.values(every)) assert.ok(key in APP_CONTEXT_KEYS, key);
  const { fanout } = settings({
    fanoutThreshold: '0',
    fanoutReservedConcurrency: '20',
    fanoutMemorySize: '1769',
    fanoutTimeout: '45',
    fanoutRetryAttempts: '0',
    fanoutMaxEventAge: '2h',
    fanoutFailureRetention: '14d',
    fanoutRateLimit: '500',
  }).props;
  assert.deepEqual(Object.keys(fanout!).sort(), Object.keys(every).sort());
  assert.deepEqual(
    [
      fanout!.threshold,
      fanout!.reservedConcurrency,
      fanout!.memorySize,
      seconds(fanout!.timeout),
      fanout!.retryAttempts,
      seconds(fanout!.maxEventAge),
      seconds(fanout!.failureRetention),
      fanout!.rateLimit,
    ],
    [0, 20, 1769, 45, 0, 7200, 14 * 86400, 500],
  );
  assert.equal(seconds(settings({ fanoutTimeout: '2m' }).props.fanout!.timeout), 120);
  assert.equal(settings({ fanoutReservedConcurrency: 'none' }).props.fanout!.reservedConcurrency, false);
});

test('logging switches: the role off turns access logs off unless they are asked for; the role on can keep this stage unlogged', () => {
  assert.deepEqual(pick(settings({ apiGatewayCloudWatchRole: 'false' }).props), [false, false]);
  assert.deepEqual(pick(settings({ apiGatewayCloudWatchRole: 'false', accessLogs: 'true' }).props), [false, true]);
  assert.deepEqual(pick(settings({ accessLogs: 'false' }).props), [true, false]);
  function pick(p: { apiGatewayCloudWatchRole?: boolean; accessLogs?: boolean }) {
    return [p.apiGatewayCloudWatchRole, p.accessLogs];
  }
});

test('monitoring switches: tracing, log format, metrics namespace', () => {
  assert.deepEqual(pick(settings({}).props), [undefined, undefined, undefined]);
  assert.deepEqual(pick(settings({ tracing: 'true', logFormat: 'json', metricsNamespace: 'Chat/Prod' }).props), [true, 'json', 'Chat/Prod']);
  assert.throws(
    () => settings({ logFormat: 'JSON' }),
    (e: unknown) => e instanceof AppContextError && /context logFormat must be 'text' \(default\) or 'json', got "JSON"/.test(e.message),
  );
  assert.throws(
    () => settings({ tracing: 'on' }),
    (e: unknown) => e instanceof AppContextError && /context tracing must be/.test(e.message),
  );
  function pick(p: { tracing?: boolean; logFormat?: string; metricsNamespace?: string }) {
    return [p.tracing, p.logFormat, p.metricsNamespace];
  }
});

test("sendRate: a number of requests per second, or off; unset leaves the construct's default", () => {
  assert.deepEqual(
    [settings({}).props.sendRate, settings({ sendRate: '250' }).props.sendRate, settings({ sendRate: 'off' }).props.sendRate],
    [undefined, 250, false],
  );
  assert.throws(
    () => settings({ sendRate: '0' }),
    (e: unknown) => e instanceof AppContextError && /context sendRate must be @connections requests per second of one process's inline sends/.test(e.message),
  );
  assert.throws(
    () => settings({ sendRate: 'false' }),
    (e: unknown) => e instanceof AppContextError && /context sendRate .*'off'/.test(e.message),
  );
});

test('the other switches: stack name, Events module, stage, routes, removal policy', () => {
  const { stackName, props } = settings({
    stackName: 'Staging',
    eventsModule: 'src/events.ts',
    stageName: 'live',
    routes: ' chat, ,typing ',
    removalPolicy: 'destroy',
  });
  assert.deepEqual(
    [stackName, props.eventsModule, props.stageName, props.routes, props.removalPolicy],
    ['Staging', 'src/events.ts', 'live', ['chat', 'typing'], RemovalPolicy.DESTROY],
  );
});

test('a bad value fails before anything is built, naming the switch and what it takes', () => {
  const fails = (context: Partial<Record<AppContextKey, string>>, message: RegExp) =>
    assert.throws(
      () => settings(context),
      (error: unknown) => error instanceof AppContextError && message.test(error.message),
    );
  fails({ removalPolicy: 'keep' }, /context removalPolicy must be 'retain' \(default\) or 'destroy', got "keep"/);
  fails({ apiGatewayCloudWatchRole: 'yes' }, /context apiGatewayCloudWatchRole must be 'true'.*got "yes"/);
  fails({ accessLogs: '1' }, /context accessLogs must be/);
  fails({ fanoutThreshold: '1e3' }, /context fanoutThreshold must be recipients above which a send is chunked, got "1e3"/);
  fails({ fanoutReservedConcurrency: 'false' }, /context fanoutReservedConcurrency must be .*'none'/);
  fails({ fanoutMemorySize: '-1' }, /context fanoutMemorySize/);
  fails({ fanoutTimeout: '1.5m' }, /context fanoutTimeout must be one chunk's timeout: seconds, or a number with s, m, h or d, got "1.5m"/);
  fails({ fanoutRetryAttempts: 'two' }, /context fanoutRetryAttempts/);
  fails({ fanoutMaxEventAge: '1w' }, /context fanoutMaxEventAge/);
  fails({ fanoutFailureRetention: 'P14D' }, /context fanoutFailureRetention/);
  fails({ fanoutRateLimit: '0' }, /context fanoutRateLimit must be @connections requests per second one broadcast may spend/);
  fails({ fanoutRateLimit: 'fast' }, /context fanoutRateLimit/);
});

test("the README's Deploy section or the deploy reference (docs/reference/deploy.md) names every switch", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const deploy = readme.slice(readme.indexOf('## Deploy'), readme.indexOf('\n## ', readme.indexOf('## Deploy') + 1));
  const reference = readFileSync(new URL('../../docs/reference/deploy.md', import.meta.url), 'utf8');
  for (const key of Object.keys(APP_CONTEXT_KEYS))
    assert.ok(deploy.includes(`\`${key}\``) || reference.includes(`\`${key}\``), `README Deploy or docs/reference/deploy.md mentions \`${key}\``);
});

test("-c recoveryWindow: a duration (0 turns recovery off); unset leaves the construct's 2 minutes", () => {
  assert.equal(settings({}).props.recoveryWindow, undefined);
  assert.equal(seconds(settings({ recoveryWindow: '0' }).props.recoveryWindow), 0);
  assert.equal(seconds(settings({ recoveryWindow: '5m' }).props.recoveryWindow), 300);
  assert.throws(
    () => settings({ recoveryWindow: 'two minutes' }),
    (error: unknown) => error instanceof AppContextError && /recoveryWindow/.test(error.message),
  );
});
