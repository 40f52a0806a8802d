/**
 * The message handler's `ctx.session`: read from DynamoDB the first time onMessage gets or sets it,
 * not before, so that a callback that never touches it costs no read.
 *
 * A getter has to return the session at once, while a DynamoDB read is asynchronous. So before
 * onMessage runs, the SDK prepares (builds and signs, without sending) the GetItem of the session
 * item; the getter then sends it and waits for the answer synchronously (sdk/blockingHttp.ts: a
 * helper thread makes the request while this thread waits). That blocks this thread for the time
 * of one read, which is what awaiting it would have cost a Lambda environment (it handles one event
 * at a time). Where blocking is impossible (the local gateway's DynamoDB runs on this same thread,
 * as when a test hosts the handler in-process) or the gateway is not the SDK's (a test double), the
 * session is read before onMessage as before: the same answers, only not lazily.
 */
import type { Gateway } from '../sdk/index.ts';
import { sessionReadsOf } from '../sdk/gateway/sessionRead.ts';
import type { Session } from './events.ts';

export interface LazySession {
  readonly get: () => Session;
  readonly set: (value: Session) => void;
  /** Undefined when onMessage never touched ctx.session; else the session as read, as left, and whether the client existed. */
  touched(): { before: Session; after: Session; stored: boolean } | undefined;
}

export async function lazySession(gateway: Gateway, clientId: string): Promise<LazySession> {
  const prepared = await sessionReadsOf(gateway)?.prepare(clientId);
  let load: () => Session | undefined;
  if (prepared?.canBlock) {
    load = () => prepared.read();
  } else {
    const eager = await gateway.getSession(clientId);
    load = () => eager;
  }
  let state: { before: Session; current: Session; stored: boolean } | undefined;
  const loaded = () => {
    if (!state) {
      const stored = load(); // undefined: the client is gone
      const value = stored ?? {};
      state = { before: structuredClone(value), current: structuredClone(value), stored: stored !== undefined };
    }
    return state;
  };
  return {
    get: () => loaded().current,
    set: (value) => {
      loaded().current = value;
    },
    touched: () => (state ? { before: state.before, after: state.current, stored: state.stored } : undefined),
  };
}
