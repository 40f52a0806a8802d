/**
 * The Events API: what a user's Events module may export, as GatewayWorker's `Events` class does
 * (gatewayworker-api.md section 3). Every callback is optional.
 *
 * ```ts
 * // events.ts, given to the construct as `eventsModule: 'events.ts'`
 * import type { GatewayEvents } from 'serverless-gateway-worker/events';
 *
 * export const onWebSocketConnect: GatewayEvents['onWebSocketConnect'] = async (clientId, data, ctx) => {
 *   if (!data.get.token) return { statusCode: 401 };
 *   ctx.session.user = await userFor(data.get.token);
 * };
 * export const onMessage: GatewayEvents['onMessage'] = async (clientId, message, ctx) => {
 *   ctx.session.count = Number(ctx.session.count ?? 0) + 1;
 *   await ctx.sendToCurrentClient(`echo: ${message}`);
 * };
 * ```
 *
 * A module may export the callbacks by name, as a default-exported object, or as static methods of a
 * default-exported (or `Events`-named) class.
 */
import type { Gateway } from '../sdk/index.ts';
import { ConfigurationError } from '../sdk/errors.ts';
import type { WebSocketRequestContext } from './webSocketEvent.ts';

/** A connection's session: a JSON object, stored on the connection item. */
export type Session = Record<string, unknown>;

/** What the SDK's send methods report. */
export type SendReport = Awaited<ReturnType<Gateway['sendToClient']>>;

/** A message as the SDK's `sendToClient` accepts it. */
export type OutgoingMessage = Parameters<Gateway['sendToClient']>[1];

/**
 * GatewayWorker's `$data` for onWebSocketConnect: `get` (query parameters), `server` and `cookie`.
 *
 * `server` holds QUERY_STRING, REQUEST_METHOD, REQUEST_URI, SERVER_PROTOCOL, SERVER_NAME,
 * SERVER_PORT (when known), REMOTE_ADDR and every handshake header as `HTTP_<UPPER_SNAKE>`
 * (`Sec-WebSocket-Key` -> `HTTP_SEC_WEBSOCKET_KEY`), plus CONTENT_TYPE when the client sent one.
 * API Gateway does not expose the client's source port, so REMOTE_PORT is absent, and it gives query
 * parameters decoded, so QUERY_STRING is re-encoded from them rather than the bytes the client sent.
 */
export interface WebSocketConnectData {
  readonly get: Readonly<Record<string, string>>;
  readonly server: Readonly<Record<string, string>>;
  readonly cookie: Readonly<Record<string, string>>;
}

/**
 * What onConnect / onWebSocketConnect may return. Nothing (or `true`) accepts; `false` refuses with
 * 403; `{ statusCode }` with a non-2xx status refuses with that status; a 2xx status accepts with
 * the given response headers (e.g. `Sec-WebSocket-Protocol` to accept a subprotocol).
 */
export type ConnectDecision = void | undefined | boolean | { readonly statusCode: number; readonly headers?: Record<string, string> };

interface BaseContext {
  /** The API Gateway connection id: GatewayWorker's client_id. */
  readonly clientId: string;
  /**
   * The Gateway SDK, configured from the function's environment. Binding `clientId` itself
   * (`bindUid`, `joinGroup`) needs no bind token here: the event came on that connection.
   */
  readonly gateway: Gateway;
  /** The event's request context: route key, identity, connectedAt, authorizer context, ... */
  readonly requestContext: WebSocketRequestContext;
}

export interface ConnectContext extends BaseContext {
  /**
   * GatewayWorker's `$_SESSION`, empty on a new connection. Whatever the callbacks put here is saved
   * when they return, before the connection opens.
   */
  session: Session;
  /**
   * Queues a message for this client. Nothing can be posted to a connection while `$connect` runs
   * (API Gateway answers 410), so queued messages are delivered right after the connection opens,
   * after the init message, in order. Dropped if the connection is refused. Checked when queued:
   * over 131072 bytes throws PayloadTooLargeError (as any send); a queue that would pass the 1 MB
   * Lambda accepts for the init sender's event throws LimitExceededError (that message is not queued).
   */
  sendToCurrentClient(message: string): void;
  /** Refuses the connection with 403 once the callback returns: GatewayWorker's kick in onWebSocketConnect. */
  closeCurrentClient(): void;
}

export interface MessageContext extends BaseContext {
  /** The route key the message was routed by (`$default` or a custom route). */
  readonly routeKey: string;
  /**
   * GatewayWorker's `$_SESSION`, read before the callback (one GetItem) when the module may use it
   * (see GatewayEvents.messageSession). Changes are saved after it as a merge of only what changed
   * (updateSession), so concurrent updates of other keys are not lost and an unchanged session costs
   * no write. A deleted key is written as null: a merge cannot delete. Throws a ConfigurationError when
   * the session was not read up front (`messageSession: 'on-demand'`): use `await ctx.getSession()` there.
   */
  session: Session;
  /**
   * The session, read on the first call (one GetItem; `{}` when the client is gone) and the same
   * object on every later call and as `ctx.session`. Changes to it are saved like those to `ctx.session`.
   * A callback that never calls it (and never touches `ctx.session`) costs no read.
   */
  getSession(): Promise<Session>;
  /** Sends to this client now (the connection is open). */
  sendToCurrentClient(message: OutgoingMessage): Promise<SendReport>;
  /** Closes this client's connection, sending `message` first when given. */
  closeCurrentClient(message?: OutgoingMessage): Promise<boolean>;
}

