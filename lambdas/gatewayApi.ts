/**
 * The Gateway API's entry point (bundled as is: it runs no user code). See gatewayApiHandler.ts.
 * One Gateway per execution environment: its keep-alive sockets and DynamoDB client are reused.
 */
import { Gateway } from '../sdk/index.ts';
import { createGatewayApiHandler } from './gatewayApiHandler.ts';

export const handler = createGatewayApiHandler({ gateway: Gateway.fromEnv() });
