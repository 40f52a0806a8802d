/**
 * Reads a synthesized CDK cloud assembly (`cdk.out`) and serves one stack's WebSocket API: the stack's
 * template goes through webSocketTemplate.ts (routes, integrations, authorizer, stage, functions,
 * tables, secrets, intrinsics), and each function's code is the very asset `cdk deploy` would upload.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { isWebSocketApi, readWebSocketTemplate, type CfnTemplate, type FunctionCode, type WebSocketApp } from './webSocketTemplate.ts';
import { TemplateError } from './templateText.ts';
import { localCodeEntry } from './localCode.ts';
import { GATEWAY_API_FUNCTION_ENV } from '../lambdas/gatewayApiProtocol.ts';

export interface CloudAssemblyOptions {
  /** The cloud assembly directory. @default 'cdk.out' */
  readonly directory?: string;
  /** The stack to read. @default the only stack with a WebSocket API */
  readonly stackName?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
  /** @default 'localwsapi' */
  readonly apiId?: string;
}

/** What the gateway serves from a CDK app (the same shape as from a SAM template or a serverless.yml). */
export type CloudAssemblyApp = WebSocketApp;

/**
 * The variables named in `names` as the app's functions have them (the first function that sets
 * one wins): e.g. what a backend outside the app needs to reach the same API and tables.
 */
export function environmentOf(app: CloudAssemblyApp, names: Iterable<string>): Record<string, string> {
  const wanted = new Set(names);
  const environment: Record<string, string> = {};
  for (const variables of Object.values(app.environments)) {
    for (const [name, value] of Object.entries(variables)) if (wanted.has(name)) environment[name] ??= value;
  }
  return environment;
}

/**
 * The variables several of the app's functions share (set on two or more, with one value): what
 * configures the app's resources rather than one function, e.g. table names and endpoints.
 */
export function sharedEnvironmentOf(app: CloudAssemblyApp): Record<string, string> {
  const seen = new Map<string, { value: string; count: number; consistent: boolean }>();
  for (const variables of Object.values(app.environments)) {
    for (const [name, value] of Object.entries(variables)) {
      const entry = seen.get(name);
      if (!entry) seen.set(name, { value, count: 1, consistent: true });
      else {
        entry.count++;
        entry.consistent &&= entry.value === value;
      }
    }
  }
  return Object.fromEntries([...seen].filter(([, e]) => e.count >= 2 && e.consistent).map(([name, e]) => [name, e.value]));
}

/** An output's value by its construct id (`FanoutFunctionName`), whatever path and hash prefix and suffix its logical id. */
export function outputOf(app: CloudAssemblyApp, id: string): string | undefined {
  return Object.entries(app.outputs).find(([logicalId]) => logicalId.replace(/[0-9A-F]{8}$/, '').endsWith(id))?.[1];
}

/** GATEWAY_API_FUNCTION, what a backend in another language invokes, when the app has a Gateway API (its output). */
export function gatewayApiEnvironmentOf(app: CloudAssemblyApp): Record<string, string> {
  const functionName = outputOf(app, 'GatewayApiFunctionName');
  return functionName ? { [GATEWAY_API_FUNCTION_ENV]: functionName } : {};
}

export class CloudAssemblyError extends Error {
  override readonly name = 'CloudAssemblyError';
}

