// The package as it is published: `npm run build` compiles the shipped directories into dist/, the
// exports map points at what was built, the tarball holds dist/ and the metadata only, the SDK's
// import graph reaches nothing but its dependencies, and the compiled construct, command and CommonJS
// entry points work under plain Node (no tsx). The full consumer install is `scripts/consumer-test.mjs`
// in .ci/run.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';

const root = fileURLToPath(new URL('../..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, string | { types: string; default: string }>;
  bin: Record<string, string>;
  files: string[];
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  devDependencies: Record<string, string>;
  engines: { node: string };
};
/** The construct's sources (cdk/*.ts), where it names its entry points. */
const constructSources = readdirSync(join(root, 'cdk'))
  .filter((name) => name.endsWith('.ts'))
  .map((name) => readFileSync(join(root, 'cdk', name), 'utf8'))
  .join('\n');
/** The entry points the construct bundles, as it names them (`lambdaEntry('bundled/connect')`), in dist/. */
const constructEntries = [...new Set([...constructSources.matchAll(/lambdaEntry\('([^']+)'\)/g)].map((m) => `dist/lambdas/${m[1]}.js`))];
const conditionalExports = Object.entries(manifest.exports).filter((e): e is [string, { types: string; default: string }] => typeof e[1] === 'object');

before(() => {
  const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, encoding: 'utf8' });
  assert.equal(build.status, 0, `${build.stdout}\n${build.stderr}`);
});

test('every export has a types and a default condition, both built from a source file', () => {
  assert.deepEqual(Object.keys(manifest.exports).sort(), ['.', './browser', './cdk', './echo', './events', './local', './metrics', './package.json']);
  for (const [subpath, target] of conditionalExports) {
    assert.deepEqual(Object.keys(target), ['types', 'default'], `${subpath}: types first, as TypeScript requires`);
    for (const file of [target.types, target.default]) assert.ok(existsSync(join(root, file)), `${subpath}: ${file} was not built`);
    // Built from a TypeScript source, or (the browser client, the Echo connector) plain JavaScript shipped as is.
    if (!target.default.startsWith('./dist/')) continue;
    const source = target.default.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts');
    assert.ok(existsSync(join(root, source)), `${subpath}: no source ${source}`);
  }
  // The SDK has one name, the root: `serverless-gateway-worker/sdk` was a second name for it until 0.2.0.
  assert.deepEqual(manifest.exports['.'], { types: './dist/sdk/index.d.ts', default: './dist/sdk/index.js' });
});

test('the tarball holds dist/, the clients, the README, LICENSE, CHANGELOG and package.json, and no TypeScript source or test', () => {
  const pack = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  assert.equal(pack.status, 0, pack.stderr);
  const [{ files }] = JSON.parse(pack.stdout) as [{ files: Array<{ path: string }> }];
  const paths = files.map((f) => f.path);
  for (const required of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', ...Object.values(manifest.bin)])
    assert.ok(paths.includes(required), `${required} is not packed`);
  for (const [, target] of conditionalExports) {
    assert.ok(paths.includes(target.types.slice(2)) && paths.includes(target.default.slice(2)), `${target.default} is not packed`);
  }
  const unexpected = paths.filter((p) => !/^(dist\/|clients\/|package\.json$|README\.md$|LICENSE$|CHANGELOG\.md$)/.test(p));
  assert.ok(!paths.some((p) => /\.test\.[cm]?[jt]s$/.test(p)), 'a test file is packed');
  assert.deepEqual(unexpected, []);
  const sources = paths.filter((p) => /\.[cm]?ts$/.test(p) && !/\.d\.[cm]?ts$/.test(p));
  assert.deepEqual(sources, []);
  assert.ok(!paths.some((p) => /(^|\/)(test|tests|bench|scripts)\//.test(p)), 'tests, benchmarks or scripts are packed');
  // Every client ships (clients/browser as an export, clients/php for PHP apps next to a Node install).
  for (const client of readdirSync(join(root, 'clients')))
    assert.ok(
      paths.some((p) => p.startsWith(`clients/${client}/`)),
      `clients/${client} is not packed`,
    );
  // The construct bundles the Lambda entry points from the package: they ship as JavaScript.
  for (const entry of constructEntries) assert.ok(paths.includes(entry), `${entry} is not packed`);
});

/** The bare specifiers a compiled module graph imports (→ the file, and whether only by `import()`), following its relative imports. */
function bareImportsOf(entry: string): Map<string, { from: string; lazy: boolean }> {
  const found = new Map<string, { from: string; lazy: boolean }>();
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    // Comments may quote import statements; the code is what matters.
    const code = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    for (const match of code.matchAll(/(?:^|[\s;])(?:import|export)\s*(?:[^'";]*?\sfrom\s*)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)) {
      const specifier = match[1] ?? match[2]!;
      const lazy = match[1] === undefined;
      if (specifier.startsWith('.')) visit(resolve(dirname(file), specifier));
      else if (!found.has(specifier) || (found.get(specifier)!.lazy && !lazy)) found.set(specifier, { from: relative(root, file), lazy });
    }
  };
  visit(join(root, entry));
  return found;
}

const packageName = (specifier: string) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
const isBuiltin = (specifier: string) => specifier.startsWith('node:') || builtinModules.includes(specifier);

test('the SDK and the Events types import only the dependencies: no aws-cdk-lib, no local gateway peers', () => {
  for (const entry of ['dist/sdk/index.js', 'dist/lambdas/eventsApi.js']) {
    for (const [specifier, { from, lazy }] of bareImportsOf(entry)) {
      if (isBuiltin(specifier)) continue;
      const name = packageName(specifier);
      // An optional peer only by import() on first use (the bind token secret's client), which says what to install when it fails.
      if (lazy && manifest.peerDependenciesMeta[name]?.optional) continue;
      assert.ok(manifest.dependencies[name], `${entry} reaches ${specifier} (in ${from}), which is not a dependency`);
    }
  }
});

test('what the construct, the local gateway, the command and the bundled Lambdas import is a dependency or an optional peer', () => {
  const entries = ['dist/cdk/index.js', 'dist/local/index.js', 'dist/local/bin.js', 'dist/local/lambdaWorker.mjs', ...constructEntries];
  const allowed = (name: string) => manifest.dependencies[name] !== undefined || manifest.peerDependenciesMeta[name]?.optional === true;
  for (const entry of entries) {
    for (const [specifier, { from }] of bareImportsOf(entry)) {
      // The Events module's alias, which the construct resolves at bundle time.
      if (isBuiltin(specifier) || specifier === '@gateway-backend/events') continue;
      assert.ok(allowed(packageName(specifier)), `${entry} reaches ${specifier} (in ${from}): neither a dependency nor an optional peer`);
    }
  }
  for (const peer of Object.keys(manifest.peerDependencies)) {
    assert.ok(manifest.devDependencies[peer], `${peer} is a peer, so the repository's own install needs it as a devDependency`);
    assert.equal(manifest.peerDependenciesMeta[peer]?.optional, true, `${peer}: a required peer would be installed into an SDK-only install by npm`);
  }
  assert.match(manifest.engines.node, /^>=22(\.|$)/);
});

test('the compiled construct finds its Lambda entry points as .js files in dist/', async () => {
  assert.ok(
    constructEntries.length >= 7 && constructEntries.includes('dist/lambdas/defaultEvents.js'),
    `the construct names its entries with lambdaEntry(): ${constructEntries.join(', ')}`,
  );
  // An entry named any other way (a literal .ts path) would not exist in dist/ and fails below.
  assert.doesNotMatch(constructSources, /LAMBDAS_DIR, '[^']+\.[cm]?ts'/);
  const cdk = (await import(pathToFileURL(join(root, 'dist/cdk/index.js')).href)) as typeof import('../../cdk/index.ts');
  const settings = (await import(pathToFileURL(join(root, 'dist/cdk/settings.js')).href)) as typeof import('../../cdk/settings.ts');
  assert.equal(settings.DEFAULT_EVENTS_MODULE, join(root, 'dist/lambdas/defaultEvents.js'));
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  // NodejsFunction checks that each entry exists when it is constructed.
  const backend = new cdk.GatewayBackend(new Stack(app, 'FromDist'), 'Gateway', { eventsModule: join(root, 'test/fixtures/events/chatEvents.ts') });
  assert.ok(backend.connectFunction && backend.fanoutWorkerFunction);
});

test('the command runs the compiled local gateway under plain node and prints the backend environment', async () => {
  const bin = join(root, manifest.bin['serverless-gateway-worker']!);
  assert.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
  const child = spawn(process.execPath, [bin, '--port', '0', '--dynamo-port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    let output = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        output += chunk;
        if (output.includes('Ctrl-C stops the gateway')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the command exited with ${code}: ${output}`)));
    });
    assert.match(output, /WebSocket URL\s+ws:\/\/127\.0\.0\.1:\d+/);
    assert.match(output, /export AWS_ENDPOINT_URL_DYNAMODB=http:\/\/127\.0\.0\.1:\d+/);
  } finally {
    child.kill('SIGINT');
    await new Promise((resolve) => child.once('exit', resolve));
  }
});

// Node 22.12 (and 20.19) load ES modules through require() without a flag; 22.0 to 22.11 do not.
const requireEsm = (process.features as { require_module?: boolean }).require_module === true;

test('CommonJS code can require() every export (Node 22.12 or later)', {
  skip: !requireEsm && `Node ${process.versions.node} does not require() ES modules by default`,
}, () => {
  const script = [
    "const sdk = require('serverless-gateway-worker');",
    "const events = require('serverless-gateway-worker/events');",
    "const cdk = require('serverless-gateway-worker/cdk');",
    "const local = require('serverless-gateway-worker/local');",
    "if (typeof sdk.Gateway.fromEnv !== 'function' || typeof cdk.GatewayBackend !== 'function' || typeof local.LocalGateway !== 'function' || typeof events !== 'object') process.exit(2);",
  ].join('\n');
  const run = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /ExperimentalWarning/);
});

test("the testing guide's example test is the consumer app's test, which the consumer test runs", () => {
  const guide = readFileSync(join(root, 'docs/guides/testing.md'), 'utf8');
  const example = readFileSync(join(root, 'example/consumer-app/test/pusher.test.ts'), 'utf8');
  assert.ok(guide.includes(`\`\`\`ts\n${example}\`\`\``), 'docs/guides/testing.md must quote example/consumer-app/test/pusher.test.ts verbatim');
});
