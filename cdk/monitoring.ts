/**
 * What the construct adds for watching the backend: the metrics its Lambdas emit (names and
 * dimension in sdk/metricNames.ts) as `cloudwatch.Metric`s, and the alarm on the fan-out failure
 * queue, which nothing else watches.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { METRICS_SERVICE_DIMENSION, type GatewayMetricNameValue } from '../sdk/metricNames.ts';

/** One of the backend's metrics: the Sum over 5 minutes unless `options` say otherwise. */
export function gatewayMetric(
  namespace: string,
  service: string,
  metricName: GatewayMetricNameValue,
  options: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    statistic: cloudwatch.Stats.SUM,
    period: Duration.minutes(5),
    ...options,
    namespace,
    metricName,
    dimensionsMap: { ...options.dimensionsMap, [METRICS_SERVICE_DIMENSION]: service },
  });
}

/**
 * In alarm while any failed chunk waits in the failure queue: each one is a send that reached none
 * of its chunk's recipients after Lambda's retries (or waited longer than `maxEventAge`). It stays in
 * alarm until the queue is emptied (replayed or purged), so a failure is not forgotten.
 */
export function createFanoutFailureAlarm(scope: Construct, queue: sqs.IQueue, actions: readonly cloudwatch.IAlarmAction[]): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, 'FanoutFailuresAlarm', {
    alarmDescription:
      'Chunks of large sends that the fan-out worker could not deliver are waiting in the failure queue (each message holds the full payload and the recipients). Inspect them, then replay (send requestPayload to the worker again) or purge.',
    metric: queue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  for (const action of actions) alarm.addAlarmAction(action);
  return alarm;
}
