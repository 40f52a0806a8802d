#!/usr/bin/env node
// `npm run check:cycles`: fails when the repository's TypeScript and JavaScript modules import each
// other in a circle, type-only imports included (`import type`, `export type ... from`, and
// `import('./x.ts').T` in a type position): a cycle of types still ties two files' meaning together
// and is the first step to a cycle at run time. No dependency: a scanner of import specifiers over
// the source with comments removed, relative specifiers resolved as NodeNext and tsx do (`.js` may
// name a `.ts`), and Tarjan's strongly connected components over the graph.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE_DIRECTORIES = ['cdk', 'lambdas', 'sdk', 'local', 'clients', 'testkit', 'test', 'bench', 'example', 'scripts'];
const SKIPPED = new Set(['node_modules', 'dist', 'cdk.out', 'build', 'vendor']);
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;

/**
 * Cycles known and owned by an open piece of work, each with the reason it is still here. An entry
 * whose cycle is gone fails the check too, so the list only shrinks.
 */
const KNOWN_CYCLES = new Map([]);

function* sourceFiles(directory) {
  if (!existsSync(directory)) return;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (SOURCE.test(entry.name)) yield path;
  }
}

/** The text with comments blanked; strings and template literals are kept as they are. */
function withoutComments(text) {
  let out = '';
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      out += ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

// `import ... from 'x'`, `export ... from 'x'`, `import 'x'`, `import('x')` (a value or a type).
const SPECIFIERS = [/\b(?:import|export)\s[^;'"`]*?\bfrom\s*(['"])([^'"]+)\1/g, /\bimport\s*(['"])([^'"]+)\1/g, /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g];

function resolveSpecifier(from, specifier) {
  if (!specifier.startsWith('.')) return undefined;
  const base = resolve(dirname(from), specifier);
  const candidates = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base.replace(/\.cjs$/, '.cts'), `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((path) => existsSync(path) && statSync(path).isFile() && SOURCE.test(path));
}

/** Every module under `directories` of `base` and the modules of those it imports. */
export function importGraph(base, directories) {
  const graph = new Map();
  for (const directory of directories) {
    for (const file of sourceFiles(join(base, directory))) {
      const text = withoutComments(readFileSync(file, 'utf8'));
      const targets = new Set();
      for (const pattern of SPECIFIERS) {
        for (const match of text.matchAll(pattern)) {
          const target = resolveSpecifier(file, match[2]);
          if (target && target !== file) targets.add(target);
        }
      }
      graph.set(file, targets);
    }
  }
  return graph;
}

/**
 * Tarjan's algorithm: every strongly connected component of more than one file is a cycle (files
 * that reach each other through imports), given as its files relative to `base`, sorted, joined by `, `.
 */
export function cyclesOf(graph, base) {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  let counter = 0;
  const visit = (file) => {
    index.set(file, counter);
    low.set(file, counter);
    counter++;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file), low.get(target)));
      } else if (onStack.has(target)) low.set(file, Math.min(low.get(file), index.get(target)));
    }
    if (low.get(file) === index.get(file)) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== file);
      if (component.length > 1)
        found.push(
          component
            .map((path) => relative(base, path))
            .sort()
            .join(', '),
        );
    }
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}

function main() {
  const graph = importGraph(root, SOURCE_DIRECTORIES);
  const found = cyclesOf(graph, root);
  const unknown = found.filter((cycle) => !KNOWN_CYCLES.has(cycle));
  const gone = [...KNOWN_CYCLES.keys()].filter((cycle) => !found.includes(cycle));
  for (const cycle of found) {
    const owner = KNOWN_CYCLES.get(cycle);
    console.log(owner ? `known import cycle among ${cycle} (${owner})` : `import cycle among ${cycle}`);
  }
  for (const cycle of gone) console.log(`known cycle no longer found, remove it from KNOWN_CYCLES in scripts/check-cycles.mjs: ${cycle}`);
  console.log(`${graph.size} modules, ${found.length} cycle(s), ${unknown.length} not known`);
  if (unknown.length > 0 || gone.length > 0) process.exit(1);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
