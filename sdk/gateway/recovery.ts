/**
 * Connection-state recovery (docs/guides/recovery.md): a browser-client connection (`rw` on its
 * item) lost without a deliberate close is held for the recovery window; pushes that meet it wait in
 * its buffer; a resume with its token takes over its uid, groups and session and replays the
 * buffer in push-id order; senders that meet a connection taken over post to its successor.
 *
 * Nothing here runs for a push to a connection that is up: only a 410, a `$disconnect` and a resume
 * get here.
 */
import { isUtf8 } from 'node:buffer';
import { ConditionFailed, JOINED_AT, PRESENCE_INFO, PRESENCE_UID, type ConnectionItem, type ItemRef } from '../ConnectionStore.ts';
import { controlMessage, envelope } from '../pushId.ts';
import { verifyResumeToken } from '../resumeToken.ts';
import { sha256Hex } from '../sigv4.ts';
import { TTL_MARGIN_SECONDS } from '../tables.ts';
import { checkAwsConnectionId, checkClientId, describe } from '../validation.ts';
import { ValidationError } from '../errors.ts';
import { itemsOf, toRecord, type GatewayContext } from './context.ts';
import { announceDepartures } from './presence.ts';
import type { ConnectionRecord } from './types.ts';

/** The push a 410 interrupted: what the buffer keeps, or what is posted to a successor. */
export interface GonePush {
  readonly pushId: string;
  readonly payload: Buffer;
}

/**
 * Close codes of a close the client asked for: 1000 (the browser client's close(), closeClient's
 * DELETE) and 1005 (a close frame without a status). A network drop is 1006; the gateway's cut 1001.
 */
const DELIBERATE_CLOSE_CODES: ReadonlySet<number | undefined> = new Set([1000, 1005]);

/** Successors followed from one connection (A resumed by B, B by C, ...) before giving up. */
const MAX_HOPS = 3;

const NAMES = { '#rw': 'rw', '#hu': 'heldUntil', '#rb': 'resumedBy', '#c': 'closed', '#ttl': 'expiresAt' };
/** A connection that may be held or resumed: the browser client's, not closed on purpose, not taken over. */
const RESUMABLE = 'attribute_exists(#rw) AND attribute_not_exists(#c) AND attribute_not_exists(#rb)';

function ttlOf(untilMs: number): number {
  return Math.floor(untilMs / 1000) + TTL_MARGIN_SECONDS;
}

/**
 * Holds a lost connection for the window. `$disconnect` restarts the window from the close
 * (`restart`); a sender that met the close first starts it unless it runs already, and not on a
 * connection whose window is over. Undefined when the connection cannot be held.
 */
export async function holdConnection(
  ctx: GatewayContext,
  operation: string,
  connectionId: string,
  nowMs: number,
  restart: boolean,
): Promise<ConnectionItem | undefined> {
  if (ctx.recoveryWindowMs <= 0) return undefined;
  const until = nowMs + ctx.recoveryWindowMs;
  try {
    return (await ctx.store.updateConnection(operation, connectionId, {
      expression: restart ? 'SET #hu = :until, #ttl = :ttl' : 'SET #hu = if_not_exists(#hu, :until), #ttl = :ttl',
      names: NAMES,
      values: { ':until': until, ':ttl': ttlOf(until), ...(restart ? {} : { ':now': nowMs }) },
      condition: restart ? RESUMABLE : `${RESUMABLE} AND (attribute_not_exists(#hu) OR #hu >= :now)`,
      returnValues: 'ALL_NEW',
    })) as ConnectionItem;
  } catch (error) {
    if (error instanceof ConditionFailed) return undefined;
    throw error;
  }
}

/**
 * `$disconnect`: a browser-client connection closed with anything but 1000 or 1005 is held (its items stay;
 * `record` is what onClose gets); any other is removed as before.
 */
