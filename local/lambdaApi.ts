/**
 * The Lambda API on the gateway's HTTP port: Invoke (invokeApi.ts) and the read operations the AWS
 * CLI and SDK users reach for first, in the shapes `@aws-sdk/client-lambda` and the CLI parse:
 * - ListFunctions            GET /2015-03-31/functions/                 (MaxItems, Marker)
 * - GetFunction              GET /2015-03-31/functions/{name}            (Qualifier)
 * - GetFunctionConfiguration GET /2015-03-31/functions/{name}/configuration
 * A signed request for any other operation gets 400 UnknownOperationException, the error AWS's front
 * end gives a request that names no operation it serves, instead of a credentials error; an unsigned
 * one gets 403 MissingAuthenticationTokenException, as before.
 *
 * What a function's configuration cannot carry locally: CodeSize and CodeSha256 describe the handler
 * file (Lambda's describe the uploaded zip), Code.Location is a file: URL of the code's directory
 * (Lambda's is a presigned S3 URL), and LastModified is the file's modification time.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decodedPathSegments, hasSigV4Authorization, sendAwsError, sendJson, signedService } from './http.ts';
import { isModuleFunction, timeoutOf } from './functionDefinitions.ts';
import type { FunctionHost } from './functions.ts';
import { handleInvokeRequest, matchInvokePath } from './invokeApi.ts';
import { DEFAULT_RUNTIME } from './runtimes.ts';

/** Lambda's API versions are path prefixes (`/2015-03-31/...`, `/2019-09-30/...`). */
const API_VERSION = /^\d{4}-\d{2}-\d{2}$/;
/** ListFunctions returns at most 50 functions a page, whatever MaxItems asks for. */
const PAGE_LIMIT = 50;

/** A request meant for the Lambda API: a Lambda API path, or signed for the `lambda` service. */
export function isLambdaApiRequest(req: IncomingMessage): boolean {
  const first = decodedPathSegments(req.url ?? '/')?.[0] ?? '';
  return API_VERSION.test(first) || signedService(req) === 'lambda';
}

export async function handleLambdaApiRequest(req: IncomingMessage, res: ServerResponse, functions: FunctionHost): Promise<void> {
  const url = req.url ?? '/';
  const invoked = matchInvokePath(url);
  if (invoked !== undefined) return handleInvokeRequest(req, res, invoked, functions);
  req.resume();
  if (!hasSigV4Authorization(req)) {
    return sendAwsError(res, 403, 'MissingAuthenticationTokenException', { message: 'Missing Authentication Token' });
  }
  const segments = decodedPathSegments(url) ?? [];
  const query = new URL(url, 'http://localhost').searchParams;
  if (req.method === 'GET' && segments[0] === '2015-03-31' && segments[1] === 'functions') {
    const rest = segments.slice(2);
    if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) return listFunctions(res, functions, query);
    if (rest.length === 1 && rest[0] !== '') return getFunction(res, functions, rest[0]!, query, 'GetFunction');
    if (rest.length === 2 && rest[1] === 'configuration') return getFunction(res, functions, rest[0]!, query, 'GetFunctionConfiguration');
  }
  const path = url.split('?')[0];
  return sendAwsError(res, 400, 'UnknownOperationException', {
    Type: 'User',
    message: `Unknown operation: ${req.method} ${path} (the local gateway serves Invoke, ListFunctions, GetFunction and GetFunctionConfiguration)`,
  });
}

function listFunctions(res: ServerResponse, functions: FunctionHost, query: URLSearchParams): void {
  const maxItemsParam = query.get('MaxItems');
  const maxItems = maxItemsParam === null ? PAGE_LIMIT : Number(maxItemsParam);
  if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 10000) {
    return sendAwsError(res, 400, 'ValidationException', {
      message: `1 validation error detected: Value '${maxItemsParam}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 10000`,
    });
  }
  const marker = query.get('Marker');
  const offset = marker === null ? 0 : decodeMarker(marker);
  if (offset === undefined) return sendAwsError(res, 400, 'InvalidParameterValueException', { Type: 'User', message: 'Invalid Marker' });
  const names = functions.names();
  const page = names.slice(offset, offset + Math.min(maxItems, PAGE_LIMIT));
  const next = offset + page.length;
  sendJson(res, 200, {
    Functions: page.map((name) => configurationOf(functions, name)),
    ...(next < names.length ? { NextMarker: encodeMarker(next) } : {}),
  });
}

