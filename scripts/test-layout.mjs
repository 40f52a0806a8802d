#!/usr/bin/env node
// Where a test file belongs, and moving it there. The rule (CONTRIBUTING.md, "Test layers") is read
// from the file's content and from the test/, testkit/ (and bench/) modules it imports, transitively:
//   e2e          it starts another program (node:child_process: the CLI, cdk, npm, php, the AWS CLI,
//                openssl, the load runner's processes) or drives Chromium (playwright);
//   integration  otherwise, it starts the local gateway (local/index.ts), dynalite, or reads the
//                synthesized app (cdk.out, built once per run by scripts/prepare.mjs);
//   unit         otherwise: in-process code only (a loopback node:http server is fine).
//
//   node scripts/test-layout.mjs              prints each test file's layer (and where it sits now)
//   node scripts/test-layout.mjs --move       moves flat test/*.test.ts (and the old helper paths, see
//                                             MOVED) to their place with git mv, rewrites relative
//                                             imports, and the paths named in docs, code and comments
//   node scripts/test-layout.mjs --check      fails when a test file is flat or in another layer than
//                                             the rule says, or when bench/ and test/ import each other
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const LAYERS = ['unit', 'integration', 'e2e'];

/**
 * Old paths (root-relative) of modules that moved when the layers were made: test/support merged into
 * test/helpers, and what bench/ and test/ share went to testkit/ (neither imports the other).
 * A file written against the old layout is rewritten through this map when it is moved.
 */
export const MOVED = {
  'test/support/gatewayApiApp.ts': 'testkit/gatewayApiApp.ts',
  'test/support/synthesizedApp.ts': 'testkit/synthesizedApp.ts',
  'test/helpers/gatewayHarness.ts': 'testkit/gatewayHarness.ts',
  'bench/loadRun.ts': 'testkit/load/loadRun.ts',
  'bench/loadIpc.ts': 'testkit/load/loadIpc.ts',
  'bench/loadGateway.ts': 'testkit/load/loadGateway.ts',
  'bench/loadClients.ts': 'testkit/load/loadClients.ts',
  'test/fixtures/functions/': 'testkit/functions/',
  'test/support/': 'test/helpers/',
};

