/**
 * The DynamoDB side of the SDK: the three tables of sdk/tables.ts and every read and write on them.
 * No transactions; the callers (Gateway) order the writes. Every call asks for
 * ReturnConsumedCapacity TOTAL and reports it; reads that drive a send are strongly consistent;
 * queries and scans paginate to the end, and a failure fails the whole call (no partial results).
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
import { CONNECTION_MAX_AGE_SECONDS, GatewayTables, TTL_MARGIN_SECONDS, type GatewayTableNames } from './tables.ts';
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

/** A connections-table item as stored. */
export interface ConnectionItem {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly sourceIp?: string;
  readonly userAgent?: string;
  readonly uid?: string;
  readonly groups?: Set<string>;
  readonly session?: Session;
  readonly version?: number;
  readonly expiresAt?: number;
}

export type IndexRole = 'uids' | 'groups';

/** One index item: `uid` (or `group`) + connectionId. */
export interface IndexKey {
  readonly role: IndexRole;
  readonly key: string;
  readonly connectionId: string;
}

export interface ConnectionStoreOptions {
  readonly scanSegments: number;
  readonly concurrency: number;
  readonly onConsumedCapacity?: (event: ConsumedCapacityEvent) => void;
}

const C = GatewayTables.connections;
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

  private indexTable(role: IndexRole): { name: string; partitionKey: string } {
    return role === 'uids' ? { name: this.tables.uids, partitionKey: U.partitionKey } : { name: this.tables.groups, partitionKey: G.partitionKey };
  }

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

  async putConnection(operation: string, item: ConnectionItem): Promise<void> {
    await this.call(operation, 'PutItem', () =>
      this.doc.send(new PutCommand({ TableName: this.tables.connections, Item: item, ReturnConsumedCapacity: 'TOTAL' })),
    );
  }

  async getConnection(operation: string, connectionId: string, attributes?: readonly string[]): Promise<ConnectionItem | undefined> {
    const projection = attributes ? projectionOf(attributes) : {};
    const out = await this.call(operation, 'GetItem', () =>
      this.doc.send(
        new GetCommand({
          TableName: this.tables.connections,
          Key: { [C.partitionKey]: connectionId },
          ConsistentRead: true,
          ReturnConsumedCapacity: 'TOTAL',
          ...projection,
        }),
      ),
    );
    return out.Item as ConnectionItem | undefined;
  }

  /** Deletes the connection item; returns what it held. */
  async deleteConnection(operation: string, connectionId: string): Promise<ConnectionItem | undefined> {
    const out = await this.call(operation, 'DeleteItem', () =>
      this.doc.send(
        new DeleteCommand({
          TableName: this.tables.connections,
          Key: { [C.partitionKey]: connectionId },
          ReturnValues: 'ALL_OLD',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    return out.Attributes as ConnectionItem | undefined;
  }

  /**
   * Deletes the connection item unless it is younger than `connectedBeforeMs` (a connection whose
   * `$connect` may still be running answers 410 too). Returns 'young' when it was kept.
   */
  async pruneConnection(operation: string, connectionId: string, connectedBeforeMs: number): Promise<ConnectionItem | undefined | 'young'> {
    try {
      const out = await this.call(operation, 'DeleteItem', () =>
        this.doc.send(
          new DeleteCommand({
            TableName: this.tables.connections,
            Key: { [C.partitionKey]: connectionId },
            ConditionExpression: 'attribute_not_exists(#id) OR #at < :cutoff',
            ExpressionAttributeNames: { '#id': C.partitionKey, '#at': 'connectedAt' },
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
  async updateConnection(
    operation: string,
    connectionId: string,
    update: {
      expression: string;
      names?: Record<string, string>;
      values?: Record<string, unknown>;
      condition?: string;
      returnValues?: 'UPDATED_OLD' | 'ALL_OLD' | 'ALL_NEW' | 'NONE';
    },
  ): Promise<Partial<ConnectionItem> | undefined> {
    const out = await this.call(operation, 'UpdateItem', () =>
      this.doc.send(
        new UpdateCommand({
          TableName: this.tables.connections,
          Key: { [C.partitionKey]: connectionId },
          UpdateExpression: update.expression,
          ConditionExpression: `attribute_exists(#id)${update.condition ? ` AND (${update.condition})` : ''}`,
          ExpressionAttributeNames: { '#id': C.partitionKey, ...update.names },
          ...(update.values && Object.keys(update.values).length > 0 ? { ExpressionAttributeValues: update.values } : {}),
          ReturnValues: update.returnValues ?? 'NONE',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    return out.Attributes as Partial<ConnectionItem> | undefined;
  }

  /**
   * Writes (or refreshes) an index item. Returns whether it existed before: a caller that must undo
   * the write removes only an item it created (ReturnValues ALL_OLD costs no extra capacity).
   */
  async putIndex(operation: string, index: IndexKey, nowMs: number): Promise<{ existed: boolean }> {
    const table = this.indexTable(index.role);
    const out = await this.call(operation, 'PutItem', () =>
      this.doc.send(
        new PutCommand({
          TableName: table.name,
          Item: { [table.partitionKey]: index.key, connectionId: index.connectionId, [TTL]: ConnectionStore.expiresAt(nowMs) },
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

  /** Deletes many index items (BatchWriteItem, 25 at a time, unprocessed items retried). */
  async deleteIndexItems(operation: string, items: readonly IndexKey[]): Promise<void> {
    if (items.length === 1) return this.deleteIndex(operation, items[0]!);
    const requests: Array<{ table: string; request: { DeleteRequest: { Key: Record<string, unknown> } } }> = [];
    const seen = new Set<string>();
    for (const item of items) {
      const id = `${item.role}\n${item.key}\n${item.connectionId}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const table = this.indexTable(item.role);
      requests.push({ table: table.name, request: { DeleteRequest: { Key: { [table.partitionKey]: item.key, connectionId: item.connectionId } } } });
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

  /** Every connection id in one uid's or group's index, strongly consistent, every page. */
  async queryIndex(operation: string, role: IndexRole, key: string, nowMs: number): Promise<string[]> {
    const ids: string[] = [];
    await this.queryIndexPages(operation, role, key, nowMs, 'ids', (items) => {
      for (const item of items) ids.push(item.connectionId as string);
    });
    return ids;
  }

  /** How many connection ids one uid or group has, strongly consistent (Select COUNT, every page). */
  async countIndex(operation: string, role: IndexRole, key: string, nowMs: number): Promise<number> {
    let count = 0;
    await this.queryIndexPages(operation, role, key, nowMs, 'count', (_items, pageCount) => {
      count += pageCount;
    });
    return count;
  }

  /**
   * Every page of one uid's or group's index items that have not expired (a strongly consistent
   * Query), projected to the connection id, or only counted.
   */
  private async queryIndexPages(
    operation: string,
    role: IndexRole,
    key: string,
    nowMs: number,
    select: 'ids' | 'count',
    onPage: (items: Array<Record<string, unknown>>, count: number) => void,
  ): Promise<void> {
    const table = this.indexTable(role);
    let startKey: Record<string, unknown> | undefined;
    do {
      const exclusiveStartKey = startKey;
      const out = await this.call(operation, 'Query', () =>
        this.doc.send(
          new QueryCommand({
            TableName: table.name,
            KeyConditionExpression: '#pk = :pk',
            FilterExpression: 'attribute_not_exists(#ttl) OR #ttl >= :now',
            ...(select === 'count'
              ? { Select: 'COUNT' as const, ExpressionAttributeNames: { '#pk': table.partitionKey, '#ttl': TTL } }
              : { ProjectionExpression: '#cid', ExpressionAttributeNames: { '#pk': table.partitionKey, '#cid': 'connectionId', '#ttl': TTL } }),
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

  /** Connection items by id (BatchGetItem, 100 at a time, strongly consistent); missing ids are absent. */
  async getConnections(operation: string, ids: readonly string[], attributes: readonly string[]): Promise<Map<string, ConnectionItem>> {
    const result = new Map<string, ConnectionItem>();
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
              RequestItems: { [this.tables.connections]: { Keys: requestKeys, ConsistentRead: true, ProjectionExpression, ExpressionAttributeNames } },
              ReturnConsumedCapacity: 'TOTAL',
            }),
          ),
        );
        for (const item of out.Responses?.[this.tables.connections] ?? []) result.set(item.connectionId as string, item as ConnectionItem);
        keys = (out.UnprocessedKeys?.[this.tables.connections]?.Keys ?? []) as Array<Record<string, unknown>>;
      }
    });
    return result;
  }

  /**
   * A full parallel scan (`scanSegments` segments, every page of each). `attributes` projects the
   * items; `count` only counts. Items past their TTL (not yet deleted by DynamoDB) are left out.
   */
  async scan(
    operation: string,
    target: 'connections' | IndexRole,
    request: { attributes?: readonly string[]; count?: boolean; consistent: boolean; nowMs: number },
    onItems: (items: Array<Record<string, unknown>>, count: number) => void,
  ): Promise<void> {
    const tableName = target === 'connections' ? this.tables.connections : this.indexTable(target).name;
    const projection = request.attributes ? projectionOf(request.attributes) : { ProjectionExpression: undefined, ExpressionAttributeNames: {} as Record<string, string> };
    const segments = Math.max(1, this.options.scanSegments);
    await Promise.all(
      Array.from({ length: segments }, async (_, segment) => {
        let startKey: Record<string, unknown> | undefined;
        do {
          const exclusiveStartKey = startKey;
          const out = await this.call(operation, 'Scan', () =>
            this.doc.send(
              new ScanCommand({
                TableName: tableName,
                ...(segments > 1 ? { Segment: segment, TotalSegments: segments } : {}),
                FilterExpression: 'attribute_not_exists(#ttl) OR #ttl >= :now',
                ExpressionAttributeNames: { ...projection.ExpressionAttributeNames, '#ttl': TTL },
                ExpressionAttributeValues: { ':now': Math.floor(request.nowMs / 1000) },
                ...(request.count ? { Select: 'COUNT' as const } : { ProjectionExpression: projection.ProjectionExpression }),
                ConsistentRead: request.consistent,
                ExclusiveStartKey: exclusiveStartKey,
                ReturnConsumedCapacity: 'TOTAL',
              }),
            ),
          );
          onItems(out.Items ?? [], out.Count ?? 0);
          startKey = out.LastEvaluatedKey;
        } while (startKey);
      }),
    );
  }
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
