/**
 * Per-client, per-uid and per-group queries: strongly consistent reads of a connection's items, or
 * Queries of the index tables (the reads a send also uses), never a scan.
 */
import { forEachConcurrent } from '../ConnectionStore.ts';
import { checkClientId, checkGroup, checkNameList, checkNames, checkUid, type Session } from '../validation.ts';
import type { GatewayContext } from './context.ts';
import { resolveIndex } from './sending.ts';

export async function getUidByClientId(ctx: GatewayContext, clientId: string): Promise<string | undefined> {
  checkClientId(clientId);
  const item = await ctx.store.getConnection('getUidByClientId', clientId, ['uid']);
  return item?.uid;
}

export async function getGroupsByClientId(ctx: GatewayContext, clientId: string): Promise<string[]> {
  checkClientId(clientId);
  return (await ctx.store.queryMemberships('getGroupsByClientId', clientId, Date.now())).sort();
}

export async function isUidOnline(ctx: GatewayContext, uid: string): Promise<boolean> {
  checkUid(uid);
  return (await ctx.store.countIndex('isUidOnline', 'uids', uid, Date.now())) > 0;
}

export async function getClientIdByUid(ctx: GatewayContext, uid: string): Promise<string[]> {
  checkUid(uid);
  return ctx.store.queryIndex('getClientIdByUid', 'uids', uid, Date.now());
}

export async function isUidsOnline(ctx: GatewayContext, uids: string[]): Promise<Record<string, boolean>> {
  const byUid = await batchQuery(ctx, 'isUidsOnline', 'uids', uids, 'uids');
  return Object.fromEntries(Object.entries(byUid).map(([uid, ids]) => [uid, ids.length > 0]));
}

export async function batchGetClientIdByUid(ctx: GatewayContext, uids: string[]): Promise<Record<string, string[]>> {
  return batchQuery(ctx, 'batchGetClientIdByUid', 'uids', uids, 'uids');
}

/**
 * One strongly consistent Query per distinct key. The result is built with Object.fromEntries, so
 * that a uid or group named "__proto__" is an own key like any other.
 */
export async function batchQuery(
  ctx: GatewayContext,
  operation: string,
  role: 'uids' | 'groups',
  keys: unknown,
  what: string,
): Promise<Record<string, string[]>> {
  const checked = checkNameList(keys, role === 'uids' ? checkUid : checkGroup, what);
  const now = Date.now();
  const lists: string[][] = new Array(checked.length);
  await forEachConcurrent(checked, ctx.concurrency, async (key, i) => {
    lists[i] = await ctx.store.queryIndex(operation, role, key, now);
  });
  return Object.fromEntries(checked.map((key, i) => [key, lists[i]!]));
}

export async function getClientIdListByGroup(ctx: GatewayContext, group: string | string[]): Promise<string[]> {
  const groups = checkNames(group, checkGroup, 'group');
  return [...(await resolveIndex(ctx, 'getClientIdListByGroup', 'groups', groups, new Set())).keys()];
}

export async function getClientCountByGroup(ctx: GatewayContext, group: string): Promise<number> {
  checkGroup(group);
  return ctx.store.countIndex('getClientCountByGroup', 'groups', group, Date.now());
}

export async function getClientIdCountByGroup(ctx: GatewayContext, group: string): Promise<number> {
  return getClientCountByGroup(ctx, group);
}

export async function getClientSessionsByGroup(ctx: GatewayContext, group: string): Promise<Record<string, Session>> {
  checkGroup(group);
  const ids = await ctx.store.queryIndex('getClientSessionsByGroup', 'groups', group, Date.now());
  const items = await ctx.store.getSessions('getClientSessionsByGroup', ids, ['session']);
  const result: Record<string, Session> = {};
  for (const id of ids) {
    const item = items.get(id);
    if (item) result[id] = item.session ?? {};
  }
  return result;
}

export async function getUidListByGroup(ctx: GatewayContext, group: string | string[]): Promise<string[]> {
  const groups = checkNames(group, checkGroup, 'group');
  const ids = [...(await resolveIndex(ctx, 'getUidListByGroup', 'groups', groups, new Set())).keys()];
  const items = await ctx.store.getConnections('getUidListByGroup', ids, ['uid']);
  const uids = new Set<string>();
  for (const id of ids) {
    const uid = items.get(id)?.uid;
    if (uid !== undefined) uids.add(uid);
  }
  return [...uids];
}

export async function getUidCountByGroup(ctx: GatewayContext, group: string | string[]): Promise<number> {
  return (await getUidListByGroup(ctx, group)).length;
}

export async function batchGetClientIdCountByGroup(ctx: GatewayContext, groups: string[]): Promise<Record<string, number>> {
  const checked = checkNameList(groups, checkGroup, 'groups');
  const now = Date.now();
  const counts: number[] = new Array(checked.length);
  await forEachConcurrent(checked, ctx.concurrency, async (group, i) => {
    counts[i] = await ctx.store.countIndex('batchGetClientIdCountByGroup', 'groups', group, now);
  });
  return Object.fromEntries(checked.map((g, i) => [g, counts[i]!]));
}
