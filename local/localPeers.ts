/**
 * The local gateway's own dependencies are optional peers of the package: an SDK-only install (a
 * Lambda that only pushes) does not carry them. The command checks them before it loads anything
 * that imports them, so that it can fail with the command that installs them.
 */
import { createRequire } from 'node:module';

/** dynalite and ws for the gateway itself; the @connections client for its built-in handler set. */
export const LOCAL_GATEWAY_PEERS = ['dynalite', 'ws', '@aws-sdk/client-apigatewaymanagementapi'] as const;

const packageRequire = createRequire(import.meta.url);

/** The peers `resolve` cannot find (it throws for a missing one), in LOCAL_GATEWAY_PEERS order. */
export function missingLocalPeers(resolve: (specifier: string) => string = packageRequire.resolve): string[] {
  return LOCAL_GATEWAY_PEERS.filter((name) => {
    try {
      resolve(`${name}/package.json`);
      return false;
    } catch {
      return true;
    }
  });
}

/** The one line the command prints when peers are missing. */
export function missingPeersMessage(missing: readonly string[]): string {
  const names = missing.length > 1 ? `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}` : missing.join('');
  return `The local gateway needs ${names}, which this install does not have: npm install --save-dev ${missing.join(' ')}`;
}
