/**
 * The five DynamoDB tables of the data model. DynamoDB bills every read and write by the size of the
 * whole item, so what every membership change and every send touches is kept small and apart from
 * what is large:
 * - connections: one small item per live connection (connectedAt, uid, groupCount, TTL): the item
 *   whose existence says the connection is live; bindUid / joinGroup / leaveGroup update it
 *   conditionally, sendToAll scans it for ids;
 * - sessions: one item per connection with the session (up to 100 KiB), its version and the
 *   handshake identity (source IP, user agent): only the session methods and $connect/$disconnect
 *   touch it;
 * - memberships: one item per (connection, group), so that the groups of one connection (up to 200
 *   names of up to 256 characters) are found without reading or rewriting a set of them;
 * - uids and groups: the index items (uid or group + connection id) that sendToUid and sendToGroup
 *   read with strongly consistent Queries.
 * The CDK construct and the local gateway both build their tables from these definitions, so the key
 * names live here only.
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

export const SessionsTable = {
  partitionKey: 'connectionId',
  timeToLiveAttribute: TTL_ATTRIBUTE,
} as const satisfies TableKeyDefinition;

export const MembershipsTable = {
  partitionKey: 'connectionId',
  sortKey: 'group',
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

/** Physical table names, one per role. */
export interface GatewayTableNames {
  readonly connections: string;
  readonly sessions: string;
  readonly memberships: string;
  readonly uids: string;
  readonly groups: string;
}

/** The tables' roles (public: the construct's `tablesByRole` is keyed by them). */
export type GatewayTableRole = keyof GatewayTableNames;

/** Every role's key definition (internal: the construct and the local gateway build the tables from it). */
export const GatewayTables = {
  connections: ConnectionsTable,
  sessions: SessionsTable,
  memberships: MembershipsTable,
  uids: UidsTable,
  groups: GroupsTable,
} as const satisfies Record<GatewayTableRole, TableKeyDefinition>;

/**
 * API Gateway closes every connection after 2 hours; items outlive that by this margin, so TTL only
 * removes what a lost `$disconnect` left behind.
 */
export const CONNECTION_MAX_AGE_SECONDS = 2 * 60 * 60;
export const TTL_MARGIN_SECONDS = 5 * 60;
