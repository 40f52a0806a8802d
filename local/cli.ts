/**
 * `npm run gateway`: runs the local gateway alone in the foreground and prints what a browser and a
 * backend need. With --assembly it serves any synthesized CDK app's WebSocket API; without, a small
 * built-in handler set. (`npm start` runs this project's whole app: example/start.ts.)
 *
 *   --assembly <dir>    serve the WebSocket API of the CDK app synthesized in <dir> (e.g. cdk.out)
 *   --stack <name>      the stack to serve when <dir> has several with a WebSocket API
 *   --port <n>          WebSocket, @connections and Lambda API port (default 3001, or $PORT)
 *   --dynamo-port <n>   embedded DynamoDB port (default 8000)
 * A default port that is taken gives way to a free one, and the output says which; a port given
 * with an option (or $PORT) must be free.
 *   --persist <dir>     keep DynamoDB's data in <dir> across restarts (default: in memory)
 *   --quiet             no per-event log lines
 */
import { parseArgs } from 'node:util';
import { LocalGateway, type LocalGatewayOptions } from './LocalGateway.ts';
import { builtinApp } from './builtinApp.ts';
import { gatewayApiEnvironmentOf, loadCloudAssembly, sharedEnvironmentOf } from './cloudAssembly.ts';
import { describeEndpoints, portFallbackNotes, portOf, portOption, startFailure, stopOnSignals } from './cliSupport.ts';
import type { PortRequest } from './listen.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'dynamo-port': { type: 'string' },
    persist: { type: 'string' },
    assembly: { type: 'string' },
    stack: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});

const assembly = values.assembly ? loadCloudAssembly({ directory: values.assembly, stackName: values.stack }) : undefined;
for (const warning of assembly?.warnings ?? []) console.warn(`warning: ${warning}`);
// With an app, a backend process needs what its functions share (table names, the callback URL, ...),
// and a backend in another language the Gateway API's function name.
const app: Omit<LocalGatewayOptions, 'port'> = assembly
  ? { ...assembly.gatewayOptions, environment: { ...sharedEnvironmentOf(assembly), ...gatewayApiEnvironmentOf(assembly) } }
  : builtinApp();

let port: PortRequest;
let dynamoPort: PortRequest;
try {
  port = portOption(values.port ?? process.env.PORT, 3001, '--port');
  dynamoPort = portOption(values['dynamo-port'], 8000, '--dynamo-port');
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}

const gateway = new LocalGateway({
  apiId: 'localwsapi',
  ...app,
  port,
  dynamoPort,
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
      ...portFallbackNotes([
        { what: 'the gateway', requested: port, actual: portOf(endpoints.httpUrl) },
        { what: 'DynamoDB', requested: dynamoPort, actual: portOf(endpoints.dynamoEndpoint) },
      ]),
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
