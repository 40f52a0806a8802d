/**
 * The fan-out worker's entry point (bundled as is: it runs no user code). See fanoutWorkerHandler.ts.
 * Its Gateway never chunks (`fanout: false`), so a chunk can never fan out again, and has no
 * per-process budget (`sendRate: false`): an execution environment runs one chunk at a time, and the
 * chunk's own share of its broadcast's budget paces it. The SDK's default 2,000/s would otherwise
 * cap a chunk whose share of a raised `fanout.rateLimit` is larger. Recipients that still fail with
 * a retryable error are re-queued to this same function (see fanoutWorkerHandler.ts).
 */
import { Gateway } from '../sdk/index.ts';
import { GatewayMetrics } from '../sdk/GatewayMetrics.ts';
import { LambdaEventInvoker } from '../sdk/lambdaInvoke.ts';
import { createFanoutWorkerHandler } from './fanoutWorkerHandler.ts';
import { fanoutWorkerObserver, withMetrics } from './handlerMetrics.ts';

const metrics = new GatewayMetrics({ publish: 'manual' });
// Re-queues go to this same function (Lambda sets its name); the construct grants lambda:InvokeFunction on it.
const self = process.env.AWS_LAMBDA_FUNCTION_NAME;
const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
const requeue = self && region ? { lambda: new LambdaEventInvoker({ region }), functionName: self } : undefined;
export const handler = withMetrics(
  metrics,
  createFanoutWorkerHandler({
    gateway: Gateway.fromEnv({ fanout: false, sendRate: false, onSendCompleted: metrics.onSendCompleted }),
    ...(requeue ? { requeue } : {}),
  }),
  fanoutWorkerObserver(metrics),
);
