#!/usr/bin/env node
/**
 * The package's command (`npx serverless-gateway-worker`): the local gateway of `npm run gateway`
 * (local/cli.ts, same options, same output), run from an app that installed this package. --help,
 * --version and usage errors are answered first; then only node: built-ins are imported before the
 * optional peers are known to be there.
 */
import { gatewayArguments } from './gatewayCommand.ts';
import { missingLocalPeers, missingPeersMessage } from './localPeers.ts';

gatewayArguments(process.argv.slice(2));
const missing = missingLocalPeers();
if (missing.length > 0) {
  console.error(missingPeersMessage(missing));
  process.exit(1);
}

await import('./cli.ts');