const E2E = [/from ['"](node:)?child_process['"]/, /from ['"]playwright(-core)?['"]/];
const INTEGRATION = [/from ['"][./]+\/local\/index\.ts['"]/, /from ['"]dynalite['"]/, /['"`][./]*cdk\.out['"`/]/];

const relativeSpecifier = /(from\s+|import\(\s*|new URL\(\s*)(['"`])(\.{1,2}(?:\/[^'"`$]*)?)/g;

/** The root-relative paths of the test/ and testkit/ modules a file imports, transitively. */
function localModules(file, seen = new Set()) {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(join(root, file), 'utf8');
  for (const [, , , specifier] of text.matchAll(relativeSpecifier)) {
    // Followed through MOVED, so that a file written against the old layout is placed right.
    const target = movedPath(relative(root, resolve(dirname(join(root, file)), specifier)));
    if (/^(test|testkit|bench)\/.*\.[cm]?[jt]s$/.test(target) && existsSync(join(root, target))) localModules(target, seen);
  }
  return seen;
}

/** The layer the rule gives a test file (root-relative path). */
export function layerOf(file) {
  const texts = [...localModules(file)].map((path) => readFileSync(join(root, path), 'utf8'));
  if (texts.some((text) => E2E.some((signal) => signal.test(text)))) return 'e2e';
  if (texts.some((text) => INTEGRATION.some((signal) => signal.test(text)))) return 'integration';
  return 'unit';
}

/** Where a root-relative path lives after the moves in MOVED. */
function movedPath(path) {
  for (const [from, to] of Object.entries(MOVED)) {
    if (path === from || (from.endsWith('/') && path.startsWith(from))) return to + path.slice(from.length);
    if (`${path}/` === from) return to.slice(0, -1);
  }
  return path;
}

/** The file's text with every relative import / URL rewritten for its new place (and moved targets). */
function rewriteSpecifiers(text, oldFile, newFile) {
  return text.replace(relativeSpecifier, (match, lead, quote, specifier) => {
    const target = movedPath(relative(root, resolve(dirname(join(root, oldFile)), specifier)) + (specifier.endsWith('/') ? '/' : ''));
    let next = relative(dirname(join(root, newFile)), join(root, target)) || '.';
    if (!next.startsWith('.')) next = `./${next}`;
    if (specifier.endsWith('/') && !next.endsWith('/')) next += '/';
    return `${lead}${quote}${next}`;
  });
}

function testFiles(directory) {
  const found = [];
  for (const entry of readdirSync(join(root, directory), { withFileTypes: true })) {
    const path = `${directory}/${entry.name}`;
    if (entry.isDirectory() && LAYERS.includes(entry.name) && directory === 'test') found.push(...testFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

/** Text files that may name a moved path (not CHANGELOG.md: it records history). */
function filesNamingPaths() {
  const listed = execFileSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: root, encoding: 'utf8' }).split('\n');
  return listed.filter(
    (path) =>
      path &&
      path !== 'CHANGELOG.md' &&
      path !== 'scripts/test-layout.mjs' &&
      /\.(ts|mts|mjs|cjs|js|md|json|sh|php|py)$|^\.ci\/run$/.test(path) &&
      existsSync(join(root, path)) &&
      statSync(join(root, path)).isFile(),
  );
}

function move() {
  const renames = new Map();
  for (const from of Object.keys(MOVED)) {
    if (!existsSync(join(root, from))) continue;
    const files = from.endsWith('/') ? execFileSync('git', ['ls-files', from], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean) : [from];
    for (const file of files) renames.set(file, movedPath(file));
  }
  for (const file of testFiles('test').filter((path) => dirname(path) === 'test')) renames.set(file, `test/${layerOf(file)}/${file.slice('test/'.length)}`);
  if (renames.size === 0) return console.log('nothing to move');

  // Rewrite each file's own relative imports for its new place, then git mv it.
  for (const [from, to] of renames) {
    const text = readFileSync(join(root, from), 'utf8');
    mkdirSync(dirname(join(root, to)), { recursive: true });
    execFileSync('git', ['mv', from, to], { cwd: root });
    if (/\.[cm]?[jt]s$/.test(from)) writeFileSync(join(root, to), rewriteSpecifiers(text, from, to));
    console.log(`${from} -> ${to}`);
  }
  // Files that stay put but import a moved module, and every path named in docs, code and comments.
  const movedTo = new Set(renames.values());
  const named = [...renames].sort(([a], [b]) => b.length - a.length);
  for (const file of filesNamingPaths()) {
    const before = readFileSync(join(root, file), 'utf8');
    let text = /\.[cm]?[jt]s$/.test(file) && !movedTo.has(file) ? rewriteSpecifiers(before, file, file) : before;
    for (const [from, to] of named)
      text = text.replace(new RegExp(`(?<![\\w/.-])((?:\\.\\./)*)${from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`, 'g'), (whole, up) => `${up}${to}`);
    if (text !== before) writeFileSync(join(root, file), text);
  }
}

function check() {
  const problems = [];
  for (const file of testFiles('test')) {
    const parts = file.split('/');
    const layer = layerOf(file);
    if (parts.length === 2) problems.push(`${file}: not in a layer; it belongs in test/${layer}/ (node scripts/test-layout.mjs --move)`);
    else if (parts[1] !== layer) problems.push(`${file}: the rule puts it in test/${layer}/ (see CONTRIBUTING.md, "Test layers")`);
  }
  for (const [from, to] of [
    ['bench', 'test'],
    ['test', 'bench'],
    ['testkit', 'test'],
    ['testkit', 'bench'],
  ]) {
    const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', from], { cwd: root, encoding: 'utf8' })
      .split('\n')
      .filter((f) => /\.[cm]?[jt]s$/.test(f));
    for (const file of files) {
      for (const [, , , specifier] of readFileSync(join(root, file), 'utf8').matchAll(relativeSpecifier)) {
        const target = relative(root, resolve(dirname(join(root, file)), specifier));
        if (target === to || target.startsWith(`${to}/`))
          problems.push(`${file} imports ${specifier}: ${from}/ may not import ${to}/ (shared code goes to testkit/)`);
      }
    }
  }
  if (problems.length > 0) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
  console.log(`test layout: ${testFiles('test').length} test files in their layers; bench/, test/ and testkit/ import each other only as allowed`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const mode = process.argv[2];
  if (mode === '--move') move();
  else if (mode === '--check') check();
  else if (mode === undefined) for (const file of testFiles('test')) console.log(`${layerOf(file).padEnd(12)} ${file}`);
  else {
    console.error(`unknown option ${mode}: use --move, --check or nothing`);
    process.exit(2);
  }
}
