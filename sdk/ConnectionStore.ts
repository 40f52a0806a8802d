/**
 * The DynamoDB side of the SDK: the five tables of sdk/tables.ts and every read and write on them.
 * No transactions; the callers (sdk/gateway/) order the writes. Every call asks for
 * ReturnConsumedCapacity TOTAL and reports it; reads that drive a send, and reads of one
 * connection's items, are strongly consistent; queries and scans paginate to the end, and a failure
 * fails the whole call (no partial results).
 */
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { CONNECTION_MAX_AGE_SECONDS, GatewayTables, TTL_MARGIN_SECONDS, type GatewayTableNames, type GatewayTableRole } from './tables.ts';
import { GatewayError, ServiceError, ThrottledError } from './errors.ts';
import { sleep } from './ConnectionsApi.ts';
import type { Session } from './validation.ts';

/** One DynamoDB call's consumed capacity, per table, as DynamoDB reported it. */
export interface ConsumedCapacityEvent {
  /** The Gateway method that made the call, e.g. 'bindUid' or 'sendToGroup'. */
  readonly operation: string;
  /** The DynamoDB API: GetItem, PutItem, UpdateItem, DeleteItem, Query, Scan, BatchGetItem, BatchWriteItem. */
  readonly command: string;
  readonly table: string;
  readonly capacityUnits: number;
  /** Numbers the DynamoDB calls of one Gateway; a call that touched several tables gives one event per table, sharing this. */
  readonly call: number;
}

/**
 * A connections-table item as stored: small whatever the session and the groups, because every
 * membership change writes it and sendToAll reads it.
 */
export interface ConnectionItem {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly uid?: string;
  /** How many memberships items the connection has (absent: 0); joinGroup's cap is a condition on it. */
  readonly groupCount?: number;
  readonly expiresAt?: number;
  /** The client asked for enveloped pushes (`?gw=1`, the browser client): docs/guides/recovery.md. */
  readonly env?: boolean;
  /** The recovery window in seconds, when the connection is held after an unexpected loss. */
  readonly rw?: number;
  /** Epoch ms until which a lost connection is held for a resume (pushes to it are buffered). */
  readonly heldUntil?: number;
  /** The connection that took this one over: senders that meet this one post there. */
  readonly resumedBy?: string;
  /** Closed on purpose (closeClient / destroyClient): never held, never resumed. */
  readonly closed?: boolean;
}

/** A push waiting in the recovery buffer of a held connection, in push-id order. */
export interface PendingPush {
  readonly pushId: string;
  readonly message: string;
}

/** The buffer's partition of a held connection, in the memberships table (docs/guides/recovery.md). */
export function pendingPartition(connectionId: string): string {
  return `${connectionId}#pending`;
}

/** A sessions-table item: the session, its optimistic-lock version and the handshake identity. */
export interface SessionItem {
  readonly connectionId: string;
  readonly session?: Session;
  readonly version?: number;
  readonly sourceIp?: string;
  readonly userAgent?: string;
  readonly expiresAt?: number;
}

export type IndexRole = 'uids' | 'groups';

/**
 * Presence attributes (sdk/gateway/presence.ts): on a presence member's groups index item the uid,
 * its user info (JSON text) and when it joined; on its membership item the uid alone.
 */
export const PRESENCE_UID = 'presenceUid';
export const PRESENCE_INFO = 'presenceInfo';
export const JOINED_AT = 'joinedAt';

/** One membership of a connection, with the presence uid when it is a presence membership. */
export interface MembershipItem {
  readonly group: string;
  readonly presenceUid?: string;
}

/** One presence member's groups index item. */
export interface PresenceItem {
  readonly connectionId: string;
  readonly uid: string;
  /** The user info as JSON text. */
  readonly info: string;
  /** Epoch ms of the join (ties between a uid's first connections are broken by it). */
  readonly joinedAt: number;
}

