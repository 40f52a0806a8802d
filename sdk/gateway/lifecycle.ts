/**
 * A connection's lifecycle ($connect / $disconnect) and reading it whole. Write order: the session
 * item first and the connection item last when registering (the connection item is what makes a
 * connection live, so a crash in between leaves only an orphan session item, removed by TTL); the
 * connection item first when unregistering, so that no join or bind can succeed on it meanwhile;
 * after everything is deleted, member_removed goes to the presence groups the uid has now left.
 */
import { ConnectionStore } from '../ConnectionStore.ts';
import { checkAwsConnectionId, checkClientId, checkEpochMs, checkOptionalString, checkOptionsObject, truncateCodePoints } from '../validation.ts';
import { toRecord, type GatewayContext } from './context.ts';
import { ValidationError } from '../errors.ts';
import { removeConnection } from './recovery.ts';
import type { ConnectionRecord } from './types.ts';

const MAX_USER_AGENT_LENGTH = 1024;

export async function registerConnection(
  ctx: GatewayContext,
  record: { connectionId: string; connectedAt: number; sourceIp?: string; userAgent?: string; envelope?: boolean },
): Promise<void> {
  const input = checkOptionsObject(record, 'record');
  // AWS supplies this id (the $connect event): the loose check, in case its format ever changes.
  const connectionId = checkAwsConnectionId(input.connectionId, 'record.connectionId');
  const connectedAt = checkEpochMs(input.connectedAt, 'record.connectedAt');
  const sourceIp = checkOptionalString(input.sourceIp, 'record.sourceIp', 64);
  const userAgent = checkOptionalString(input.userAgent, 'record.userAgent', Number.POSITIVE_INFINITY);
  const storedUserAgent = userAgent === undefined ? undefined : truncateCodePoints(userAgent, MAX_USER_AGENT_LENGTH);
  if (input.envelope !== undefined && typeof input.envelope !== 'boolean') throw new ValidationError('record.envelope must be a boolean');
  // The browser client's connection (docs/guides/recovery.md): enveloped pushes, and resumable when recovery is on.
  const recovery = input.envelope === true ? { env: true, ...(ctx.recoveryWindowMs > 0 ? { rw: ctx.recoveryWindowMs / 1000 } : {}) } : {};
  const expiresAt = ConnectionStore.expiresAt(connectedAt);
  await ctx.store.putSession('registerConnection', {
    connectionId,
    session: {},
    version: 0,
    ...(sourceIp !== undefined ? { sourceIp } : {}),
    ...(storedUserAgent !== undefined ? { userAgent: storedUserAgent } : {}),
    expiresAt,
  });
  await ctx.store.putConnection('registerConnection', { connectionId, connectedAt, expiresAt, ...recovery });
}

export async function unregisterConnection(ctx: GatewayContext, connectionId: string): Promise<ConnectionRecord | undefined> {
  checkAwsConnectionId(connectionId, 'connectionId');
  // No connection item: never registered, or already removed (by a prune after a 410) with the rest.
  // One another connection took over keeps its item (recovery.ts) and has nothing else left.
  return removeConnection(ctx, 'unregisterConnection', connectionId, []);
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
