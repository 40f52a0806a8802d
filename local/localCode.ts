/**
 * Finds a function's handler file in code that is on this machine, as `sam build` and the Serverless
 * Framework find it: the handler `src/app.handler` is the export `handler` of `src/app.js` (`.mjs`,
 * `.cjs`) under the function's code folder. TypeScript is bundled with the project's esbuild (an
 * optional peer), as `sam build` does for `Metadata: { BuildMethod: esbuild }` and serverless-esbuild
 * does for a `.ts` handler; inline code (`ZipFile`, SAM's `InlineCode`) is written to a file, as
 * Lambda writes it to `index.js` (CommonJS).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { FunctionCode } from './webSocketTemplate.ts';
import { TemplateError } from './templateText.ts';

const JAVASCRIPT = ['.mjs', '.js', '.cjs'];
const TYPESCRIPT = ['.ts', '.mts', '.cts'];

/** esbuild settings, from SAM's `Metadata.BuildProperties` or serverless-esbuild's `custom.esbuild`. */
export interface BundleSettings {
  readonly format?: 'esm' | 'cjs';
  readonly target?: string;
  readonly minify?: boolean;
  readonly sourcemap?: boolean;
  readonly external?: readonly string[];
  /** Entry files relative to the code folder (SAM's `EntryPoints`). */
  readonly entryPoints?: readonly string[];
}

export interface LocalCodeOptions {
  /** The folder relative code paths start from: the template's or serverless.yml's. */
  readonly baseDirectory: string;
  /** Bundle TypeScript (and, with `always`, JavaScript too) with these settings. */
  readonly bundle?: (fn: FunctionCode) => { settings: BundleSettings; always: boolean } | undefined;
}

/**
 * The file to run for `fn`: from `Code` as a local path (what `sam build` and `aws cloudformation
 * package` take), or `Code.ZipFile`; undefined for code in S3 or an image.
 */
export function localCodeEntry(fn: FunctionCode, options: LocalCodeOptions): string | undefined {
  const code = fn.properties.Code;
  const handler = String(fn.properties.Handler ?? 'index.handler');
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) throw new TemplateError(`function ${fn.logicalId}: the handler ${JSON.stringify(handler)} is not file.export`);
  const file = handler.slice(0, dot);
  if (typeof code === 'object' && code !== null && typeof (code as { ZipFile?: unknown }).ZipFile === 'string') {
    return writeInlineCode(fn, file, (code as { ZipFile: string }).ZipFile, options.baseDirectory);
  }
  if (typeof code !== 'string') return undefined;
  const folder = isAbsolute(code) ? code : resolve(options.baseDirectory, code);
  if (!existsSync(folder)) throw new TemplateError(`function ${fn.logicalId}: its code folder ${folder} does not exist`);
  if (!statSync(folder).isDirectory())
    throw new TemplateError(`function ${fn.logicalId}: ${folder} is not a folder (a .zip is not unpacked locally: point the code at its folder)`);
  const bundle = options.bundle?.(fn);
  const base = join(folder, file);
  const javascript = JAVASCRIPT.map((ext) => base + ext).find((candidate) => existsSync(candidate));
  const typescript = TYPESCRIPT.map((ext) => base + ext).find((candidate) => existsSync(candidate));
  const entryPoint = bundle?.settings.entryPoints?.[0];
  if (entryPoint || typescript || (bundle?.always && javascript)) {
    const source = entryPoint ? resolve(folder, entryPoint) : (typescript ?? javascript)!;
    if (!existsSync(source)) throw new TemplateError(`function ${fn.logicalId}: its entry point ${source} does not exist`);
    return bundleWithEsbuild(fn, source, file, bundle?.settings ?? {}, options.baseDirectory);
  }
  if (!javascript) throw new TemplateError(`function ${fn.logicalId}: no ${file}.mjs, .js, .cjs or .ts in ${folder} (its handler is ${handler})`);
  return javascript;
}

