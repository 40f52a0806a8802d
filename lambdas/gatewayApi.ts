/**
 * The Gateway API's entry point (bundled as is: it runs no user code). See gatewayApiHandler.ts.
 * One Gateway per execution environment: its keep-alive sockets and DynamoDB client are reused. The
 * sends it makes are counted in the backend's metrics, one EMF line per invocation. The allow-list
 * (GATEWAY_API_METHODS) is read at start-up: a malformed one fails every invocation (fail closed).
 */
import { Gateway } from '../sdk/index.ts';
import { GatewayMetrics } from '../sdk/GatewayMetrics.ts';
import { createGatewayApiHandler } from './gatewayApiHandler.ts';
import { withMetrics } from './handlerMetrics.ts';
import { allowedMethodsFromEnv } from './gatewayApiAccess.ts';

const metrics = new GatewayMetrics({ publish: 'manual' });
export const handler = withMetrics(
  metrics,
  createGatewayApiHandler({ gateway: Gateway.fromEnv({ onSendCompleted: metrics.onSendCompleted }), allowedMethods: allowedMethodsFromEnv() }),
);