/** One index item: `uid` (or `group`) + connectionId. */
export interface IndexKey {
  readonly role: IndexRole;
  readonly key: string;
  readonly connectionId: string;
  /** The index item says the connection takes enveloped pushes. */
  readonly env?: boolean;
}

/** Any item a batch delete can remove: an index item, a membership item or a session item. */
export type ItemRef =
  | IndexKey
  | { readonly role: 'memberships'; readonly key: string; readonly connectionId: string }
  | { readonly role: 'pending'; readonly key: string; readonly connectionId: string }
  | { readonly role: 'sessions'; readonly connectionId: string };

/** One scanned page, handed over as it arrives; a returned promise holds the next page of that segment back. */
export type PageHandler = (items: Array<Record<string, unknown>>, count: number) => void | Promise<void>;

export interface ConnectionStoreOptions {
  readonly scanSegments: number;
  readonly concurrency: number;
  readonly onConsumedCapacity?: (event: ConsumedCapacityEvent) => void;
}

const C = GatewayTables.connections;
const S = GatewayTables.sessions;
const M = GatewayTables.memberships;
const U = GatewayTables.uids;
const G = GatewayTables.groups;
const TTL = C.timeToLiveAttribute;

/** Attempts for a batch call's unprocessed items before giving up. */
const BATCH_ATTEMPTS = 8;

export class ConditionFailed extends Error {}

