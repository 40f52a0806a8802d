/**
 * Uid bindings: the uids index item and the connection item's `uid`, written in the order the
 * Gateway's header comment gives (index first when adding, index last when removing).
 */
import { ConditionFailed, type ConnectionItem, type IndexKey } from '../ConnectionStore.ts';
import { ConnectionGoneError } from '../errors.ts';
import { checkClientId, checkUid } from '../validation.ts';
import { undoIndexWrite, type GatewayContext } from './context.ts';
import type { BindOptions } from '../bindToken.ts';

export async function bindUid(ctx: GatewayContext, clientId: string, uid: string, options?: BindOptions): Promise<void> {
  checkClientId(clientId);
  checkUid(uid);
  await ctx.bindTokens.authorize('bindUid', clientId, options, ctx.ownConnection);
  const index: IndexKey = { role: 'uids', key: uid, connectionId: clientId };
  const { existed } = await ctx.store.putIndex('bindUid', index, Date.now());
  await ctx.hooks.afterIndexWrite?.({ operation: 'bindUid', clientId, uid });
  let old: Partial<ConnectionItem> | undefined;
  try {
    old = await ctx.store.updateConnection('bindUid', clientId, {
      expression: 'SET #uid = :uid',
      // A connection another one took over (recovery.ts) is gone for binds: its successor has the uid.
      names: { '#uid': 'uid', '#rb': 'resumedBy' },
      values: { ':uid': uid },
      condition: 'attribute_not_exists(#rb)',
      // ALL_OLD costs what UPDATED_OLD costs (the item is small) and says whether it takes envelopes.
      returnValues: 'ALL_OLD',
    });
  } catch (error) {
    if (error instanceof ConditionFailed) {
      await undoIndexWrite(ctx, 'bindUid', index);
      throw new ConnectionGoneError(clientId);
    }
    // Any other failure: the caller is told the bind failed, and sends must agree. An index item
    // that was there before this call (the client was already bound to this uid) stays.
    if (!existed) await undoIndexWrite(ctx, 'bindUid', index);
    throw error;
  }
  // A connection of the browser client (docs/guides/recovery.md): the index item says so, for sends.
  if (old?.env === true) await ctx.store.putIndex('bindUid', { ...index, env: true }, Date.now());
  const previous = old?.uid;
  if (previous !== undefined && previous !== uid) {
    await ctx.hooks.beforeIndexDelete?.({ operation: 'bindUid', clientId, uid: previous });
    await ctx.store.deleteIndex('bindUid', { role: 'uids', key: previous, connectionId: clientId });
  }
}

export async function unbindUid(ctx: GatewayContext, clientId: string, uid?: string): Promise<void> {
  checkClientId(clientId);
  const expected = uid === undefined ? undefined : checkUid(uid);
  let old: Partial<ConnectionItem> | undefined;
  try {
    old = await ctx.store.updateConnection('unbindUid', clientId, {
      expression: 'REMOVE #uid',
      names: { '#uid': 'uid' },
      ...(expected === undefined ? {} : { values: { ':uid': expected }, condition: '#uid = :uid' }),
      returnValues: 'UPDATED_OLD',
    });
  } catch (error) {
    if (!(error instanceof ConditionFailed)) throw error;
    const exists = expected !== undefined && (await ctx.store.getConnection('unbindUid', clientId, ['connectionId']));
    if (exists) return; // bound to another uid, or unbound
    if (expected !== undefined) await ctx.store.deleteIndex('unbindUid', { role: 'uids', key: expected, connectionId: clientId });
    throw new ConnectionGoneError(clientId);
  }
  if (old?.uid !== undefined) {
    await ctx.hooks.beforeIndexDelete?.({ operation: 'unbindUid', clientId, uid: old.uid });
    await ctx.store.deleteIndex('unbindUid', { role: 'uids', key: old.uid, connectionId: clientId });
  }
}
