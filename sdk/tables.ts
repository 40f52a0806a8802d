/**
 * The three DynamoDB tables of the data model (see the design brief): one item per connection,
 * plus two index tables queried with strongly consistent reads to drive sends. The CDK construct
 * and the local gateway both build their tables from these definitions, so the key names live here
 * only.
 */
export interface TableKeyDefinition {
  /** Partition key attribute name (type S). */
  readonly partitionKey: string;
  /** Sort key attribute name (type S), if any. */
  readonly sortKey?: string;
  /** Attribute DynamoDB TTL deletes on (epoch seconds). */
  readonly timeToLiveAttribute: string;
}

export const TTL_ATTRIBUTE = 'expiresAt';

export const ConnectionsTable = {
  partitionKey: 'connectionId',
  timeToLiveAttribute: TTL_ATTRIBUTE,
} as const satisfies TableKeyDefinition;

export const UidsTable = {
  partitionKey: 'uid',
  sortKey: 'connectionId',
  timeToLiveAttribute: TTL_ATTRIBUTE,
} as const satisfies TableKeyDefinition;

export const GroupsTable = {
  partitionKey: 'group',
  sortKey: 'connectionId',
  timeToLiveAttribute: TTL_ATTRIBUTE,
} as const satisfies TableKeyDefinition;

export const GatewayTables = {
  connections: ConnectionsTable,
  uids: UidsTable,
  groups: GroupsTable,
} as const;

export type GatewayTableRole = keyof typeof GatewayTables;

/** Physical table names, one per role. */
export interface GatewayTableNames {
  readonly connections: string;
  readonly uids: string;
  readonly groups: string;
}

/**
 * API Gateway closes every connection after 2 hours; items outlive that by this margin, so TTL only
 * removes what a lost `$disconnect` left behind.
 */
export const CONNECTION_MAX_AGE_SECONDS = 2 * 60 * 60;
export const TTL_MARGIN_SECONDS = 5 * 60;
