/**
 * The Events API's types, the package export `serverless-gateway-worker/events`: what an Events module
 * (GatewayBackendProps.eventsModule) exports and what its callbacks receive. Types only: the module
 * is loaded by the construct's bundled functions, never imported at run time by the user's code.
 * @module serverless-gateway-worker/events
 */
export type {
  GatewayEvents,
  ConnectContext,
  MessageContext,
  CloseContext,
  ConnectDecision,
  WebSocketConnectData,
  Session,
  MessageSessionRead,
  OutgoingMessage,
  SendReport,
} from './events.ts';
export type { WebSocketRequestContext, WebSocketIdentity } from './webSocketEvent.ts';
