/**
 * The server side of bench/gatewayApi.ts, in a process of its own: the synthesized app on the local
 * gateway (the Gateway API's bundle runs in a worker thread, as every function does), announced to
 * the parent over IPC with the environment `npm start` prints. Stops when the parent disconnects.
 */
import { startGatewayApiApp } from '../testkit/gatewayApiApp.ts';

const app = await startGatewayApiApp('bench-gateway-api');
process.send!({ type: 'ready', env: app.env, wsUrl: app.endpoints.wsUrl, functionName: app.functionName });
process.on('disconnect', () => void app.stop().then(() => process.exit(0)));
