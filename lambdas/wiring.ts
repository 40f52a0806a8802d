/**
 * Module-scope setup shared by the entry points: one Gateway (and one Lambda client) per execution
 * environment, configured from the environment the construct or the local gateway sets.
 */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { Gateway } from '../sdk/index.ts';
import { createConnectHandler } from './connectHandler.ts';
import { createDisconnectHandler } from './disconnectHandler.ts';
import { createMessageHandler } from './messageHandler.ts';
import { handlerSettings } from './handlerEnvironment.ts';
import type { GatewayEvents } from './events.ts';

export function connectHandlerFor(events: GatewayEvents) {
  return createConnectHandler({ events, gateway: Gateway.fromEnv(), lambda: new LambdaClient({}), ...handlerSettings() });
}

export function disconnectHandlerFor(events: GatewayEvents) {
  return createDisconnectHandler({ events, gateway: Gateway.fromEnv() });
}

export function messageHandlerFor(events: GatewayEvents) {
  return createMessageHandler({ events, gateway: Gateway.fromEnv() });
}
