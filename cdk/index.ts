/**
 * The CDK side: the whole backend as one construct (package export "./cdk").
 * @module serverless-gateway-worker/cdk
 */
export {
  GatewayBackend,
  GatewayBackendPropsError,
  DEFAULT_EVENTS_MODULE,
  EVENTS_MODULE_SPECIFIER,
  NO_AUTHORIZER_WARNING,
  type GatewayBackendProps,
  type GatewayAuthorizerOptions,
  type GatewayThrottleSettings,
  type GatewayFanoutProps,
  type IGatewayFunction,
} from './GatewayBackend.ts';
export { GATEWAY_TABLE_ACTIONS, GATEWAY_SECRET_ACTIONS, MANAGE_CONNECTIONS_METHODS, FANOUT_WORKER_TABLE_ACTIONS, FANOUT_WORKER_CONNECTIONS_METHODS } from './permissions.ts';
