#!/usr/bin/env node
// Fails (exit 1) on a dead relative link in README.md, CONTRIBUTING.md and docs/**/*.md: a file that
// does not exist, or a #anchor that names no heading of the target Markdown file. External links
// (http:, https:, mailto:) are not checked: CI has no internet. Plain Node, no dependencies.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function markdownFiles() {
  const files = ['README.md', 'CONTRIBUTING.md'].map((name) => join(root, name)).filter((path) => existsSync(path));
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      // docs/api holds typedoc's own install and its generated pages: not ours to check.
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && entry.name !== 'out') walk(path);
      } else if (entry.name.endsWith('.md')) files.push(path);
    }
  };
  if (existsSync(join(root, 'docs'))) walk(join(root, 'docs'));
  return files;
}

/** The text outside fenced code blocks and inline code, where a link is a link. */
function proseLines(text) {
  const lines = [];
  let fence = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    else if (!fence) lines.push(line.replace(/`[^`]*`/g, '``'));
  }
  return lines;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(text) {
  const anchors = new Set();
  const seen = new Map();
  let fence = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fence = !fence;
    const heading = !fence && /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const slug = heading[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

const dead = [];
let checked = 0;
for (const file of markdownFiles()) {
  const text = readFileSync(file, 'utf8');
  for (const line of proseLines(text)) {
    for (const match of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = match[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
      checked++;
      const [pathPart, anchor] = target.split('#', 2);
      const targetPath = pathPart ? resolve(dirname(file), decodeURIComponent(pathPart)) : file;
      const where = `${relative(root, file)}: ${target}`;
      if (!existsSync(targetPath)) {
        dead.push(`${where} (no such file)`);
        continue;
      }
      if (anchor && targetPath.endsWith('.md') && statSync(targetPath).isFile()) {
        if (!anchorsOf(readFileSync(targetPath, 'utf8')).has(decodeURIComponent(anchor).toLowerCase())) dead.push(`${where} (no heading #${anchor})`);
      }
    }
  }
}
if (dead.length > 0) {
  console.error(`${dead.length} dead link(s):\n${dead.map((line) => `  ${line}`).join('\n')}`);
  process.exit(1);
}
console.log(`docs:links: ${checked} relative links, none dead`);
