/**
 * Listening on a port that may be taken. The command-line entry points start on well-known default
 * ports (3001, 8000, 8080), which other tools on a developer's machine often hold: a default port
 * that is taken gives way to a free one (the caller prints which), while a port the user asked for
 * fails loudly, as before.
 */
import type { Server } from 'node:net';

/** A port number (exactly that one; 0 for any free port), or `{ preferred }`: that one if free, else any free one. */
export type PortRequest = number | { readonly preferred: number };

export interface ListenOptions {
  readonly host: string;
  readonly backlog?: number;
}

/** Listens and returns the port, falling back to a free one only for a `{ preferred }` port that is in use. */
export async function listenOn(server: Server, port: PortRequest, options: ListenOptions): Promise<number> {
  const requested = typeof port === 'number' ? port : port.preferred;
  try {
    await listenOnce(server, requested, options);
  } catch (error) {
    if (typeof port === 'number' || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    await listenOnce(server, 0, options);
  }
  const address = server.address();
  return typeof address === 'object' && address ? address.port : requested;
}

function listenOnce(server: Server, port: number, { host, backlog }: ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host, ...(backlog !== undefined ? { backlog } : {}) });
  });
}

/** The port a `--port`-style option names, or a clear error for anything that is not one. */
export function parsePort(value: string, option: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(port) || port > 65535) {
    throw new Error(`${option} must be a port number from 0 to 65535 (0: any free port), not ${JSON.stringify(value)}`);
  }
  return port;
}
