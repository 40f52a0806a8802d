/**
 * What the Gateway's concern files share: the context every operation runs in (built once by the
 * Gateway constructor from the checked options) and the helpers more than one concern uses.
 */
import type { BindTokenGuard } from '../bindToken.ts';
import type { ConnectionsApi } from '../ConnectionsApi.ts';
import type { ConnectionItem, ConnectionStore, IndexKey, ItemRef, SessionItem } from '../ConnectionStore.ts';
import { GatewayError, ServiceError } from '../errors.ts';
import type { ResolvedFanoutOptions } from '../Fanout.ts';
import { describe } from '../validation.ts';
import { errorText, type GatewayTestHooks, type HookOperation } from './options.ts';
import type { ConnectionRecord, Message, SendMetrics, SendReport } from './types.ts';

export interface GatewayContext {
  readonly store: ConnectionStore;
  readonly api: ConnectionsApi;
  /** Parallel posts and parallel DynamoDB calls of one operation. */
  readonly concurrency: number;
  readonly maxSessionAttempts: number;
  readonly random: () => number;
  readonly hooks: GatewayTestHooks;
  readonly logger: { warn(message: string, error?: unknown): void };
  readonly onSendCompleted: ((metrics: SendMetrics) => void) | undefined;
  readonly fanout: ResolvedFanoutOptions | undefined;
  readonly retryBackoff: { baseDelayMs: number; maxDelayMs: number };
  /** Checks the bind token of bindUid / joinGroup (sdk/bindToken.ts). */
  readonly bindTokens: BindTokenGuard;
  /**
   * The connection whose event an Events callback is handling (sdk/internal.ts forOwnConnection): its
   * binds need no bind token. Absent on every Gateway a user builds.
   */
  readonly ownConnection?: string;
  /** How long a lost browser-client connection stays resumable; 0: recovery off (docs/guides/recovery.md). */
  readonly recoveryWindowMs: number;
  /** The keys resume tokens are checked with (the bind-token secret's versions); absent without one: no resume. */
  readonly resumeKeys?: () => Promise<readonly Uint8Array[]>;
  /**
   * sendToGroup of this Gateway (sending.ts), for presence announcements: handed in rather than
   * imported, because the send path itself (a 410 prune) announces departures.
   */
  readonly sendToGroup: (group: string, message: Message, options?: { exclude?: string | string[] }) => Promise<SendReport>;
}

/** Recipient connection id -> the index items it was found through (pruned with it on a 410). */
export type Recipients = Map<string, IndexKey[]>;

/**
 * Everything a connection has besides its connection item: the session item, the uid's index item,
 * and per group the membership item and the group's index item. What $disconnect and a 410 remove.
 */
export function itemsOf(connection: Pick<ConnectionItem, 'connectionId' | 'uid'>, groups: readonly string[]): ItemRef[] {
  const connectionId = connection.connectionId;
  const items: ItemRef[] = [{ role: 'sessions', connectionId }];
  if (connection.uid !== undefined) items.push({ role: 'uids', key: connection.uid, connectionId });
  for (const group of groups) items.push({ role: 'groups', key: group, connectionId }, { role: 'memberships', key: group, connectionId });
  return items;
}

export function toRecord(connection: ConnectionItem, session: SessionItem | undefined, groups: readonly string[]): ConnectionRecord {
  return {
    connectionId: connection.connectionId,
    connectedAt: connection.connectedAt,
    ...(session?.sourceIp !== undefined ? { sourceIp: session.sourceIp } : {}),
    ...(session?.userAgent !== undefined ? { userAgent: session.userAgent } : {}),
    ...(connection.uid !== undefined ? { uid: connection.uid } : {}),
    groups: [...groups].sort(),
    session: session?.session ?? {},
    version: session?.version ?? 0,
    ...(connection.expiresAt !== undefined ? { expiresAt: connection.expiresAt } : {}),
  };
}

export function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  return new ServiceError(`unexpected error: ${(error as Error)?.message ?? String(error)}`, {}, { cause: error });
}

/**
 * Removes the index item a bindUid / joinGroup wrote when the connection-item update failed. Best
 * effort: a failed delete is logged (the item is pruned by the next send's 410 or expires by TTL),
 * and the caller gets the error of the update either way.
 */
export async function undoIndexWrite(ctx: GatewayContext, operation: HookOperation, index: IndexKey): Promise<void> {
  try {
    await ctx.store.deleteIndex(operation, index);
  } catch (error) {
    ctx.logger.warn(
      `gateway: ${operation} could not remove its index item (${index.role} ${describe(index.key)}, ${index.connectionId}): ${errorText(error)}`,
      error,
    );
  }
}
