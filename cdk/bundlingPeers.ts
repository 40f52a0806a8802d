/**
 * What the construct's bundling needs from the CDK app's install, checked before NodejsFunction runs:
 * - a local esbuild (forceDockerBundling: false). Without one, NodejsFunction silently turns to Docker
 *   and fails with `spawnSync docker ENOENT`, which says nothing about the cause. Looked for where
 *   NodejsFunction looks: `esbuild` resolvable from aws-cdk-lib's own location, else on PATH;
 * - the packages the bundled Lambdas import that are optional peers of this package (so that an
 *   SDK-only install does not carry them): the init sender's @connections client, the Secrets
 *   Manager client the SDK reads the bind token secret with, and Powertools' Metrics, which every
 *   function writes its metrics with (sdk/GatewayMetrics.ts). Without them, esbuild fails with
 *   "Could not resolve" deep in a bundling log.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

/** Optional peers of the package that the bundled Lambda entry points import. */
export const BUNDLED_PEERS = ['@aws-sdk/client-apigatewaymanagementapi', '@aws-sdk/client-secrets-manager', '@aws-lambda-powertools/metrics'] as const;

export interface BundlingLookup {
  /** Resolves `esbuild/package.json` as aws-cdk-lib would; throws when it cannot. */
  readonly esbuildFromCdk: () => string;
  /** Whether `esbuild --version` runs. */
  readonly esbuildOnPath: () => boolean;
  /** Resolves a package as esbuild will from the entry points in this package; throws when it cannot. */
  readonly resolvePeer: (name: string) => string;
}

const packageRequire = createRequire(import.meta.url);

const defaultLookup: BundlingLookup = {
  esbuildFromCdk: () => createRequire(packageRequire.resolve('aws-cdk-lib/package.json')).resolve('esbuild/package.json'),
  esbuildOnPath: () => {
    const result = spawnSync('esbuild', ['--version'], { stdio: 'ignore' });
    return result.status === 0 && !result.error;
  },
  // The package's entry as esbuild finds it; `name/package.json` first, for packages without a require entry.
  // (@aws-lambda-powertools/metrics exports no ./package.json, so that alone would call it missing.)
  resolvePeer: (name) => {
    try {
      return packageRequire.resolve(`${name}/package.json`);
    } catch {
      return packageRequire.resolve(name);
    }
  },
};

const resolves = (resolve: () => unknown): boolean => {
  try {
    resolve();
    return true;
  } catch {
    return false;
  }
};

/** The packages to install for the construct to bundle, in install order; [] when nothing is missing. */
export function missingBundlingPeers(lookup: BundlingLookup = defaultLookup): string[] {
  const missing: string[] = [];
  if (!resolves(lookup.esbuildFromCdk) && !lookup.esbuildOnPath()) missing.push('esbuild');
  for (const name of BUNDLED_PEERS) if (!resolves(() => lookup.resolvePeer(name))) missing.push(name);
  return missing;
}

export function missingBundlingPeersMessage(missing: readonly string[]): string {
  const esbuild = missing.includes('esbuild') ? ' with a local esbuild (none is resolvable from aws-cdk-lib or on PATH, and Docker is never used)' : '';
  const names = missing.length > 1 ? `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}` : missing.join('');
  return `GatewayBackend bundles its Lambda functions${esbuild}; this CDK app lacks ${names}: run \`npm install --save-dev ${missing.join(' ')}\``;
}

/** Throws an Error naming the install command when the construct could not bundle its functions. */
export function assertBundlingPeers(lookup: BundlingLookup = defaultLookup): void {
  const missing = missingBundlingPeers(lookup);
  if (missing.length > 0) throw new Error(missingBundlingPeersMessage(missing));
}
