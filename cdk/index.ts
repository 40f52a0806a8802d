/**
 * The CDK side: the whole backend as one construct (package export "./cdk"). The IAM action lists
 * (permissions.ts), the default Events module's path and the bundling alias stay internal.
 * @module serverless-gateway-worker/cdk
 */
export {
  GatewayBackend,
  GatewayBackendPropsError,
  NO_AUTHORIZER_WARNING,
  type GatewayBackendProps,
  type GatewayAuthorizerOptions,
  type GatewayThrottleSettings,
  type GatewayFanoutProps,
  type IGatewayFunction,
} from './GatewayBackend.ts';
