/**
 * CloudWatch metrics from the SDK's sends, in Embedded Metric Format: pass `onSendCompleted` to a
 * Gateway and every send becomes counts under the backend's namespace and `service` dimension
 * (sdk/metricNames.ts), the same metrics the backend's own Lambdas emit and the construct's
 * `metricXxx()` methods read.
 *
 *   import { GatewayMetrics } from 'serverless-gateway-worker/metrics';
 *   const metrics = new GatewayMetrics();                  // GATEWAY_METRICS_* from grantGateway
 *   const gateway = Gateway.fromEnv({ onSendCompleted: metrics.onSendCompleted });
 *
 * Its own entry point (package export "./metrics"), not the SDK's: it needs
 * @aws-lambda-powertools/metrics, an optional peer that an SDK-only install does not carry.
 *
 * Written with Powertools for AWS Lambda's Metrics (the EMF reference implementation): it writes to
 * stdout through a Console of its own, so the lines reach CloudWatch unchanged under Lambda's text
 * and JSON log formats alike (the runtime rewrites what goes through the global console), and it
 * splits what exceeds EMF's limits (100 metrics, 100 values per metric) into several lines. Outside
 * Lambda, stdout must reach CloudWatch Logs (e.g. the CloudWatch agent) for the metrics to exist.
 * POWERTOOLS_METRICS_DISABLED=true turns the output off.
 * @module serverless-gateway-worker/metrics
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ConfigurationError } from './errors.ts';
import { DEFAULT_METRICS_NAMESPACE, GatewayMetricName, METRICS_NAMESPACE_PATTERN, MetricsEnvVar, type GatewayMetricNameValue } from './metricNames.ts';
import type { SendMetrics } from './gateway/types.ts';
import { describe } from './validation.ts';

export interface GatewayMetricsOptions {
  /** @default GATEWAY_METRICS_NAMESPACE, else 'ServerlessGatewayWorker' */
  readonly namespace?: string;
  /** The `service` dimension: the backend's name. @default GATEWAY_METRICS_SERVICE, else 'serverless-gateway-worker' */
  readonly service?: string;
  /**
   * 'each': every recorded send is written at once, as one line (nothing to remember, one log line
   * per send). 'manual': counts accumulate until `publish()`, e.g. once at the end of each Lambda
   * invocation (one line per invocation, however many sends it made).
   * @default 'each'
   */
  readonly publish?: 'each' | 'manual';
  /** Where the namespace and service are read from. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The `service` value when neither the option nor GATEWAY_METRICS_SERVICE gives one. */
export const DEFAULT_METRICS_SERVICE = 'serverless-gateway-worker';

/** CloudWatch's rule for a dimension value: printable ASCII, not all spaces. */
const DIMENSION_VALUE = /^(?=.*\S)[\x20-\x7e]{1,1024}$/;

export class GatewayMetrics {
  readonly namespace: string;
  readonly service: string;
  private readonly metrics: Metrics;
  private readonly publishEach: boolean;
  private pending = false;

  /** Throws a ConfigurationError for a namespace, service or publish mode it cannot use. */
  constructor(options: GatewayMetricsOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new ConfigurationError(`GatewayMetrics options must be an object, got ${describe(options)}`);
    const env = options.env ?? process.env;
    this.namespace = checkName(
      'namespace',
      options.namespace ?? nonEmpty(env[MetricsEnvVar.namespace]) ?? DEFAULT_METRICS_NAMESPACE,
      METRICS_NAMESPACE_PATTERN,
      "1-255 letters, digits, spaces or . - _ / # : (and not starting with 'AWS/')",
    );
    this.service = checkName(
      'service',
      options.service ?? nonEmpty(env[MetricsEnvVar.service]) ?? DEFAULT_METRICS_SERVICE,
      DIMENSION_VALUE,
      '1-1024 printable ASCII characters, not all spaces',
    );
    const publish = options.publish ?? 'each';
    if (publish !== 'each' && publish !== 'manual') throw new ConfigurationError(`GatewayMetrics publish must be 'each' or 'manual', got ${describe(publish)}`);
    this.publishEach = publish === 'each';
    this.metrics = new Metrics({ namespace: this.namespace, serviceName: this.service });
  }

  /** For GatewayOptions.onSendCompleted: records one send's outcome. Never throws into the send. */
  readonly onSendCompleted = (send: SendMetrics): void => {
    for (const [name, value] of sendCounts(send)) this.record(name, value);
    if (this.publishEach) this.publish();
  };

  /** Adds `value` to a metric (the handlers count connects, disconnects, init failures with it). */
  count(name: GatewayMetricNameValue, value = 1): void {
    this.record(name, value);
    if (this.publishEach) this.publish();
  }

  /** Writes what was recorded since the last publish as EMF; nothing when nothing was recorded. */
  publish(): void {
    if (!this.pending) return;
    this.pending = false;
    this.metrics.publishStoredMetrics();
  }

  private record(name: GatewayMetricNameValue, value: number): void {
    this.metrics.addMetric(name, MetricUnit.Count, value);
    this.pending = true;
  }
}

/**
 * The counts one send contributes. The four post counts are always there (zeros included, so a
 * rate over them has a denominator); the chunk counts only for chunked sends.
 */
export function sendCounts(send: SendMetrics): Array<[GatewayMetricNameValue, number]> {
  const counts: Array<[GatewayMetricNameValue, number]> = [
    [GatewayMetricName.postsSent, send.sent],
    [GatewayMetricName.postsGone, send.gone],
    [GatewayMetricName.postsFailed, send.failed],
    [GatewayMetricName.postsThrottled, send.throttled ?? 0],
  ];
  if (send.chunks !== undefined) counts.push([GatewayMetricName.fanoutChunksQueued, send.chunks]);
  if (send.chunks !== undefined || send.failedChunks !== undefined) counts.push([GatewayMetricName.fanoutChunksFailed, send.failedChunks ?? 0]);
  return counts;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function checkName(what: string, value: unknown, rule: RegExp, ruleText: string): string {
  if (typeof value !== 'string' || !rule.test(value)) throw new ConfigurationError(`GatewayMetrics ${what} must be ${ruleText}, got ${describe(value)}`);
  return value;
}
