/**
 * Reads a CloudFormation or SAM template, or a serverless.yml, into plain data: JSON as it is, YAML
 * with CloudFormation's short-form tags turned into their long form (`!Ref X` into `{ Ref: 'X' }`,
 * `!GetAtt A.B` into `{ 'Fn::GetAtt': ['A', 'B'] }`, `!Sub` in both of its forms, ...), as
 * CloudFormation reads them. The `yaml` package is an optional peer, loaded only here.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

/** The short forms CloudFormation's YAML takes: tag -> long-form key. `!Ref` and `!Condition` have no `Fn::`. */
const SHORT_FORMS: Readonly<Record<string, string>> = {
  '!Ref': 'Ref',
  '!Condition': 'Condition',
  '!GetAtt': 'Fn::GetAtt',
  '!Sub': 'Fn::Sub',
  '!Join': 'Fn::Join',
  '!Select': 'Fn::Select',
  '!Split': 'Fn::Split',
  '!If': 'Fn::If',
  '!Equals': 'Fn::Equals',
  '!And': 'Fn::And',
  '!Or': 'Fn::Or',
  '!Not': 'Fn::Not',
  '!FindInMap': 'Fn::FindInMap',
  '!Base64': 'Fn::Base64',
  '!GetAZs': 'Fn::GetAZs',
  '!ImportValue': 'Fn::ImportValue',
  '!Cidr': 'Fn::Cidr',
  '!Transform': 'Fn::Transform',
  '!Length': 'Fn::Length',
  '!ToJsonString': 'Fn::ToJsonString',
};

type YamlModule = typeof import('yaml');
interface JsonNode {
  toJSON(): unknown;
}

/** Each short form as a scalar, a sequence and a mapping tag (CloudFormation accepts each where it makes sense). */
function cloudFormationTags(): unknown[] {
  return Object.entries(SHORT_FORMS).flatMap(([tag, key]) => [
    {
      tag,
      // `!GetAtt Resource.Attribute` is the one scalar form that is not the scalar itself.
      resolve: (text: string) => ({ [key]: key === 'Fn::GetAtt' ? splitGetAtt(text) : text }),
    },
    { tag, collection: 'seq', resolve: (node: JsonNode) => ({ [key]: node.toJSON() }) },
    { tag, collection: 'map', resolve: (node: JsonNode) => ({ [key]: node.toJSON() }) },
  ]);
}

/** `A.B` -> ['A', 'B']; `A.B.C` (a nested attribute such as `Endpoint.Address`) -> ['A', 'B.C']. */
function splitGetAtt(text: string): string[] {
  const dot = text.indexOf('.');
  return dot === -1 ? [text] : [text.slice(0, dot), text.slice(dot + 1)];
}

function loadYaml(): YamlModule {
  try {
    return createRequire(import.meta.url)('yaml') as YamlModule;
  } catch (error) {
    throw new TemplateError('reading a YAML template needs the yaml package: npm install --save-dev yaml', { cause: error });
  }
}

/** Parses template text: JSON when it is JSON, else YAML with the short-form tags. */
export function parseTemplateText(text: string, fileName: string): unknown {
  if (/^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // YAML's flow style also starts with `{`: fall through to the YAML parser.
    }
  }
  const yaml = loadYaml();
  const document = yaml.parseDocument(text, { customTags: cloudFormationTags() as never, uniqueKeys: true, prettyErrors: true });
  const problem = document.errors[0];
  if (problem) throw new TemplateError(`${fileName}: ${problem.message.split('\n')[0]}`);
  const unknownTag = document.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (unknownTag) throw new TemplateError(`${fileName}: ${unknownTag.message.split('\n')[0]}`);
  return document.toJS({ maxAliasCount: 1000 });
}

/** Reads and parses a template file. */
export function readTemplateFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new TemplateError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  return parseTemplateText(text, path);
}
