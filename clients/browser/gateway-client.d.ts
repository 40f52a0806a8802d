/**
 * Types of gateway-client.js, the browser client. README: "Browser client".
 * @module serverless-gateway-worker/browser
 */

/**
 * - `connecting`: the first attempt, before its init message.
 * - `open`: the init message arrived (or, with `waitForInit: false`, the socket opened).
 * - `reconnecting`: the connection was lost (or never came up); waiting for, or making, the next attempt.
 * - `closed`: `close()` was called; nothing more happens.
 */
export type GatewayClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What the page posts to its backend to bind this connection. */
export interface GatewayInit {
  readonly clientId: string;
  /** The init message's `bind_token`; undefined when the gateway sent none. */
  readonly bindToken: string | undefined;
  /**
   * This connection took the previous one over (docs/guides/recovery.md): uid, groups and session
   * carried over, pushes sent meanwhile delivered. Binding again is harmless.
   */
  readonly resumed: boolean;
}

export interface GatewayStateInfo {
  readonly clientId?: string;
  /** The WebSocket close code and reason, when a close caused the change. */
  readonly code?: number;
  readonly reason?: string;
  /** The WebSocket constructor threw (e.g. a malformed URL). */
  readonly error?: unknown;
  /** `reconnecting`: which retry this is (1 for the first) and how long it waits before it starts (0 after a 1001). */
  readonly attempt?: number;
  readonly delayMs?: number;
  /** `open`: whether the connection took the previous one over (absent for a first or fresh connection). */
  readonly resumed?: boolean;
}

export interface GatewayClientOptions {
  /** Called on every new connection once its init message arrived: bind here (every reconnect has a new id). */
  onInit?(init: GatewayInit): void;
  /**
   * A pushed message, as the backend sent it: parsed JSON when it is JSON, else the text (binary
   * frames as the browser gives them). With `recover`, each push once, in the order each sender sent them.
   */
  onMessage?(data: unknown, event: MessageEvent): void;
  onStateChange?(state: GatewayClientState, info: GatewayStateInfo): void;
  /** @default 10000: no init within this time of the attempt's start closes and retries */
  initTimeoutMs?: number;
  /** @default 1000 */
  minDelayMs?: number;
  /** @default 30000 */
  maxDelayMs?: number;
  /** @default 5000: a connection up this long after its init resets the backoff */
  stableAfterMs?: number;
  /** Interval of the `{"action":"ping"}` heartbeat; 0 turns it off. @default 300000 */
  heartbeatMs?: number;
  /** `false` for a backend that sends no init message: open means the socket opened. @default true */
  waitForInit?: boolean;
  /**
   * Ask the gateway for push ids (`?gw=1` on the URL): duplicates dropped, the connection renewed
   * before the gateway's cut, a lost one resumed within the gateway's window
   * (docs/guides/recovery.md). `false`: the raw messages, as a plain WebSocket gets them. @default true
   */
  recover?: boolean;
  protocols?: string | string[];
  /** A WebSocket constructor other than the global one. */
  WebSocket?: { new (url: string, protocols?: string | string[]): WebSocket };
}

export interface GatewayClient {
  readonly state: GatewayClientState;
  /** The current connection's id; undefined between connections. */
  readonly clientId: string | undefined;
  readonly bindToken: string | undefined;
  /** The id of the last push given to onMessage (with `recover`). */
  readonly lastPushId: string | undefined;
  /** Sends a text frame (objects as JSON) on the current connection; false when not open. */
  send(data: string | object): boolean;
  /** Stops for good: closes the socket with 1000 and never reconnects. */
  close(): void;
}

export declare const DEFAULTS: Readonly<Required<Pick<GatewayClientOptions, 'initTimeoutMs' | 'minDelayMs' | 'maxDelayMs' | 'stableAfterMs' | 'heartbeatMs'>>>;

/**
 * Opens a connection that binds on every init message, reconnects with backoff and sends the
 * heartbeat. Every reconnect is a new connection with a new client id: bind it again in `onInit`.
 *
 * @example
 * ```js
 * import { connect } from 'serverless-gateway-worker/browser';
 *
 * const client = connect('wss://abc123.execute-api.eu-west-1.amazonaws.com/prod', {
 *   onInit: ({ clientId, bindToken }) =>
 *     fetch('/bind', { method: 'POST', body: new URLSearchParams({ client_id: clientId, bind_token: bindToken ?? '' }) }),
 *   onMessage: (data) => console.log(data),
 * });
 * client.send({ action: 'say', text: 'hi' }); // false unless open
 * ```
 */
export declare function connect(url: string, options?: GatewayClientOptions): GatewayClient;