export class ConnectionStore {
  private calls = 0;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    readonly tables: GatewayTableNames,
    private readonly options: ConnectionStoreOptions,
  ) {}

  /** Epoch seconds a connection item (or an index item written now) may live until. */
  static expiresAt(fromMs: number): number {
    return Math.floor(fromMs / 1000) + CONNECTION_MAX_AGE_SECONDS + TTL_MARGIN_SECONDS;
  }

  // ---- connections: the small item that says a connection is live ----

  async putConnection(operation: string, item: ConnectionItem): Promise<void> {
    await this.call(operation, 'PutItem', () =>
      this.doc.send(new PutCommand({ TableName: this.tables.connections, Item: item, ReturnConsumedCapacity: 'TOTAL' })),
    );
  }

  async getConnection(operation: string, connectionId: string, attributes?: readonly string[]): Promise<ConnectionItem | undefined> {
    return (await this.getItem(operation, this.tables.connections, { [C.partitionKey]: connectionId }, attributes)) as ConnectionItem | undefined;
  }

  /**
   * Deletes the connection item; returns what it held. With `unlessResumed`, keeps (and returns
   * 'resumed' for) an item another connection took over: its `resumedBy` redirects late senders.
   */
  async deleteConnection(operation: string, connectionId: string): Promise<ConnectionItem | undefined>;
  async deleteConnection(operation: string, connectionId: string, unlessResumed: true): Promise<ConnectionItem | undefined | 'resumed'>;
  async deleteConnection(operation: string, connectionId: string, unlessResumed = false): Promise<ConnectionItem | undefined | 'resumed'> {
    try {
      return await this.deleteConnectionItem(operation, connectionId, unlessResumed);
    } catch (error) {
      if (unlessResumed && error instanceof ConditionFailed) return 'resumed';
      throw error;
    }
  }

  private async deleteConnectionItem(operation: string, connectionId: string, unlessResumed: boolean): Promise<ConnectionItem | undefined> {
    const out = await this.call(operation, 'DeleteItem', () =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.tables.connections,
          Key: { [C.partitionKey]: connectionId },
          ...(unlessResumed ? { ConditionExpression: 'attribute_not_exists(#rb)', ExpressionAttributeNames: { '#rb': 'resumedBy' } } : {}),
          ReturnValues: 'ALL_OLD',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    return out.Attributes as ConnectionItem | undefined;
  }

  /**
   * Deletes the connection item unless it is younger than `connectedBeforeMs` (a connection whose
   * `$connect` may still be running answers 410 too) or may be resumed (`rw`: the recovery path
   * decides, sdk/gateway/recovery.ts). Returns 'young' when it was kept.
   */
  async pruneConnection(operation: string, connectionId: string, connectedBeforeMs: number): Promise<ConnectionItem | undefined | 'young'> {
    try {
      const out = await this.call(operation, 'DeleteItem', () =>
        this.doc.send(
          new DeleteCommand({
            TableName: this.tables.connections,
            Key: { [C.partitionKey]: connectionId },
            ConditionExpression: 'attribute_not_exists(#id) OR (#at < :cutoff AND attribute_not_exists(#rw))',
            ExpressionAttributeNames: { '#id': C.partitionKey, '#at': 'connectedAt', '#rw': 'rw' },
            ExpressionAttributeValues: { ':cutoff': connectedBeforeMs },
            ReturnValues: 'ALL_OLD',
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
      return out.Attributes as ConnectionItem | undefined;
    } catch (error) {
      if (error instanceof ConditionFailed) return 'young';
      throw error;
    }
  }

  /**
   * Updates an existing connection item (the condition always includes attribute_exists, so an
   * update never creates an item). Throws ConditionFailed when the condition fails.
   */
  async updateConnection(operation: string, connectionId: string, update: ItemUpdate): Promise<Partial<ConnectionItem> | undefined> {
    return (await this.updateExisting(operation, this.tables.connections, C.partitionKey, connectionId, update)) as Partial<ConnectionItem> | undefined;
  }

  /** Connection items by id (BatchGetItem, strongly consistent); missing ids are absent. */
  async getConnections(operation: string, ids: readonly string[], attributes: readonly string[]): Promise<Map<string, ConnectionItem>> {
    return this.batchGet<ConnectionItem>(operation, this.tables.connections, ids, attributes);
  }

  // ---- sessions ----

  async putSession(operation: string, item: SessionItem): Promise<void> {
    await this.call(operation, 'PutItem', () =>
      this.doc.send(new PutCommand({ TableName: this.tables.sessions, Item: item, ReturnConsumedCapacity: 'TOTAL' })),
    );
  }

  async getSession(operation: string, connectionId: string, attributes?: readonly string[]): Promise<SessionItem | undefined> {
    return (await this.getItem(operation, this.tables.sessions, { [S.partitionKey]: connectionId }, attributes)) as SessionItem | undefined;
  }

  /** Like updateConnection, on the session item: never creates one, ConditionFailed when it is gone. */
  async updateSession(operation: string, connectionId: string, update: ItemUpdate): Promise<void> {
    await this.updateExisting(operation, this.tables.sessions, S.partitionKey, connectionId, update);
  }

  /** Deletes the session item; returns what it held (the session onClose gets). */
  async deleteSession(operation: string, connectionId: string): Promise<SessionItem | undefined> {
    const out = await this.call(operation, 'DeleteItem', () =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.tables.sessions,
          Key: { [S.partitionKey]: connectionId },
          ReturnValues: 'ALL_OLD',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    return out.Attributes as SessionItem | undefined;
  }

  /** Session items by id (BatchGetItem, strongly consistent); missing ids are absent. */
  async getSessions(operation: string, ids: readonly string[], attributes: readonly string[]): Promise<Map<string, SessionItem>> {
    return this.batchGet<SessionItem>(operation, this.tables.sessions, ids, attributes);
  }

  // ---- memberships: connection -> group ----

  /**
   * Writes (or refreshes) a membership item; whether it existed before (ReturnValues ALL_OLD costs
   * nothing extra). `extra` adds attributes (a presence member's `presenceUid`).
   */
  async putMembership(
    operation: string,
    connectionId: string,
    group: string,
    nowMs: number,
    extra?: Readonly<Record<string, unknown>>,
  ): Promise<{ existed: boolean }> {
    const out = await this.call(operation, 'PutItem', () =>
      this.doc.send(
        new PutCommand({
          TableName: this.tables.memberships,
          Item: { ...extra, [M.partitionKey]: connectionId, [M.sortKey]: group, [TTL]: ConnectionStore.expiresAt(nowMs) },
          ReturnValues: 'ALL_OLD',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    return { existed: out.Attributes !== undefined };
  }

  /** Deletes a membership item; whether there was one, and the presence uid it carried. */
  async deleteMembership(operation: string, connectionId: string, group: string): Promise<{ existed: boolean; presenceUid?: string }> {
    const out = await this.call(operation, 'DeleteItem', () =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.tables.memberships,
          Key: { [M.partitionKey]: connectionId, [M.sortKey]: group },
          ReturnValues: 'ALL_OLD',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    const presenceUid = out.Attributes?.[PRESENCE_UID];
    return { existed: out.Attributes !== undefined, ...(typeof presenceUid === 'string' ? { presenceUid } : {}) };
  }

  /** The groups one connection is in (a strongly consistent Query of its memberships, every page). */
  async queryMemberships(operation: string, connectionId: string, nowMs: number): Promise<string[]> {
    const groups: string[] = [];
    await this.queryPages(operation, this.tables.memberships, M.partitionKey, connectionId, nowMs, { attribute: M.sortKey }, (items) => {
      for (const item of items) groups.push(item[M.sortKey] as string);
    });
    return groups;
  }

  /**
   * The memberships of one connection with the presence uid of each presence membership (what
   * $disconnect and a 410 prune need to announce member_removed); strongly consistent, every page.
   */
  async queryMembershipItems(operation: string, connectionId: string, nowMs: number): Promise<MembershipItem[]> {
    const memberships: MembershipItem[] = [];
    await this.queryPages(operation, this.tables.memberships, M.partitionKey, connectionId, nowMs, { attributes: [M.sortKey, PRESENCE_UID] }, (items) => {
      for (const item of items) {
        const presenceUid = item[PRESENCE_UID];
        memberships.push({ group: item[M.sortKey] as string, ...(typeof presenceUid === 'string' ? { presenceUid } : {}) });
      }
    });
    return memberships;
  }

  // ---- uid and group index items ----

  /**
   * Writes (or refreshes) an index item. Returns whether it existed before: a caller that must undo
   * the write removes only an item it created (ReturnValues ALL_OLD costs no extra capacity).
   */
  async putIndex(operation: string, index: IndexKey, nowMs: number, extra?: Readonly<Record<string, unknown>>): Promise<{ existed: boolean }> {
    const table = this.indexTable(index.role);
    const out = await this.call(operation, 'PutItem', () =>
      this.doc.send(
        new PutCommand({
          TableName: table.name,
          Item: {
            ...extra,
            [table.partitionKey]: index.key,
            connectionId: index.connectionId,
            [TTL]: ConnectionStore.expiresAt(nowMs),
            ...(index.env ? { env: true } : {}),
          },
          ReturnValues: 'ALL_OLD',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    return { existed: out.Attributes !== undefined };
  }

  async deleteIndex(operation: string, index: IndexKey): Promise<void> {
    const table = this.indexTable(index.role);
    await this.call(operation, 'DeleteItem', () =>
      this.doc.send(
        new DeleteCommand({
          TableName: table.name,
          Key: { [table.partitionKey]: index.key, connectionId: index.connectionId },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
  }

  /** Every connection id in one uid's or group's index, strongly consistent, every page. */
  async queryIndex(operation: string, role: IndexRole, key: string, nowMs: number): Promise<string[]> {
    const ids: string[] = [];
    const table = this.indexTable(role);
    await this.queryPages(operation, table.name, table.partitionKey, key, nowMs, { attribute: 'connectionId' }, (items) => {
      for (const item of items) ids.push(item.connectionId as string);
    });
    return ids;
  }

  /**
   * The presence members of one group: the group's index items that carry a presence uid, strongly
   * consistent, every page (plain members of the same group are skipped).
   */
  async queryPresence(operation: string, group: string, nowMs: number): Promise<PresenceItem[]> {
    const members: PresenceItem[] = [];
    await this.queryPages(
      operation,
      this.tables.groups,
      G.partitionKey,
      group,
      nowMs,
      { attributes: ['connectionId', PRESENCE_UID, PRESENCE_INFO, JOINED_AT] },
      (items) => {
        for (const item of items) {
          const uid = item[PRESENCE_UID];
          if (typeof uid !== 'string') continue;
          members.push({
            connectionId: item.connectionId as string,
            uid,
            info: typeof item[PRESENCE_INFO] === 'string' ? (item[PRESENCE_INFO] as string) : 'null',
            joinedAt: typeof item[JOINED_AT] === 'number' ? (item[JOINED_AT] as number) : 0,
          });
        }
      },
    );
    return members;
  }

  /** Like queryIndex, with whether each connection takes enveloped pushes (the same items, the same read units). */
  async queryRecipients(operation: string, role: IndexRole, key: string, nowMs: number): Promise<Array<{ connectionId: string; env: boolean }>> {
    const out: Array<{ connectionId: string; env: boolean }> = [];
    const table = this.indexTable(role);
    await this.queryPages(operation, table.name, table.partitionKey, key, nowMs, { attributes: ['connectionId', 'env'] }, (items) => {
      for (const item of items) out.push({ connectionId: item.connectionId as string, env: item.env === true });
    });
    return out;
  }

  // ---- the recovery buffer: pushes to a held connection (memberships table, partition `<id>#pending`) ----

  async putPending(operation: string, connectionId: string, push: PendingPush, expiresAt: number): Promise<void> {
    await this.call(operation, 'PutItem', () =>
      this.doc.send(
        new PutCommand({
          TableName: this.tables.memberships,
          Item: { [M.partitionKey]: pendingPartition(connectionId), [M.sortKey]: push.pushId, message: push.message, [TTL]: expiresAt },
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
  }

  /** A held connection's buffered pushes in push-id order (strongly consistent, every page). */
  async queryPending(operation: string, connectionId: string, nowMs: number): Promise<PendingPush[]> {
    const out: PendingPush[] = [];
    await this.queryPages(
      operation,
      this.tables.memberships,
      M.partitionKey,
      pendingPartition(connectionId),
      nowMs,
      { attributes: [M.sortKey, 'message'] },
      (items) => {
        for (const item of items) out.push({ pushId: item[M.sortKey] as string, message: item.message as string });
      },
    );
    return out;
  }

  /** How many connection ids one uid or group has, strongly consistent (Select COUNT, every page). */
  async countIndex(operation: string, role: IndexRole, key: string, nowMs: number): Promise<number> {
    let count = 0;
    const table = this.indexTable(role);
    await this.queryPages(operation, table.name, table.partitionKey, key, nowMs, 'count', (_items, pageCount) => {
      count += pageCount;
    });
    return count;
  }

  // ---- several tables ----

  /**
   * Deletes many items of the sessions, memberships, uids and groups tables (BatchWriteItem, 25 at a
   * time, unprocessed items retried); a single item is one DeleteItem.
   */
  async deleteItems(operation: string, items: readonly ItemRef[]): Promise<void> {
    if (items.length === 0) return;
    if (items.length === 1 && (items[0]!.role === 'uids' || items[0]!.role === 'groups')) return this.deleteIndex(operation, items[0] as IndexKey);
    const requests: Array<{ table: string; request: { DeleteRequest: { Key: Record<string, unknown> } } }> = [];
    const seen = new Set<string>();
    for (const item of items) {
      const { table, key } = this.keyOf(item);
      const id = `${table}\n${JSON.stringify(key)}`;
      if (seen.has(id)) continue;
      seen.add(id);
      requests.push({ table, request: { DeleteRequest: { Key: key } } });
    }
    const chunks: Array<typeof requests> = [];
    for (let i = 0; i < requests.length; i += 25) chunks.push(requests.slice(i, i + 25));
    await forEachConcurrent(chunks, this.options.concurrency, async (chunk) => {
      let pending: Record<string, Array<Record<string, unknown>>> = {};
      for (const { table, request } of chunk) (pending[table] ??= []).push(request);
      for (let attempt = 0; Object.keys(pending).length > 0; attempt++) {
        if (attempt >= BATCH_ATTEMPTS) throw new ThrottledError(`BatchWriteItem left items unprocessed after ${BATCH_ATTEMPTS} attempts`);
        if (attempt > 0) await sleep(Math.random() * Math.min(1000, 25 * 2 ** attempt));
        const requestItems = pending;
        const out = await this.call(operation, 'BatchWriteItem', () =>
          this.doc.send(new BatchWriteCommand({ RequestItems: requestItems as never, ReturnConsumedCapacity: 'TOTAL' })),
        );
        pending = (out.UnprocessedItems ?? {}) as typeof pending;
        for (const key of Object.keys(pending)) if ((pending[key] ?? []).length === 0) delete pending[key];
      }
    });
  }

  /**
   * A full parallel scan (`scanSegments` segments, every page of each). `attributes` projects the
   * items; `count` only counts; `pageLimit` caps the items a page reads, so that a caller streaming
   * the pages holds few at a time. Each segment fetches its next page while `onItems` handles the
   * current one, and waits for `onItems` before asking for the page after: at most two pages per
   * segment are held. Items past their TTL (not yet deleted by DynamoDB) are left out.
   */
  async scan(
    operation: string,
    target: GatewayTableRole,
    request: { attributes?: readonly string[]; count?: boolean; consistent: boolean; nowMs: number; pageLimit?: number },
    onItems: PageHandler,
  ): Promise<void> {
    const tableName = this.tables[target];
    const projection = request.attributes
      ? projectionOf(request.attributes)
      : { ProjectionExpression: undefined, ExpressionAttributeNames: {} as Record<string, string> };
    const segments = Math.max(1, this.options.scanSegments);
    const page = (segment: number, exclusiveStartKey: Record<string, unknown> | undefined) =>
      this.call(operation, 'Scan', () =>
        this.doc.send(
          new ScanCommand({
            TableName: tableName,
            ...(segments > 1 ? { Segment: segment, TotalSegments: segments } : {}),
            // A connection another one took over (docs/guides/recovery.md) is not listed twice: its successor is.
            FilterExpression:
              target === 'connections'
                ? '(attribute_not_exists(#ttl) OR #ttl >= :now) AND attribute_not_exists(#rb)'
                : 'attribute_not_exists(#ttl) OR #ttl >= :now',
            ExpressionAttributeNames: { ...projection.ExpressionAttributeNames, '#ttl': TTL, ...(target === 'connections' ? { '#rb': 'resumedBy' } : {}) },
            ExpressionAttributeValues: { ':now': Math.floor(request.nowMs / 1000) },
            ...(request.count ? { Select: 'COUNT' as const } : { ProjectionExpression: projection.ProjectionExpression }),
            ...(request.pageLimit !== undefined ? { Limit: request.pageLimit } : {}),
            ConsistentRead: request.consistent,
            ExclusiveStartKey: exclusiveStartKey,
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
    await Promise.all(
      Array.from({ length: segments }, async (_, segment) => {
        let next: ReturnType<typeof page> | undefined = page(segment, undefined);
        while (next) {
          const out: Awaited<ReturnType<typeof page>> = await next;
          next = out.LastEvaluatedKey ? page(segment, out.LastEvaluatedKey) : undefined;
          // A prefetched page that fails while onItems runs is reported by the await above, not as unhandled.
          next?.catch(() => {});
          await onItems(out.Items ?? [], out.Count ?? 0);
        }
      }),
    );
  }

  // ---- shared ----

  /** Sends one command, reports its consumed capacity, maps SDK errors to GatewayErrors. */
  private async call<T extends { ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[] }>(
    operation: string,
    command: string,
    run: () => Promise<T>,
  ): Promise<T> {
    let output: T;
    try {
      output = await run();
    } catch (error) {
      throw mapDynamoError(command, error);
    }
    const report = this.options.onConsumedCapacity;
    const call = ++this.calls;
    if (report && output.ConsumedCapacity) {
      for (const c of Array.isArray(output.ConsumedCapacity) ? output.ConsumedCapacity : [output.ConsumedCapacity]) {
        report({ operation, command, table: c.TableName ?? '', capacityUnits: c.CapacityUnits ?? 0, call });
      }
    }
    return output;
  }

  /** For a call made outside this store (the message handler's prepared session read). */
  reportConsumedCapacity(operation: string, command: string, table: string, capacityUnits: number): void {
    const call = ++this.calls;
    this.options.onConsumedCapacity?.({ operation, command, table, capacityUnits, call });
  }

  private indexTable(role: IndexRole): { name: string; partitionKey: string } {
    return role === 'uids' ? { name: this.tables.uids, partitionKey: U.partitionKey } : { name: this.tables.groups, partitionKey: G.partitionKey };
  }

  private keyOf(item: ItemRef): { table: string; key: Record<string, unknown> } {
    switch (item.role) {
      case 'sessions':
        return { table: this.tables.sessions, key: { [S.partitionKey]: item.connectionId } };
      case 'memberships':
        return { table: this.tables.memberships, key: { [M.partitionKey]: item.connectionId, [M.sortKey]: item.key } };
      case 'pending':
        return { table: this.tables.memberships, key: { [M.partitionKey]: pendingPartition(item.connectionId), [M.sortKey]: item.key } };
      default: {
        const table = this.indexTable(item.role);
        return { table: table.name, key: { [table.partitionKey]: item.key, connectionId: item.connectionId } };
      }
    }
  }

  private async getItem(
    operation: string,
    tableName: string,
    key: Record<string, unknown>,
    attributes?: readonly string[],
  ): Promise<Record<string, unknown> | undefined> {
    const projection = attributes ? projectionOf(attributes) : {};
    const out = await this.call(operation, 'GetItem', () =>
      this.doc.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL', ...projection })),
    );
    return out.Item;
  }

  private async updateExisting(
    operation: string,
    tableName: string,
    partitionKey: string,
    id: string,
    update: ItemUpdate,
  ): Promise<Record<string, unknown> | undefined> {
    const out = await this.call(operation, 'UpdateItem', () =>
      this.doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { [partitionKey]: id },
          UpdateExpression: update.expression,
          ConditionExpression: `attribute_exists(#id)${update.condition ? ` AND (${update.condition})` : ''}`,
          ExpressionAttributeNames: { '#id': partitionKey, ...update.names },
          ...(update.values && Object.keys(update.values).length > 0 ? { ExpressionAttributeValues: update.values } : {}),
          ReturnValues: update.returnValues ?? 'NONE',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    return out.Attributes;
  }

  /**
   * Every page of one partition's items that have not expired (a strongly consistent Query),
   * projected to one attribute, or only counted.
   */
  private async queryPages(
    operation: string,
    tableName: string,
    partitionKey: string,
    key: string,
    nowMs: number,
    select: { attribute: string } | { attributes: readonly string[] } | 'count',
    onPage: (items: Array<Record<string, unknown>>, count: number) => void,
  ): Promise<void> {
    const selection = querySelection(select, partitionKey);
    let startKey: Record<string, unknown> | undefined;
    do {
      const exclusiveStartKey = startKey;
      const out = await this.call(operation, 'Query', () =>
        this.doc.send(
          new QueryCommand({
            TableName: tableName,
            KeyConditionExpression: '#pk = :pk',
            FilterExpression: 'attribute_not_exists(#ttl) OR #ttl >= :now',
            ...selection,
            ExpressionAttributeValues: { ':pk': key, ':now': Math.floor(nowMs / 1000) },
            ConsistentRead: true,
            ExclusiveStartKey: exclusiveStartKey,
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
      onPage(out.Items ?? [], out.Count ?? 0);
      startKey = out.LastEvaluatedKey;
    } while (startKey);
  }

  /** Items of a table keyed by connectionId alone (BatchGetItem, 100 at a time, strongly consistent). */
  private async batchGet<T>(operation: string, tableName: string, ids: readonly string[], attributes: readonly string[]): Promise<Map<string, T>> {
    const result = new Map<string, T>();
    const unique = [...new Set(ids)];
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += 100) chunks.push(unique.slice(i, i + 100));
    const withId = attributes.includes(C.partitionKey) ? attributes : [C.partitionKey, ...attributes];
    const { ProjectionExpression, ExpressionAttributeNames } = projectionOf(withId);
    await forEachConcurrent(chunks, this.options.concurrency, async (chunk) => {
      let keys: Array<Record<string, unknown>> = chunk.map((id) => ({ [C.partitionKey]: id }));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt >= BATCH_ATTEMPTS) throw new ThrottledError(`BatchGetItem left keys unprocessed after ${BATCH_ATTEMPTS} attempts`);
        if (attempt > 0) await sleep(Math.random() * Math.min(1000, 25 * 2 ** attempt));
        const requestKeys = keys;
        const out = await this.call(operation, 'BatchGetItem', () =>
          this.doc.send(
            new BatchGetCommand({
              RequestItems: { [tableName]: { Keys: requestKeys, ConsistentRead: true, ProjectionExpression, ExpressionAttributeNames } },
              ReturnConsumedCapacity: 'TOTAL',
            }),
          ),
        );
        for (const item of out.Responses?.[tableName] ?? []) result.set(item[C.partitionKey] as string, item as T);
        keys = (out.UnprocessedKeys?.[tableName]?.Keys ?? []) as Array<Record<string, unknown>>;
      }
    });
    return result;
  }
}

/** An UpdateItem on an item that must exist. */
export interface ItemUpdate {
  readonly expression: string;
  readonly names?: Record<string, string>;
  readonly values?: Record<string, unknown>;
  readonly condition?: string;
  readonly returnValues?: 'UPDATED_OLD' | 'ALL_OLD' | 'ALL_NEW' | 'NONE';
}

/** A Query's Select or projection, with the names its key condition and TTL filter use. */
function querySelection(select: { attribute: string } | { attributes: readonly string[] } | 'count', partitionKey: string) {
  const keyNames = { '#pk': partitionKey, '#ttl': TTL };
  if (select === 'count') return { Select: 'COUNT' as const, ExpressionAttributeNames: keyNames };
  const projection = projectionOf('attribute' in select ? [select.attribute] : select.attributes);
  return { ProjectionExpression: projection.ProjectionExpression, ExpressionAttributeNames: { ...projection.ExpressionAttributeNames, ...keyNames } };
}

function projectionOf(attributes: readonly string[]): { ProjectionExpression: string; ExpressionAttributeNames: Record<string, string> } {
  const names: Record<string, string> = {};
  const parts = attributes.map((a, i) => {
    names[`#p${i}`] = a;
    return `#p${i}`;
  });
  return { ProjectionExpression: parts.join(', '), ExpressionAttributeNames: names };
}

const THROTTLING = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'LimitExceededException']);

function mapDynamoError(command: string, error: unknown): Error {
  if (error instanceof GatewayError) return error;
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.name === 'ConditionalCheckFailedException') return new ConditionFailed(e.message);
  const details = { statusCode: e?.$metadata?.httpStatusCode, errorType: e?.name };
  const message = `DynamoDB ${command} failed: ${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
  if (e?.name && THROTTLING.has(e.name)) return new ThrottledError(message, details, { cause: error });
  return new ServiceError(message, details, { cause: error });
}

/**
 * Runs `fn` over `items` with at most `concurrency` at a time. On the first rejection no new item
 * starts; the ones under way finish, then the first error is thrown.
 */
export async function forEachConcurrent<T>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        await fn(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, worker));
  if (failure) throw failure.error;
}
