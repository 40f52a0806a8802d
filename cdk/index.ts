/**
 * The CDK side: the whole backend as one construct (package export "./cdk"). The IAM action lists
 * (permissions.ts), the default Events module's path and the bundling alias stay internal.
 * @module serverless-gateway-worker/cdk
 */
export { GatewayBackend, GatewayBackendPropsError, NO_AUTHORIZER_WARNING } from './GatewayBackend.ts';
export type {
  GatewayBackendProps,
  GatewayAuthorizerOptions,
  GatewayThrottleSettings,
  GatewayFanoutProps,
  GatewayDomainNameOptions,
  GatewayApiProps,
  IGatewayFunction,
} from './GatewayBackendProps.ts';
export { DEFAULT_CONNECT_THROTTLE } from './settings.ts';
export { GATEWAY_API_PRESETS, type GatewayApiPreset } from '../lambdas/gatewayApiAccess.ts';
