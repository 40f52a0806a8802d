/**
 * The synthesized app (a private copy of cdk.out) on a local gateway, set up as `npm start` sets it
 * up for a backend: `env` is the environment `npm start` prints (AWS variables, the SDK's variables
 * and GATEWAY_API_FUNCTION), and browsers' sockets get the app's init message. For the tests of the
 * Gateway API's clients in other languages.
 */
import WebSocket from 'ws';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LocalGateway, type GatewayEndpoints, type LocalGatewayOptions } from '../local/index.ts';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Gateway, GatewayEnvVar } from '../sdk/index.ts';
import { backendEnvironmentOf } from '../example/devEnvironment.ts';
import { GATEWAY_API_FUNCTION_ENV } from '../lambdas/gatewayApiProtocol.ts';
import { copySynthesizedApp } from './synthesizedApp.ts';

export interface GatewayApiApp {
  readonly gateway: LocalGateway;
  readonly endpoints: GatewayEndpoints;
  /** What `npm start` prints for a backend process. */
  readonly env: Readonly<Record<string, string>>;
  readonly functionName: string;
  /** The Node SDK on the same tables, to check what the other clients did. */
  readonly sdk: Gateway;
  /** A WebSocket client with the client id of its init message. */
  connect(): Promise<AppClient>;
  stop(): Promise<void>;
}

export interface AppClient {
  readonly id: string;
  /** The init message's bind_token. */
  readonly bindToken: string;
  readonly socket: WebSocket;
  /** Messages after init, in order of arrival. */
  readonly messages: string[];
  /** Waits for the n-th message after init (1-based). */
  message(n: number, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

export interface GatewayApiAppOptions {
  /** Extra functions beside the app's (e.g. one that crashes, to reach that path). */
  readonly functions?: LocalGatewayOptions['functions'];
  /** Variables set on every one of the app's functions, over their own (e.g. a construct switch). */
  readonly functionEnvironment?: Readonly<Record<string, string>>;
  /**
   * The app's requireBindToken switch (GATEWAY_REQUIRE_BIND_TOKEN on its functions and in `env`).
   * @default false: the seed's GatewayWorker code posts the client id alone
   */
  readonly requireBindToken?: boolean;
}

export async function startGatewayApiApp(prefix: string, options: GatewayApiAppOptions = {}): Promise<GatewayApiApp> {
  const copy = copySynthesizedApp(prefix);
  const bindTokenSwitch = { [GatewayEnvVar.requireBindToken]: String(options.requireBindToken ?? false) };
  const environment: Record<string, string> = { ...backendEnvironmentOf(copy.app), ...bindTokenSwitch };
  const functionName = environment[GATEWAY_API_FUNCTION_ENV];
  if (!functionName) throw new Error('cdk.out has no GatewayApiFunctionName output: synthesize again (npm run synth)');
  const appFunctions = Object.fromEntries(
    Object.entries(copy.app.gatewayOptions.functions ?? {}).map(([name, definition]) => [
      name,
      typeof definition === 'object' && 'entry' in definition
        ? { ...definition, environment: { ...definition.environment, ...bindTokenSwitch, ...options.functionEnvironment } }
        : definition,
    ]),
  );
  const gateway = new LocalGateway({ ...copy.app.gatewayOptions, functions: { ...appFunctions, ...options.functions }, environment, ttlSweepIntervalMs: 0 });
  const endpoints = await gateway.start();
  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const dynamoDb = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }));
  const secretsManager = new SecretsManagerClient({ endpoint: endpoints.httpUrl, region: endpoints.region, credentials });
  const sdk = Gateway.fromEnv({ region: endpoints.region, credentials, dynamoDb, secretsManager, logger: { warn: () => {} } }, endpoints.env);
  const clients = new Set<WebSocket>();
  return {
    gateway,
    endpoints,
    env: endpoints.env,
    functionName,
    sdk,
    connect: () => connectClient(endpoints.wsUrl, clients),
    async stop() {
      for (const socket of clients) socket.terminate();
      await gateway.stop();
      sdk.destroy();
      dynamoDb.destroy();
      secretsManager.destroy();
      copy.dispose();
    },
  };
}

async function connectClient(url: string, clients: Set<WebSocket>): Promise<AppClient> {
  const socket = new WebSocket(url);
  clients.add(socket);
  const messages: string[] = [];
  let wake: (() => void) | undefined;
  let initialized = false;
  const init = await new Promise<{ client_id: string; bind_token: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no init message within 10 s')), 10_000);
    socket.on('error', reject);
    socket.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      if (!initialized) {
        initialized = true;
        clearTimeout(timer);
        resolve(JSON.parse(text) as { client_id: string; bind_token: string });
        return;
      }
      messages.push(text);
      wake?.();
    });
  });
  const id = init.client_id;
  return {
    id,
    bindToken: init.bind_token,
    socket,
    messages,
    async message(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < n) {
        if (Date.now() > deadline) throw new Error(`client ${id} has ${messages.length} messages, waited for ${n}: ${JSON.stringify(messages)}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
      return messages[n - 1]!;
    },
    async close() {
      if (socket.readyState === WebSocket.CLOSED) return;
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.close();
      });
      clients.delete(socket);
    },
  };
}
