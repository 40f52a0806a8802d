// What an install without an optional peer gets: the construct without esbuild and the command
// without the local gateway's packages fail with the install command, not with Docker's or the
// module resolver's error. (The consumer test runs the command in a real SDK-only install too.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertLocalEsbuild, MISSING_ESBUILD_MESSAGE } from '../cdk/localEsbuild.ts';
import { LOCAL_GATEWAY_PEERS, missingLocalPeers, missingPeersMessage } from '../local/localPeers.ts';

const notFound = () => {
  throw Object.assign(new Error('Cannot find module'), { code: 'MODULE_NOT_FOUND' });
};

test('no esbuild next to aws-cdk-lib and none on PATH: the install command, before Docker is tried', () => {
  let pathChecked = false;
  assert.throws(
    () => assertLocalEsbuild({ resolveFromCdk: notFound, onPath: () => ((pathChecked = true), false) }),
    (error: Error) => error.message === MISSING_ESBUILD_MESSAGE,
  );
  assert.ok(pathChecked);
  assert.match(MISSING_ESBUILD_MESSAGE, /npm install --save-dev esbuild/);
});

test('esbuild found either way passes, and the real lookup finds this repository\'s esbuild', () => {
  assert.doesNotThrow(() => assertLocalEsbuild({ resolveFromCdk: notFound, onPath: () => true }));
  assert.doesNotThrow(() => assertLocalEsbuild({ resolveFromCdk: () => '/x/esbuild/package.json', onPath: () => assert.fail('PATH is not needed') }));
  assert.doesNotThrow(() => assertLocalEsbuild());
});

test('the command names the missing local gateway peers and how to install them', () => {
  assert.deepEqual([...LOCAL_GATEWAY_PEERS], ['dynalite', 'ws']);
  assert.deepEqual(missingLocalPeers((specifier) => (specifier.startsWith('ws/') ? notFound() : specifier)), ['ws']);
  assert.deepEqual(missingLocalPeers(notFound), ['dynalite', 'ws']);
  assert.deepEqual(missingLocalPeers(), []);
  assert.equal(missingPeersMessage(['dynalite', 'ws']), 'The local gateway needs dynalite and ws, which this install does not have: npm install --save-dev dynalite ws');
});