export async function connectionClosed(
  ctx: GatewayContext,
  connectionId: string,
  closeCode: number | undefined,
): Promise<{ held: boolean; record: ConnectionRecord | undefined }> {
  checkAwsConnectionId(connectionId, 'connectionId');
  if (closeCode !== undefined && (typeof closeCode !== 'number' || !Number.isInteger(closeCode) || closeCode < 1000 || closeCode > 4999)) {
    throw new ValidationError(`closeCode must be a WebSocket close code (1000-4999) or undefined, got ${describe(closeCode)}`);
  }
  if (!DELIBERATE_CLOSE_CODES.has(closeCode)) {
    const held = await holdConnection(ctx, 'connectionClosed', connectionId, Date.now(), true);
    if (held) {
      const [groups, session] = await Promise.all([
        ctx.store.queryMemberships('connectionClosed', connectionId, Date.now()),
        ctx.store.getSession('connectionClosed', connectionId),
      ]);
      return { held: true, record: toRecord(held, session, groups) };
    }
  }
  return { held: false, record: await removeConnection(ctx, 'connectionClosed', connectionId, []) };
}

/**
 * Removes a connection and what it has (the connection item first), unless another one took it
 * over: that item stays for its `resumedBy`, until TTL.
 */
export async function removeConnection(
  ctx: GatewayContext,
  operation: string,
  connectionId: string,
  extra: readonly ItemRef[],
): Promise<ConnectionRecord | undefined> {
  const old = await ctx.store.deleteConnection(operation, connectionId, true);
  if (old === 'resumed') return undefined;
  if (!old) {
    if (extra.length > 0) await ctx.store.deleteItems(operation, extra);
    return undefined;
  }
  const [memberships, session] = await Promise.all([
    ctx.store.queryMembershipItems(operation, connectionId, Date.now()),
    ctx.store.deleteSession(operation, connectionId),
  ]);
  const groups = memberships.map((m) => m.group);
  await ctx.store.deleteItems(operation, [...extra, ...itemsOf(old, groups).filter((item) => item.role !== 'sessions')]);
  // A presence member's last connection leaving: the group hears member_removed (presence.ts).
  await announceDepartures(ctx, operation, memberships);
  return toRecord(old, session, groups);
}

/**
 * A post answered 410 and the prune kept the connection item (young, or the browser client's).
 * Reads it, and: posts to its successor; buffers the push while it is held (holding it first when
 * the send met the close before `$disconnect` did); or removes it when it can no longer be resumed.
 */
export async function recoverGone(
  ctx: GatewayContext,
  operation: string,
  connectionId: string,
  push: GonePush | undefined,
  sources: readonly ItemRef[],
  hops = 0,
): Promise<void> {
  if (hops > MAX_HOPS) {
    ctx.logger.warn(`gateway: ${operation} gave up following resumed connections after ${connectionId} (${MAX_HOPS} hops)`);
    return;
  }
  const now = Date.now();
  const item = await ctx.store.getConnection(operation, connectionId);
  if (!item || item.rw === undefined) return; // gone meanwhile, or young: as before recovery
  if (item.resumedBy !== undefined) {
    if (push) await postToSuccessor(ctx, operation, item.resumedBy, push, hops);
    // The index items that still led here are stale (the successor has its own): prune them.
    if (sources.length > 0) await ctx.store.deleteItems(operation, sources);
    return;
  }
  if (item.closed === true || ctx.recoveryWindowMs <= 0 || (item.heldUntil !== undefined && item.heldUntil < now)) {
    await removeConnection(ctx, operation, connectionId, sources);
    return;
  }
  // closeClient / closeUid bring no push; a binary message cannot be enveloped.
  if (!push || !isUtf8(push.payload)) return;
  let until = item.heldUntil;
  if (until === undefined) {
    const held = await holdConnection(ctx, operation, connectionId, now, false);
    if (!held) return recoverGone(ctx, operation, connectionId, push, sources, hops + 1); // changed meanwhile: look again
    until = held.heldUntil!;
  }
  await ctx.store.putPending(operation, connectionId, { pushId: push.pushId, message: push.payload.toString('utf8') }, ttlOf(until));
  // The race with a resume that read the buffer before this write: if it took over by now, post there
  // too (the browser client drops the copy it may also get from the replay).
  const after = await ctx.store.getConnection(operation, connectionId, ['connectionId', 'resumedBy']);
  if (after?.resumedBy !== undefined) await postToSuccessor(ctx, operation, after.resumedBy, push, hops);
}

