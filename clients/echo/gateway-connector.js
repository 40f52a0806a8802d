// Laravel Echo (2.x) on the serverless gateway: `new Echo({ broadcaster: GatewayConnector, url, ... })`.
// A plain ES module with no dependency but the browser client beside it (it does not import
// laravel-echo: Echo only needs a class it can construct with its options).
//
// How a subscription works (docs/guides/laravel.md): the gateway has no join a page can make, so
// every channel, public ones included, is joined by the app's own /broadcasting/auth (the `gateway`
// broadcaster), which runs the channel's callback in routes/channels.php first. The connector posts
// socket_id (the client id), bind_token and channel_name there on every new connection (so channels
// survive reconnects), and posts `leave=1` on leave(). Messages on the wire:
//   {"event": "App\\Events\\OrderShipped", "channel": "orders", "data": {...}}
//   {"event": "gateway:member_added", "channel": "presence-room.1", "data": {"id": "1", "info": {...}}}
//   {"event": "gateway:member_removed", "channel": "presence-room.1", "data": {"id": "1"}}
import { connect } from '../browser/gateway-client.js';

const MEMBER_ADDED = 'gateway:member_added';
const MEMBER_REMOVED = 'gateway:member_removed';
const NOTIFICATION = '.Illuminate\\Notifications\\Events\\BroadcastNotificationCreated';

const DEFAULT_OPTIONS = Object.freeze({
  authEndpoint: '/broadcasting/auth',
  namespace: 'App.Events',
  csrfToken: null,
  bearerToken: null,
});

export class GatewayConnector {
  /** @param {import('./gateway-connector.d.ts').GatewayConnectorOptions} options Echo's options */
  constructor(options) {
    this.options = { ...DEFAULT_OPTIONS, ...options, auth: { ...options.auth, headers: { ...options.auth?.headers } } };
    const csrf = csrfToken(this.options);
    if (csrf) this.options.auth.headers['X-CSRF-TOKEN'] = csrf;
    if (this.options.bearerToken) this.options.auth.headers.Authorization = `Bearer ${this.options.bearerToken}`;
    /** @type {Record<string, GatewayChannel>} */
    this.channels = {};
    this.statusListeners = new Set();
    this.connect();
  }

  connect() {
    if (typeof this.options.url !== 'string') throw new TypeError('GatewayConnector needs `url`: the gateway WebSocket URL');
    this.client = connect(this.options.url, {
      ...this.options.clientOptions,
      onInit: (init) => {
        this.options.clientOptions?.onInit?.(init);
        for (const channel of Object.values(this.channels)) channel.subscribe();
      },
      onMessage: (data, event) => {
        this.options.clientOptions?.onMessage?.(data, event);
        if (data && typeof data === 'object' && typeof data.event === 'string' && typeof data.channel === 'string') {
          this.channels[data.channel]?.dispatch(data.event, data.data);
        }
      },
      onStateChange: (state, info) => {
        this.options.clientOptions?.onStateChange?.(state, info);
        for (const listener of this.statusListeners) listener(this.connectionStatus());
      },
    });
  }

  listen(name, event, callback) {
    return this.channel(name).listen(event, callback);
  }

  channel(name) {
    return (this.channels[name] ??= new GatewayChannel(this, name));
  }

  privateChannel(name) {
    return (this.channels[`private-${name}`] ??= new GatewayPrivateChannel(this, `private-${name}`));
  }

  encryptedPrivateChannel() {
    throw new Error('GatewayConnector: encrypted private channels are not supported');
  }

  presenceChannel(name) {
    return (this.channels[`presence-${name}`] ??= new GatewayPresenceChannel(this, `presence-${name}`));
  }

  leave(name) {
    for (const channel of [name, `private-${name}`, `presence-${name}`]) this.leaveChannel(channel);
  }

  leaveChannel(name) {
    const channel = this.channels[name];
    if (!channel) return;
    delete this.channels[name];
    channel.unsubscribe();
  }

  /** The gateway client id of the current connection (Laravel's X-Socket-ID); undefined between connections. */
  socketId() {
    return this.client.clientId;
  }

  connectionStatus() {
    switch (this.client.state) {
      case 'open':
        return 'connected';
      case 'connecting':
        return 'connecting';
      case 'reconnecting':
        return 'reconnecting';
      default:
        return 'disconnected';
    }
  }

  onConnectionChange(callback) {
    this.statusListeners.add(callback);
    return () => this.statusListeners.delete(callback);
  }

  disconnect() {
    this.client.close();
  }

  /**
   * POSTs to the auth endpoint for the current connection: {status, body}; null when there is no
   * connection now (the next init subscribes again).
   */
  async authorize(channelName, extra = {}) {
    const clientId = this.client.clientId;
    if (clientId === undefined) return null;
    const form = new URLSearchParams({ socket_id: clientId, channel_name: channelName, ...extra });
    if (this.client.bindToken) form.set('bind_token', this.client.bindToken);
    const doFetch = this.options.fetch ?? globalThis.fetch.bind(globalThis);
    const response = await doFetch(this.options.authEndpoint, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded', 'X-Socket-ID': clientId, ...this.options.auth.headers },
      body: form.toString(),
    });
    const text = await response.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { clientId, status: response.status, body };
  }
}

/** A public channel: Echo's Channel API over one gateway group. */
export class GatewayChannel {
  constructor(connector, name) {
    this.connector = connector;
    this.name = name;
    this.listeners = new Map();
    this.globalListeners = new Set();
    this.subscribedCallbacks = new Set();
    this.errorCallbacks = new Set();
    this.attempt = 0;
    this.subscribe();
  }

