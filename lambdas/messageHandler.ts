/**
 * `$default` and custom routes: runs onMessage with GatewayWorker's context (session, SDK,
 * sendToCurrentClient, closeCurrentClient). Without onMessage, messages are accepted and ignored, at
 * the cost of nothing but the invocation: the seed's push-only mode.
 *
 * The session is read (one awaited GetItem of this connection's item) before onMessage only when
 * the module may use `ctx.session`, else when onMessage awaits `ctx.getSession()` (messageSession.ts):
 * a message whose callback touches neither costs no DynamoDB read. Only what changed is written
 * back, as a merge under this connection's id (see sessionPatch.ts).
 */
import { gatewayForCurrentClient } from './currentClient.ts';
import type { Gateway } from '../sdk/index.ts';
import { GatewayErrorCode, ValidationError } from '../sdk/errors.ts';
import { controlMessage } from '../sdk/pushId.ts';
import type { GatewayEvents, MessageContext, OutgoingMessage, Session } from './events.ts';
import { MessageSession, readsSessionUpFront } from './messageSession.ts';
import { sessionPatch } from './sessionPatch.ts';
import type { WebSocketMessageEvent } from './webSocketEvent.ts';

export interface MessageHandlerOptions {
  readonly events: GatewayEvents | Promise<GatewayEvents>;
  readonly gateway: Gateway;
  readonly log?: (message: string, details: Record<string, unknown>) => void;
}

export function createMessageHandler(options: MessageHandlerOptions) {
  const log = options.log ?? ((message, details) => console.warn(JSON.stringify({ message, ...details })));

  return async function handler(event: WebSocketMessageEvent): Promise<{ statusCode: number }> {
    const events = await options.events;
    const { gateway } = options;
    const requestContext = event.requestContext;
    const clientId = requestContext.connectionId;
    const resume = resumeRequestOf(event.body);
    if (resume) {
      // The browser client's first message on a new connection after a loss (docs/guides/recovery.md): not the app's.
      try {
        const outcome = await gateway.resumeConnection(clientId, resume.from, resume.token);
        log('resume', { clientId, ...outcome });
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        // Not an id the gateway could have issued: refused as a wrong proof is, so the client need not wait.
        await gateway.sendToClient(clientId, controlMessage({ type: 'resume_refused', from: resume.from.slice(0, 128), reason: 'proof' }));
      }
      return { statusCode: 200 };
    }
    if (!events.onMessage) return { statusCode: 200 };
    const session = await MessageSession.open(gateway, clientId, readsSessionUpFront(events));
    const ctx = {
      clientId,
      gateway: gatewayForCurrentClient(gateway, clientId),
      requestContext,
      routeKey: requestContext.routeKey,
      sendToCurrentClient: (message: OutgoingMessage) => gateway.sendToClient(clientId, message),
      closeCurrentClient: (message?: OutgoingMessage) => (message === undefined ? gateway.closeClient(clientId) : gateway.closeClient(clientId, message)),
      getSession: () => session.getSession(),
    } as MessageContext;
    Object.defineProperty(ctx, 'session', { get: () => session.get(), set: (value: Session) => session.set(value), enumerable: true, configurable: false });
    const body = typeof event.body === 'string' ? event.body : '';
    await events.onMessage(clientId, body, ctx);

    const touched = session.touched();
    if (!touched) return { statusCode: 200 };
    const { before, after, stored } = touched;
    if (typeof after !== 'object' || after === null || Array.isArray(after)) {
      throw new TypeError(`ctx.session must stay a plain object; onMessage set it to ${JSON.stringify(after)}`);
    }
    const patch = sessionPatch(before, after);
    if (patch && stored) {
      try {
        await gateway.updateSession(clientId, patch);
      } catch (error) {
        // The client left while onMessage ran: its session went with it, as in GatewayWorker.
        if ((error as { code?: unknown } | undefined)?.code === GatewayErrorCode.connectionGone)
          log('onMessage: the session was not saved; the client is gone', { clientId });
        else throw error;
      }
    } else if (patch) {
      log('onMessage: the session was not saved; the client is gone', { clientId });
    }
    return { statusCode: 200 };
  };
}

/**
 * `{"action":"resume","from":"<old id>","token":"<its resume token>"}`, the browser client's resume
 * request; anything else (the app's messages) is undefined. Only a body that starts so is parsed.
 */
export function resumeRequestOf(body: unknown): { from: string; token: string } | undefined {
  if (typeof body !== 'string' || !body.startsWith('{"action":"resume"') || body.length > 1024) return undefined;
  try {
    const parsed = JSON.parse(body) as { action?: unknown; from?: unknown; token?: unknown };
    if (parsed.action !== 'resume' || typeof parsed.from !== 'string' || typeof parsed.token !== 'string') return undefined;
    return { from: parsed.from, token: parsed.token };
  } catch {
    return undefined;
  }
}
