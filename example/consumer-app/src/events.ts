// The Events module the construct compiles into its $connect, $disconnect and message Lambdas.
import type { GatewayEvents } from 'serverless-gateway-worker/events';

export const onWebSocketConnect: GatewayEvents['onWebSocketConnect'] = async (clientId, data, ctx) => {
  if (!data.get.token) return { statusCode: 401 };
  ctx.session.user = data.get.user;
  return true;
};

export const onMessage: GatewayEvents['onMessage'] = async (clientId, message, ctx) => {
  ctx.session.lastMessage = message;
  await ctx.sendToCurrentClient(`echo: ${message}`);
};
