/**
 * The CloudWatch metrics the backend emits (Embedded Metric Format, sdk/GatewayMetrics.ts), declared
 * once: the Lambdas in lambdas/ emit them, GatewayMetrics emits the same from an application's own
 * sends, and the construct's `metricXxx()` methods read them. No dependencies here, so that the CDK
 * side can import the names without loading the emitter.
 *
 * One namespace and one dimension (`service`, the backend's name: Powertools for AWS Lambda's default
 * dimension) for every metric, whichever function emitted it: an alarm on a metric then covers every
 * sender (the handlers, the fan-out worker, your own code) without metric math. Every value is a
 * Count; sum it over a period.
 */

/** The default namespace; `GatewayBackendProps.metricsNamespace` changes it. */
export const DEFAULT_METRICS_NAMESPACE = 'ServerlessGatewayWorker';

/** CloudWatch's rule for a namespace: letters, digits, spaces and . - _ / # :, not all spaces, not AWS/. */
export const METRICS_NAMESPACE_PATTERN = /^(?!AWS\/)(?=.*\S)[0-9A-Za-z.\-_/#: ]{1,255}$/;

/** The one dimension every metric carries; its value is the backend's name (GATEWAY_METRICS_SERVICE). */
export const METRICS_SERVICE_DIMENSION = 'service';

export const GatewayMetricName = {
  /** Posts `@connections` accepted (200), in inline sends and in fan-out chunks. */
  postsSent: 'PostsSent',
  /** Posts answered 410: the connection was gone (and is pruned). */
  postsGone: 'PostsGone',
  /** Recipients not reached after the retries (throttled, 5xx, network, 403, ...). */
  postsFailed: 'PostsFailed',
  /** `@connections` answers with 429, every attempt counted: a post answered 429 twice and then sent counts 2 here and 1 in PostsSent. */
  postsThrottled: 'PostsThrottled',
  /** Chunks of large sends that Lambda accepted for the fan-out worker. */
  fanoutChunksQueued: 'FanoutChunksQueued',
  /** Chunks that could not be queued, plus worker invocations that delivered nothing (Lambda retries those, then the failure queue keeps them). */
  fanoutChunksFailed: 'FanoutChunksFailed',
  /** Connections `$connect` accepted. */
  connects: 'Connects',
  /** Connections `$connect` refused (onConnect / onWebSocketConnect said no, a callback threw, or the init sender could not be invoked). */
  connectsRefused: 'ConnectsRefused',
  /** `$disconnect` events handled. */
  disconnects: 'Disconnects',
  /** Init messages (and what `$connect` queued with them) that never reached an accepted connection: the invocation of the init sender failed, a post failed, or the connection never opened in time. */
  initMessagesFailed: 'InitMessagesFailed',
} as const;

export type GatewayMetricNameValue = (typeof GatewayMetricName)[keyof typeof GatewayMetricName];

/** The environment the emitters read (set by the construct on its functions and by `grantGateway`). */
export const MetricsEnvVar = {
  namespace: 'GATEWAY_METRICS_NAMESPACE',
  service: 'GATEWAY_METRICS_SERVICE',
} as const;
