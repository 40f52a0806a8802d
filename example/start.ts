/**
 * `npm start`: the whole app on this machine. The local gateway runs the synthesized CDK app from
 * cdk.out (scripts/prepare.mjs synthesizes it when the sources are newer), and the example backend
 * serves the page on top of the SDK. The options are in HELP below (`npm start -- --help`).
 */
import { startDevEnvironment } from './devEnvironment.ts';
import { commandLog, describeEndpoints, portFallbackNotes, portOf, portOption, startFailure, stopOnSignals } from '../local/cliSupport.ts';
import { runCommandLine, UsageError } from '../local/commandLine.ts';
import { createFunctionConsole } from '../local/functionConsole.ts';

const HELP = `Usage: npm start -- [options]

Runs this project's whole app on this machine: the local gateway serving the CDK app synthesized in
cdk.out, and the example backend and page on top of the SDK.

Options:
  --port <n>          gateway port: WebSocket, @connections, Lambda invoke API (default 3001, or $PORT)
  --dynamo-port <n>   embedded DynamoDB port (default 8000)
  --web-port <n>      the example page and backend (default 8080)
                      A default port that is taken gives way to a free one; a port given here must be free.
  --persist <dir>     keep DynamoDB's data in <dir> across restarts (default: in memory)
  --quiet             no per-event log lines (the functions' errors are still printed)
  --verbose           print the functions' EMF metric records as they come (default: a summary line)
  -h, --help          this help
  -v, --version       the package's version
`;

const args = runCommandLine(
  {
    command: 'npm start --',
    help: HELP,
    options: {
      port: { type: 'string' },
      'dynamo-port': { type: 'string' },
      'web-port': { type: 'string' },
      persist: { type: 'string' },
      quiet: { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
  },
  process.argv.slice(2),
  ({ values }) => {
    if (values.quiet && values.verbose) throw new UsageError('--quiet and --verbose contradict each other');
    try {
      return {
        gatewayPort: portOption((values.port as string | undefined) ?? process.env.PORT, 3001, '--port'),
        dynamoPort: portOption(values['dynamo-port'] as string | undefined, 8000, '--dynamo-port'),
        backendPort: portOption(values['web-port'] as string | undefined, 8080, '--web-port'),
        persist: values.persist as string | undefined,
        quiet: values.quiet === true,
        verbose: values.verbose === true,
      };
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  },
);
const functionConsole = createFunctionConsole({
  verbose: args.verbose,
  write: (line, stream) => (stream === 'stderr' ? console.error(line) : console.log(line)),
});

try {
  const { gatewayPort, dynamoPort, backendPort } = args;
  const dev = await startDevEnvironment({
    functionOutput: functionConsole.output,
    gatewayPort,
    dynamoPort,
    backendPort,
    dynamoPath: args.persist,
    log: commandLog(args.quiet),
  });
  const { endpoints } = dev;
  const dynamoData = args.persist ? `data in ${args.persist}` : 'in memory';
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
  stopOnSignals(async () => {
    await dev.stop();
    functionConsole.flush();
  });
} catch (error) {
  console.error(startFailure(error, '--port, --dynamo-port or --web-port'));
  process.exit(1);
}
