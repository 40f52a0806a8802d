/**
 * Exactly what the Gateway SDK (sdk/) calls, per table and per `@connections` method: the grant in
 * GatewayBackend.grantGatewayPermissions is built from these lists and nothing else.
 * test/integration/cdk-permissions.test.ts runs every SDK method against a local DynamoDB, records each
 * (command, table) pair the SDK reports, and fails if these lists miss one or hold one it never uses.
 */
import type { GatewayTableRole } from '../sdk/tables.ts';

export const GATEWAY_TABLE_ACTIONS = {
  /** register/unregister/prune, conditional updates by bindings and memberships, batch reads for getUidListByGroup, the scans of sendToAll/getAllClient*. */
  connections: ['BatchGetItem', 'DeleteItem', 'GetItem', 'PutItem', 'Scan', 'UpdateItem'],
  /** the session item: written at $connect, read and updated by the session methods, removed at $disconnect or in a prune's batch; batch reads and a scan for the session queries. */
  sessions: ['BatchGetItem', 'BatchWriteItem', 'DeleteItem', 'GetItem', 'PutItem', 'Scan', 'UpdateItem'],
  /** membership items written and removed one by one by joins and leaves, in batches by $disconnect and prunes; a connection's groups by Query. */
  memberships: ['BatchWriteItem', 'DeleteItem', 'PutItem', 'Query'],
  /** index items written and removed one by one or in batches, strongly consistent queries, scans for getAllUid* and getAllGroupUid*. */
  uids: ['BatchWriteItem', 'DeleteItem', 'PutItem', 'Query', 'Scan'],
  /** the same for groups, scans for getAllGroupIdList and the getAllGroup* family. */
  groups: ['BatchWriteItem', 'DeleteItem', 'PutItem', 'Query', 'Scan'],
} as const satisfies Record<GatewayTableRole, readonly string[]>;

/** Secrets Manager actions the SDK calls, on the bind token secret only: reading the key (sdk/bindToken.ts). */
export const GATEWAY_SECRET_ACTIONS = ['GetSecretValue'] as const;

/** `@connections` methods the SDK uses: POST (send), GET (isOnline / connection info), DELETE (closeClient). */
export const MANAGE_CONNECTIONS_METHODS = ['POST', 'GET', 'DELETE'] as const;

/**
 * What the fan-out worker (lambdas/fanoutWorker.ts, `Gateway.deliverChunk`) calls: POST to deliver,
 * and on a 410 the prune: a conditional DeleteItem of the connection item, a Query of its
 * memberships, then its session, memberships and index items in batches (BatchWriteItem), or one
 * index item alone (DeleteItem). test/integration/cdk-permissions.test.ts records them.
 */
export const FANOUT_WORKER_TABLE_ACTIONS = {
  // GetItem, UpdateItem and PutItem on memberships: the 410 of a browser-client connection, held and buffered for a resume (docs/guides/recovery.md).
  connections: ['DeleteItem', 'GetItem', 'UpdateItem'],
  sessions: ['BatchWriteItem', 'DeleteItem'],
  memberships: ['BatchWriteItem', 'PutItem', 'Query'],
  uids: ['BatchWriteItem', 'DeleteItem'],
  groups: ['BatchWriteItem', 'DeleteItem'],
} as const satisfies Record<GatewayTableRole, readonly string[]>;

export const FANOUT_WORKER_CONNECTIONS_METHODS = ['POST'] as const;
