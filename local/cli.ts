/**
 * `npm run gateway` and the package's command (`npx serverless-gateway-worker`, local/bin.ts): runs
 * the local gateway alone in the foreground and prints what a browser and a backend need. It serves a
 * synthesized CDK app (--assembly), a SAM or CloudFormation template (--template) or a serverless.yml
 * (--serverless); without one, a small built-in handler set. (`npm start` runs this project's whole
 * app: example/start.ts.) The options are in gatewayCommand.ts.
 */
import { LocalGateway, type LocalGatewayOptions } from './LocalGateway.ts';
import { builtinApp } from './builtinApp.ts';
import { CloudAssemblyError, gatewayApiEnvironmentOf, loadCloudAssembly, sharedEnvironmentOf } from './cloudAssembly.ts';
import { commandLog, describeEndpoints, portFallbackNotes, portOf, startFailure, stopOnSignals } from './cliSupport.ts';
import { gatewayArguments } from './gatewayCommand.ts';
import { createFunctionConsole } from './functionConsole.ts';
import { loadServerlessConfig } from './serverlessConfig.ts';
import { loadTemplate } from './samTemplate.ts';
import { TemplateError } from './templateText.ts';
import type { WebSocketApp } from './webSocketTemplate.ts';

const args = gatewayArguments(process.argv.slice(2));

/** The app the options name, or undefined for the built-in handler set; a load failure is one line and exit 1. */
function loadApp(): { app: WebSocketApp; source: string } | undefined {
  const { assembly, template, serverless, region } = args;
  try {
    if (assembly) return { app: loadCloudAssembly({ directory: assembly, stackName: args.stack, region }), source: assembly };
    if (template) return { app: loadTemplate({ path: template, parameters: args.parameterOverrides, region }), source: template };
    if (serverless) return { app: loadServerlessConfig({ path: serverless, stage: args.stage, region }), source: serverless };
    return undefined;
  } catch (error) {
    if (!(error instanceof TemplateError || error instanceof CloudAssemblyError)) throw error;
    console.error(`error: ${error.message}`);
    process.exit(1);
  }
}

const loaded = loadApp();
for (const warning of loaded?.app.warnings ?? []) console.warn(`warning: ${warning}`);
// With an app, a backend process needs what its functions share (table names, the callback URL, ...),
// and a backend in another language the Gateway API's function name.
const app: Omit<LocalGatewayOptions, 'port'> = loaded
  ? { ...loaded.app.gatewayOptions, environment: { ...sharedEnvironmentOf(loaded.app), ...gatewayApiEnvironmentOf(loaded.app) } }
  : builtinApp();

const functionConsole = createFunctionConsole({
  verbose: args.verbose,
  write: (line, stream) => (stream === 'stderr' ? console.error(line) : console.log(line)),
});
const { port, dynamoPort } = args;
const gateway = new LocalGateway({
  apiId: 'localwsapi',
  ...app,
  port,
  dynamoPort,
  dynamoPath: args.persist,
  log: commandLog(args.quiet),
  functionOutput: functionConsole.output,
});

try {
  const endpoints = await gateway.start();
  const dynamoData = args.persist ? `data in ${args.persist}` : 'in memory';
  console.log(
    [
      '',
      loaded
        ? `Serving ${loaded.app.stackName} from ${loaded.source} on the local gateway (api ${endpoints.apiId}, stage ${endpoints.stage})`
        : `Local API Gateway WebSocket API ${endpoints.apiId}, stage ${endpoints.stage} (the built-in handler set)`,
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

stopOnSignals(async () => {
  await gateway.stop();
  functionConsole.flush();
});
