/**
 * A connection's lifecycle ($connect / $disconnect) and reading it whole. Write order: the session
 * item first and the connection item last when registering (the connection item is what makes a
 * connection live, so a crash in between leaves only an orphan session item, removed by TTL); the
 * connection item first when unregistering, so that no join or bind can succeed on it meanwhile;
 * after everything is deleted, member_removed goes to the presence groups the uid has now left.
 */
import { ConnectionStore } from '../ConnectionStore.ts';
import { checkAwsConnectionId, checkClientId, checkEpochMs, checkOptionalString, checkOptionsObject, truncateCodePoints } from '../validation.ts';
import { itemsOf, toRecord, type GatewayContext } from './context.ts';
import type { ConnectionRecord } from './types.ts';
import { announceDepartures } from './presence.ts';

const MAX_USER_AGENT_LENGTH = 1024;

export async function registerConnection(ctx: GatewayContext, record: { connectionId: string; connectedAt: number; sourceIp?: string; userAgent?: string }): Promise<void> {
  const input = checkOptionsObject(record, 'record');
  // AWS supplies this id (the $connect event): the loose check, in case its format ever changes.
  const connectionId = checkAwsConnectionId(input.connectionId, 'record.connectionId');
  const connectedAt = checkEpochMs(input.connectedAt, 'record.connectedAt');
  const sourceIp = checkOptionalString(input.sourceIp, 'record.sourceIp', 64);
  const userAgent = checkOptionalString(input.userAgent, 'record.userAgent', Number.POSITIVE_INFINITY);
  const storedUserAgent = userAgent === undefined ? undefined : truncateCodePoints(userAgent, MAX_USER_AGENT_LENGTH);
  const expiresAt = ConnectionStore.expiresAt(connectedAt);
  await ctx.store.putSession('registerConnection', {
    connectionId,
    session: {},
    version: 0,
    ...(sourceIp !== undefined ? { sourceIp } : {}),
    ...(storedUserAgent !== undefined ? { userAgent: storedUserAgent } : {}),
    expiresAt,
  });
  await ctx.store.putConnection('registerConnection', { connectionId, connectedAt, expiresAt });
}

export async function unregisterConnection(ctx: GatewayContext, connectionId: string): Promise<ConnectionRecord | undefined> {
  checkAwsConnectionId(connectionId, 'connectionId');
  const old = await ctx.store.deleteConnection('unregisterConnection', connectionId);
  // No connection item: never registered, or already removed (by a prune after a 410) with the rest.
  if (!old) return undefined;
  const [memberships, session] = await Promise.all([
    ctx.store.queryMembershipItems('unregisterConnection', connectionId, Date.now()),
    ctx.store.deleteSession('unregisterConnection', connectionId),
  ]);
  const groups = memberships.map((m) => m.group);
  await ctx.store.deleteItems(
    'unregisterConnection',
    itemsOf(old, groups).filter((item) => item.role !== 'sessions'),
  );
  await announceDepartures(ctx, 'unregisterConnection', memberships);
  return toRecord(old, session, groups);
}

export async function getConnection(ctx: GatewayContext, clientId: string): Promise<ConnectionRecord | undefined> {
  checkClientId(clientId);
  const now = Date.now();
  const [connection, session, groups] = await Promise.all([
    ctx.store.getConnection('getConnection', clientId),
    ctx.store.getSession('getConnection', clientId),
    ctx.store.queryMemberships('getConnection', clientId, now),
  ]);
  return connection ? toRecord(connection, session, groups) : undefined;
}
