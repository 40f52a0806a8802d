/**
 * Where the scenario tests run: the local gateway serving cdk.out, or a deployed stack (LocalStack
 * with API Gateway v2, or AWS) reached through endpoints given in the environment. The scenarios
 * only use a WebSocket URL and the SDK, so they are the same code for every target.
 */
import { readFileSync } from 'node:fs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { LocalGateway, environmentOf, loadCloudAssembly } from '../../local/index.ts';
import { Gateway, GatewayEnvVar } from '../../sdk/index.ts';

export interface ScenarioTarget {
  readonly name: string;
  readonly wsUrl: string;
  readonly sdk: Gateway;
  stop(): Promise<void>;
}

/** The synthesized app in cdk.out on an in-process local gateway. */
export async function localTarget(assemblyDirectory = 'cdk.out'): Promise<ScenarioTarget> {
  const app = loadCloudAssembly({ directory: assemblyDirectory });
  const gateway = new LocalGateway({ ...app.gatewayOptions, ttlSweepIntervalMs: 0 });
  const endpoints = await gateway.start();
  const sdkEnvironment = environmentOf(app, Object.values(GatewayEnvVar));
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const dynamoDb = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }));
  const secretsManager = new SecretsManagerClient({ endpoint: endpoints.httpUrl, region: endpoints.region, credentials });
  const sdk = Gateway.fromEnv({ callbackUrl: endpoints.callbackUrl, region: endpoints.region, credentials, dynamoDb, secretsManager }, sdkEnvironment);
  return {
    name: `local gateway (${app.stackName} from ${assemblyDirectory})`,
    wsUrl: endpoints.wsUrl,
    sdk,
    async stop() {
      await gateway.stop();
      sdk.destroy();
      dynamoDb.destroy();
      secretsManager.destroy();
    },
  };
}

/**
 * A deployed stack. Either SCENARIO_OUTPUTS_FILE names a `cdk deploy --outputs-file` JSON (its
 * WebSocketUrl, CallbackUrl and table name outputs are used), or SCENARIO_WS_URL and the GATEWAY_*
 * variables are set. Credentials, region and endpoints (AWS_ENDPOINT_URL for LocalStack) come from
 * the AWS SDK's usual environment.
 */
export function deployedTarget(env: NodeJS.ProcessEnv = process.env): ScenarioTarget {
  const settings: Record<string, string | undefined> = { ...env };
  if (env.SCENARIO_OUTPUTS_FILE) {
    const stacks = JSON.parse(readFileSync(env.SCENARIO_OUTPUTS_FILE, 'utf8')) as Record<string, Record<string, string>>;
    const outputs = Object.values(stacks)[0] ?? {};
    // Output keys are logical ids: the construct path, the output id and an 8-character hash.
    const pick = (id: string) => Object.entries(outputs).find(([key]) => key.replace(/[0-9A-F]{8}$/, '').endsWith(id))?.[1];
    // Explicit variables win: an emulator may serve the API somewhere other than the URLs CloudFormation reports.
    settings.SCENARIO_WS_URL = env.SCENARIO_WS_URL ?? pick('WebSocketUrl');
    settings[GatewayEnvVar.callbackUrl] = env[GatewayEnvVar.callbackUrl] ?? pick('CallbackUrl');
    settings[GatewayEnvVar.connectionsTable] = pick('ConnectionsTableName');
    settings[GatewayEnvVar.sessionsTable] = pick('SessionsTableName');
    settings[GatewayEnvVar.membershipsTable] = pick('MembershipsTableName');
    settings[GatewayEnvVar.uidsTable] = pick('UidsTableName');
    settings[GatewayEnvVar.groupsTable] = pick('GroupsTableName');
    settings[GatewayEnvVar.bindTokenSecret] = env[GatewayEnvVar.bindTokenSecret] ?? pick('BindTokenSecretArn');
  }
  const wsUrl = settings.SCENARIO_WS_URL;
  if (!wsUrl) throw new Error('set SCENARIO_OUTPUTS_FILE (cdk deploy --outputs-file) or SCENARIO_WS_URL and the GATEWAY_* variables');
  const sdk = Gateway.fromEnv({}, settings);
  return { name: `deployed stack at ${wsUrl}`, wsUrl, sdk, stop: async () => sdk.destroy() };
}