function getFunction(
  res: ServerResponse,
  functions: FunctionHost,
  nameOrArn: string,
  query: URLSearchParams,
  operation: 'GetFunction' | 'GetFunctionConfiguration',
): void {
  const qualifier = query.get('Qualifier') ?? qualifierIn(nameOrArn);
  const name = functions.resolveName(nameOrArn);
  if (!name || (qualifier !== undefined && qualifier !== '$LATEST')) {
    const target = functions.arn(name ?? unqualifiedName(nameOrArn)) + (qualifier !== undefined ? `:${qualifier}` : '');
    return sendAwsError(res, 404, 'ResourceNotFoundException', { Type: 'User', message: `Function not found: ${target}` });
  }
  const configuration = configurationOf(functions, name);
  if (operation === 'GetFunctionConfiguration') return sendJson(res, 200, configuration);
  const definition = functions.definitionOf(name)!;
  sendJson(res, 200, {
    Configuration: configuration,
    ...(isModuleFunction(definition) ? { Code: { RepositoryType: 'S3', Location: pathToFileURL(dirname(definition.entry)).href } } : {}),
  });
}

/** A FunctionConfiguration as Lambda returns it, with what the definition says. */
function configurationOf(functions: FunctionHost, name: string): Record<string, unknown> {
  const definition = functions.definitionOf(name)!;
  const module = isModuleFunction(definition) ? definition : undefined;
  const code = module ? codeFacts(module.entry) : undefined;
  const environment = module?.environment ?? {};
  return {
    FunctionName: name,
    FunctionArn: functions.arn(name),
    Runtime: module?.runtime ?? DEFAULT_RUNTIME,
    ...(module?.role ? { Role: module.role } : {}),
    ...(module ? { Handler: `${basename(module.entry, extname(module.entry))}.${module.handlerName ?? 'handler'}` } : {}),
    CodeSize: code?.size ?? 0,
    Description: module?.description ?? '',
    // Lambda's timeout is whole seconds; a test may give a module a shorter one.
    Timeout: Math.max(1, Math.ceil(timeoutOf(definition) / 1000)),
    MemorySize: module?.memoryMB ?? 128,
    LastModified: lambdaTimestamp(code?.modifiedMs ?? functions.definedAt(name)),
    ...(code ? { CodeSha256: code.sha256 } : {}),
    Version: '$LATEST',
    ...(Object.keys(environment).length > 0 ? { Environment: { Variables: environment } } : {}),
    TracingConfig: { Mode: 'PassThrough' },
    RevisionId: revisionId(name, code?.sha256 ?? String(functions.definedAt(name))),
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: 'Zip',
    Architectures: [...(module?.architectures ?? ['x86_64'])],
    EphemeralStorage: { Size: 512 },
    SnapStart: { ApplyOn: 'None', OptimizationStatus: 'Off' },
    LoggingConfig: { LogFormat: 'Text', LogGroup: `/aws/lambda/${name}` },
  };
}

function codeFacts(entry: string): { size: number; sha256: string; modifiedMs: number } | undefined {
  try {
    const stats = statSync(entry);
    return { size: stats.size, sha256: createHash('sha256').update(readFileSync(entry)).digest('base64'), modifiedMs: stats.mtimeMs };
  } catch {
    return undefined; // a missing entry fails at invocation, with Runtime.ImportModuleError
  }
}

/** Lambda's LastModified: `2024-05-01T12:00:00.000+0000`. */
function lambdaTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

/** A UUID-shaped id that changes when the code changes, as Lambda's RevisionId does. */
function revisionId(name: string, version: string): string {
  const hex = createHash('sha256').update(`${name}\n${version}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The qualifier in `name:qualifier` or a qualified ARN; undefined when there is none. */
function qualifierIn(nameOrArn: string): string | undefined {
  return /^(?:arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:|(?:[0-9]{12}:)?function:)?[^:]+:([^:]+)$/.exec(nameOrArn)?.[1];
}

function unqualifiedName(nameOrArn: string): string {
  return /^(?:arn:aws[a-z-]*:lambda:[^:]*:[^:]*:function:|(?:[0-9]{12}:)?function:)?([^:]+)/.exec(nameOrArn)?.[1] ?? nameOrArn;
}

function encodeMarker(offset: number): string {
  return Buffer.from(`offset:${offset}`).toString('base64url');
}

function decodeMarker(marker: string): number | undefined {
  const match = /^offset:(\d+)$/.exec(Buffer.from(marker, 'base64url').toString('utf8'));
  return match ? Number(match[1]) : undefined;
}
