/**
 * Embedded DynamoDB: dynalite (DynamoDB's wire protocol over HTTP, in this process), in memory by
 * default or in LevelDB files with `path`. dynalite never expires TTL items and has no
 * UpdateTimeToLive, so the TTL attribute comes from each table definition, `sweepExpiredItems`
 * deletes what DynamoDB's TTL would, and DescribeTimeToLive reports it (dynaliteWithTtl.ts).
 */
/// <reference path="./dynalite.d.ts" />
import type { Server } from 'node:http';
import dynalite from 'dynalite';
import { reportTimeToLive } from './dynaliteWithTtl.ts';
import { listenOn, type PortRequest } from './listen.ts';
import {
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ScanCommand,
  type AttributeValue,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';

export interface LocalTableDefinition {
  readonly name: string;
  /** Partition key attribute (type S unless `partitionKeyType` says otherwise). */
  readonly partitionKey: string;
  readonly partitionKeyType?: 'S' | 'N' | 'B';
  readonly sortKey?: string;
  readonly sortKeyType?: 'S' | 'N' | 'B';
  /** Items whose number in this attribute (epoch seconds) is in the past are deleted by the sweeper. */
  readonly timeToLiveAttribute?: string;
  readonly globalSecondaryIndexes?: ReadonlyArray<{
    readonly indexName: string;
    readonly partitionKey: string;
    readonly partitionKeyType?: 'S' | 'N' | 'B';
    readonly sortKey?: string;
    readonly sortKeyType?: 'S' | 'N' | 'B';
  }>;
}

export interface LocalDynamoOptions {
  /** Directory for LevelDB files; in memory when absent. */
  readonly path?: string;
  readonly host: string;
  readonly region: string;
  /** @default 0 (an ephemeral port) */
  readonly port?: PortRequest;
}

export class LocalDynamo {
  private server?: Server;
  private client?: DynamoDBClient;
  private readonly tables = new Map<string, LocalTableDefinition>();
  endpoint = '';

  constructor(private readonly options: LocalDynamoOptions) {}

  async start(): Promise<string> {
    const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(this.options.path ? { path: this.options.path } : {}) });
    reportTimeToLive(server, (tableName) => this.tables.get(tableName)?.timeToLiveAttribute);
    const port = await listenOn(server, this.options.port ?? 0, { host: this.options.host, backlog: 4096 });
    this.server = server;
    this.endpoint = `http://${this.options.host}:${port}`;
    this.client = new DynamoDBClient({
      endpoint: this.endpoint,
      region: this.options.region,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    return this.endpoint;
  }

  /** Creates the table unless it exists (a persisted store keeps tables across restarts). */
  async createTable(table: LocalTableDefinition): Promise<void> {
    this.tables.set(table.name, table);
    const attributes = new Map<string, string>();
    const keySchema = (pk: string, pkType: string | undefined, sk?: string, skType?: string): KeySchemaElement[] => {
      attributes.set(pk, pkType ?? 'S');
      const schema: KeySchemaElement[] = [{ AttributeName: pk, KeyType: 'HASH' }];
      if (sk) {
        attributes.set(sk, skType ?? 'S');
        schema.push({ AttributeName: sk, KeyType: 'RANGE' });
      }
      return schema;
    };
    const tableKeys = keySchema(table.partitionKey, table.partitionKeyType, table.sortKey, table.sortKeyType);
    const gsis = (table.globalSecondaryIndexes ?? []).map((index) => ({
      IndexName: index.indexName,
      KeySchema: keySchema(index.partitionKey, index.partitionKeyType, index.sortKey, index.sortKeyType),
      Projection: { ProjectionType: 'ALL' as const },
    }));
    try {
      await this.client!.send(
        new CreateTableCommand({
          TableName: table.name,
          KeySchema: tableKeys,
          AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({ AttributeName, AttributeType: AttributeType as 'S' | 'N' | 'B' })),
          BillingMode: 'PAY_PER_REQUEST',
          ...(gsis.length > 0 ? { GlobalSecondaryIndexes: gsis } : {}),
        }),
      );
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
    await this.waitUntilActive(table.name);
  }

  /**
   * dynalite answers ResourceNotFoundException while a table is CREATING, and makes it ACTIVE in a
   * timer after CreateTable returns; with LevelDB files (`path`) that write can lag the next request,
   * so a put right after start() failed about 1 run in 5 (gateway-dynamodb.test.ts). Waits for ACTIVE.
   */
  private async waitUntilActive(tableName: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const { Table } = await this.client!.send(new DescribeTableCommand({ TableName: tableName }));
      if (Table?.TableStatus === 'ACTIVE') return;
      if (attempt >= 500) throw new Error(`table ${tableName} is still ${Table?.TableStatus} after 5 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  tableNames(): string[] {
    return [...this.tables.keys()];
  }

  /** Deletes every item whose TTL attribute lies in the past, as DynamoDB TTL does. Returns the count. */
  async sweepExpiredItems(nowMs = Date.now()): Promise<number> {
    let deleted = 0;
    for (const table of this.tables.values()) {
      if (!table.timeToLiveAttribute) continue;
      const keyNames = [table.partitionKey, ...(table.sortKey ? [table.sortKey] : [])];
      let startKey: Record<string, AttributeValue> | undefined;
      do {
        const page = await this.client!.send(
          new ScanCommand({
            TableName: table.name,
            FilterExpression: '#ttl < :now',
            ExpressionAttributeNames: { '#ttl': table.timeToLiveAttribute, ...Object.fromEntries(keyNames.map((k, i) => [`#k${i}`, k])) },
            ExpressionAttributeValues: { ':now': { N: String(Math.floor(nowMs / 1000)) } },
            ProjectionExpression: keyNames.map((_, i) => `#k${i}`).join(', '),
            ExclusiveStartKey: startKey,
          }),
        );
        const keys = page.Items ?? [];
        for (let i = 0; i < keys.length; i += 25) {
          let requests = keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } }));
          while (requests.length > 0) {
            const result = await this.client!.send(new BatchWriteItemCommand({ RequestItems: { [table.name]: requests } }));
            requests = (result.UnprocessedItems?.[table.name] ?? []) as typeof requests;
          }
        }
        deleted += keys.length;
        startKey = page.LastEvaluatedKey;
      } while (startKey);
    }
    return deleted;
  }

  async stop(): Promise<void> {
    this.client?.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
