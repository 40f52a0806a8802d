/**
 * The handler set `npm start` runs when no synthesized backend is available: every connection is
 * accepted and receives `{"type":"init","client_id":"<id>"}` right after it opens (never from inside
 * `$connect`, where API Gateway answers 410), and every message is echoed back to its sender.
 */
import type { LocalGatewayOptions } from './LocalGatewayOptions.ts';
import type { WebSocketConnectEvent, WebSocketMessageEvent } from '../lambdas/webSocketEvent.ts';
import type { LambdaHandler } from './functionDefinitions.ts';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { LambdaEventInvoker } from '../sdk/lambdaInvoke.ts';

const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

export function builtinApp(): Pick<LocalGatewayOptions, 'routes' | 'functions' | 'environment' | 'stage'> {
  // Inline handlers share this process's environment, so the clients are built from the gateway's URLs.
  let management: ApiGatewayManagementApiClient | undefined;
  let lambda: LambdaEventInvoker | undefined;
  const post = async (connectionId: string, data: string) => {
    await management!.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
  };
  const sendInit: LambdaHandler = async (event: { connectionId: string }) => {
    // The connection opens right after $connect returns; retry the 410 it answers until then.
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        return await post(event.connectionId, JSON.stringify({ type: 'init', client_id: event.connectionId }));
      } catch (error) {
        if ((error as Error).name !== 'GoneException') throw error;
        await new Promise((r) => setTimeout(r, 25 * (attempt + 1)));
      }
    }
  };
  return {
    stage: 'local',
    environment: (urls) => {
      management = new ApiGatewayManagementApiClient({ endpoint: urls.callbackUrl, region: urls.region, credentials });
      lambda = new LambdaEventInvoker({ endpoint: urls.httpUrl, region: urls.region, credentials });
      return {};
    },
    functions: { sendInit: { handler: sendInit, timeoutMs: 10_000 } },
    routes: {
      $connect: async (event: WebSocketConnectEvent) => {
        // An asynchronous invocation through the invoke API: $connect returns while init waits for the open socket.
        await lambda!.send({
          input: {
            FunctionName: 'sendInit',
            InvocationType: 'Event',
            Payload: Buffer.from(JSON.stringify({ connectionId: event.requestContext.connectionId })),
          },
        });
        return { statusCode: 200 };
      },
      $default: async (event: WebSocketMessageEvent) => {
        await post(event.requestContext.connectionId, JSON.stringify({ type: 'echo', body: event.body }));
        return { statusCode: 200 };
      },
    },
  };
}
