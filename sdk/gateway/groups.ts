/**
 * Group membership, in three kinds of item: the groups index item (group -> connection, what
 * sendToGroup reads), the membership item (connection -> group, what $disconnect, a 410 prune and
 * getGroupsByClientId read), and `groupCount` on the small connection item, whose conditional update
 * is what checks the connection is live and enforces MAX_GROUPS_PER_CONNECTION. None of them holds
 * the session or the other groups, so a join or a leave costs three small writes whatever the
 * connection carries.
 *
 * Write order, as for uids (bindings.ts): when adding, the index item first, then the membership
 * item, then the connection item; when removing, the membership item, then the connection item,
 * and the index item last. A crash in between leaves at worst an index item without the rest (an
 * extra recipient, pruned on 410 or by TTL) or a groupCount off by one for that connection, never a
 * member hidden from a send.
 */
import { ConditionFailed, forEachConcurrent, type IndexKey, type MembershipItem } from '../ConnectionStore.ts';
import { ConnectionGoneError, LimitExceededError, type GatewayError } from '../errors.ts';
import { checkClientId, checkGroup, MAX_GROUPS_PER_CONNECTION } from '../validation.ts';
import { errorText } from './options.ts';
import { undoIndexWrite, type GatewayContext } from './context.ts';
import type { BindOptions } from '../bindToken.ts';

/** Attributes a presence join adds to the index item and to the membership item (presence.ts). */
export interface MembershipAttributes {
  readonly index: Readonly<Record<string, unknown>>;
  readonly membership: Readonly<Record<string, unknown>>;
}

/** joinGroup's conditional update, tried again when a concurrent leaveGroup made room in between. */
const JOIN_ATTEMPTS = 3;

/** The connection item's count of memberships. */
const COUNT = 'groupCount';

/**
 * Adds the client to the group (idempotent). The cap is a condition of the connection-item update,
 * so two joins racing for the last place cannot both get it; joining a group the client is in
 * (its membership item existed) only checks that the connection is live (a read) and changes no
 * count. Only a refused join reads the connection item after the update (gone or full?); any failure
 * removes the index and membership items this call created, so that no send reaches the client
 * through a membership the caller was told failed (a send in the moment between can reach it once,
 * as after a crash).
 */
export async function joinGroup(ctx: GatewayContext, clientId: string, group: string, options?: BindOptions, extra?: MembershipAttributes): Promise<void> {
  checkClientId(clientId);
  checkGroup(group);
  await ctx.bindTokens.authorize('joinGroup', clientId, options, ctx.ownConnection);
  const now = Date.now();
  const index: IndexKey = { role: 'groups', key: group, connectionId: clientId };
  const { existed } = await ctx.store.putIndex('joinGroup', index, now, extra?.index);
  // A hook that throws simulates a crash here (only the index item written): nothing is undone, as after a real one.
  await ctx.hooks.afterIndexWrite?.({ operation: 'joinGroup', clientId, group });
  let member: { existed: boolean };
  try {
    member = await ctx.store.putMembership('joinGroup', clientId, group, now, extra?.membership);
  } catch (error) {
    if (!existed) await undoIndexWrite(ctx, 'joinGroup', index);
    throw error;
  }
  // Removes what this call wrote, or with `stale`, also what was there before: the connection does
  // not count the membership, so those items are stale.
  const undo = async (stale: boolean) => {
    if (stale || !existed) await undoIndexWrite(ctx, 'joinGroup', index);
    if (stale || !member.existed) await undoMembershipWrite(ctx, clientId, group);
  };
  if (member.existed) {
    let live: boolean;
    let envelope: boolean | undefined;
    try {
      const connection = await ctx.store.getConnection('joinGroup', clientId, ['connectionId', 'env']);
      live = connection !== undefined;
      envelope = connection?.env;
    } catch (error) {
      await undo(false);
      throw error;
    }
    if (live) {
      if (envelope === true) await ctx.store.putIndex('joinGroup', { ...index, env: true }, now, extra?.index);
      return;
    }
    await undo(true);
    throw new ConnectionGoneError(clientId);
  }
  for (let attempt = 1; ; attempt++) {
    let refusal: GatewayError;
    try {
      const updated = await ctx.store.updateConnection('joinGroup', clientId, {
        expression: 'ADD #n :one',
        // A connection another one took over (recovery.ts) is gone for joins: its successor has the groups.
        names: { '#n': COUNT, '#rb': 'resumedBy' },
        values: { ':one': 1, ':max': MAX_GROUPS_PER_CONNECTION },
        condition: '(attribute_not_exists(#n) OR #n < :max) AND attribute_not_exists(#rb)',
        // ALL_NEW costs no more than NONE here (the item is small) and says whether it takes envelopes.
        returnValues: 'ALL_NEW',
      });
      // A connection of the browser client (docs/guides/recovery.md): the index item says so, for sends.
      // The same item again with the flag: a presence member's attributes (extra) stay on it.
      if (updated?.env === true) await ctx.store.putIndex('joinGroup', { ...index, env: true }, now, extra?.index);
      return;
    } catch (error) {
      if (!(error instanceof ConditionFailed)) {
        // The count may or may not include the membership now (a timeout): the items this call
        // created go, so that sends agree with the error the caller gets.
        await undo(false);
        throw error;
      }
      // Gone or full: which one, from the item as it is now.
      let current: { groupCount?: number; resumedBy?: string } | undefined;
      try {
        current = await ctx.store.getConnection('joinGroup', clientId, ['connectionId', COUNT, 'resumedBy']);
      } catch (readError) {
        await undo(true);
        throw readError;
      }
      if (current?.resumedBy !== undefined) current = undefined; // taken over: gone
      if (current && (current.groupCount ?? 0) < MAX_GROUPS_PER_CONNECTION && attempt < JOIN_ATTEMPTS) continue; // a leaveGroup made room meanwhile
      refusal = current ? new LimitExceededError(clientId, MAX_GROUPS_PER_CONNECTION) : new ConnectionGoneError(clientId);
    }
    await undo(true);
    throw refusal;
  }
}

