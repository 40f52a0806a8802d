// What an install without an optional peer gets: the construct without esbuild or the init sender's
// @connections client, and the command without the local gateway's packages, fail with the install
// command, not with Docker's, esbuild's or the module resolver's error. (The consumer test runs the
// command in a real SDK-only install, and synthesizes a real app without esbuild.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertBundlingPeers, BUNDLED_PEERS, missingBundlingPeers, missingBundlingPeersMessage, type BundlingLookup } from '../../cdk/bundlingPeers.ts';
import { LOCAL_GATEWAY_PEERS, missingLocalPeers, missingPeersMessage } from '../../local/localPeers.ts';

const notFound = (): never => {
  throw Object.assign(new Error('Cannot find module'), { code: 'MODULE_NOT_FOUND' });
};
const found = (name = 'x') => `/app/node_modules/${name}/package.json`;
const everything: BundlingLookup = { esbuildFromCdk: found, esbuildOnPath: () => assert.fail('PATH is not needed'), resolvePeer: found };

test('no esbuild next to aws-cdk-lib and none on PATH: the install command, before Docker is tried', () => {
  let pathChecked = false;
  const lookup: BundlingLookup = { ...everything, esbuildFromCdk: notFound, esbuildOnPath: () => ((pathChecked = true), false) };
  assert.deepEqual(missingBundlingPeers(lookup), ['esbuild']);
  assert.ok(pathChecked);
  assert.throws(() => assertBundlingPeers(lookup), /local esbuild .*Docker is never used.*run `npm install --save-dev esbuild`$/);
});

test("the bundled Lambdas' optional peers are named, with esbuild when both are missing", () => {
  assert.deepEqual([...BUNDLED_PEERS], ['@aws-sdk/client-apigatewaymanagementapi', '@aws-sdk/client-secrets-manager', '@aws-lambda-powertools/metrics']);
  const onlySecrets = (name: string) => (name === '@aws-sdk/client-secrets-manager' ? notFound() : found(name));
  assert.deepEqual(missingBundlingPeers({ ...everything, resolvePeer: onlySecrets }), ['@aws-sdk/client-secrets-manager']);
  const all = missingBundlingPeers({ esbuildFromCdk: notFound, esbuildOnPath: () => false, resolvePeer: notFound });
  assert.deepEqual(all, ['esbuild', '@aws-sdk/client-apigatewaymanagementapi', '@aws-sdk/client-secrets-manager', '@aws-lambda-powertools/metrics']);
  assert.match(
    missingBundlingPeersMessage(all),
    /lacks esbuild, @aws-sdk\/client-apigatewaymanagementapi, @aws-sdk\/client-secrets-manager and @aws-lambda-powertools\/metrics: run `npm install --save-dev esbuild @aws-sdk\/client-apigatewaymanagementapi @aws-sdk\/client-secrets-manager @aws-lambda-powertools\/metrics`$/,
  );
});

// The real lookup also finds @aws-lambda-powertools/metrics, whose exports have no ./package.json.
test("esbuild on PATH or next to aws-cdk-lib passes, and the real lookup finds this repository's install", () => {
  assert.deepEqual(missingBundlingPeers({ ...everything, esbuildFromCdk: notFound, esbuildOnPath: () => true }), []);
  assert.deepEqual(missingBundlingPeers(everything), []);
  assert.doesNotThrow(() => assertBundlingPeers());
});

test('the command names the missing local gateway peers and how to install them', () => {
  assert.deepEqual([...LOCAL_GATEWAY_PEERS], ['dynalite', 'ws', '@aws-sdk/client-apigatewaymanagementapi']);
  assert.deepEqual(
    missingLocalPeers((specifier) => (specifier.startsWith('ws/') ? notFound() : specifier)),
    ['ws'],
  );
  assert.deepEqual(missingLocalPeers(notFound), ['dynalite', 'ws', '@aws-sdk/client-apigatewaymanagementapi']);
  assert.deepEqual(missingLocalPeers(), []);
  assert.equal(missingPeersMessage(['ws']), 'The local gateway needs ws, which this install does not have: npm install --save-dev ws');
  assert.match(missingPeersMessage([...LOCAL_GATEWAY_PEERS]), /needs dynalite, ws and @aws-sdk\/client-apigatewaymanagementapi, /);
  assert.equal(
    missingPeersMessage(['dynalite', 'ws']),
    'The local gateway needs dynalite and ws, which this install does not have: npm install --save-dev dynalite ws',
  );
});
