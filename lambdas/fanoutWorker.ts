/**
 * The fan-out worker's entry point (bundled as is: it runs no user code). See fanoutWorkerHandler.ts.
 * Its Gateway never chunks (`fanout: false`), so a chunk can never fan out again.
 */
import { Gateway } from '../sdk/index.ts';
import { GatewayMetrics } from '../sdk/GatewayMetrics.ts';
import { createFanoutWorkerHandler } from './fanoutWorkerHandler.ts';
import { fanoutWorkerObserver, withMetrics } from './handlerMetrics.ts';

const metrics = new GatewayMetrics({ publish: 'manual' });
export const handler = withMetrics(
  metrics,
  createFanoutWorkerHandler({ gateway: Gateway.fromEnv({ fanout: false, onSendCompleted: metrics.onSendCompleted }) }),
  fanoutWorkerObserver(metrics),
);
