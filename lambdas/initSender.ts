/** The init sender's entry point (bundled as is: it runs no user code). See initSenderHandler.ts. */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GatewayEnvVar } from '../sdk/env.ts';
import { ConnectionsTable } from '../sdk/tables.ts';
import { createInitSenderHandler } from './initSenderHandler.ts';
import { BindTokenSecret } from '../sdk/bindToken.ts';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`the init sender needs ${name} in its environment`);
  return value;
}

const secretId = process.env[GatewayEnvVar.bindTokenSecret]?.trim();
const bindTokenKey = secretId ? new BindTokenSecret({ secretId }) : undefined;
// Read the key during the cold start, while `$connect` is still returning; a failure is retried by the first init.
bindTokenKey?.key().catch(() => undefined);

export const handler = createInitSenderHandler({
  ...(bindTokenKey ? { bindTokenKey } : {}),
  management: new ApiGatewayManagementApiClient({ endpoint: required(GatewayEnvVar.callbackUrl) }),
  connections: { client: new DynamoDBClient({}), tableName: required(GatewayEnvVar.connectionsTable), partitionKey: ConnectionsTable.partitionKey },
});
