/**
 * The Gateway SDK: GatewayClient's API on DynamoDB and API Gateway's `@connections`. No Lambda types here.
 * The package's root export. What is exported here is what a documented use needs or what a public
 * member's signature reaches; the table key definitions, the signer and the fan-out wire constants
 * stay internal (the package's code imports them from their own modules).
 * @module serverless-gateway-worker
 */
export {
  Gateway,
  type GatewayOptions,
  type Message,
  type Session,
  type SendReport,
  type ChunkReport,
  type DeliverChunkOptions,
  type CloseReport,
  type SendMetrics,
  type ConnectionRecord,
} from './Gateway.ts';
export type { ConsumedCapacityEvent } from './ConnectionStore.ts';
export type {
  FanoutOptions,
  FanoutHandle,
  FanoutChunk,
  FanoutInvoker,
  FanoutInvokeCommand,
  FanoutInvokeOutput,
  FanoutOperation,
  FanoutIndexRole,
} from './Fanout.ts';
export {
  GatewayError,
  GatewayErrorCode,
  type GatewayErrorCodeValue,
  ValidationError,
  PayloadTooLargeError,
  ConfigurationError,
  ConnectionGoneError,
  ServiceError,
  ThrottledError,
  ForbiddenError,
  BadRequestError,
  NetworkError,
  ConflictError,
  LimitExceededError,
  BindTokenError,
  MethodNotAllowedError,
  type BindTokenRefusal,
} from './errors.ts';
export type { BindOptions, SecretsManagerClientLike } from './bindToken.ts';
export { MAX_PRESENCE_INFO_BYTES, PresenceEvent, type PresenceMember, type PresenceJoin } from './gateway/presence.ts';
export type { ResumeOutcome } from './gateway/recovery.ts';
export { GatewayEnvVar, gatewayEnvironment, type GatewayEnvVarName } from './env.ts';
export { GatewayMetricName, type GatewayMetricNameValue } from './metricNames.ts';
export type { GatewayTableNames, GatewayTableRole } from './tables.ts';
export { MAX_GROUPS_PER_CONNECTION, MAX_MESSAGE_BYTES, MAX_NAME_LENGTH, MAX_SESSION_BYTES, MAX_SESSION_DEPTH } from './validation.ts';
export type { ConnectionsTransport, ConnectionsRequest, ConnectionsResponse } from './connectionsTransport.ts';
