/**
 * The Gateway SDK: GatewayClient's API on DynamoDB and API Gateway's `@connections`. No Lambda types here.
 * The package's root export; `serverless-gateway-worker/sdk` is the same module.
 * @module serverless-gateway-worker
 */
export {
  Gateway,
  CONNECT_GRACE_MS,
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
export {
  FANOUT_CHUNK_TYPE,
  FANOUT_DEFAULTS,
  MAX_CHUNK_EVENT_BYTES,
  MAX_CHUNK_SIZE,
  type FanoutOptions,
  type FanoutHandle,
  type FanoutChunk,
  type FanoutInvoker,
  type FanoutInvokeCommand,
  type FanoutInvokeOutput,
  type FanoutOperation,
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
  type BindTokenRefusal,
} from './errors.ts';
export { BIND_TOKEN_TTL_SECONDS, type BindOptions } from './bindToken.ts';
export { GatewayEnvVar, gatewayEnvironment, type GatewayEnvVarName } from './env.ts';
export { GatewayMetricName, DEFAULT_METRICS_NAMESPACE, METRICS_SERVICE_DIMENSION, MetricsEnvVar, type GatewayMetricNameValue } from './metricNames.ts';
export {
  GatewayTables,
  ConnectionsTable,
  UidsTable,
  GroupsTable,
  TTL_ATTRIBUTE,
  CONNECTION_MAX_AGE_SECONDS,
  TTL_MARGIN_SECONDS,
  type GatewayTableNames,
  type GatewayTableRole,
  type TableKeyDefinition,
} from './tables.ts';
export { MAX_GROUPS_PER_CONNECTION, MAX_MESSAGE_BYTES, MAX_NAME_LENGTH, MAX_SESSION_BYTES, MAX_SESSION_DEPTH } from './validation.ts';
export type { ConnectionsTransport, ConnectionsRequest, ConnectionsResponse } from './connectionsTransport.ts';
export { SigV4Signer, type SigV4Credentials, type SignableRequest } from './sigv4.ts';
