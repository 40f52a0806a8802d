#!/usr/bin/env node
// Prepares a fresh clone for `npm start`, `npm test` and `npm run bench`, so a newcomer runs nothing
// else: installs the npm dependencies when they are missing or older than the lock file, and with
// --for-tests installs Debian's Chromium for the browser tests when it is missing. Plain JavaScript
// with no dependencies, because it runs before they exist.
import { execSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const forTests = process.argv.includes('--for-tests');

function run(command) {
  console.log(`[prepare] ${command}`);
  execSync(command, { cwd: root, stdio: 'inherit' });
}

function dependenciesAreCurrent() {
  const installed = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(installed)) return false;
  return statSync(installed).mtimeMs >= statSync(join(root, 'package-lock.json')).mtimeMs;
}

if (!dependenciesAreCurrent()) run('npm ci --no-audit --no-fund');

export const CHROMIUM = '/usr/bin/chromium';

if (forTests && !existsSync(CHROMIUM)) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const sudo = isRoot ? '' : 'sudo ';
  run(`${sudo}apt-get update -qq`);
  run(`${sudo}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium`);
}
