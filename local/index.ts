/**
 * The local gateway: API Gateway WebSocket APIs, @connections, Lambda invoke and DynamoDB on a laptop.
 * @module serverless-gateway-worker/local
 */
export {
  LocalGateway,
  type LocalGatewayOptions,
  type GatewayEndpoints,
  type GatewayUrls,
  type GatewayStats,
  type RouteDefinition,
  type RouteTarget,
  type AuthorizerDefinition,
} from './LocalGateway.ts';
export { AWS_LIMITS, CloseCode, type GatewayLimits } from './limits.ts';
export type { FaultSettings } from './faults.ts';
export type {
  FunctionDefinition,
  InlineFunctionDefinition,
  ModuleFunctionDefinition,
  LambdaHandler,
  InvocationOutcome,
  LambdaErrorPayload,
} from './functions.ts';
export type { LocalTableDefinition } from './dynamo.ts';
export type { PortRequest } from './listen.ts';
export { LAMBDA_NODE_RUNTIMES, type LambdaNodeRuntime } from './runtimes.ts';
export { isGatewayId } from './ids.ts';
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
  LambdaContext,
} from './events.ts';
export { loadCloudAssembly, environmentOf, sharedEnvironmentOf, outputOf, CloudAssemblyError, type CloudAssemblyApp, type CloudAssemblyOptions } from './cloudAssembly.ts';
export { TemplateError } from './templateText.ts';
export type { WebSocketApp } from './webSocketTemplate.ts';
export { loadTemplate, type TemplateOptions } from './samTemplate.ts';
export { loadServerlessConfig, type ServerlessConfigOptions } from './serverlessConfig.ts';
export type { FunctionOutput } from './workerFunction.ts';
