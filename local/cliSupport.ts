/** What the two command-line entry points (local/cli.ts, example/start.ts) print and how they stop. */
import type { GatewayEndpoints } from './LocalGateway.ts';

/** The URL block and the `export` lines a backend process needs. */
export function describeEndpoints(endpoints: GatewayEndpoints, functionNames: readonly string[], dynamoData: string): string[] {
  return [
    `  WebSocket URL   ${endpoints.wsUrl}`,
    `  Callback URL    ${endpoints.callbackUrl}   (@connections: POST/GET/DELETE {callback}/@connections/{id})`,
    `  Lambda API      ${endpoints.httpUrl}   (functions: ${functionNames.join(', ') || 'none'})`,
    `  DynamoDB        ${endpoints.dynamoEndpoint}   (${dynamoData})`,
    '',
    'Environment for a backend process (Gateway.fromEnv() and AWS SDK clients pick these up unchanged):',
    ...Object.entries(endpoints.env).map(([name, value]) => `  export ${name}=${value}`),
  ];
}

/** Ctrl-C (or SIGTERM) stops gracefully: clients closed, invocations finished; a second one forces. */
export function stopOnSignals(stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      console.log('\nstopping: closing clients and letting invocations finish (Ctrl-C again to force)');
      void stop().then(() => process.exit(0));
    });
  }
}

/** A start-up failure as one actionable line. */
export function startFailure(error: unknown, portOptions: string): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'EADDRINUSE' ? `a port is in use: pass ${portOptions} (${(error as Error).message})` : String((error as Error)?.stack ?? error);
}
