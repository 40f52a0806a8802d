/**
 * The options of the gateway command (`serverless-gateway-worker`, `npm run gateway`), its help text
 * and their checks. Only node: built-ins and cliSupport's port parsing are imported: the package's
 * command answers --help and usage errors before it checks the optional peers.
 */
import { runCommandLine, UsageError, type CommandLine, type CommandSpec } from './commandLine.ts';
import { portOption } from './cliSupport.ts';
import type { PortRequest } from './listen.ts';

export const GATEWAY_COMMAND: CommandSpec = {
  command: 'serverless-gateway-worker',
  help: `Usage: serverless-gateway-worker [app] [options]
       npm run gateway -- [app] [options]

Runs API Gateway WebSocket APIs, @connections, the Lambda invoke API and DynamoDB on this machine.

The app (one of them; without one, a small built-in handler set):
  --assembly <dir>             a synthesized CDK app (e.g. cdk.out)
  --stack <name>               the stack to serve when <dir> has several with a WebSocket API
  --template <file>            a SAM or CloudFormation template (YAML or JSON)
  --parameter-overrides K=V …  values for the template's Parameters (also "K=V K2=V2")
  --serverless <file>          a Serverless Framework app (serverless.yml)
  --stage <name>               the serverless.yml stage (\${opt:stage}, \${sls:stage})
  --region <name>              the region the app believes it is in (default us-east-1)

Options:
  --port <n>          WebSocket, @connections and Lambda API port (default 3001, or $PORT)
  --dynamo-port <n>   embedded DynamoDB port (default 8000)
                      A default port that is taken gives way to a free one; a port given here must be free.
  --persist <dir>     keep DynamoDB's data in <dir> across restarts (default: in memory)
  --quiet             no per-event log lines (the functions' errors are still printed)
  --verbose           print the functions' EMF metric records as they come (default: a summary line)
  -h, --help          this help
  -v, --version       the package's version
`,
  options: {
    port: { type: 'string' },
    'dynamo-port': { type: 'string' },
    persist: { type: 'string' },
    assembly: { type: 'string' },
    stack: { type: 'string' },
    template: { type: 'string' },
    serverless: { type: 'string' },
    stage: { type: 'string' },
    region: { type: 'string' },
    quiet: { type: 'boolean' },
    verbose: { type: 'boolean' },
  },
  parameterOverrides: true,
};

/** What the gateway command was asked for, checked. */
export interface GatewayArguments {
  readonly port: PortRequest;
  readonly dynamoPort: PortRequest;
  readonly assembly?: string;
  readonly stack?: string;
  readonly template?: string;
  readonly serverless?: string;
  readonly stage?: string;
  readonly region?: string;
  readonly persist?: string;
  readonly parameterOverrides: Readonly<Record<string, string>>;
  readonly quiet: boolean;
  readonly verbose: boolean;
}

/**
 * The gateway command's command line: help, version and usage errors are answered here (see
 * commandLine.ts: the process exits); what is left is returned, checked.
 */
export function gatewayArguments(argv: readonly string[]): GatewayArguments {
  return runCommandLine(GATEWAY_COMMAND, argv, checkGatewayArguments);
}

/** The checks across options and of their values; throws UsageError naming the option. */
export function checkGatewayArguments({ values, parameterOverrides }: CommandLine): GatewayArguments {
  const string = (name: string) => values[name] as string | undefined;
  const apps = (['assembly', 'template', 'serverless'] as const).filter((name) => string(name) !== undefined);
  if (apps.length > 1) throw new UsageError(`--${apps[0]} and --${apps[1]} are two apps; give one`);
  if (string('stack') !== undefined && !string('assembly')) throw new UsageError('--stack needs --assembly');
  if (Object.keys(parameterOverrides).length > 0 && !string('template')) throw new UsageError('--parameter-overrides needs --template');
  if (string('stage') !== undefined && !string('serverless'))
    throw new UsageError('--stage needs --serverless (a template takes its stage from its parameters)');
  if (values.quiet && values.verbose) throw new UsageError('--quiet and --verbose contradict each other');
  let ports: { port: PortRequest; dynamoPort: PortRequest };
  try {
    ports = { port: portOption(string('port') ?? process.env.PORT, 3001, '--port'), dynamoPort: portOption(string('dynamo-port'), 8000, '--dynamo-port') };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return {
    ...ports,
    assembly: string('assembly'),
    stack: string('stack'),
    template: string('template'),
    serverless: string('serverless'),
    stage: string('stage'),
    region: string('region'),
    persist: string('persist'),
    parameterOverrides,
    quiet: values.quiet === true,
    verbose: values.verbose === true,
  };
}
