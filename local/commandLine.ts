/**
 * Command-line parsing for the local gateway's commands (`serverless-gateway-worker`, `npm run
 * gateway`, `npm start`): `--help` and `--version` print and exit 0; an unknown option, a missing or
 * bad value prints one line naming the option and exits 2, as usage errors do in most tools. Only
 * node: built-ins are imported, so that the package's command can answer `--help` before it checks
 * the optional peers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CommandSpec {
  /** How the command is called, for messages (`serverless-gateway-worker`, `npm start --`). */
  readonly command: string;
  /** The `--help` text. */
  readonly help: string;
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /** Takes `KEY=VALUE` words after `--parameter-overrides`, as `sam deploy` does. */
  readonly parameterOverrides?: boolean;
}

export interface CommandLine {
  readonly values: Record<string, string | boolean | undefined>;
  /** `--parameter-overrides` as KEY -> VALUE. */
  readonly parameterOverrides: Record<string, string>;
}

/** Parses `argv`; throws UsageError naming the option at fault. `--help` and `--version` are handled by runCommandLine. */
export function parseCommandLine(spec: CommandSpec, argv: readonly string[]): CommandLine {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        ...spec.options,
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        ...(spec.parameterOverrides ? { 'parameter-overrides': { type: 'string', multiple: true } } : {}),
      },
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (error) {
    throw new UsageError(describeParseError(error as NodeJS.ErrnoException));
  }
  const parameterOverrides: Record<string, string> = {};
  let afterOverrides = false;
  for (const token of parsed.tokens ?? []) {
    if (token.kind === 'option') {
      afterOverrides = token.name === 'parameter-overrides';
      if (afterOverrides) addOverrides(parameterOverrides, token.value ?? '');
    } else if (token.kind === 'positional') {
      if (!afterOverrides) throw new UsageError(`unexpected argument ${JSON.stringify(token.value)}`);
      addOverrides(parameterOverrides, token.value);
    } else {
      afterOverrides = false;
    }
  }
  const values = { ...parsed.values } as Record<string, string | boolean | undefined>;
  delete values['parameter-overrides'];
  return { values, parameterOverrides };
}

/** `A=1 B=2` (one or several words) or `ParameterKey=A,ParameterValue=1`. */
function addOverrides(into: Record<string, string>, text: string): void {
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const long = /^ParameterKey=([^,]+),ParameterValue=(.*)$/.exec(word);
    const short = /^([A-Za-z0-9]+)=(.*)$/.exec(word);
    const match = long ?? short;
    if (!match) throw new UsageError(`--parameter-overrides takes KEY=VALUE words, not ${JSON.stringify(word)}`);
    into[match[1]!] = match[2]!;
  }
}

function describeParseError(error: NodeJS.ErrnoException): string {
  const option = /'(-[^' ]+)/.exec(error.message)?.[1];
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${option ?? error.message}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /argument missing/.test(error.message) ? `${option} needs a value` : `${option} does not take a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'([^']+)'/.exec(error.message)?.[1] ?? ''}`.trim();
    default:
      return error.message.split('\n')[0]!;
  }
}

/** This package's version, from the package.json above this file (in the sources or in dist/). */
export function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'serverless-gateway-worker') return pkg.version ?? 'unknown';
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}

/**
 * Parses the command line as a command's entry point does: prints the help or the version and exits
 * 0, or prints one usage line and exits 2; else returns what was parsed. `validate` may throw
 * UsageError for a bad value, which exits 2 the same way.
 */
export function runCommandLine<T>(spec: CommandSpec, argv: readonly string[], validate: (line: CommandLine) => T): T {
  try {
    const line = parseCommandLine(spec, argv);
    if (line.values.help) {
      process.stdout.write(spec.help.endsWith('\n') ? spec.help : `${spec.help}\n`);
      process.exit(0);
    }
    if (line.values.version) {
      process.stdout.write(`${packageVersion()}\n`);
      process.exit(0);
    }
    return validate(line);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${spec.command}: ${error.message} (${spec.command} --help lists the options)\n`);
    process.exit(2);
  }
}
