/** What the two command-line entry points (local/cli.ts, example/start.ts) print and how they stop. */
import type { GatewayEndpoints } from './LocalGateway.ts';
import { parsePort, type PortRequest } from './listen.ts';

/**
 * A port option: the port the user gave (it must be free: a taken one fails the start), else the
 * default, which gives way to a free port when it is taken.
 */
export function portOption(value: string | undefined, defaultPort: number, option: string): PortRequest {
  return value === undefined ? { preferred: defaultPort } : parsePort(value, option);
}

/** One line for each default port that was taken, naming the port used instead. */
export function portFallbackNotes(ports: ReadonlyArray<{ readonly what: string; readonly requested: PortRequest; readonly actual: number }>): string[] {
  return ports
    .filter((p) => typeof p.requested !== 'number' && p.requested.preferred !== p.actual)
    .map((p) => `  note: ${p.what} default port ${(p.requested as { preferred: number }).preferred} is in use; using ${p.actual} instead`);
}

/** The port of an http://host:port URL. */
export function portOf(url: string): number {
  return Number(new URL(url).port);
}

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

/**
 * The gateway's per-event log for a command: every line, or with `quiet` only the failures of the
 * app's functions (the lines that name a function and its error: `... failed for {id}: function
 * {name} {errorType}: {message}`), on stderr, so that an error is never silent.
 */
export function commandLog(quiet: boolean): (line: string) => void {
  const stamp = (line: string) => `${new Date().toISOString()} ${line}`;
  if (!quiet) return (line) => console.log(stamp(line));
  return (line) => {
    if (/: function \S+ [^:\s]+: /.test(line)) console.error(stamp(line));
  };
}
