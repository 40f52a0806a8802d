/**
 * `$disconnect`: removes the connection, its uid binding and its group memberships, then runs
 * onClose with the last session, as GatewayWorker does (the mappings are gone by the time onClose
 * runs; changes to the session are not saved). `$disconnect` is best-effort on AWS: items of a
 * connection whose `$disconnect` never comes expire by TTL.
 */
import type { Gateway } from '../sdk/index.ts';
import type { CloseContext, GatewayEvents } from './events.ts';
import type { WebSocketDisconnectEvent } from './webSocketEvent.ts';

export interface DisconnectHandlerOptions {
  readonly events: GatewayEvents | Promise<GatewayEvents>;
  readonly gateway: Gateway;
}

export function createDisconnectHandler(options: DisconnectHandlerOptions) {
  return async function handler(event: WebSocketDisconnectEvent): Promise<{ statusCode: number }> {
    const { gateway } = options;
    const requestContext = event.requestContext;
    const clientId = requestContext.connectionId;
    // A browser-client connection lost without a deliberate close is held for a resume (docs/guides/recovery.md).
    const { held, record } = await gateway.connectionClosed(clientId, requestContext.disconnectStatusCode);
    const events = await options.events;
    if (events.onClose) {
      const ctx: CloseContext = {
        clientId,
        gateway,
        requestContext,
        session: structuredClone(record?.session ?? {}),
        uid: record?.uid,
        groups: [...(record?.groups ?? [])],
        closeCode: requestContext.disconnectStatusCode,
        closeReason: requestContext.disconnectReason,
        held,
      };
      await events.onClose(clientId, ctx);
    }
    return { statusCode: 200 };
  };
}
