/**
 * Exactly what the Gateway SDK (sdk/) calls, per table and per `@connections` method: the grant in
 * GatewayBackend.grantGatewayPermissions is built from these lists and nothing else.
 * test/cdk-permissions.test.ts runs every SDK method against a local DynamoDB, records each
 * (command, table) pair the SDK reports, and fails if these lists miss one or hold one it never uses.
 */
export const GATEWAY_TABLE_ACTIONS = {
  /** register/unregister/prune, get, sessions and bindings (conditional updates), batch reads for fan-out, scans for sendToAll/getAll*. */
  connections: ['BatchGetItem', 'DeleteItem', 'GetItem', 'PutItem', 'Scan', 'UpdateItem'],
  /** index items written and removed one by one or in batches, strongly consistent queries, scans for getAllUid* and getAllGroupUid*. */
  uids: ['BatchWriteItem', 'DeleteItem', 'PutItem', 'Query', 'Scan'],
  /** the same for groups, scans for getAllGroupIdList and the getAllGroup* family. */
  groups: ['BatchWriteItem', 'DeleteItem', 'PutItem', 'Query', 'Scan'],
} as const satisfies Record<'connections' | 'uids' | 'groups', readonly string[]>;

/** Secrets Manager actions the SDK calls, on the bind token secret only: reading the key (sdk/bindToken.ts). */
export const GATEWAY_SECRET_ACTIONS = ['GetSecretValue'] as const;

/** `@connections` methods the SDK uses: POST (send), GET (isOnline / connection info), DELETE (closeClient). */
export const MANAGE_CONNECTIONS_METHODS = ['POST', 'GET', 'DELETE'] as const;

/**
 * What the fan-out worker (lambdas/fanoutWorker.ts, `Gateway.deliverChunk`) calls: POST to deliver,
 * and on a 410 the prune: a conditional DeleteItem of the connection item, then its index items one
 * by one (DeleteItem) or together (BatchWriteItem). test/cdk-permissions.test.ts records them.
 */
export const FANOUT_WORKER_TABLE_ACTIONS = {
  connections: ['DeleteItem'],
  uids: ['BatchWriteItem', 'DeleteItem'],
  groups: ['BatchWriteItem', 'DeleteItem'],
} as const satisfies Record<'connections' | 'uids' | 'groups', readonly string[]>;

export const FANOUT_WORKER_CONNECTIONS_METHODS = ['POST'] as const;
