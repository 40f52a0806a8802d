/**
 * The Serverless Framework's variables, as users write them in serverless.yml: `${self:path.to.value}`,
 * `${opt:stage, 'dev'}`, `${env:VAR}`, `${env:VAR, 'default'}`, `${sls:stage}`, `${aws:region}`,
 * `${file(./config.yml):key}`, fallbacks (`${opt:stage, self:provider.stage, 'dev'}`) and variables
 * nested in addresses (`${self:custom.tables.${sls:stage}}`). A string that is one variable keeps the
 * value's type (a number stays a number); a variable inside text is written into it.
 *
 * As the framework does, a variable without a value and without a fallback is an error naming where it
 * is. Sources that need an AWS account (`ssm`, `cf`, `s3`, `param`) are warnings, and their value is
 * left as `UNRESOLVED(...)`. Anything else in `${...}` (`${AWS::Region}`, `${MyResource.Arn}`) is
 * CloudFormation's `Fn::Sub` syntax and is left as it is.
 */
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { parseTemplateText, TemplateError } from './templateText.ts';

export interface VariableSources {
  /** `--stage`, `--region`, ... as `${opt:...}` reads them. */
  readonly options: Readonly<Record<string, string | undefined>>;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** `${aws:region}`, `${aws:accountId}`. */
  readonly region: string;
  readonly accountId: string;
  /** The folder `${file(...)}` paths start from. */
  readonly baseDirectory: string;
  readonly warn: (message: string) => void;
}

