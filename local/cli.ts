/**
 * `npm run gateway`: runs the local gateway alone in the foreground and prints what a browser and a
 * backend need. With --assembly it serves any synthesized CDK app's WebSocket API; without, a small
 * built-in handler set. (`npm start` runs this project's whole app: example/start.ts.)
 *
 *   --assembly <dir>    serve the WebSocket API of the CDK app synthesized in <dir> (e.g. cdk.out)
 *   --stack <name>      the stack to serve when <dir> has several with a WebSocket API
 *   --port <n>          WebSocket, @connections and Lambda invoke API port (default 3001, or $PORT)
 *   --dynamo-port <n>   embedded DynamoDB port (default 8000)
 *   --persist <dir>     keep DynamoDB's data in <dir> across restarts (default: in memory)
 *   --quiet             no per-event log lines
 */
import { parseArgs } from 'node:util';
import { LocalGateway, type LocalGatewayOptions } from './LocalGateway.ts';
import { builtinApp } from './builtinApp.ts';
import { loadCloudAssembly, sharedEnvironmentOf } from './cloudAssembly.ts';
import { describeEndpoints, startFailure, stopOnSignals } from './cliSupport.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '3001' },
    'dynamo-port': { type: 'string', default: '8000' },
    persist: { type: 'string' },
    assembly: { type: 'string' },
    stack: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});

const assembly = values.assembly ? loadCloudAssembly({ directory: values.assembly, stackName: values.stack }) : undefined;
for (const warning of assembly?.warnings ?? []) console.warn(`warning: ${warning}`);
// With an app, a backend process needs what its functions share (table names, the callback URL, ...).
const app: Omit<LocalGatewayOptions, 'port'> = assembly
  ? { ...assembly.gatewayOptions, environment: sharedEnvironmentOf(assembly) }
  : builtinApp();

const gateway = new LocalGateway({
  apiId: 'localwsapi',
  ...app,
  port: Number(values.port),
  dynamoPort: Number(values['dynamo-port']),
  dynamoPath: values.persist,
  log: values.quiet ? undefined : (line) => console.log(`${new Date().toISOString()} ${line}`),
});

try {
  const endpoints = await gateway.start();
  const dynamoData = values.persist ? `data in ${values.persist}` : 'in memory';
  console.log(
    [
      '',
      `Local API Gateway WebSocket API ${endpoints.apiId}, stage ${endpoints.stage}`,
      ...describeEndpoints(endpoints, gateway.functions.names(), dynamoData),
      '',
      `Try it from a browser console: new WebSocket('${endpoints.wsUrl}').onmessage = (e) => console.log(e.data)`,
      'Ctrl-C stops the gateway.',
      '',
    ].join('\n'),
  );
} catch (error) {
  console.error(startFailure(error, '--port or --dynamo-port'));
  process.exit(1);
}

stopOnSignals(() => gateway.stop());