/**
 * Where this function's generated files go: a folder of its own in `node_modules/.cache` of the
 * nearest folder above the app that has `node_modules`, so that what a bundle leaves external (the
 * AWS SDK, which Lambda's runtime provides) resolves from the app's own packages; else the system's
 * temporary folder.
 */
function outputFolder(fn: FunctionCode, source: string, baseDirectory: string): string {
  const key = createHash('sha256').update(`${fn.logicalId}\0${source}`).digest('hex').slice(0, 16);
  let root: string | undefined;
  for (let dir = resolve(baseDirectory); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) {
      root = join(dir, 'node_modules', '.cache');
      break;
    }
    if (dirname(dir) === dir) break;
  }
  const folder = join(root ?? tmpdir(), 'serverless-gateway-worker', `${fn.logicalId}-${key}`);
  mkdirSync(folder, { recursive: true });
  return folder;
}

function writeInlineCode(fn: FunctionCode, file: string, text: string, baseDirectory: string): string {
  // `.cjs`: Lambda runs inline code as CommonJS `index.js`, whatever package.json is above the cache.
  const path = join(outputFolder(fn, 'ZipFile', baseDirectory), `${file}.cjs`);
  mkdirSync(dirname(path), { recursive: true });
  writeAtomically(path, text);
  return path;
}

type Esbuild = typeof import('esbuild');

function loadEsbuild(fn: FunctionCode): Esbuild {
  try {
    // The app's own esbuild first (what `sam build` would use), else the one next to this package.
    return createRequire(join(process.cwd(), 'package.json'))('esbuild') as Esbuild;
  } catch {
    try {
      return createRequire(import.meta.url)('esbuild') as Esbuild;
    } catch (error) {
      throw new TemplateError(`function ${fn.logicalId} is TypeScript (or asks for esbuild): bundling it needs esbuild: npm install --save-dev esbuild`, {
        cause: error,
      });
    }
  }
}

/** Bundles `source` into `{file}.cjs` or `{file}.mjs`: explicit extensions, so no package.json above decides the module kind. */
function bundleWithEsbuild(fn: FunctionCode, source: string, file: string, settings: BundleSettings, baseDirectory: string): string {
  const esbuild = loadEsbuild(fn);
  const format = settings.format ?? 'cjs';
  const outfile = join(outputFolder(fn, source, baseDirectory), `${file}${format === 'esm' ? '.mjs' : '.cjs'}`);
  let bundled: Uint8Array;
  try {
    bundled = esbuild.buildSync({
      entryPoints: [source],
      outfile,
      write: false,
      bundle: true,
      platform: 'node',
      format,
      target: settings.target ?? 'node20',
      minify: settings.minify ?? false,
      sourcemap: settings.sourcemap ? 'inline' : false,
      external: [...(settings.external ?? [])],
      logLevel: 'silent',
      // An ESM bundle of CommonJS dependencies (the AWS SDK's) needs `require`, as SAM's esbuild banner gives it.
      ...(format === 'esm'
        ? { banner: { js: "import { createRequire as __sgwCreateRequire } from 'node:module'; const require = __sgwCreateRequire(import.meta.url);" } }
        : {}),
    }).outputFiles[0]!.contents;
  } catch (error) {
    const first = (error as { errors?: Array<{ text: string; location?: { file: string; line: number } }> }).errors?.[0];
    const where = first?.location ? ` (${relative(process.cwd(), first.location.file)}:${first.location.line})` : '';
    throw new TemplateError(`function ${fn.logicalId}: esbuild could not bundle ${source}: ${first?.text ?? (error as Error).message}${where}`, {
      cause: error,
    });
  }
  mkdirSync(dirname(outfile), { recursive: true });
  writeAtomically(outfile, bundled);
  return outfile;
}

/** Another gateway starting the same app at once may be loading the file: it sees the old one or the new one, never half of one. */
function writeAtomically(path: string, contents: string | Uint8Array): void {
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temporary, contents);
  renameSync(temporary, path);
}
