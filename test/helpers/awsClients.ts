/** Unmodified AWS SDK clients pointed at a local gateway, with throwaway credentials. */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { GatewayEndpoints } from '../../local/index.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export function managementClient(endpoints: GatewayEndpoints, maxAttempts = 1): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({ endpoint: endpoints.callbackUrl, region: endpoints.region, credentials, maxAttempts });
}

export function lambdaClient(endpoints: GatewayEndpoints): LambdaClient {
  return new LambdaClient({ endpoint: endpoints.httpUrl, region: endpoints.region, credentials, maxAttempts: 1 });
}

export function documentClient(endpoints: GatewayEndpoints): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }));
}
