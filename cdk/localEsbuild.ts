/**
 * The construct bundles its functions with a local esbuild (forceDockerBundling: false). Without one,
 * NodejsFunction silently turns to Docker and fails with `spawnSync docker ENOENT`, which says nothing
 * about the cause; this check says what to install instead. It looks where NodejsFunction looks:
 * `esbuild` resolvable from aws-cdk-lib's own location, else an `esbuild` command on PATH.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

export const MISSING_ESBUILD_MESSAGE =
  'GatewayBackend bundles its Lambda functions with a local esbuild, and none was found (not resolvable from aws-cdk-lib, no `esbuild` on PATH): run `npm install --save-dev esbuild` in the CDK app';

export interface EsbuildLookup {
  /** Resolves `esbuild/package.json` as aws-cdk-lib would; throws when it cannot. */
  readonly resolveFromCdk: () => string;
  /** Whether `esbuild --version` runs. */
  readonly onPath: () => boolean;
}

const defaultLookup: EsbuildLookup = {
  resolveFromCdk: () => {
    const cdkRequire = createRequire(createRequire(import.meta.url).resolve('aws-cdk-lib/package.json'));
    return cdkRequire.resolve('esbuild/package.json');
  },
  onPath: () => {
    const result = spawnSync('esbuild', ['--version'], { stdio: 'ignore' });
    return result.status === 0 && !result.error;
  },
};

/** Throws an Error with MISSING_ESBUILD_MESSAGE when NodejsFunction would find no local esbuild. */
export function assertLocalEsbuild(lookup: EsbuildLookup = defaultLookup): void {
  try {
    lookup.resolveFromCdk();
    return;
  } catch {
    // Not installed next to aws-cdk-lib: NodejsFunction tries PATH next.
  }
  if (!lookup.onPath()) throw new Error(MISSING_ESBUILD_MESSAGE);
}