  /** Asks the app to join this connection to the group (on creation and on every new connection). */
  subscribe() {
    const attempt = ++this.attempt;
    this.connector
      .authorize(this.name)
      .then((answer) => {
        if (answer === null || attempt !== this.attempt || this.connector.channels[this.name] !== this) return;
        if (answer.status >= 200 && answer.status < 300) this.succeeded(answer.body);
        else for (const callback of this.errorCallbacks) callback({ type: 'AuthError', status: answer.status, error: answer.body });
      })
      .catch((error) => {
        for (const callback of this.errorCallbacks) callback({ type: 'AuthError', status: 0, error });
      });
  }

  unsubscribe() {
    this.attempt++;
    this.connector.authorize(this.name, { leave: '1' }).catch(() => {});
  }

  succeeded() {
    for (const callback of this.subscribedCallbacks) callback();
  }

  dispatch(event, data) {
    for (const callback of this.listeners.get(event) ?? []) callback(data);
    if (!event.startsWith('gateway:')) for (const callback of this.globalListeners) callback(this.unformat(event), data);
  }

  listen(event, callback) {
    return this.on(this.format(event), callback);
  }

  listenToAll(callback) {
    this.globalListeners.add(callback);
    return this;
  }

  stopListening(event, callback) {
    const name = this.format(event);
    if (callback) this.listeners.get(name)?.delete(callback);
    else this.listeners.delete(name);
    return this;
  }

  stopListeningToAll(callback) {
    if (callback) this.globalListeners.delete(callback);
    else this.globalListeners.clear();
    return this;
  }

  subscribed(callback) {
    this.subscribedCallbacks.add(callback);
    return this;
  }

  error(callback) {
    this.errorCallbacks.add(callback);
    return this;
  }

  on(event, callback) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(callback);
    return this;
  }

  notification(callback) {
    return this.listen(NOTIFICATION, callback);
  }

  stopListeningForNotification(callback) {
    return this.stopListening(NOTIFICATION, callback);
  }

  listenForWhisper(event, callback) {
    return this.listen(`.client-${event}`, callback);
  }

  stopListeningForWhisper(event, callback) {
    return this.stopListening(`.client-${event}`, callback);
  }

  /** Echo's EventFormatter: '.Name' is taken as is, else the namespace is prefixed; dots become backslashes. */
  format(event) {
    if (event.startsWith('.') || event.startsWith('\\')) return event.slice(1);
    const namespace = this.connector.options.namespace;
    return (namespace ? `${namespace}.${event}` : event).replace(/\./g, '\\');
  }

  unformat(event) {
    const prefix = String(this.connector.options.namespace ?? '').replace(/\./g, '\\');
    return prefix && event.startsWith(`${prefix}\\`) ? event.slice(prefix.length + 1) : `.${event}`;
  }
}

/** A private channel: the same, authorized by routes/channels.php. */
export class GatewayPrivateChannel extends GatewayChannel {
  whisper() {
    throw new Error('GatewayConnector: whisper (client events) is not supported: the gateway carries no page-to-page messages');
  }
}

/**
 * A presence channel: the members by uid. The join's answer holds the member list (here); member_added
 * and member_removed that arrive before it are applied after it, and an added uid already present or
 * a removed uid absent is ignored, so joining and leaving fire once per uid.
 */
export class GatewayPresenceChannel extends GatewayPrivateChannel {
  constructor(connector, name) {
    super(connector, name);
    /** @type {Map<string, unknown> | undefined} uid -> info, once the join answered */
    this.members = undefined;
    this.early = [];
    this.hereCallbacks = new Set();
    this.joiningCallbacks = new Set();
    this.leavingCallbacks = new Set();
  }

  subscribe() {
    this.members = undefined;
    super.subscribe();
  }

  succeeded(body) {
    const list = Array.isArray(body?.members) ? body.members : [];
    this.members = new Map(list.map((member) => [String(member.id), member.info]));
    const infos = [...this.members.values()];
    for (const callback of this.hereCallbacks) callback(infos);
    super.succeeded(body);
    const early = this.early;
    this.early = [];
    for (const [event, data] of early) this.dispatch(event, data);
  }

  dispatch(event, data) {
    if (event !== MEMBER_ADDED && event !== MEMBER_REMOVED) return super.dispatch(event, data);
    if (this.members === undefined) {
      this.early.push([event, data]);
      return;
    }
    const id = String(data?.id);
    if (event === MEMBER_ADDED && !this.members.has(id)) {
      this.members.set(id, data.info);
      for (const callback of this.joiningCallbacks) callback(data.info);
    } else if (event === MEMBER_REMOVED && this.members.has(id)) {
      const info = this.members.get(id);
      this.members.delete(id);
      for (const callback of this.leavingCallbacks) callback(info);
    }
    super.dispatch(event, data);
  }

  here(callback) {
    this.hereCallbacks.add(callback);
    if (this.members !== undefined) callback([...this.members.values()]);
    return this;
  }

  joining(callback) {
    this.joiningCallbacks.add(callback);
    return this;
  }

  leaving(callback) {
    this.leavingCallbacks.add(callback);
    return this;
  }
}

function csrfToken(options) {
  if (typeof window !== 'undefined' && window.Laravel?.csrfToken) return window.Laravel.csrfToken;
  if (options.csrfToken) return options.csrfToken;
  if (typeof document !== 'undefined' && typeof document.querySelector === 'function') {
    return document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? null;
  }
  return null;
}
