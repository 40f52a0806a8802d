/**
 * Metrics of the backend's own Lambdas (names in sdk/metricNames.ts): each entry point wraps its
 * handler so that what one invocation recorded (its own counts, and the SDK's sends through the
 * Gateway's `onSendCompleted`) is written as one EMF line when the invocation ends, returned or
 * thrown. The handlers themselves stay free of metrics, except `$connect`'s init-sender failure,
 * which only it can see.
 */
import { GatewayMetricName, type GatewayMetricNameValue } from '../sdk/metricNames.ts';
import type { InitSenderResult } from './initSenderHandler.ts';
import type { WebSocketResponse } from './webSocketEvent.ts';

/** What the handlers need from sdk/GatewayMetrics.ts (a GatewayMetrics with publish: 'manual'). */
export interface HandlerMetrics {
  count(name: GatewayMetricNameValue, value?: number): void;
  publish(): void;
}

type Handler<E, C, R> = (event: E, context?: C) => Promise<R>;

interface Observer<R> {
  /** Before the handler runs. */
  readonly started?: () => void;
  readonly returned?: (result: R) => void;
  readonly threw?: (error: unknown) => void;
}

/** `handler`, with the invocation's metrics published when it ends. */
export function withMetrics<E, C, R>(metrics: HandlerMetrics, handler: Handler<E, C, R>, observer: Observer<R> = {}): Handler<E, C, R> {
  return async (event: E, context?: C): Promise<R> => {
    try {
      observer.started?.();
      const result = await handler(event, context);
      observer.returned?.(result);
      return result;
    } catch (error) {
      observer.threw?.(error);
      throw error;
    } finally {
      metrics.publish();
    }
  };
}

/** `$connect`: accepted (2xx) or refused (any other status, or a callback that threw: API Gateway answers 502). */
export function connectObserver(metrics: HandlerMetrics): Observer<WebSocketResponse> {
  return {
    returned: (response) =>
      metrics.count(response.statusCode >= 200 && response.statusCode <= 299 ? GatewayMetricName.connects : GatewayMetricName.connectsRefused),
    threw: () => metrics.count(GatewayMetricName.connectsRefused),
  };
}

/** `$disconnect`: counted when it arrives (the connection is gone whatever onClose does). */
export function disconnectObserver(metrics: HandlerMetrics): Observer<unknown> {
  return { started: () => metrics.count(GatewayMetricName.disconnects) };
}

/**
 * The init sender: 'failed' (a post other than 410 failed) and 'expired' (410 until `$connect`'s
 * deadline had passed, while the connection item still existed) mean an accepted connection never
 * got its init message; 'gone' is a client that left first, not a failure.
 */
export function initSenderObserver(metrics: HandlerMetrics): Observer<InitSenderResult> {
  const failed = () => metrics.count(GatewayMetricName.initMessagesFailed);
  return {
    returned: (result) => {
      if (result.outcome === 'failed' || result.outcome === 'expired') failed();
    },
    threw: failed,
  };
}

/** The fan-out worker: an invocation that throws (nothing delivered, or a malformed chunk) is a failed chunk; Lambda retries it. */
export function fanoutWorkerObserver(metrics: HandlerMetrics): Observer<unknown> {
  return { threw: () => metrics.count(GatewayMetricName.fanoutChunksFailed) };
}