/**
 * Removes the client from the group (a no-op when not a member). ConnectionGoneError when not
 * connected. A presence membership removed is handed to `onDeparture` (presence.ts announces it)
 * once its index item is gone, also when the connection turns out gone: a $disconnect running
 * meanwhile may no longer find the membership.
 */
export async function leaveGroup(
  ctx: GatewayContext,
  clientId: string,
  group: string,
  options?: BindOptions,
  onDeparture?: (membership: MembershipItem) => Promise<void>,
): Promise<void> {
  checkClientId(clientId);
  checkGroup(group);
  // Options mean a leave a page asked for: its bind token is checked as a join's.
  if (options !== undefined) await ctx.bindTokens.authorize('leaveGroup', clientId, options, ctx.ownConnection);
  const index: IndexKey = { role: 'groups', key: group, connectionId: clientId };
  const { existed: wasMember, presenceUid } = await ctx.store.deleteMembership('leaveGroup', clientId, group);
  const live = wasMember ? await uncount(ctx, 'leaveGroup', clientId) : (await ctx.store.getConnection('leaveGroup', clientId, ['connectionId'])) !== undefined;
  const departed = async () => {
    if (presenceUid !== undefined) await onDeparture?.({ group, presenceUid });
  };
  if (!live) {
    await ctx.store.deleteIndex('leaveGroup', index);
    await departed();
    throw new ConnectionGoneError(clientId);
  }
  await ctx.hooks.beforeIndexDelete?.({ operation: 'leaveGroup', clientId, group });
  await ctx.store.deleteIndex('leaveGroup', index);
  await departed();
}

/** Removes every member from the group; the connections stay open and their sessions are untouched. */
export async function ungroup(ctx: GatewayContext, group: string): Promise<void> {
  checkGroup(group);
  const ids = await ctx.store.queryIndex('ungroup', 'groups', group, Date.now());
  await forEachConcurrent(ids, ctx.concurrency, async (id) => {
    const { existed } = await ctx.store.deleteMembership('ungroup', id, group);
    if (existed) await uncount(ctx, 'ungroup', id); // gone: a stale index item, deleted below
  });
  await ctx.store.deleteItems(
    'ungroup',
    ids.map((connectionId) => ({ role: 'groups', key: group, connectionId })),
  );
}

/**
 * Takes one membership off the connection's count. False when the connection is gone; a count
 * already at 0 (a crash left it low) stays at 0.
 */
async function uncount(ctx: GatewayContext, operation: string, clientId: string): Promise<boolean> {
  try {
    await ctx.store.updateConnection(operation, clientId, {
      expression: 'ADD #n :minus',
      names: { '#n': COUNT },
      values: { ':minus': -1, ':zero': 0 },
      condition: '#n > :zero',
    });
    return true;
  } catch (error) {
    if (!(error instanceof ConditionFailed)) throw error;
    return (await ctx.store.getConnection(operation, clientId, ['connectionId'])) !== undefined;
  }
}

/** undoIndexWrite's counterpart for the membership item (best effort, logged). */
async function undoMembershipWrite(ctx: GatewayContext, clientId: string, group: string): Promise<void> {
  try {
    await ctx.store.deleteMembership('joinGroup', clientId, group);
  } catch (error) {
    ctx.logger.warn(`gateway: joinGroup could not remove its membership item (${clientId}, ${group}): ${errorText(error)}`, error);
  }
}
