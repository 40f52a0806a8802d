/**
 * `$connect`: stores the connection (identity, connectedAt, TTL), runs onConnect and
 * onWebSocketConnect, saves the session they built, then either refuses with a status or accepts and
 * hands the init message (and whatever the callbacks queued) to the init sender, invoked
 * asynchronously so the posts happen after the connection opens (see initSenderHandler.ts).
 */
import { LimitExceededError, type FanoutInvoker, type Gateway } from '../sdk/index.ts';
import { serializeMessage } from '../sdk/validation.ts';
import { GatewayMetricName } from '../sdk/metricNames.ts';
import { CONNECTION_MAX_AGE_SECONDS } from '../sdk/tables.ts';
import type { HandlerMetrics } from './handlerMetrics.ts';
import { buildConnectData } from './connectData.ts';
import { gatewayForCurrentClient } from './currentClient.ts';
import type { ConnectContext, ConnectDecision, GatewayEvents, Session } from './events.ts';
import type { InitSenderEvent } from './initSenderHandler.ts';
export { initMessageFor } from './initSenderHandler.ts';
import type { LambdaInvocationContext, WebSocketConnectEvent, WebSocketResponse } from './webSocketEvent.ts';

export interface ConnectHandlerOptions {
  readonly events: GatewayEvents | Promise<GatewayEvents>;
  readonly gateway: Gateway;
  /**
   * Sends the init sender's asynchronous invocation: the SDK's signed invoke (sdk/lambdaInvoke.ts,
   * what lambdas/wiring.ts passes), or anything with its `send`.
   */
  readonly lambda: FanoutInvoker;
  /** The init sender's name or ARN; without it nothing is sent after the connection opens. */
  readonly initFunction: string | undefined;
  /** Have the init sender send `{"type":"init","client_id":"...","bind_token":"..."}` first. */
  readonly initMessage: boolean;
  /** When the gateway cuts a connection after it opened (the init message of the browser client says when). @default 2 hours */
  readonly connectionMaxAgeMs?: number;
  readonly log?: (message: string, details: Record<string, unknown>) => void;
  /** Counts an init sender that could not be invoked (the rest is counted around the handler, lambdas/handlerMetrics.ts). */
  readonly metrics?: Pick<HandlerMetrics, 'count'>;
}

/** Margin added to `$connect`'s own deadline: by then `$connect` has returned or timed out. */
const RETRY_MARGIN_MS = 2000;

/**
 * The largest payload Lambda accepts for an asynchronous invocation (1 MB): the init sender's event,
 * which carries every message `$connect` queued, must fit, or the invocation is refused (413) and the
 * connection with it.
 */
export const MAX_ASYNC_INVOKE_BYTES = 1024 * 1024;

