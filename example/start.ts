/**
 * `npm start`: the whole app on this machine. The local gateway runs the synthesized CDK app from
 * cdk.out (scripts/prepare.mjs synthesizes it when the sources are newer), and the example backend
 * serves the page on top of the SDK.
 *
 *   --port <n>          gateway port: WebSocket, @connections, Lambda invoke API (default 3001, or $PORT)
 *   --dynamo-port <n>   embedded DynamoDB port (default 8000)
 *   --web-port <n>      the example page and backend (default 8080)
 * A default port that is taken gives way to a free one, and the output says which; a port given
 * with an option (or $PORT) must be free.
 *   --persist <dir>     keep DynamoDB's data in <dir> across restarts (default: in memory)
 *   --quiet             no per-event log lines
 */
import { parseArgs } from 'node:util';
import { startDevEnvironment } from './devEnvironment.ts';
import { describeEndpoints, portFallbackNotes, portOf, portOption, startFailure, stopOnSignals } from '../local/cliSupport.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'dynamo-port': { type: 'string' },
    'web-port': { type: 'string' },
    persist: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});

try {
  const gatewayPort = portOption(values.port ?? process.env.PORT, 3001, '--port');
  const dynamoPort = portOption(values['dynamo-port'], 8000, '--dynamo-port');
  const backendPort = portOption(values['web-port'], 8080, '--web-port');
  const dev = await startDevEnvironment({
    gatewayPort,
    dynamoPort,
    backendPort,
    dynamoPath: values.persist,
    log: values.quiet ? undefined : (line) => console.log(`${new Date().toISOString()} ${line}`),
  });
  const { endpoints } = dev;
  const dynamoData = values.persist ? `data in ${values.persist}` : 'in memory';
  console.log(
    [
      '',
      `Serving stack ${dev.stackName} from cdk.out on the local gateway (api ${endpoints.apiId}, stage ${endpoints.stage})`,
      ...dev.warnings.map((w) => `  warning: ${w}`),
      ...portFallbackNotes([
        { what: 'the gateway', requested: gatewayPort, actual: portOf(endpoints.httpUrl) },
        { what: 'DynamoDB', requested: dynamoPort, actual: portOf(endpoints.dynamoEndpoint) },
        { what: 'the example page', requested: backendPort, actual: portOf(dev.backend.url) },
      ]),
      ...describeEndpoints(endpoints, dev.gateway.functions.names(), dynamoData),
      '',
      `Example page    ${dev.backend.url}   (open it in two tabs: ?uid=alice and ?uid=bob)`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  stopOnSignals(() => dev.stop());
} catch (error) {
  console.error(startFailure(error, '--port, --dynamo-port or --web-port'));
  process.exit(1);
}
