// What the construct gives for watching the backend: the alarm on the fan-out failure queue, the
// metricXxx() methods (resolving to the namespace and dimension the functions are told to emit
// under), X-Ray tracing and JSON logs as props. Bundling is skipped; the feature flags are cdk.json's.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { GatewayBackend, GatewayBackendPropsError, type GatewayBackendProps } from '../../cdk/index.ts';
import { GatewayMetricName } from '../../sdk/index.ts';
import { DEFAULT_METRICS_NAMESPACE, METRICS_SERVICE_DIMENSION, MetricsEnvVar } from '../../sdk/metricNames.ts';

const cdkJson = JSON.parse(readFileSync(fileURLToPath(new URL('../../cdk.json', import.meta.url)), 'utf8')) as { context: Record<string, unknown> };

function build(props: GatewayBackendProps | ((stack: Stack) => GatewayBackendProps) = {}) {
  const app = new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'MonitoredStack', { env: { account: '123456789012', region: 'eu-west-1' } });
  const backend = new GatewayBackend(stack, 'Gateway', typeof props === 'function' ? props(stack) : props);
  return { stack, backend };
}

const logicalId = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as never);
const theFunctions = (backend: GatewayBackend) => [
  backend.connectFunction,
  backend.disconnectFunction,
  backend.messageFunction,
  backend.initSenderFunction,
  backend.fanoutWorkerFunction,
  backend.gatewayApiFunction,
];

describe('the fan-out failure alarm', () => {
  test('in alarm while any failed chunk waits in the failure queue; missing data is not a breach', () => {
    const { stack, backend } = build();
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 1);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, backend.fanoutFailureQueue), 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmDescription: Match.stringLikeRegexp('full payload'),
    });
    assert.equal(Object.values(t.findResources('AWS::CloudWatch::Alarm'))[0]!.Properties.AlarmActions, undefined);
    assert.equal(logicalId(stack, backend.fanoutFailureAlarm), stack.getLogicalId(backend.fanoutFailureAlarm.node.defaultChild as never));
  });

  test('alarmActions are its actions', () => {
    const { stack } = build((s) => ({ alarmActions: [new SnsAction(new sns.Topic(s, 'OnCall'))] }));
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: Match.stringLikeRegexp('^OnCall') }] });
  });
});

describe('metric methods', () => {
  const methods = {
    metricPostsSent: GatewayMetricName.postsSent,
    metricPostsGone: GatewayMetricName.postsGone,
    metricPostsFailed: GatewayMetricName.postsFailed,
    metricPostsThrottled: GatewayMetricName.postsThrottled,
    metricFanoutChunksQueued: GatewayMetricName.fanoutChunksQueued,
    metricFanoutChunksFailed: GatewayMetricName.fanoutChunksFailed,
    metricConnects: GatewayMetricName.connects,
    metricConnectsRefused: GatewayMetricName.connectsRefused,
    metricDisconnects: GatewayMetricName.disconnects,
    metricInitMessagesFailed: GatewayMetricName.initMessagesFailed,
  } as const;

  test('one per metric the functions emit', () => {
    assert.deepEqual(Object.values(methods).sort(), Object.values(GatewayMetricName).sort());
  });

  test('each resolves to the namespace and `service` dimension every function is given to emit under, as a 5-minute Sum', () => {
    const { stack, backend } = build({ metricsNamespace: 'Chat/Push', apiName: 'chat-push' });
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    for (const fn of theFunctions(backend)) {
      const env = functions[logicalId(stack, fn)]!.Properties.Environment.Variables as Record<string, string>;
      assert.deepEqual([env[MetricsEnvVar.namespace], env[MetricsEnvVar.service]], ['Chat/Push', 'chat-push'], fn.node.id);
    }
    for (const [method, name] of Object.entries(methods)) {
      const metric = backend[method as keyof typeof methods]();
      assert.ok(metric instanceof cloudwatch.Metric);
      const stat = metric.toMetricConfig().metricStat!;
      assert.deepEqual(
        {
          namespace: stat.namespace,
          metricName: stat.metricName,
          dimensions: stack.resolve(stat.dimensions),
          period: stat.period.toSeconds(),
          statistic: stat.statistic,
        },
        { namespace: 'Chat/Push', metricName: name, dimensions: [{ name: METRICS_SERVICE_DIMENSION, value: 'chat-push' }], period: 300, statistic: 'Sum' },
        method,
      );
    }
  });

  test('options pass through, and an alarm on one synthesizes', () => {
    const { stack, backend } = build();
    const failed = backend.metricPostsFailed({ period: Duration.minutes(1), statistic: 'Maximum' });
    failed.createAlarm(stack, 'PostsFailing', { threshold: 10, evaluationPeriods: 3 });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: DEFAULT_METRICS_NAMESPACE,
      MetricName: 'PostsFailed',
      Dimensions: [{ Name: 'service', Value: 'MonitoredStack-Gateway' }],
      Period: 60,
      Statistic: 'Maximum',
      Threshold: 10,
    });
  });

  test('a namespace CloudWatch refuses fails before anything is built', () => {
    for (const bad of ['AWS/Lambda', '', '   ', 'a'.repeat(256), 'émoji']) {
      assert.throws(
        () => build({ metricsNamespace: bad }),
        (e: unknown) => e instanceof GatewayBackendPropsError && /metricsNamespace: .* must be 1-255 letters/.test(e.message),
        bad,
      );
    }
  });
});

describe('tracing and log format', () => {
  test("by default: no X-Ray, text logs (Lambda's defaults: nothing set)", () => {
    const { stack, backend } = build();
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    for (const fn of theFunctions(backend)) {
      const p = functions[logicalId(stack, fn)]!.Properties;
      assert.equal(p.TracingConfig, undefined);
      assert.equal(p.LoggingConfig.LogFormat, undefined);
    }
  });

  test('tracing: active X-Ray on every function, each allowed to write traces', () => {
    const { stack, backend } = build({ tracing: true });
    const t = Template.fromStack(stack);
    const functions = t.findResources('AWS::Lambda::Function');
    for (const fn of theFunctions(backend)) assert.deepEqual(functions[logicalId(stack, fn)]!.Properties.TracingConfig, { Mode: 'Active' });
    const xray = Object.values(t.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.PolicyDocument).includes('xray:PutTraceSegments'),
    );
    assert.equal(xray.length, 6);
  });

  test("logFormat 'json': Lambda's JSON log format on every function; anything else fails", () => {
    const { stack, backend } = build({ logFormat: 'json' });
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    for (const fn of theFunctions(backend)) assert.equal(functions[logicalId(stack, fn)]!.Properties.LoggingConfig.LogFormat, 'JSON');
    assert.throws(
      () => build({ logFormat: 'JSON' as never }),
      (e: unknown) => e instanceof GatewayBackendPropsError && /logFormat: "JSON" must be 'text' or 'json'/.test(e.message),
    );
  });
});
