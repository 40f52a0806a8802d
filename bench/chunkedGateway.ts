/**
 * The chunked-fan-out benchmark's gateway process (see bench/chunked.ts): the local gateway with
 * DynamoDB, `$connect` / `$disconnect` registering through the SDK, and two hosted functions: the
 * real fan-out worker (lambdas/fanoutWorker.ts, in its own worker thread, as the local gateway runs
 * module functions) and a no-op, to time the invoke API alone. Not run on its own.
 *
 * IPC in:  { type: 'group', name }   -> joins every open connection -> { type: 'grouped', count }
 *          { type: 'cpu' }           -> { type: 'cpu', usage: process.cpuUsage() } (all threads)
 *          { type: 'drain' }         -> waits for every invocation under way -> { type: 'drained' }
 *          { type: 'stop' }          -> exits at once
 * IPC out: { type: 'ready', endpoints }
 * stdout:  the worker's log lines (one JSON line per chunk), for the parent to read.
 */
import { LocalGateway, type WebSocketConnectEvent, type WebSocketDisconnectEvent } from '../local/index.ts';
import { Gateway, GatewayEnvVar, gatewayEnvironment } from '../sdk/index.ts';
import { localTables } from '../testkit/gatewayHarness.ts';
import { forEachConcurrent } from '../sdk/ConnectionStore.ts';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const tables = { connections: 'bench-connections', sessions: 'bench-sessions', memberships: 'bench-memberships', uids: 'bench-uids', groups: 'bench-groups' };
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

function send(message: unknown): void {
  process.send!(message);
}

async function main(): Promise<void> {
  let sdk: Gateway | undefined;
  const local = new LocalGateway({
    ttlSweepIntervalMs: 0,
    // The benchmark's clients never send; keep them past API Gateway's 10-minute idle timeout.
    limits: { idleTimeoutMs: 24 * 60 * 60 * 1000 },
    tables: localTables(tables),
    // The worker paces itself to no process budget: the bench measures the path (bench/chunked.ts).
    environment: (urls) => ({ ...gatewayEnvironment(urls.callbackUrl, tables), [GatewayEnvVar.sendRate]: 'off' }),
    functions: {
      fanoutWorker: { entry: fileURLToPath(new URL('../lambdas/fanoutWorker.ts', import.meta.url)), timeoutMs: 120_000, memoryMB: 1024 },
      noop: { handler: async () => null },
    },
    routes: {
      $connect: async (event: WebSocketConnectEvent) => {
        const { connectionId, connectedAt } = event.requestContext;
        await sdk!.registerConnection({ connectionId, connectedAt });
        return { statusCode: 200 };
      },
      $disconnect: async (event: WebSocketDisconnectEvent) => {
        await sdk!.unregisterConnection(event.requestContext.connectionId);
        return { statusCode: 200 };
      },
    },
  });
  const endpoints = await local.start();
  const dynamoDb = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: endpoints.dynamoEndpoint, region: endpoints.region, credentials }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  sdk = new Gateway({
    callbackUrl: endpoints.callbackUrl,
    tables,
    region: endpoints.region,
    credentials,
    dynamoDb,
    logger: { warn: () => {} },
    sendRate: false,
  });

  process.on('message', (message: { type: string; name?: string }) => {
    void (async () => {
      switch (message.type) {
        case 'group': {
          const ids = local.openConnectionIds();
          await forEachConcurrent(ids, 64, (id) => sdk!.joinGroup(id, message.name!));
          send({ type: 'grouped', count: ids.length });
          break;
        }
        case 'cpu':
          send({ type: 'cpu', usage: process.cpuUsage() });
          break;
        case 'drain':
          await local.functions.drain();
          send({ type: 'drained' });
          break;
        case 'stop':
          // No graceful stop: it would run 10,000 $disconnects for nothing.
          process.exit(0);
      }
    })().catch((error) => {
      console.error(error);
      process.exit(1);
    });
  });
  send({ type: 'ready', endpoints: { ...endpoints, env: undefined }, tables });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
