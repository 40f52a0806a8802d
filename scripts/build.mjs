#!/usr/bin/env node
// `npm run build` (and `npm pack` / `npm publish`, through prepack): the package's dist/. TypeScript
// compiles the source directories listed in tsconfig.build.json's "include" to ES modules, `.d.ts`
// and source maps; every other file in those directories that runs as is (`.mjs`, `.js`, `.cjs`,
// `.json`, and a hand-written `.d.ts` next to its `.js`) is copied beside the output. The rule is
// by directory, so a new file in a shipped directory ships without editing this script. Progress
// goes to stderr, so that `npm pack --json` keeps a clean stdout.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist');
const BIN = join(outDir, 'local', 'bin.js');

/** tsconfig.build.json without its comments (it is JSONC). */
function readBuildConfig() {
  const text = readFileSync(join(root, 'tsconfig.build.json'), 'utf8');
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, ''));
}

const TEST_FILE = /(^|\/)(test|tests|__tests__)\/|\.test\.[cm]?[jt]s$/;
const TYPESCRIPT_SOURCE = /\.[cm]?ts$/;
const RUNS_AS_IS = /\.(mjs|cjs|js|json)$/;

function* filesUnder(directory) {
  if (!existsSync(directory)) return;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else yield path;
  }
}

/** A `.d.ts` is copied only when it declares a JavaScript file shipped beside it (`x.d.ts` for `x.js`). */
function declaresShippedJs(path) {
  const stem = path.replace(/\.d\.[cm]?ts$/, '');
  return ['.js', '.mjs', '.cjs'].some((ext) => existsSync(stem + ext));
}

const config = readBuildConfig();
rmSync(outDir, { recursive: true, force: true });
console.error('[build] tsc -p tsconfig.build.json');
execFileSync('npx', ['--no-install', 'tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: ['ignore', 2, 2] });

let copied = 0;
for (const source of config.include) {
  for (const path of filesUnder(join(root, source))) {
    const rel = relative(root, path);
    if (TEST_FILE.test(rel)) continue;
    const isDeclaration = /\.d\.[cm]?ts$/.test(rel);
    if (isDeclaration ? !declaresShippedJs(path) : TYPESCRIPT_SOURCE.test(rel) || !RUNS_AS_IS.test(rel)) continue;
    const target = join(outDir, rel);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(path, target);
    copied++;
  }
}

// Declarations ship only where a package export's types reach: the others describe internal modules
// no consumer can import (the exports map hides them), and each costs a file in every install.
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const reachable = new Set();
const visitDeclaration = (file) => {
  if (reachable.has(file) || !existsSync(file)) return;
  reachable.add(file);
  const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  for (const match of code.matchAll(/(?:from\s*|import\(\s*|<reference\s+path=)['"](\.{1,2}\/[^'"]+)['"]/g)) {
    visitDeclaration(resolve(dirname(file), match[1].replace(/\.([cm]?)[jt]s$/, '.d.$1ts')));
  }
};
for (const target of Object.values(pkg.exports)) if (typeof target === 'object') visitDeclaration(join(root, target.types));
let pruned = 0;
for (const path of filesUnder(outDir)) {
  if (/\.d\.[cm]?ts$/.test(path) && !reachable.has(path)) {
    rmSync(path);
    pruned++;
  }
}

// dist/lambdas/ is not importable (no export names it): the construct bundles it, without source
// maps. Its inline maps would only add to every install, SDK-only ones included.
let unmapped = 0;
for (const path of filesUnder(join(outDir, 'lambdas'))) {
  if (!path.endsWith('.js')) continue;
  const code = readFileSync(path, 'utf8');
  const stripped = code.replace(/\n\/\/# sourceMappingURL=data:[^\n]*\n?$/, '\n');
  if (stripped !== code) {
    writeFileSync(path, stripped);
    unmapped++;
  }
}

chmodSync(BIN, 0o755);
console.error(
  `[build] dist/ ready: ${copied} files copied as is, ${reachable.size} declarations kept, ${pruned} internal ones left out, source maps left out of ${unmapped} bundled-only Lambda files`,
);
