/** The init sender's entry point (bundled as is: it runs no user code). See initSenderHandler.ts. */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GatewayEnvVar } from '../sdk/env.ts';
import { ConnectionsTable } from '../sdk/tables.ts';
import { createInitSenderHandler } from './initSenderHandler.ts';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`the init sender needs ${name} in its environment`);
  return value;
}

export const handler = createInitSenderHandler({
  management: new ApiGatewayManagementApiClient({ endpoint: required(GatewayEnvVar.callbackUrl) }),
  connections: { client: new DynamoDBClient({}), tableName: required(GatewayEnvVar.connectionsTable), partitionKey: ConnectionsTable.partitionKey },
});