export function loadCloudAssembly(options: CloudAssemblyOptions = {}): CloudAssemblyApp {
  const directory = resolve(options.directory ?? 'cdk.out');
  if (!existsSync(join(directory, 'manifest.json'))) throw new CloudAssemblyError(`no cloud assembly at ${directory}: run \`npx cdk synth\` first`);
  // Every stack, those of nested Stage assemblies included, read by the app's own aws-cdk-lib: the
  // reader that wrote the manifest knows its schema version.
  const stacks = readAssembly(directory).stacksRecursively.map((artifact) => ({
    names: new Set([artifact.stackName, artifact.hierarchicalId, artifact.displayName, artifact.id]),
    name: artifact.stackName,
    label: artifact.displayName,
    directory: artifact.assembly.directory,
    template: artifact.template as CfnTemplate,
  }));
  const withApi = stacks.filter((s) => Object.values(s.template.Resources ?? {}).some(isWebSocketApi));
  const chosen = options.stackName ? stacks.find((s) => s.names.has(options.stackName!)) : withApi.length === 1 ? withApi[0] : undefined;
  if (!chosen) {
    throw new CloudAssemblyError(
      options.stackName
        ? `stack ${options.stackName} is not in ${directory}; it has ${stacks.map((s) => s.label).join(', ') || 'no stacks'}`
        : `expected exactly one stack with a WebSocket API in ${directory}, found ${withApi.map((s) => s.label).join(', ') || 'none'}: pass stackName`,
    );
  }
  const assetDirectories = assetDirectoriesOf(chosen.directory);
  try {
    return readWebSocketTemplate({
      stackName: chosen.name,
      template: chosen.template,
      region: options.region ?? 'us-east-1',
      accountId: options.accountId ?? '000000000000',
      apiId: options.apiId ?? 'localwsapi',
      locateCode: (fn) => assetEntry(fn, chosen.directory, assetDirectories),
    });
  } catch (error) {
    if (error instanceof TemplateError) throw new CloudAssemblyError(error.message, { cause: error });
    throw error;
  }
}

/** Asset object key (`{hash}.zip`) -> directory in the assembly, from the `*.assets.json` manifests. */
function assetDirectoriesOf(directory: string): Map<string, string> {
  const directories = new Map<string, string>();
  for (const file of readdirSync(directory).filter((f) => f.endsWith('.assets.json'))) {
    const assets = JSON.parse(readFileSync(join(directory, file), 'utf8')) as {
      files?: Record<string, { source?: { path?: string }; destinations?: Record<string, { objectKey?: string }> }>;
    };
    for (const asset of Object.values(assets.files ?? {})) {
      if (!asset.source?.path) continue;
      for (const destination of Object.values(asset.destinations ?? {})) {
        if (destination.objectKey) directories.set(destination.objectKey, asset.source.path);
      }
    }
  }
  return directories;
}

/**
 * The bundled handler file: `{asset dir}/{handler file}.mjs|.js|.cjs` (or the inline code, written out). The asset directory comes from
 * the `aws:asset:path` metadata the CDK CLI adds, else from the asset manifest by the code's S3 key.
 */
function assetEntry(fn: FunctionCode, directory: string, assetDirectories: ReadonlyMap<string, string>): string | undefined {
  // Inline code (`lambda.Code.fromInline`) is written to a file, as for a template.
  if (typeof (fn.properties.Code as { ZipFile?: unknown } | undefined)?.ZipFile === 'string') return localCodeEntry(fn, { baseDirectory: directory });
  const s3Key = (fn.properties.Code as { S3Key?: unknown } | undefined)?.S3Key;
  const metadataPath = fn.metadata['aws:asset:path'];
  const assetPath = typeof metadataPath === 'string' ? metadataPath : typeof s3Key === 'string' ? assetDirectories.get(s3Key) : undefined;
  if (!assetPath) return undefined;
  const handler = String(fn.properties.Handler ?? 'index.handler');
  const file = handler.slice(0, handler.lastIndexOf('.'));
  const base = join(directory, assetPath, file);
  const entry = ['.mjs', '.js', '.cjs'].map((ext) => base + ext).find((candidate) => existsSync(candidate));
  if (!entry) throw new CloudAssemblyError(`function ${fn.logicalId}: no ${file}.mjs, .js or .cjs in ${join(directory, assetPath)}`);
  return entry;
}

/**
 * aws-cdk-lib's cloud-assembly reader, loaded only here: aws-cdk-lib is an optional peer of this
 * package (an app that synthesized a cdk.out has it), and the rest of the local gateway runs without it.
 */
function readAssembly(directory: string): CloudAssembly {
  let cxapi: typeof import('aws-cdk-lib/cx-api');
  try {
    cxapi = createRequire(import.meta.url)('aws-cdk-lib/cx-api') as typeof import('aws-cdk-lib/cx-api');
  } catch (error) {
    throw new CloudAssemblyError('reading a cloud assembly needs aws-cdk-lib (the package the app was synthesized with): npm install --save-dev aws-cdk-lib', {
      cause: error,
    });
  }
  try {
    return new cxapi.CloudAssembly(directory);
  } catch (error) {
    throw new CloudAssemblyError(`${directory} is not a cloud assembly this aws-cdk-lib can read: ${(error as Error).message}`, { cause: error });
  }
}
