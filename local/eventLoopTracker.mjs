// "Is the event loop empty?" for one invocation, inside a worker that runs several at once.
//
// Lambda's Node.js runtimes up to nodejs22.x answer a callback handler only once the event loop is
// empty (callbackWaitsForEmptyEventLoop), and answer null when the loop empties before the handler
// called back. Lambda asks the whole process (its beforeExit event); here one worker is one
// environment for many concurrent invocations and never exits, so each pending piece of work is
// attributed to whoever created it: the module's init, an invocation, or the bootstrap (not
// counted). Node re-attributes a pooled keep-alive socket to the invocation that reuses it.
//
// What counts as pending, as libuv sees it: a handle or timer while it is ref'd (hasRef()), and a
// request (fs, fs/promises, dns, crypto, writes, connects, nextTick) until it is done (fs/promises
// is FSREQPROMISE: the AWS SDK's credential chain reads ~/.aws with it on a client's first call, and
// without it a first post answered null). Objects Node destroys only
// when garbage collected (promises, HTTP request/response resources, parsers, TLS wrappers over a
// TCP handle that is counted itself, file handles, zlib) do not keep the loop alive and are ignored.
import { AsyncLocalStorage, createHook } from 'node:async_hooks';

export const INIT = Symbol('init');

const IGNORED_TYPES = new Set(['PROMISE', 'Microtask', 'TLSWRAP', 'JSUDPWRAP', 'HTTPPARSER', 'HTTPINCOMINGMESSAGE', 'HTTPCLIENTREQUEST', 'FILEHANDLE', 'ZLIB']);
const POLL_MS = 2;

/** The object whose ref state decides, for a handle or timer (a reused socket wraps its handle). */
function refHolder(resource) {
  if (typeof resource?.hasRef === 'function') return resource;
  if (typeof resource?.handle?.hasRef === 'function') return resource.handle;
  return undefined;
}

export class EventLoopTracker {
  #owners = new AsyncLocalStorage();
  #pending = new Map(); // asyncId -> { owner, holder }
  #running = new Set();
  #waiters = new Set();
  #poller;
  #hook = createHook({
    init: (asyncId, type, _triggerId, resource) => {
      if (IGNORED_TYPES.has(type)) return;
      const owner = this.#owners.getStore();
      if (owner === undefined) return;
      const holder = refHolder(resource);
      if (!holder && type !== 'TickObject' && !/(REQ|REQUEST|WRAP|REQPROMISE)$/.test(type)) return;
      this.#pending.set(asyncId, { owner, holder });
    },
    destroy: (asyncId) => {
      this.#pending.delete(asyncId);
    },
  });

  enable() {
    this.#hook.enable();
  }

  /** Runs `fn` with everything it starts attributed to `owner` (INIT, or an invocation id). */
  run(owner, fn) {
    return this.#owners.run(owner, fn);
  }

  started(owner) {
    this.#running.add(owner);
  }

  finished(owner) {
    this.#running.delete(owner);
    for (const waiter of this.#waiters) if (waiter.owner === owner) this.#waiters.delete(waiter);
  }

  /**
   * Resolves once nothing `owner` depends on is pending: its own work, the init's, and what finished
   * invocations left behind (as one environment would still hold it). With `strict`, the work of the
   * other running invocations counts too: for answering null, where an early answer would be wrong.
   */
  whenEmpty(owner, { strict = false } = {}) {
    return new Promise((resolve) => {
      const waiter = { owner, strict, resolve };
      this.#waiters.add(waiter);
      // A first look once the current work has run (a callback is often the handler's last act),
      // then every POLL_MS while something is pending.
      this.#owners.exit(() => setImmediate(() => this.#check(waiter)));
      this.#poll();
    });
  }

  #check(waiter) {
    if (!this.#waiters.has(waiter) || !this.#isEmptyFor(waiter.owner, waiter.strict)) return;
    this.#waiters.delete(waiter);
    waiter.resolve();
  }

  #isEmptyFor(owner, strict) {
    for (const { owner: creator, holder } of this.#pending.values()) {
      const counts = creator === owner || strict || !this.#running.has(creator);
      if (counts && (!holder || holder.hasRef())) return false;
    }
    return true;
  }

  #poll() {
    if (this.#poller || this.#waiters.size === 0) return;
    // Created outside every owner, so it does not count itself.
    this.#poller = this.#owners.exit(() =>
      setInterval(() => {
        for (const waiter of this.#waiters) this.#check(waiter);
        if (this.#waiters.size === 0) {
          clearInterval(this.#poller);
          this.#poller = undefined;
        }
      }, POLL_MS),
    );
  }
}
