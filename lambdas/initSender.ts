/** The init sender's entry point (bundled as is: it runs no user code). See initSenderHandler.ts. */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GatewayEnvVar } from '../sdk/env.ts';
import { ConnectionsTable } from '../sdk/tables.ts';
import { GatewayMetrics } from '../sdk/GatewayMetrics.ts';
import { createInitSenderHandler } from './initSenderHandler.ts';
import { TokenSecret } from '../sdk/tokenSecret.ts';
import { initSenderObserver, withMetrics } from './handlerMetrics.ts';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`the init sender needs ${name} in its environment`);
  return value;
}

const secretId = process.env[GatewayEnvVar.bindTokenSecret]?.trim();
const bindTokenKey = secretId ? new TokenSecret({ secretId }) : undefined;
// Read the key during the cold start, while `$connect` is still returning; a failure is retried by the first init.
bindTokenKey?.key().catch(() => undefined);

const metrics = new GatewayMetrics({ publish: 'manual' });
export const handler = withMetrics(
  metrics,
  createInitSenderHandler({
    ...(bindTokenKey ? { bindTokenKey } : {}),
    management: new ApiGatewayManagementApiClient({ endpoint: required(GatewayEnvVar.callbackUrl) }),
    connections: { client: new DynamoDBClient({}), tableName: required(GatewayEnvVar.connectionsTable), partitionKey: ConnectionsTable.partitionKey },
  }),
  initSenderObserver(metrics),
);