async function postToSuccessor(ctx: GatewayContext, operation: string, successor: string, push: GonePush, hops: number): Promise<void> {
  const outcome = await postBytes(ctx, successor, envelope(push.pushId, push.payload) ?? push.payload);
  if (outcome === 'gone') await recoverGone(ctx, operation, successor, push, [], hops + 1);
}

export type ResumeOutcome =
  | { readonly resumed: true; readonly from: string; readonly replayed: number }
  | { readonly resumed: false; readonly from: string; readonly reason: 'off' | 'proof' | 'not-resumable' | 'gone' };

/**
 * `newId` (open, the browser client's) takes over `oldId`, proven by `oldId`'s resume token: the
 * old item is marked `resumedBy` first (conditionally: held within its window or still open, not
 * closed, not taken over yet), then its uid, groups and session are written for `newId` and
 * removed from `oldId`, then its buffer is replayed to `newId` in push-id order, then the outcome
 * is posted as a control message. A refusal changes nothing and says so to `newId`.
 */
export async function resumeConnection(ctx: GatewayContext, newId: string, oldId: string, resumeToken: string): Promise<ResumeOutcome> {
  // The id the outcome is posted to gets the strict check of every method that posts.
  checkClientId(newId);
  const from = checkAwsConnectionId(oldId, 'fromClientId');
  if (typeof resumeToken !== 'string') throw new ValidationError(`resumeToken must be a string, got ${describe(resumeToken)}`);
  const refuse = async (reason: 'off' | 'proof' | 'not-resumable' | 'gone'): Promise<ResumeOutcome> => {
    await postBytes(ctx, newId, Buffer.from(controlMessage({ type: 'resume_refused', from, reason })));
    return { resumed: false, from, reason };
  };
  if (ctx.recoveryWindowMs <= 0 || !ctx.resumeKeys) return refuse('off');
  if (from === newId || !verifyResumeToken(await ctx.resumeKeys(), from, resumeToken)) return refuse('proof');
  const operation = 'resumeConnection';
  const now = Date.now();
  const until = now + ctx.recoveryWindowMs;
  let old: ConnectionItem;
  try {
    old = (await ctx.store.updateConnection(operation, from, {
      expression: 'SET #rb = :new, #hu = :until, #ttl = :ttl',
      names: NAMES,
      values: { ':new': newId, ':until': until, ':ttl': ttlOf(until), ':now': now },
      condition: `${RESUMABLE} AND (attribute_not_exists(#hu) OR #hu >= :now)`,
      returnValues: 'ALL_OLD',
    })) as ConnectionItem;
  } catch (error) {
    if (error instanceof ConditionFailed) return refuse('not-resumable');
    throw error;
  }
  const [memberships, oldSession] = await Promise.all([ctx.store.queryMembershipItems(operation, from, now), ctx.store.getSession(operation, from)]);
  const groups = memberships.map((m) => m.group);
  // Add first (with the envelope flag), remove last: a send in between finds both, and the page sees one.
  if (old.uid !== undefined) await ctx.store.putIndex(operation, { role: 'uids', key: old.uid, connectionId: newId, env: true }, now);
  let added = 0;
  for (const { group, presenceUid } of memberships) {
    const presence = presenceUid === undefined ? undefined : await carriedPresence(ctx, operation, group, from, presenceUid, now);
    await ctx.store.putIndex(operation, { role: 'groups', key: group, connectionId: newId, env: true }, now, presence?.index);
    if (!(await ctx.store.putMembership(operation, newId, group, now, presence?.membership)).existed) added++;
  }
  try {
    await ctx.store.updateConnection(operation, newId, {
      expression: `${old.uid !== undefined ? 'SET #uid = :uid ' : ''}ADD #n :added`,
      names: { '#n': 'groupCount', ...(old.uid !== undefined ? { '#uid': 'uid' } : {}) },
      values: { ':added': added, ...(old.uid !== undefined ? { ':uid': old.uid } : {}) },
    });
  } catch (error) {
    // The new connection left meanwhile: senders that meet the old one follow resumedBy to it, and find it held in turn.
    if (!(error instanceof ConditionFailed)) throw error;
    return { resumed: false, from, reason: 'gone' };
  }
  const carried = oldSession?.session;
  if (carried && Object.keys(carried).length > 0) {
    const current = (await ctx.store.getSession(operation, newId, ['session']))?.session ?? {};
    await ctx.store.updateSession(operation, newId, {
      expression: 'SET #s = :s ADD #v :one',
      names: { '#s': 'session', '#v': 'version' },
      values: { ':s': { ...current, ...carried }, ':one': 1 },
    });
  }
  await ctx.store.deleteItems(operation, itemsOf(old, groups));
  const pending = await ctx.store.queryPending(operation, from, Date.now());
  for (const push of pending) {
    const wrapped = envelope(push.pushId, Buffer.from(push.message, 'utf8'), true);
    if (wrapped) await postBytes(ctx, newId, wrapped);
  }
  if (pending.length > 0)
    await ctx.store.deleteItems(
      operation,
      pending.map((push) => ({ role: 'pending' as const, key: push.pushId, connectionId: from })),
    );
  await postBytes(ctx, newId, Buffer.from(controlMessage({ type: 'resumed', from, replayed: pending.length })));
  return { resumed: true, from, replayed: pending.length };
}