export interface CloseContext extends BaseContext {
  /**
   * The last session the connection had, as GatewayWorker gives onClose. The connection, its uid
   * binding and its groups are already gone; changes to this object are not saved.
   */
  readonly session: Session;
  /** The uid the connection was bound to, if any. */
  readonly uid: string | undefined;
  /** The groups it belonged to. */
  readonly groups: readonly string[];
  /** The WebSocket close code API Gateway reported, e.g. 1001 or 1005. */
  readonly closeCode: number | undefined;
  readonly closeReason: string | undefined;
  /**
   * True when the browser client's connection was lost (not closed on purpose) and is held for the
   * recovery window: its uid and groups stay bound, pushes to it wait, and the client's next
   * connection will most likely take it over (docs/guides/recovery.md). An app that announces
   * "left" may wait for the window, or check `isUidOnline` later.
   */
  readonly held?: boolean;
}

type MaybePromise<T> = T | Promise<T>;

/** When the message handler reads the session: see GatewayEvents.messageSession. */
export type MessageSessionRead = 'upfront' | 'on-demand';

/** The callbacks of an Events module. */
export interface GatewayEvents {
  /**
   * When the message handler reads the session. 'upfront': before every onMessage, so `ctx.session`
   * holds it (one GetItem per message). 'on-demand': only when onMessage awaits `ctx.getSession()`
   * (`ctx.session` then throws). Export it from the module (`export const messageSession = 'on-demand'`)
   * beside the callbacks.
   * @default 'on-demand' when onMessage's source shows it never reaches `ctx.session` (it takes no
   * context, or uses the context only as `ctx.<other name>`: lambdas/sessionUse.ts), else 'upfront'
   */
  readonly messageSession?: MessageSessionRead;
  /**
   * On `$connect`, before onWebSocketConnect. API Gateway has no event before the handshake, so,
   * unlike GatewayWorker's, this runs when the handshake is under way; the connection is already
   * stored, so `ctx.gateway.bindUid` / `joinGroup` work here.
   */
  onConnect?(clientId: string, ctx: ConnectContext): MaybePromise<ConnectDecision>;
  /** On `$connect`, with the query string, headers, cookies and source address. */
  onWebSocketConnect?(clientId: string, data: WebSocketConnectData, ctx: ConnectContext): MaybePromise<ConnectDecision>;
  /** On every message routed to `$default` or a custom route. Without it, messages are accepted and ignored. */
  onMessage?(clientId: string, message: string, ctx: MessageContext): MaybePromise<unknown>;
  /** On `$disconnect`, after the connection and its mappings are removed. Best-effort, as `$disconnect` is on AWS. */
  onClose?(clientId: string, ctx: CloseContext): MaybePromise<unknown>;
}

const CALLBACKS = ['onConnect', 'onWebSocketConnect', 'onMessage', 'onClose'] as const;
const MESSAGE_SESSION_READS: readonly MessageSessionRead[] = ['upfront', 'on-demand'];

/** The module's own function behind a callback resolveEvents wrapped (to keep `this`): what sessionUse.ts reads. */
const ORIGINALS = new WeakMap<object, (...args: never[]) => unknown>();

export function originalCallback<T extends (...args: never[]) => unknown>(callback: T): (...args: never[]) => unknown {
  return ORIGINALS.get(callback) ?? callback;
}

/**
 * The callbacks of an imported Events module, whichever way it exports them: named exports, a
 * default-exported object, or static methods of a default-exported or `Events`-named class.
 * Methods keep their `this`.
 */
export function resolveEvents(module: unknown): GatewayEvents {
  const holders = [module, property(module, 'default'), property(module, 'Events')].filter(
    (h): h is object => (typeof h === 'object' || typeof h === 'function') && h !== null,
  );
  const events: Record<string, unknown> = {};
  for (const name of CALLBACKS) {
    for (const holder of holders) {
      const fn = property(holder, name);
      if (typeof fn === 'function') {
        const wrapper = (...args: unknown[]) => fn.apply(holder, args);
        ORIGINALS.set(wrapper, fn as (...args: never[]) => unknown);
        events[name] = wrapper;
        break;
      }
    }
  }
  const declared = holders.map((h) => property(h, 'messageSession')).find((v) => v !== undefined);
  if (declared !== undefined) {
    if (!MESSAGE_SESSION_READS.includes(declared as MessageSessionRead)) {
      throw new ConfigurationError(
        `the Events module's messageSession is one of ${MESSAGE_SESSION_READS.map((v) => `'${v}'`).join(', ')}, not ${JSON.stringify(declared)}`,
      );
    }
    events.messageSession = declared;
  }
  return events as GatewayEvents;
}

function property(value: unknown, key: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  return (value as Record<string, unknown>)[key];
}
