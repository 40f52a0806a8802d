/** The connection item's lifecycle ($connect / $disconnect) and reading it whole. */
import { ConnectionStore } from '../ConnectionStore.ts';
import { checkAwsConnectionId, checkClientId, checkEpochMs, checkOptionalString, checkOptionsObject, truncateCodePoints } from '../validation.ts';
import { indexKeysOf, toRecord, type GatewayContext } from './context.ts';
import type { ConnectionRecord } from './types.ts';

const MAX_USER_AGENT_LENGTH = 1024;
export async function registerConnection(ctx: GatewayContext, record: { connectionId: string; connectedAt: number; sourceIp?: string; userAgent?: string }): Promise<void> {
  const input = checkOptionsObject(record, 'record');
  // AWS supplies this id (the $connect event): the loose check, in case its format ever changes.
  const connectionId = checkAwsConnectionId(input.connectionId, 'record.connectionId');
  const connectedAt = checkEpochMs(input.connectedAt, 'record.connectedAt');
  const sourceIp = checkOptionalString(input.sourceIp, 'record.sourceIp', 64);
  const userAgent = checkOptionalString(input.userAgent, 'record.userAgent', Number.POSITIVE_INFINITY);
  const storedUserAgent = userAgent === undefined ? undefined : truncateCodePoints(userAgent, MAX_USER_AGENT_LENGTH);
  await ctx.store.putConnection('registerConnection', {
    connectionId,
    connectedAt,
    ...(sourceIp !== undefined ? { sourceIp } : {}),
    ...(storedUserAgent !== undefined ? { userAgent: storedUserAgent } : {}),
    session: {},
    version: 0,
    expiresAt: ConnectionStore.expiresAt(connectedAt),
  });
}

export async function unregisterConnection(ctx: GatewayContext, connectionId: string): Promise<ConnectionRecord | undefined> {
  checkAwsConnectionId(connectionId, 'connectionId');
  const old = await ctx.store.deleteConnection('unregisterConnection', connectionId);
  if (!old) return undefined;
  await ctx.store.deleteIndexItems('unregisterConnection', indexKeysOf(old));
  return toRecord(old);
}

export async function getConnection(ctx: GatewayContext, clientId: string): Promise<ConnectionRecord | undefined> {
  checkClientId(clientId);
  const item = await ctx.store.getConnection('getConnection', clientId);
  return item ? toRecord(item) : undefined;
}
