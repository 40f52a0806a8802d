/** Types of gateway-connector.js, the Laravel Echo connector. docs/guides/laravel.md. */
import type { GatewayClient, GatewayClientOptions } from '../browser/gateway-client.js';

/** Echo's options, as `new Echo({ broadcaster: GatewayConnector, ... })` passes them. */
export interface GatewayConnectorOptions {
  readonly broadcaster?: unknown;
  /** The gateway WebSocket URL (wss://.../prod; npm start prints the local one). */
  readonly url: string;
  /** @default '/broadcasting/auth' */
  readonly authEndpoint?: string;
  /** Extra headers for the auth requests (X-CSRF-TOKEN is added from csrfToken or the csrf-token meta tag). */
  readonly auth?: { readonly headers?: Readonly<Record<string, string>> };
  readonly csrfToken?: string | null;
  readonly bearerToken?: string | null;
  /** @default 'App.Events' */
  readonly namespace?: string | false;
  /** Options for the browser client (delays, heartbeat, a WebSocket constructor); its callbacks still run. */
  readonly clientOptions?: GatewayClientOptions;
  /** A fetch for the auth requests. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  readonly [option: string]: unknown;
}

export type ConnectionStatus = 'connected' | 'disconnected' | 'connecting' | 'reconnecting' | 'failed';

/** What `error()` callbacks get when the app refused the subscription (403 from routes/channels.php) or could not be reached. */
export interface SubscriptionError {
  readonly type: 'AuthError';
  /** The HTTP status of /broadcasting/auth; 0 when the request failed. */
  readonly status: number;
  readonly error: unknown;
}

export declare class GatewayChannel {
  readonly name: string;
  listen(event: string, callback: (data: any) => void): this;
  listenToAll(callback: (event: string, data: any) => void): this;
  stopListening(event: string, callback?: (data: any) => void): this;
  stopListeningToAll(callback?: (event: string, data: any) => void): this;
  subscribed(callback: () => void): this;
  error(callback: (error: SubscriptionError) => void): this;
  on(event: string, callback: (data: any) => void): this;
  notification(callback: (notification: any) => void): this;
  stopListeningForNotification(callback: (notification: any) => void): this;
  listenForWhisper(event: string, callback: (data: any) => void): this;
  stopListeningForWhisper(event: string, callback?: (data: any) => void): this;
}

export declare class GatewayPrivateChannel extends GatewayChannel {
  /** Throws: the gateway carries no page-to-page messages. */
  whisper(event: string, data: unknown): never;
}

export declare class GatewayPresenceChannel extends GatewayPrivateChannel {
  /** The members' infos (what routes/channels.php returned for each uid), on every (re)subscription. */
  here(callback: (members: any[]) => void): this;
  /** A uid's first connection joined. */
  joining(callback: (member: any) => void): this;
  /** A uid's last connection left or disconnected. */
  leaving(callback: (member: any) => void): this;
}

export declare class GatewayConnector {
  constructor(options: GatewayConnectorOptions);
  readonly options: GatewayConnectorOptions;
  readonly channels: Record<string, GatewayChannel>;
  readonly client: GatewayClient;
  connect(): void;
  listen(name: string, event: string, callback: (data: any) => void): GatewayChannel;
  channel(name: string): GatewayChannel;
  privateChannel(name: string): GatewayPrivateChannel;
  /** Throws: not supported. */
  encryptedPrivateChannel(name: string): never;
  presenceChannel(name: string): GatewayPresenceChannel;
  leave(name: string): void;
  leaveChannel(name: string): void;
  /** The current connection's client id (sent as X-Socket-ID); undefined between connections. */
  socketId(): string | undefined;
  connectionStatus(): ConnectionStatus;
  onConnectionChange(callback: (status: ConnectionStatus) => void): () => void;
  disconnect(): void;
}