export function createConnectHandler(options: ConnectHandlerOptions) {
  const log = options.log ?? ((message, details) => console.warn(JSON.stringify({ message, ...details })));
  if (options.initMessage && !options.initFunction) {
    log('$connect: no init sender function is configured; the init message will not be sent', {});
  }

  return async function handler(event: WebSocketConnectEvent, context?: LambdaInvocationContext): Promise<WebSocketResponse> {
    const events = await options.events;
    const { gateway } = options;
    const requestContext = event.requestContext;
    const clientId = requestContext.connectionId;
    // The browser client asks for enveloped pushes and recovery with ?gw=1 (docs/guides/recovery.md).
    const envelope = event.queryStringParameters?.gw === '1';
    await gateway.registerConnection({
      connectionId: clientId,
      connectedAt: requestContext.connectedAt,
      ...(envelope ? { envelope } : {}),
      sourceIp: requestContext.identity.sourceIp,
      ...(requestContext.identity.userAgent ? { userAgent: requestContext.identity.userAgent } : {}),
    });

    const outbox: string[] = [];
    // The init sender's event without messages, with the longest retryUntil it can have.
    let outboxBytes = Buffer.byteLength(JSON.stringify({ connectionId: clientId, init: true, messages: [], retryUntil: 8.64e15 }));
    let kicked = false;
    const ctx: ConnectContext = {
      clientId,
      gateway: gatewayForCurrentClient(gateway, clientId),
      requestContext,
      session: {},
      sendToCurrentClient(message: string) {
        if (typeof message !== 'string') throw new TypeError('sendToCurrentClient in $connect takes a string');
        // The SDK's own rule, now rather than in the init sender after the connection opened.
        serializeMessage(message);
        const bytes = Buffer.byteLength(JSON.stringify(message)) + (outbox.length > 0 ? 1 : 0);
        if (outboxBytes + bytes > MAX_ASYNC_INVOKE_BYTES) {
          throw new LimitExceededError(
            clientId,
            MAX_ASYNC_INVOKE_BYTES,
            `the messages queued in $connect for ${clientId} would pass the ${MAX_ASYNC_INVOKE_BYTES} bytes Lambda accepts for the init sender's asynchronous invocation; this message (${bytes} bytes in the event) was not queued: send the rest from onMessage, or less`,
          );
        }
        outbox.push(message);
        outboxBytes += bytes;
      },
      closeCurrentClient() {
        kicked = true;
      },
    };

    let response: { statusCode: number; headers?: Record<string, string> } = { statusCode: 200 };
    try {
      if (events.onConnect) response = merge(response, decide(await events.onConnect(clientId, ctx)));
      if (!kicked && isSuccess(response.statusCode) && events.onWebSocketConnect) {
        response = merge(response, decide(await events.onWebSocketConnect(clientId, buildConnectData(event), ctx)));
      }
      if (kicked && isSuccess(response.statusCode)) response = { statusCode: 403 };
      if (isSuccess(response.statusCode)) await saveSession(gateway, clientId, ctx.session);
    } catch (error) {
      // API Gateway answers a failed $connect integration with 502; leave nothing behind.
      await forget(gateway, clientId, log);
      throw error;
    }

    if (!isSuccess(response.statusCode)) {
      await forget(gateway, clientId, log);
      return { statusCode: response.statusCode };
    }

    if ((options.initMessage || outbox.length > 0) && options.initFunction) {
      const remaining = context ? context.getRemainingTimeInMillis() : 30_000;
      const payload: InitSenderEvent = {
        connectionId: clientId,
        ...(options.initMessage ? { init: true } : {}),
        messages: outbox,
        retryUntil: Date.now() + remaining + RETRY_MARGIN_MS,
        ...(envelope && options.initMessage
          ? {
              recovery: {
                cutAt: requestContext.connectedAt + (options.connectionMaxAgeMs ?? CONNECTION_MAX_AGE_SECONDS * 1000),
                windowMs: gateway.recoveryWindowSeconds * 1000,
              },
            }
          : {}),
      };
      try {
        await options.lambda.send({ input: { FunctionName: options.initFunction, InvocationType: 'Event', Payload: Buffer.from(JSON.stringify(payload)) } });
      } catch (error) {
        // Without its init message the browser cannot identify itself: refuse, so it reconnects.
        log('$connect: invoking the init sender failed; refusing the connection', { clientId, error: String(error) });
        options.metrics?.count(GatewayMetricName.initMessagesFailed);
        await forget(gateway, clientId, log);
        return { statusCode: 500 };
      }
    }
    return response.headers && Object.keys(response.headers).length > 0
      ? { statusCode: response.statusCode, headers: response.headers }
      : { statusCode: response.statusCode };
  };
}

function decide(decision: ConnectDecision): { statusCode: number; headers?: Record<string, string> } | undefined {
  if (decision === undefined || decision === null || decision === true) return undefined;
  if (decision === false) return { statusCode: 403 };
  if (typeof decision === 'object' && typeof decision.statusCode === 'number' && Number.isInteger(decision.statusCode)) {
    return { statusCode: decision.statusCode, ...(decision.headers ? { headers: decision.headers } : {}) };
  }
  throw new TypeError(`onConnect / onWebSocketConnect returned ${JSON.stringify(decision)}; expected nothing, a boolean or { statusCode, headers? }`);
}

function merge(
  current: { statusCode: number; headers?: Record<string, string> },
  next: { statusCode: number; headers?: Record<string, string> } | undefined,
): { statusCode: number; headers?: Record<string, string> } {
  if (!next) return current;
  return { statusCode: next.statusCode, headers: { ...current.headers, ...next.headers } };
}

function isSuccess(status: number): boolean {
  return status >= 200 && status <= 299;
}

async function saveSession(gateway: Gateway, clientId: string, session: Session): Promise<void> {
  const entries = Object.entries(session ?? {}).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return;
  await gateway.updateSession(clientId, Object.fromEntries(entries));
}

async function forget(gateway: Gateway, clientId: string, log: (message: string, details: Record<string, unknown>) => void): Promise<void> {
  try {
    await gateway.unregisterConnection(clientId);
  } catch (error) {
    // The item expires by TTL anyway.
    log('$connect: removing a refused connection failed', { clientId, error: String(error) });
  }
}
