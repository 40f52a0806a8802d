/**
 * Group membership: the groups index item and the connection item's `groups` set (at most
 * MAX_GROUPS_PER_CONNECTION), in the same write order as bindings.ts.
 */
import { ConditionFailed, forEachConcurrent, type ConnectionItem, type IndexKey } from '../ConnectionStore.ts';
import { ConnectionGoneError, LimitExceededError, type GatewayError } from '../errors.ts';
import { checkClientId, checkGroup, MAX_GROUPS_PER_CONNECTION } from '../validation.ts';
import { undoIndexWrite, type GatewayContext } from './context.ts';
import type { BindOptions } from '../bindToken.ts';

/** joinGroup's conditional update, tried again when a concurrent leaveGroup made room in between. */
const JOIN_ATTEMPTS = 3;

/**
 * Adds the client to the group (idempotent). ConnectionGoneError when the client is not connected;
 * LimitExceededError when it is already in MAX_GROUPS_PER_CONNECTION (200) other groups (joining a
 * group it is in always succeeds).
 *
 * The cap is a condition of the connection-item update, so two joins racing for the last place
 * cannot both get it. A join costs two writes (the index item, then the update), as before the cap:
 * only a refused one reads the item (gone or full?) and removes the index item it wrote. Any failure
 * of the update removes that index item, so that no send reaches the client through a membership
 * the caller was told failed (a send in the moment between can reach it once, as after a crash).
 */
export async function joinGroup(ctx: GatewayContext, clientId: string, group: string, options?: BindOptions): Promise<void> {
  checkClientId(clientId);
  checkGroup(group);
  await ctx.bindTokens.authorize('joinGroup', clientId, options);
  const index: IndexKey = { role: 'groups', key: group, connectionId: clientId };
  const { existed } = await ctx.store.putIndex('joinGroup', index, Date.now());
  await ctx.hooks.afterIndexWrite?.({ operation: 'joinGroup', clientId, group });
  for (let attempt = 1; ; attempt++) {
    let refusal: GatewayError;
    try {
      await ctx.store.updateConnection('joinGroup', clientId, {
        expression: 'ADD #g :g',
        names: { '#g': 'groups' },
        values: { ':g': new Set([group]), ':max': MAX_GROUPS_PER_CONNECTION, ':group': group },
        condition: 'attribute_not_exists(#g) OR size(#g) < :max OR contains(#g, :group)',
      });
      return;
    } catch (error) {
      if (!(error instanceof ConditionFailed)) {
        // The membership is not on the item (or, after a timeout, may be): the index item this call
        // created goes; one that was there before (the client was already a member) stays.
        if (!existed) await undoIndexWrite(ctx, 'joinGroup', index);
        throw error;
      }
      // Gone or full: which one, from the item as it is now.
      let now: ConnectionItem | undefined;
      try {
        now = await ctx.store.getConnection('joinGroup', clientId, ['connectionId', 'groups']);
      } catch (readError) {
        await undoIndexWrite(ctx, 'joinGroup', index);
        throw readError;
      }
      if (now && !isFull(now.groups, group) && attempt < JOIN_ATTEMPTS) continue; // a leaveGroup made room meanwhile
      refusal = now ? new LimitExceededError(clientId, MAX_GROUPS_PER_CONNECTION) : new ConnectionGoneError(clientId);
    }
    // The item does not list the group: an index item for it (written now or left before) is stale.
    await undoIndexWrite(ctx, 'joinGroup', index);
    throw refusal;
  }
}

export async function leaveGroup(ctx: GatewayContext, clientId: string, group: string): Promise<void> {
  checkClientId(clientId);
  checkGroup(group);
  const index: IndexKey = { role: 'groups', key: group, connectionId: clientId };
  try {
    await ctx.store.updateConnection('leaveGroup', clientId, {
      expression: 'DELETE #g :g',
      names: { '#g': 'groups' },
      values: { ':g': new Set([group]) },
    });
  } catch (error) {
    if (!(error instanceof ConditionFailed)) throw error;
    await ctx.store.deleteIndex('leaveGroup', index);
    throw new ConnectionGoneError(clientId);
  }
  await ctx.hooks.beforeIndexDelete?.({ operation: 'leaveGroup', clientId, group });
  await ctx.store.deleteIndex('leaveGroup', index);
}

export async function ungroup(ctx: GatewayContext, group: string): Promise<void> {
  checkGroup(group);
  const ids = await ctx.store.queryIndex('ungroup', 'groups', group, Date.now());
  await forEachConcurrent(ids, ctx.concurrency, async (id) => {
    try {
      await ctx.store.updateConnection('ungroup', id, { expression: 'DELETE #g :g', names: { '#g': 'groups' }, values: { ':g': new Set([group]) } });
    } catch (error) {
      if (!(error instanceof ConditionFailed)) throw error; // a stale index item: deleted below
    }
  });
  await ctx.store.deleteIndexItems(
    'ungroup',
    ids.map((connectionId) => ({ role: 'groups', key: group, connectionId })),
  );
}

/** Whether joining `group` would take a connection in `groups` past MAX_GROUPS_PER_CONNECTION. */
function isFull(groups: ReadonlySet<string> | undefined, group: string): boolean {
  return (groups?.size ?? 0) >= MAX_GROUPS_PER_CONNECTION && !groups?.has(group);
}