/**
 * A presence member's attributes for the connection that takes over (presence.ts): the same uid, user
 * info and join time, so the group sees neither a member_removed nor a member_added for the resume.
 */
async function carriedPresence(ctx: GatewayContext, operation: string, group: string, from: string, presenceUid: string, now: number) {
  const member = (await ctx.store.queryPresence(operation, group, now)).find((m) => m.connectionId === from);
  return {
    index: { [PRESENCE_UID]: presenceUid, [PRESENCE_INFO]: member?.info ?? 'null', [JOINED_AT]: member?.joinedAt ?? now },
    membership: { [PRESENCE_UID]: presenceUid },
  };
}

function postBytes(ctx: GatewayContext, connectionId: string, bytes: Buffer): Promise<'sent' | 'gone'> {
  return ctx.api.post(connectionId, bytes, sha256Hex(bytes));
}

/**
 * closeClient / destroyClient / closeUid, after their DELETE: a connection closed on purpose is
 * never held or resumed, whatever close code AWS reports to `$disconnect` for a DELETE (not
 * documented; the local gateway's is 1000, which is not held either). Best effort: the close has
 * happened, so a failure here is logged, not thrown (at worst the connection is held for the window
 * and expires by TTL).
 */
export async function markClosed(ctx: GatewayContext, operation: string, connectionId: string): Promise<void> {
  try {
    await ctx.store.updateConnection(operation, connectionId, {
      expression: 'SET #c = :t',
      names: { '#c': 'closed', '#rw': 'rw' },
      values: { ':t': true },
      condition: 'attribute_exists(#rw)',
    });
  } catch (error) {
    if (!(error instanceof ConditionFailed))
      ctx.logger.warn(`gateway: ${operation} could not mark ${connectionId} closed: ${(error as Error)?.message ?? error}`, error);
  }
}
