/**
 * The message handler's session: `ctx.session` and `await ctx.getSession()`, for one message of one
 * connection.
 *
 * Every read is an ordinary awaited GetItem of this connection's session item (Gateway.getSession):
 * its answer can only be its own, and nothing blocks the event loop while it is under way. The
 * session is read before onMessage only when the module may use `ctx.session` (readsSessionUpFront);
 * otherwise only when onMessage awaits `ctx.getSession()`, so a callback that touches neither reads
 * nothing. Either way it is read at most once per message, and the change is written (by the
 * handler, sessionPatch.ts) under this connection's id only.
 */
import type { Gateway } from '../sdk/index.ts';
import { ConfigurationError } from '../sdk/errors.ts';
import { originalCallback, type GatewayEvents, type Session } from './events.ts';
import { sessionUseOf } from './sessionUse.ts';

interface Loaded {
  readonly before: Session;
  current: Session;
  /** False when the client was gone: a change is then logged, not saved. */
  readonly stored: boolean;
}

export class MessageSession {
  private loaded: Loaded | undefined;
  private pending: Promise<Loaded> | undefined;

  private constructor(
    private readonly gateway: Gateway,
    private readonly clientId: string,
  ) {}

  /** A session for this message; read now when `upFront`, else on the first getSession(). */
  static async open(gateway: Gateway, clientId: string, upFront: boolean): Promise<MessageSession> {
    const session = new MessageSession(gateway, clientId);
    if (upFront) await session.load();
    return session;
  }

  /** `ctx.session`: the session read up front (or by an earlier getSession()). */
  get(): Session {
    return this.loadedOrThrow().current;
  }

  set(value: Session): void {
    this.loadedOrThrow().current = value;
  }

  /** `ctx.getSession()`. */
  async getSession(): Promise<Session> {
    return (await this.load()).current;
  }

  /** Undefined when onMessage never read the session; else the session as read, as left, and whether the client existed. */
  touched(): { before: Session; after: Session; stored: boolean } | undefined {
    const loaded = this.loaded;
    return loaded ? { before: loaded.before, after: loaded.current, stored: loaded.stored } : undefined;
  }

  private load(): Promise<Loaded> {
    this.pending ??= this.gateway.getSession(this.clientId).then((stored) => {
      const value = stored ?? {}; // undefined: the client is gone
      this.loaded = { before: structuredClone(value), current: structuredClone(value), stored: stored !== undefined };
      return this.loaded;
    });
    return this.pending;
  }

  private loadedOrThrow(): Loaded {
    if (this.loaded) return this.loaded;
    throw new ConfigurationError(
      "ctx.session was not read before onMessage (the Events module's messageSession is 'on-demand', or its onMessage was judged not to use it): use `await ctx.getSession()`, or export messageSession = 'upfront'",
    );
  }
}

const UP_FRONT = new WeakMap<GatewayEvents, boolean>();

/** Whether onMessage of `events` may use `ctx.session`: its declaration, else its source (sessionUse.ts). Decided once per module. */
export function readsSessionUpFront(events: GatewayEvents): boolean {
  let upFront = UP_FRONT.get(events);
  if (upFront === undefined) {
    if (events.messageSession !== undefined) upFront = events.messageSession === 'upfront';
    else upFront = events.onMessage ? sessionUseOf(originalCallback(events.onMessage)) === 'maybe' : false;
    UP_FRONT.set(events, upFront);
  }
  return upFront;
}
