/**
 * Module-scope setup shared by the entry points: one Gateway (and one Lambda client) per execution
 * environment, configured from the environment the construct or the local gateway sets, and one
 * GatewayMetrics whose counts (the handler's and the SDK's sends) are published once per invocation.
 */
import { Gateway } from '../sdk/index.ts';
import { LambdaEventInvoker } from '../sdk/lambdaInvoke.ts';
import { GatewayMetrics } from '../sdk/GatewayMetrics.ts';
import { connectObserver, disconnectObserver, withMetrics } from './handlerMetrics.ts';
import { createConnectHandler } from './connectHandler.ts';
import { createDisconnectHandler } from './disconnectHandler.ts';
import { createMessageHandler } from './messageHandler.ts';
import { handlerSettings } from './handlerEnvironment.ts';
import type { GatewayEvents } from './events.ts';

/** One per execution environment: Lambda runs one invocation at a time in each. */
function observedGateway(): { metrics: GatewayMetrics; gateway: Gateway } {
  const metrics = new GatewayMetrics({ publish: 'manual' });
  return { metrics, gateway: Gateway.fromEnv({ onSendCompleted: metrics.onSendCompleted }) };
}

/**
 * The init sender's asynchronous invoke: signed by the SDK (no @aws-sdk/client-lambda in the bundle),
 * for the Gateway's region and the function's credentials, honouring AWS_ENDPOINT_URL_LAMBDA; three
 * attempts on throttles, 5xx and network failures, as the AWS SDK's client would make.
 */
function initSenderInvoker(gateway: Gateway): LambdaEventInvoker {
  return new LambdaEventInvoker({ region: gateway.region, maxAttempts: 3, maxSockets: 4 });
}

export function connectHandlerFor(events: GatewayEvents) {
  const { metrics, gateway } = observedGateway();
  return withMetrics(
    metrics,
    createConnectHandler({ events, gateway, lambda: initSenderInvoker(gateway), metrics, ...handlerSettings() }),
    connectObserver(metrics),
  );
}

export function disconnectHandlerFor(events: GatewayEvents) {
  const { metrics, gateway } = observedGateway();
  return withMetrics(metrics, createDisconnectHandler({ events, gateway }), disconnectObserver(metrics));
}

export function messageHandlerFor(events: GatewayEvents) {
  const { metrics, gateway } = observedGateway();
  return withMetrics(metrics, createMessageHandler({ events, gateway }));
}
