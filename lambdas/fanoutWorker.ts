/**
 * The fan-out worker's entry point (bundled as is: it runs no user code). See fanoutWorkerHandler.ts.
 * Its Gateway never chunks (`fanout: false`), so a chunk can never fan out again.
 */
import { Gateway } from '../sdk/index.ts';
import { createFanoutWorkerHandler } from './fanoutWorkerHandler.ts';

export const handler = createFanoutWorkerHandler({ gateway: Gateway.fromEnv({ fanout: false }) });