/** `${source:...}` or `${source(...)...}` with one of the framework's sources; `${envName}` (Fn::Sub) is not one. */
const KNOWN_SOURCE = /^\s*(?:(?:self|opt|env|sls|aws|ssm|cf|s3|param):(?!:)|(?:file|strToBool|cf|ssm)\()/;
const ACCOUNT_SOURCES = ['ssm', 'cf', 's3', 'param'];
const MAX_DEPTH = 20;

/** Resolves every variable in `config`. Throws TemplateError for one that has no value. */
export function resolveServerlessVariables(config: Record<string, unknown>, sources: VariableSources): Record<string, unknown> {
  return new VariableResolver(config, sources).resolveAll() as Record<string, unknown>;
}

class VariableResolver {
  private stage: string | undefined;

  constructor(
    private readonly root: Record<string, unknown>,
    private readonly sources: VariableSources,
  ) {}

  resolveAll(): unknown {
    return this.resolveValue(this.root, '', 0);
  }

  private resolveValue(value: unknown, path: string, depth: number): unknown {
    if (depth > MAX_DEPTH) throw new TemplateError(`${path || 'serverless.yml'}: variables refer to each other in a cycle`);
    if (typeof value === 'string') return this.resolveString(value, path, depth);
    if (Array.isArray(value)) return value.map((item, i) => this.resolveValue(item, `${path}[${i}]`, depth));
    if (value !== null && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, this.resolveValue(item, path ? `${path}.${key}` : key, depth)]));
    }
    return value;
  }

  /** A string: one variable keeps its value's type; variables inside text are written into it. */
  private resolveString(text: string, path: string, depth: number): unknown {
    const spans = variableSpans(text).filter((span) => KNOWN_SOURCE.test(span.inner));
    if (spans.length === 0) return text;
    if (spans.length === 1 && spans[0]!.start === 0 && spans[0]!.end === text.length) {
      return this.evaluate(spans[0]!.inner, path, depth);
    }
    let out = '';
    let last = 0;
    for (const span of spans) {
      const value = this.evaluate(span.inner, path, depth);
      out += text.slice(last, span.start) + (typeof value === 'object' ? JSON.stringify(value) : String(value));
      last = span.end;
    }
    return out + text.slice(last);
  }

  /** `source:address, fallback, ...`: the first that has a value. */
  private evaluate(inner: string, path: string, depth: number): unknown {
    const parts = splitTopLevel(inner, ',');
    for (const part of parts) {
      const value = this.evaluatePart(part.trim(), path, depth);
      if (value !== undefined && value !== null) return value;
    }
    throw new TemplateError(
      `cannot resolve variable \${${inner}} at ${path || 'the top level'}: no value${parts.length > 1 ? ' and no fallback that has one' : ''}`,
    );
  }

  private evaluatePart(part: string, path: string, depth: number): unknown {
    const quoted = /^(['"])(.*)\1$/s.exec(part);
    if (quoted) return this.resolveString(quoted[2]!, path, depth);
    if (/^-?\d+(\.\d+)?$/.test(part)) return Number(part);
    if (part === 'true' || part === 'false') return part === 'true';
    if (part === 'null') return null;
    // A fallback written as a whole variable, or an address with a variable nested in it.
    const expanded = this.resolveString(part, path, depth + 1);
    if (typeof expanded !== 'string') return expanded;
    if (expanded !== part && !KNOWN_SOURCE.test(expanded)) return expanded;
    return this.lookup(expanded, path, depth);
  }

  private lookup(reference: string, path: string, depth: number): unknown {
    const file = /^file\((.+?)\)(?::(.*))?$/s.exec(reference);
    if (file) return this.fromFile(file[1]!.trim().replace(/^['"]|['"]$/g, ''), file[2]?.trim(), path);
    const colon = reference.indexOf(':');
    const source = colon === -1 ? reference : reference.slice(0, colon);
    const address = colon === -1 ? '' : reference.slice(colon + 1).trim();
    switch (source) {
      case 'self': {
        const found = address === '' ? this.root : dig(this.root, address);
        return found === undefined ? undefined : this.resolveValue(found, address, depth + 1);
      }
      case 'opt':
        return this.sources.options[address];
      case 'env':
        return this.sources.env[address];
      case 'sls':
        if (address === 'stage') return this.currentStage(depth);
        if (address === 'instanceId') return 'local';
        return undefined;
      case 'aws':
        if (address === 'region') return this.sources.region;
        if (address === 'accountId') return this.sources.accountId;
        return undefined;
      default:
        if (ACCOUNT_SOURCES.includes(source)) {
          this.sources.warn(`${path}: \${${reference}} reads ${source} in an AWS account, which is not here; left unresolved`);
          return `UNRESOLVED(${reference})`;
        }
        return undefined;
    }
  }

  /** `${sls:stage}`: --stage, else provider.stage, else 'dev'. */
  private currentStage(depth: number): string {
    if (this.stage !== undefined) return this.stage;
    const given = this.sources.options.stage;
    const declared = (this.root.provider as { stage?: unknown } | undefined)?.stage;
    this.stage = given ?? (declared === undefined ? 'dev' : String(this.resolveValue(declared, 'provider.stage', depth + 1)));
    return this.stage;
  }

  private fromFile(file: string, address: string | undefined, path: string): unknown {
    const fullPath = resolvePath(this.sources.baseDirectory, file);
    let content: unknown;
    try {
      content = parseTemplateText(readFileSync(fullPath, 'utf8'), fullPath);
    } catch (error) {
      if (error instanceof TemplateError) throw error;
      throw new TemplateError(`${path}: \${file(${file})} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
        cause: error,
      });
    }
    return address ? dig(content, address) : content;
  }
}

/** `a.b.0.c` in nested maps and lists. */
function dig(value: unknown, address: string): unknown {
  let current = value;
  for (const key of address.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** The top-level `${...}` spans of `text`, their inner text with nested variables kept as written. */
export function variableSpans(text: string): Array<{ start: number; end: number; inner: string }> {
  const spans: Array<{ start: number; end: number; inner: string }> = [];
  let i = 0;
  while ((i = text.indexOf('${', i)) !== -1) {
    let depth = 0;
    let j = i;
    for (; j < text.length; j++) {
      if (text.startsWith('${', j)) {
        depth++;
        j++;
      } else if (text[j] === '}' && --depth === 0) break;
    }
    if (j >= text.length) break;
    spans.push({ start: i, end: j + 1, inner: text.slice(i + 2, j) });
    i = j + 1;
  }
  return spans;
}

/** Splits on `separator` outside quotes, parentheses and nested `${...}`. */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '{' || c === '(') depth++;
    else if (c === '}' || c === ')') depth--;
    else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}
