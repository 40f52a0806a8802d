// The browser side of the gateway: one dependency-free ES module, servable as this one file.
// It connects, waits for the init message, hands the client id and bind token to the page on every
// new connection (so every reconnect binds again), reconnects with jittered exponential backoff on
// any close the page did not ask for, keeps the connection alive under API Gateway's idle timeout,
// and parses pushed messages. Types: gateway-client.d.ts beside this file. README: "Browser client".

/** The numbers, with why: README "Browser client" has the comparison with other clients. */
export const DEFAULTS = Object.freeze({
  // No init this long after the socket was created (handshake included) is a failed attempt.
  initTimeoutMs: 10000,
  // Retry n (from 0) waits between half and all of min(maxDelayMs, minDelayMs * 2^n).
  minDelayMs: 1000,
  maxDelayMs: 30000,
  // A connection that stayed up this long after its init resets the backoff.
  stableAfterMs: 5000,
  // Half of API Gateway's 10-minute idle timeout; 0 turns the heartbeat off.
  heartbeatMs: 300000,
});

const PING = '{"action":"ping"}';

/**
 * Opens a connection to `url` that reconnects until `close()`.
 * @param {string} url
 * @param {import('./gateway-client.d.ts').GatewayClientOptions} [options]
 * @returns {import('./gateway-client.d.ts').GatewayClient}
 */
export function connect(url, options = {}) {
  const o = { ...DEFAULTS, waitForInit: true, ...options };
  const Socket = o.WebSocket || globalThis.WebSocket;
  const win = typeof window === 'undefined' ? undefined : window;
  let socket, retryTimer, initTimer, heartbeatTimer, initAt;
  let attempt = 0;
  let state = 'connecting';

  const client = {
    get state() {
      return state;
    },
    clientId: undefined,
    bindToken: undefined,
    send(data) {
      if (state !== 'open') return false;
      socket.send(typeof data === 'string' ? data : JSON.stringify(data));
      return true;
    },
    close() {
      if (state === 'closed') return;
      stop(socket);
      socket = undefined;
      win?.removeEventListener('online', onOnline);
      setState('closed', {});
    },
  };

  function setState(next, info) {
    state = next;
    o.onStateChange?.(next, info);
  }

  function stop(s) {
    clearTimeout(retryTimer);
    clearTimeout(initTimer);
    clearInterval(heartbeatTimer);
    retryTimer = undefined;
    if (!s) return;
    s.onopen = s.onmessage = s.onclose = s.onerror = noop;
    try {
      s.close(1000);
    } catch {}
  }

  function open() {
    retryTimer = undefined;
    initAt = undefined;
    client.clientId = client.bindToken = undefined;
    let s;
    try {
      s = socket = new Socket(url, o.protocols);
    } catch (error) {
      return lost({ error });
    }
    initTimer = setTimeout(() => lost({ reason: 'no init' }), o.initTimeoutMs);
    s.onerror = noop; // a close event follows every error
    s.onopen = () => {
      if (!o.waitForInit) ready(undefined, undefined);
    };
    s.onmessage = (event) => {
      const data = parse(event.data);
      if (initAt === undefined && o.waitForInit) {
        if (data && data.type === 'init' && typeof data.client_id === 'string') ready(data.client_id, data.bind_token);
        return; // anything before the init is not for the page: the init sender posts it first
      }
      o.onMessage?.(data, event);
    };
    s.onclose = (event) => lost({ code: event.code, reason: event.reason });
  }

  function ready(clientId, bindToken) {
    clearTimeout(initTimer);
    initAt = Date.now();
    client.clientId = clientId;
    client.bindToken = bindToken;
    if (o.heartbeatMs > 0) heartbeatTimer = setInterval(() => client.send(PING), o.heartbeatMs);
    setState('open', { clientId });
    o.onInit?.({ clientId, bindToken });
  }

  // Any end the page did not ask for: a close, a refused upgrade, no init in time.
  function lost(info) {
    if (state === 'closed') return;
    if (initAt !== undefined && Date.now() - initAt >= o.stableAfterMs) attempt = 0;
    stop(socket);
    socket = undefined;
    const ceiling = Math.min(o.maxDelayMs, o.minDelayMs * 2 ** attempt);
    const delayMs = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    attempt++;
    retryTimer = setTimeout(open, delayMs);
    setState('reconnecting', { ...info, attempt, delayMs });
  }

  // Back online: the wait is for a network that was not there; try now.
  function onOnline() {
    if (retryTimer === undefined) return;
    clearTimeout(retryTimer);
    attempt = 0;
    open();
  }

  win?.addEventListener('online', onOnline);
  setState('connecting', {});
  open();
  return client;
}

function noop() {}

function parse(data) {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}
