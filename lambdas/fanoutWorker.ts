/**
 * The fan-out worker's entry point (bundled as is: it runs no user code). See fanoutWorkerHandler.ts.
 * Its Gateway never chunks (`fanout: false`), so a chunk can never fan out again, and has no
 * per-process budget (`sendRate: false`): an execution environment runs one chunk at a time, and the
 * chunk's own share of its broadcast's budget paces it. The SDK's default 2,000/s would otherwise
 * cap a chunk whose share of a raised `fanout.rateLimit` is larger.
 */
import { Gateway } from '../sdk/index.ts';
import { GatewayMetrics } from '../sdk/GatewayMetrics.ts';
import { createFanoutWorkerHandler } from './fanoutWorkerHandler.ts';
import { fanoutWorkerObserver, withMetrics } from './handlerMetrics.ts';

const metrics = new GatewayMetrics({ publish: 'manual' });
export const handler = withMetrics(
  metrics,
  createFanoutWorkerHandler({ gateway: Gateway.fromEnv({ fanout: false, sendRate: false, onSendCompleted: metrics.onSendCompleted }) }),
  fanoutWorkerObserver(metrics),
);
