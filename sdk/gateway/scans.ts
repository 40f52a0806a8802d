/**
 * The getAll* family: parallel scans (every page, eventually consistent) of the connections table
 * (small items: ids and counts), the sessions table (getAllClientSessions) or an index table. Each
 * page is folded into the answer as it arrives; a page that fails fails the call: never a partial
 * answer.
 */
import { GatewayTables } from '../tables.ts';
import type { Session } from '../validation.ts';
import type { GatewayContext } from './context.ts';

export async function getAllClientCount(ctx: GatewayContext): Promise<number> {
  let count = 0;
  await ctx.store.scan('getAllClientCount', 'connections', { count: true, consistent: false, nowMs: Date.now() }, (_items, n) => {
    count += n;
  });
  return count;
}

export async function getAllClientIdCount(ctx: GatewayContext): Promise<number> {
  return getAllClientCount(ctx);
}

export async function getAllClientIdList(ctx: GatewayContext): Promise<string[]> {
  const ids: string[] = [];
  await ctx.store.scan('getAllClientIdList', 'connections', { attributes: ['connectionId'], consistent: false, nowMs: Date.now() }, (items) => {
    for (const item of items) ids.push(item.connectionId as string);
  });
  return ids;
}

export async function getAllClientSessions(ctx: GatewayContext): Promise<Record<string, Session>> {
  const sessions: Record<string, Session> = {};
  await ctx.store.scan('getAllClientSessions', 'sessions', { attributes: ['connectionId', 'session'], consistent: false, nowMs: Date.now() }, (items) => {
    for (const item of items) sessions[item.connectionId as string] = (item.session as Session | undefined) ?? {};
  });
  return sessions;
}

export async function getAllUidList(ctx: GatewayContext): Promise<string[]> {
  return distinctKeys(ctx, 'getAllUidList', 'uids', 'uid');
}

export async function getAllUidCount(ctx: GatewayContext): Promise<number> {
  return (await distinctKeys(ctx, 'getAllUidCount', 'uids', 'uid')).length;
}

export async function getAllGroupIdList(ctx: GatewayContext): Promise<string[]> {
  return distinctKeys(ctx, 'getAllGroupIdList', 'groups', 'group');
}

/**
 * group -> the connection ids of its members, for every group with at least one member (GatewayWorker's
 * getAllGroupClientIdList, as lists, without its early stop: nothing is skipped, and a failed page
 * fails the call rather than giving part of the answer).
 *
 * Read from the groups index, the same items sends use: a stale index item (a connection gone
 * without its `$disconnect`, or a crash leftover) is counted until a send's 410 prunes it or TTL
 * removes it, exactly as sendToGroup would post to it. Ids are in no particular order.
 *
 * Cost: one parallel Scan of the groups index (`scanSegments` segments, every page, eventually
 * consistent): 0.5 RCU per 4 KB of index items (each is a group name, a connection id and a TTL),
 * whatever the size of the sessions.
 */
export async function getAllGroupClientIdList(ctx: GatewayContext): Promise<Record<string, string[]>> {
  return Object.fromEntries(await scanGroupMembers(ctx, 'getAllGroupClientIdList'));
}

export async function getAllGroupClientIdCount(ctx: GatewayContext): Promise<Record<string, number>> {
  const members = await scanGroupMembers(ctx, 'getAllGroupClientIdCount');
  return Object.fromEntries([...members].map(([group, ids]) => [group, ids.length]));
}

/**
 * group -> the distinct uids of its members, for every group with at least one member; members
 * without a uid are skipped (a group none of whose members has one maps to []), never a reason to
 * stop. Unlike GatewayWorker, whose map leaves such groups out and whose loop stops at the first
 * connection without a uid, silently dropping the rest.
 *
 * Index-driven like getAllGroupClientIdList: members from the groups index, their uids from the uids
 * index (the items sendToUid uses), joined on the connection id. Cost: two parallel Scans run at
 * the same time, of the groups index and of the uids index, eventually consistent: 0.5 RCU per
 * 4 KB of index items. Reading the uids from the connection items instead costs more in all but
 * one case: BatchGetItem is billed per item, each rounded up to 4 KB of the whole item, session
 * included (at least 0.5 RCU per distinct member, 100 keys a request: 10,000 members >= 5,000 RCU,
 * where the uids index of 10,000 bound connections, about a hundred bytes an item, scans for
 * ~125), and a Scan of the connections table reads every connection with its session. BatchGet
 * would only win when very few of the bound connections are in any group (fewer members than
 * about 1 in 40 bound connections).
 *
 * Being index-driven, a uid index item left by a crash (a rebind or unbind stopped before its
 * last delete) counts like a binding, as it does for sendToUid; getUidListByGroup reads the uid
 * from the connection items and so may differ in that case.
 */
export async function getAllGroupUidList(ctx: GatewayContext): Promise<Record<string, string[]>> {
  const byGroup = await groupUids(ctx, 'getAllGroupUidList');
  return Object.fromEntries([...byGroup].map(([group, uids]) => [group, [...uids]]));
}

export async function getAllGroupUidCount(ctx: GatewayContext): Promise<Record<string, number>> {
  const byGroup = await groupUids(ctx, 'getAllGroupUidCount');
  return Object.fromEntries([...byGroup].map(([group, uids]) => [group, uids.size]));
}

/** Every group -> its members' connection ids, from one parallel Scan of the groups index. */
export async function scanGroupMembers(ctx: GatewayContext, operation: string): Promise<Map<string, string[]>> {
  const key = GatewayTables.groups.partitionKey;
  const members = new Map<string, string[]>();
  await ctx.store.scan(operation, 'groups', { attributes: [key, 'connectionId'], consistent: false, nowMs: Date.now() }, (items) => {
    for (const item of items) {
      const group = item[key] as string;
      const id = item.connectionId as string;
      const ids = members.get(group);
      if (ids) ids.push(id);
      else members.set(group, [id]);
    }
  });
  return members;
}

/** Every group -> the distinct uids of its members: the groups index and the uids index, scanned at once. */
export async function groupUids(ctx: GatewayContext, operation: string): Promise<Map<string, Set<string>>> {
  const key = GatewayTables.uids.partitionKey;
  const uidsOf = new Map<string, string[]>(); // connection id -> uids (more than one only for a crash leftover)
  const [members] = await Promise.all([
    scanGroupMembers(ctx, operation),
    ctx.store.scan(operation, 'uids', { attributes: [key, 'connectionId'], consistent: false, nowMs: Date.now() }, (items) => {
      for (const item of items) {
        const id = item.connectionId as string;
        const uids = uidsOf.get(id);
        if (uids) uids.push(item[key] as string);
        else uidsOf.set(id, [item[key] as string]);
      }
    }),
  ]);
  const result = new Map<string, Set<string>>();
  for (const [group, ids] of members) {
    const uids = new Set<string>();
    for (const id of ids) for (const uid of uidsOf.get(id) ?? []) uids.add(uid);
    result.set(group, uids);
  }
  return result;
}

export async function distinctKeys(ctx: GatewayContext, operation: string, role: 'uids' | 'groups', attribute: string): Promise<string[]> {
  const keys = new Set<string>();
  await ctx.store.scan(operation, role, { attributes: [attribute], consistent: false, nowMs: Date.now() }, (items) => {
    for (const item of items) keys.add(item[attribute] as string);
  });
  return [...keys];
}
