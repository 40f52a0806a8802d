/**
 * The local gateway: API Gateway WebSocket APIs, @connections, Lambda invoke and DynamoDB on a laptop.
 * @module serverless-gateway-worker/local
 */
export { LocalGateway } from './LocalGateway.ts';
export type {
  LocalGatewayOptions,
  GatewayEndpoints,
  GatewayUrls,
  GatewayStats,
  RouteDefinition,
  RouteTarget,
  AuthorizerDefinition,
} from './LocalGatewayOptions.ts';
export type { GatewayLimits } from './limits.ts';
export type { FaultSettings } from './faults.ts';
export type {
  FunctionDefinition,
  InlineFunctionDefinition,
  ModuleFunctionDefinition,
  LambdaHandler,
  InvocationOutcome,
  LambdaErrorPayload,
  FunctionHost,
} from './functions.ts';
// Types that LocalGateway's public members and options reach: the @connections view of a connection,
// mock routes, the local Secrets Manager (`gateway.secrets.values()`) and the account throttle.
export type { ConnectionManager, ConnectionInfo, PostOutcome } from './managementApi.ts';
export type { MockRouteDefinition, MockIntegration, MockIntegrationResponse } from './mockIntegration.ts';
export type { LocalSecrets, LocalSecretDefinition } from './secretsManager.ts';
export type { ThrottleSettings, ThrottleReport, RequestKind, RequestKindReport, SecondCounts } from './throttling.ts';
export type { LocalTableDefinition } from './dynamo.ts';
export type { PortRequest } from './listen.ts';
export type {
  WebSocketEvent,
  WebSocketConnectEvent,
  WebSocketDisconnectEvent,
  WebSocketMessageEvent,
  WebSocketRequestContext,
  WebSocketIdentity,
  WebSocketResult,
  WebSocketAuthorizerEvent,
  WebSocketAuthorizerResult,
  WebSocketAuthorizerContext,
  WebSocketEventType,
  LambdaContext,
} from '../lambdas/webSocketEvent.ts';
export {
  loadCloudAssembly,
  environmentOf,
  sharedEnvironmentOf,
  outputOf,
  CloudAssemblyError,
  type CloudAssemblyApp,
  type CloudAssemblyOptions,
} from './cloudAssembly.ts';
export { TemplateError } from './templateText.ts';
export type { WebSocketApp } from './webSocketTemplate.ts';
export { loadTemplate, type TemplateOptions } from './samTemplate.ts';
export { loadServerlessConfig, type ServerlessConfigOptions } from './serverlessConfig.ts';
export type { FunctionOutput } from './workerFunction.ts';
