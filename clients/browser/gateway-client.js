// The browser side of the gateway: one dependency-free ES module, servable as this one file.
// It connects, waits for the init message, hands the client id and bind token to the page on every
// new connection, reconnects with jittered exponential backoff on any close the page did not ask
// for, keeps the connection alive under API Gateway's idle timeout, and parses pushed messages.
// With `recover` (the default) it also asks for push ids (?gw=1): it opens the next connection
// before the gateway's cut and takes the old one over (make before break), resumes a lost one within
// the gateway's window, and drops pushes it has seen. docs/guides/recovery.md; types beside this file.

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
const MARK = '\x1e'; // \x1e<push id>\x1e<message>; \x1f first: a replay; an empty id: the gateway's own message
const SEEN = 4096; // push ids remembered (at 60 pushes/s: over a minute)

/**
 * Opens a connection to `url` that reconnects until `close()`.
 * @param {string} url
 * @param {import('./gateway-client.d.ts').GatewayClientOptions} [options]
 * @returns {import('./gateway-client.d.ts').GatewayClient}
 */
export function connect(url, options = {}) {
  const o = { ...DEFAULTS, waitForInit: true, recover: true, ...options };
  const Socket = o.WebSocket || globalThis.WebSocket;
  const win = typeof window === 'undefined' ? undefined : window;
  const target = o.recover ? `${url}${url.includes('?') ? '&' : '?'}gw=1` : url;
  // cur: the connection in use; next: the one opened before the cut; last: the one to resume.
  let cur, next, last, retryTimer, heartbeatTimer;
  let attempt = 0;
  let state = 'connecting';
  const seen = new Set();
  const order = [];

  const client = {
    get state() {
      return state;
    },
    clientId: undefined,
    bindToken: undefined,
    get lastPushId() {
      return order[order.length - 1];
    },
    send(data) {
      if (state !== 'open' || cur.s.readyState !== 1) return false;
      cur.s.send(typeof data === 'string' ? data : JSON.stringify(data));
      return true;
    },
    close() {
      if (state === 'closed') return;
      clearTimeout(retryTimer);
      clearInterval(heartbeatTimer);
      end(cur);
      end(next);
      cur = next = undefined;
      win?.removeEventListener('online', onOnline);
      win?.removeEventListener('pagehide', onPageHide);
      setState('closed', {});
    },
  };

  function setState(s, info) {
    state = s;
    o.onStateChange?.(s, info);
  }

  function end(c) {
    if (!c) return;
    clearTimeout(c.timer);
    clearTimeout(c.cut);
    const s = c.s;
    if (!s) return;
    s.onopen = s.onmessage = s.onclose = s.onerror = noop;
    try {
      s.close(1000);
    } catch {}
  }

  // One socket; `c.ready` once its init came and, when it resumes another, the outcome too;
  // `c.flowing` once the pushes it held back went to the page.
  function open(resume, early) {
    retryTimer = undefined;
    const c = { held: [], resume };
    if (early) next = c;
    else cur = c;
    try {
      c.s = new Socket(target, o.protocols);
    } catch (error) {
      lost(c, { error });
      return c;
    }
    c.timer = setTimeout(() => lost(c, { reason: 'no init' }), o.initTimeoutMs);
    c.s.onerror = noop; // a close event follows every error
    c.s.onopen = () => {
      if (!o.waitForInit) settle(c, {});
    };
    c.s.onmessage = (event) => receive(c, event);
    c.s.onclose = (event) => lost(c, { code: event.code, reason: event.reason });
    return c;
  }

  function receive(c, event) {
    const raw = event.data;
    if (typeof raw === 'string' && (raw[0] === MARK || raw[0] === '\x1f')) {
      const cut = raw.indexOf(MARK, 1);
      const id = raw.slice(1, cut);
      const body = raw.slice(cut + 1);
      if (!id) return control(c, parse(body));
      if (seen.has(id)) return;
      // Live pushes of a connection that is taking another over wait for the replay and the old socket.
      if (raw[0] === MARK && !c.flowing) return c.held.push([id, body, event]);
      return deliver(id, body, event);
    }
    if (c.init === undefined && o.waitForInit) {
      const data = parse(raw);
      if (data && data.type === 'init' && typeof data.client_id === 'string') init(c, data);
      return; // anything before the init is not for the page: the init sender posts it first
    }
    // A push without an id (sendToClient, a bind not yet complete) keeps its place behind the held ones.
    if (!c.flowing) return c.held.push([0, raw, event]);
    deliver(0, raw, event);
  }

  function deliver(id, body, event) {
    if (id) {
      if (seen.has(id)) return;
      seen.add(id);
      if (order.push(id) > SEEN) seen.delete(order.shift());
    }
    o.onMessage?.(parse(body), event);
  }

  function init(c, data) {
    clearTimeout(c.timer);
    c.init = data;
    const from = c.resume;
    if (!from || !data.resume_token) return settle(c, {});
    c.s.send(JSON.stringify({ action: 'resume', from: from.client_id, token: from.resume_token }));
    c.timer = setTimeout(() => settle(c, { resumed: false }), o.initTimeoutMs);
  }

  function control(c, msg) {
    if (msg && (msg.type === 'resumed' || msg.type === 'resume_refused')) {
      clearTimeout(c.timer);
      settle(c, { resumed: msg.type === 'resumed' });
    }
  }

  // The connection is ready: it replaces the old one (closed first when still open), then the page hears of it.
  function settle(c, info) {
    if (c.ready) return;
    c.ready = true;
    c.resumed = info.resumed;
    const old = cur !== c ? cur : undefined;
    cur = c;
    if (next === c) next = undefined;
    c.at = Date.now();
    const data = c.init || {};
    last = data.resume_token ? data : undefined;
    client.clientId = data.client_id;
    client.bindToken = data.bind_token;
    clearInterval(heartbeatTimer);
    if (o.heartbeatMs > 0) heartbeatTimer = setInterval(() => client.send(PING), o.heartbeatMs);
    if (data.cut_in > 0 && o.recover) {
      // Before the cut: a quarter of the connection's life ahead, 1-30 s.
      c.cut = setTimeout(() => open(last, true), Math.max(0, data.cut_in - Math.min(30000, Math.max(1000, data.cut_in / 4))));
    }
    const release = () => {
      if (c.flowing) return;
      c.flowing = true;
      for (const [id, body, event] of c.held) deliver(id, body, event);
      c.held = [];
    };
    if (old?.s && old.s.readyState < 2) {
      // What the gateway wrote to the old socket before its close arrives before the close event.
      old.s.onclose = release;
      setTimeout(release, 3000);
      clearTimeout(old.cut);
      clearTimeout(old.timer);
      try {
        old.s.close(1000);
      } catch {
        release();
      }
    } else release();
    setState('open', { clientId: data.client_id, ...info });
    o.onInit?.({ clientId: data.client_id, bindToken: data.bind_token, resumed: info.resumed === true });
  }

  // Any end the page did not ask for: a close, a refused upgrade, no init in time.
  function lost(c, info) {
    if (state === 'closed') return;
    if (c === next) {
      // The connection opened before the cut failed: the current one carries on until its close.
      end(c);
      next = undefined;
      return;
    }
    if (c !== cur && cur) return end(c);
    if (next) {
      // Cut before the connection opened for the cut was ready: that one carries on.
      end(c);
      cur = next;
      next = undefined;
      return;
    }
    // Up long enough, or resumed (the gateway's recovery answered): not a flapping server, start the count again.
    if (c.at !== undefined && (c.resumed || Date.now() - c.at >= o.stableAfterMs)) attempt = 0;
    end(c);
    end(next);
    cur = next = undefined;
    clearInterval(heartbeatTimer);
    client.clientId = client.bindToken = undefined;
    // 1000 from the server: closed on purpose (closeClient), nothing to resume. 1001: the gateway's cut, idle or deploy: at once.
    if (info.code === 1000) last = undefined;
    const ceiling = Math.min(o.maxDelayMs, o.minDelayMs * 2 ** attempt);
    const delayMs = info.code === 1001 ? 0 : Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    if (info.code !== 1001) attempt++;
    const resume = last;
    retryTimer = setTimeout(() => open(resume), delayMs);
    setState('reconnecting', { ...info, attempt, delayMs });
  }

  // Back online: the wait is for a network that was not there; try now.
  function onOnline() {
    if (retryTimer === undefined || cur) return;
    clearTimeout(retryTimer);
    attempt = 0;
    open(last);
  }

  // The page is going away (its tab closed, a navigation): a deliberate end, not a lost connection.
  // Without this the browser's own close says 1001, the code of the gateway's cuts, and the gateway
  // would hold the connection for a resume that never comes (its uid, groups and presence with it).
  function onPageHide(event) {
    if (!event.persisted) client.close();
  }

  win?.addEventListener('online', onOnline);
  win?.addEventListener('pagehide', onPageHide);
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
