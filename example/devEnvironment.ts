/**
 * The whole app on a laptop, as `npm start` runs it: the local gateway serving the synthesized CDK
 * app from cdk.out (the very bundles `cdk deploy` uploads), plus the example backend and page.
 */
import { LocalGateway, environmentOf, loadCloudAssembly, type CloudAssemblyApp, type GatewayEndpoints, type LocalGatewayOptions } from '../local/index.ts';
import type { PortRequest } from '../local/listen.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Gateway, GatewayEnvVar } from '../sdk/index.ts';
import { gatewayApiEnvironmentOf } from '../local/cloudAssembly.ts';
import { startExampleBackend, type RunningBackend } from './backend.ts';

export interface DevEnvironmentOptions {
  /** @default 'cdk.out' */
  readonly assemblyDirectory?: string;
  /** @default 0 (see PortRequest for a preferred port) */
  readonly gatewayPort?: PortRequest;
  /** @default 0 */
  readonly dynamoPort?: PortRequest;
  /** @default 0 */
  readonly backendPort?: PortRequest;
  readonly dynamoPath?: string;
  readonly log?: (line: string) => void;
  /** Takes the functions' console output (see LocalGatewayOptions.functionOutput). @default the host's stdout and stderr */
  readonly functionOutput?: LocalGatewayOptions['functionOutput'];
  /** The gateway's AWS limits to change, e.g. a lowered `maxConnectionDurationMs` in a test. @default AWS's */
  readonly limits?: LocalGatewayOptions['limits'];
}

export interface DevEnvironment {
  /** The running gateway (a new one after restartGateway()). */
  readonly gateway: LocalGateway;
  readonly endpoints: GatewayEndpoints;
  /** The SDK, configured exactly as a backend process would be from `endpoints.env`. */
  readonly sdk: Gateway;
  readonly backend: RunningBackend;
  readonly stackName: string;
  readonly warnings: readonly string[];
  /**
   * Stops the gateway (every client gets 1001) and starts a new one on the same ports, with the same
   * secret values (as a redeploy keeps a stack's secret) and empty tables; the backend keeps running.
   */
  restartGateway(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The app's variables a backend process needs: what the construct's grantGateway set on its
 * functions (for the Node SDK), and the Gateway API's function name (for every other language).
 */
export function backendEnvironmentOf(app: CloudAssemblyApp): Record<string, string> {
  return { ...environmentOf(app, Object.values(GatewayEnvVar)), ...gatewayApiEnvironmentOf(app) };
}

export async function startDevEnvironment(options: DevEnvironmentOptions = {}): Promise<DevEnvironment> {
  const app = loadCloudAssembly({ directory: options.assemblyDirectory ?? 'cdk.out' });
  const sdkEnvironment = backendEnvironmentOf(app);
  const newGateway = (ports: { gateway: PortRequest; dynamo: PortRequest }, secrets = app.gatewayOptions.secrets) =>
    new LocalGateway({
      ...app.gatewayOptions,
      secrets,
      port: ports.gateway,
      dynamoPort: ports.dynamo,
      dynamoPath: options.dynamoPath,
      limits: options.limits,
      environment: sdkEnvironment,
      log: options.log,
      functionOutput: options.functionOutput,
    });
  let gateway = newGateway({ gateway: options.gatewayPort ?? 0, dynamo: options.dynamoPort ?? 0 });
  const endpoints = await gateway.start();
  // In this process the SDK gets the endpoints explicitly; a separate backend process would get them
  // from `endpoints.env` (AWS_ENDPOINT_URL_DYNAMODB, ...) with Gateway.fromEnv().
  const credentials = { accessKeyId: endpoints.env.AWS_ACCESS_KEY_ID!, secretAccessKey: endpoints.env.AWS_SECRET_ACCESS_KEY! };
  const dynamoDb = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }));
  const secretsManager = new SecretsManagerClient({ endpoint: endpoints.httpUrl, region: endpoints.region, credentials });
  const sdk = Gateway.fromEnv({ region: endpoints.region, credentials, dynamoDb, secretsManager }, endpoints.env);
  const backend = await startExampleBackend({ gateway: sdk, wsUrl: endpoints.wsUrl, port: options.backendPort ?? 0 });
  return {
    get gateway() {
      return gateway;
    },
    endpoints,
    sdk,
    backend,
    stackName: app.stackName,
    warnings: app.warnings,
    async restartGateway() {
      const values = gateway.secrets.values();
      await gateway.stop();
      const ports = { gateway: Number(new URL(endpoints.httpUrl).port), dynamo: Number(new URL(endpoints.dynamoEndpoint).port) };
      gateway = newGateway(
        ports,
        app.gatewayOptions.secrets?.map((s) => ({ ...s, value: values[s.arn] })),
      );
      await gateway.start();
    },
    async stop() {
      await backend.stop();
      await gateway.stop();
      sdk.destroy();
      dynamoDb.destroy();
      secretsManager.destroy();
    },
  };
}
