// scripts/check-cycles.mjs (npm run check:cycles): what counts as an import, and the cycles it reports,
// on a small tree of files written for the test.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
// @ts-expect-error: a plain JavaScript script without declarations
import { cyclesOf, importGraph } from '../../scripts/check-cycles.mjs';

const base = mkdtempSync(join(tmpdir(), 'check-cycles-'));
after(() => rmSync(base, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(base, 'tree-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const cycles = (dir: string): string[] => cyclesOf(importGraph(dir, ['src']), dir).sort();

test('type-only imports count: `import type` one way and `import("...")` in a type the other way is a cycle', () => {
  const dir = tree({
    'src/a.ts': "import type { B } from './b.js';\nexport interface A { b: B }\n",
    'src/b.ts': "export type B = import('./a.ts').A[];\n",
  });
  assert.deepEqual(cycles(dir), ['src/a.ts, src/b.ts']);
});

test('re-exports and dynamic imports count, across directories and in .mjs', () => {
  const dir = tree({
    'src/one/e.mjs': "export { f } from '../two/f.mjs';\n",
    'src/two/f.mjs': "export const f = 1;\nexport const later = () => import('../one/e.mjs');\n",
  });
  assert.deepEqual(cycles(dir), ['src/one/e.mjs, src/two/f.mjs']);
});

test('an import in a comment, a package import and a one-way import are no cycle', () => {
  const dir = tree({
    'src/c.ts': "// import { d } from './d.ts';\n/* export * from './d.ts'; */\nimport { join } from 'node:path';\nexport const c = join('a');\n",
    'src/d.ts': "import { c } from './c.ts';\nexport const d = c;\n",
  });
  assert.deepEqual(cycles(dir), []);
});

test('three files in a circle are one cycle, named by its files', () => {
  const dir = tree({
    'src/x.ts': "import './y.ts';\n",
    'src/y.ts': "import './z.ts';\n",
    'src/z.ts': "import './x.ts';\n",
    'src/w.ts': "import './x.ts';\n",
  });
  assert.deepEqual(cycles(dir), ['src/x.ts, src/y.ts, src/z.ts']);
});
