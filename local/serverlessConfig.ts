/**
 * Serves a Serverless Framework app (serverless.yml) on the local gateway. Its variables are resolved
 * first (serverlessVariables.ts); then its functions with `websocket` events and its provider settings
 * become the CloudFormation resources the framework deploys for them (the same logical ids:
 * `ConnectLambdaFunction`, `WebsocketsApi`, `ConnectWebsocketsRoute`, ...), next to the app's own
 * `resources.Resources` (its tables), and webSocketTemplate.ts reads the lot as it reads a CDK app's.
 *
 * Handlers are `path/file.export` from the service folder (.js, .mjs, .cjs; .ts is bundled with
 * esbuild, as serverless-esbuild and the Framework v4 do, with their `custom.esbuild` or
 * `build.esbuild` settings).
 */
import { dirname, resolve } from 'node:path';
import { localCodeEntry, type BundleSettings } from './localCode.ts';
import { resolveServerlessVariables } from './serverlessVariables.ts';
import { readTemplateFile, TemplateError } from './templateText.ts';
import { readWebSocketTemplate, type CfnResource, type WebSocketApp } from './webSocketTemplate.ts';

export interface ServerlessConfigOptions {
  /** The serverless.yml (or .json) file. */
  readonly path: string;
  /** `--stage`. @default provider.stage, else 'dev' */
  readonly stage?: string;
  /** `--region`. @default provider.region, else 'us-east-1' */
  readonly region?: string;
  /** What `${env:...}` reads. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** @default '000000000000' */
  readonly accountId?: string;
  /** @default 'localwsapi' */
  readonly apiId?: string;
}

/** The framework's defaults for a function. */
const DEFAULT_TIMEOUT_SECONDS = 6;
const DEFAULT_MEMORY_MB = 1024;
/** The framework's default identity source for a WebSocket authorizer. */
const DEFAULT_IDENTITY_SOURCE = ['route.request.header.Auth'];

interface WebSocketEvent {
  readonly route: string;
  readonly routeResponseSelectionExpression?: string;
  readonly authorizer?: string | { name?: string; arn?: string; identitySource?: string | string[] };
}

/**
 * Reads a serverless.yml's WebSocket API: what to spread into `new LocalGateway()`, each function's
 * environment and the warnings (what cannot run locally). Throws TemplateError.
 *
 * @example
 * ```ts
 * const app = loadServerlessConfig({ path: 'serverless.yml', stage: 'dev' });
 * const gateway = new LocalGateway({ ...app.gatewayOptions, environment: sharedEnvironmentOf(app), port: 0 });
 * const { wsUrl } = await gateway.start();
 * ```
 */
export function loadServerlessConfig(options: ServerlessConfigOptions): WebSocketApp {
  const path = resolve(options.path);
  const baseDirectory = dirname(path);
  const raw = readTemplateFile(path);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new TemplateError(`${path} is not a serverless.yml: it is not a map`);
  const warnings: string[] = [];
  const sources = (region: string, warn: (message: string) => void) => ({
    options: { stage: options.stage, region: options.region },
    env: options.env ?? process.env,
    region,
    accountId: options.accountId ?? '000000000000',
    baseDirectory,
    warn,
  });
  // `${aws:region}` is the region the app ends up in, which provider.region may itself compute: a first pass finds it.
  const region =
    options.region ??
    String(
      (
        (resolveServerlessVariables(
          raw as Record<string, unknown>,
          sources('us-east-1', () => {}),
        ).provider ?? {}) as { region?: unknown }
      ).region ?? 'us-east-1',
    );
  const config = resolveServerlessVariables(
    raw as Record<string, unknown>,
    sources(region, (message) => warnings.push(message)),
  );

  const provider = (config.provider ?? {}) as Record<string, unknown>;
  if (provider.name !== undefined && provider.name !== 'aws') throw new TemplateError(`${path}: provider ${String(provider.name)} is not aws`);
  const service = typeof config.service === 'string' ? config.service : String((config.service as { name?: unknown } | undefined)?.name ?? 'service');
  const stage = options.stage ?? String(provider.stage ?? 'dev');
  const plugins = (Array.isArray(config.plugins) ? config.plugins : ((config.plugins as { modules?: unknown[] } | undefined)?.modules ?? [])).map(String);
  // serverless-esbuild's settings (`custom.esbuild`), or the Framework v4's built-in ones (`build.esbuild`).
  const esbuild = esbuildSettings(asMap(config.custom).esbuild ?? asMap(config.build).esbuild);

  const resources: Record<string, CfnResource> = {};
  const functions = (config.functions ?? {}) as Record<string, Record<string, unknown>>;
  const webSocketFunctions: Array<{ key: string; events: WebSocketEvent[] }> = [];
  for (const [key, fn] of Object.entries(functions)) {
    if (!fn || typeof fn !== 'object') throw new TemplateError(`${path}: functions.${key} is not a map`);
    if (fn.image !== undefined) warnings.push(`function ${key} is a container image; it is not run locally`);
    resources[functionLogicalId(key)] = {
      Type: 'AWS::Lambda::Function',
      Properties: {
        FunctionName: String(fn.name ?? `${service}-${stage}-${key}`),
        Handler: String(fn.handler ?? ''),
        Runtime: String(fn.runtime ?? provider.runtime ?? 'nodejs20.x'),
        Timeout: Number(fn.timeout ?? provider.timeout ?? DEFAULT_TIMEOUT_SECONDS),
        MemorySize: Number(fn.memorySize ?? provider.memorySize ?? DEFAULT_MEMORY_MB),
        Environment: { Variables: { ...asMap(provider.environment), ...asMap(fn.environment) } },
        ...(fn.description !== undefined ? { Description: String(fn.description) } : {}),
        ...(fn.image === undefined ? { Code: '.' } : {}),
      },
    };
    const events: WebSocketEvent[] = [];
    for (const [i, event] of ((fn.events ?? []) as Array<Record<string, unknown>>).entries()) {
      const [type, settings] = Object.entries(event ?? {})[0] ?? [];
      if (type !== 'websocket') {
        warnings.push(`function ${key}: event ${i} (${String(type)}) is not served locally; only websocket events are`);
        continue;
      }
      events.push(typeof settings === 'string' ? { route: settings } : (settings as WebSocketEvent));
    }
    if (events.length > 0) webSocketFunctions.push({ key, events });
  }

  if (webSocketFunctions.length === 0) throw new TemplateError(`${path}: no function has a websocket event`);
  Object.assign(resources, webSocketResources(webSocketFunctions, provider, stage, service, functions, warnings));
  const own = (config.resources ?? {}) as {
    Resources?: Record<string, CfnResource>;
    Outputs?: Record<string, { Value?: unknown }>;
    Conditions?: Record<string, unknown>;
  };
  for (const [id, resource] of Object.entries(own.Resources ?? {})) {
    const generated = resources[id];
    // The framework merges a resource of the same logical id into the one it generates.
    resources[id] = generated ? { ...generated, ...resource, Properties: { ...generated.Properties, ...resource.Properties } } : resource;
  }

  return readWebSocketTemplate({
    stackName: `${service}-${stage}`,
    template: { Resources: resources, Outputs: own.Outputs ?? {}, Conditions: own.Conditions ?? {} },
    region,
    accountId: options.accountId ?? '000000000000',
    apiId: options.apiId ?? 'localwsapi',
    warnings,
    locateCode: (fn) =>
      localCodeEntry(fn, {
        baseDirectory,
        // serverless-esbuild bundles every handler; without it a .ts handler is bundled all the same (it cannot run otherwise).
        bundle: () => ({ settings: esbuild, always: plugins.includes('serverless-esbuild') }),
      }),
  });
}

function asMap(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** serverless-esbuild's `custom.esbuild` settings that change what runs. */
function esbuildSettings(value: unknown): BundleSettings {
  const s = asMap(value);
  return {
    ...(s.format === 'esm' || s.format === 'cjs' ? { format: s.format } : {}),
    ...(typeof s.target === 'string' ? { target: s.target } : {}),
    ...(typeof s.minify === 'boolean' ? { minify: s.minify } : {}),
    ...(s.sourcemap !== undefined ? { sourcemap: Boolean(s.sourcemap) } : {}),
    ...(Array.isArray(s.external) ? { external: s.external.map(String) } : {}),
    ...(Array.isArray(s.exclude) ? { external: s.exclude.map(String).filter((e) => e !== '*') } : {}),
  };
}

/** The framework's logical-id form of a name: first letter upper case, `-` as `Dash`, `_` as `Underscore`. */
export function normalizeName(name: string): string {
  const upper = name.charAt(0).toUpperCase() + name.slice(1);
  return upper.replace(/-/g, 'Dash').replace(/_/g, 'Underscore');
}

export function functionLogicalId(functionKey: string): string {
  return `${normalizeName(functionKey)}LambdaFunction`;
}

/** A route key's logical-id form: `$connect` -> `SconnectWebsocketsRoute`, `sendMessage` -> `SendMessageWebsocketsRoute`. */
function routeLogicalId(routeKey: string): string {
  return `${normalizeName(routeKey.replace(/\$/g, 'S').replace(/[^A-Za-z0-9_-]/g, ''))}WebsocketsRoute`;
}

function invocationUri(functionKey: string): unknown {
  return {
    'Fn::Join': [
      '',
      [
        'arn:',
        { Ref: 'AWS::Partition' },
        ':apigateway:',
        { Ref: 'AWS::Region' },
        ':lambda:path/2015-03-31/functions/',
        { 'Fn::GetAtt': [functionLogicalId(functionKey), 'Arn'] },
        '/invocations',
      ],
    ],
  };
}

/** The API, its stage, and per route an integration, a route, a route response and the authorizer. */
function webSocketResources(
  webSocketFunctions: ReadonlyArray<{ key: string; events: readonly WebSocketEvent[] }>,
  provider: Record<string, unknown>,
  stage: string,
  service: string,
  functions: Record<string, Record<string, unknown>>,
  warnings: string[],
): Record<string, CfnResource> {
  const api = { Ref: 'WebsocketsApi' };
  const resources: Record<string, CfnResource> = {
    WebsocketsApi: {
      Type: 'AWS::ApiGatewayV2::Api',
      Properties: {
        Name: String(provider.websocketsApiName ?? `${stage}-${service}-websockets`),
        ProtocolType: 'WEBSOCKET',
        RouteSelectionExpression: String(provider.websocketsApiRouteSelectionExpression ?? '$request.body.action'),
      },
    },
    WebsocketsDeploymentStage: { Type: 'AWS::ApiGatewayV2::Stage', Properties: { ApiId: api, StageName: stage } },
  };
  for (const { key, events } of webSocketFunctions) {
    const integrationId = `${normalizeName(key)}WebsocketsIntegration`;
    resources[integrationId] = {
      Type: 'AWS::ApiGatewayV2::Integration',
      Properties: { ApiId: api, IntegrationType: 'AWS_PROXY', IntegrationUri: invocationUri(key) },
    };
    for (const event of events) {
      if (typeof event.route !== 'string') throw new TemplateError(`function ${key}: a websocket event has no route`);
      const routeId = routeLogicalId(event.route);
      let authorizerId: string | undefined;
      if (event.authorizer !== undefined) {
        if (event.route !== '$connect') throw new TemplateError(`function ${key}: an authorizer is only allowed on the $connect route (route ${event.route})`);
        authorizerId = authorizer(event.authorizer, functions, resources, api, warnings);
      }
      resources[routeId] = {
        Type: 'AWS::ApiGatewayV2::Route',
        Properties: {
          ApiId: api,
          RouteKey: event.route,
          Target: { 'Fn::Join': ['/', ['integrations', { Ref: integrationId }]] },
          ...(authorizerId ? { AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } } : { AuthorizationType: 'NONE' }),
          ...(event.routeResponseSelectionExpression ? { RouteResponseSelectionExpression: event.routeResponseSelectionExpression } : {}),
        },
      };
      if (event.routeResponseSelectionExpression) {
        resources[`${routeId.replace(/Route$/, '')}RouteResponse`] = {
          Type: 'AWS::ApiGatewayV2::RouteResponse',
          Properties: { ApiId: api, RouteId: { Ref: routeId }, RouteResponseKey: '$default' },
        };
      }
    }
  }
  return resources;
}

/** The `$connect` authorizer: a function of the service by name, or an ARN (not runnable here: a warning). */
function authorizer(
  setting: NonNullable<WebSocketEvent['authorizer']>,
  functions: Record<string, Record<string, unknown>>,
  resources: Record<string, CfnResource>,
  api: unknown,
  warnings: string[],
): string | undefined {
  const spec = typeof setting === 'string' ? (setting.startsWith('arn:') ? { arn: setting } : { name: setting }) : setting;
  if (!spec.name || !(spec.name in functions)) {
    warnings.push(`the $connect authorizer ${spec.arn ?? spec.name ?? '(unnamed)'} is not a function of this service; $connect runs without it`);
    return undefined;
  }
  const identitySource =
    spec.identitySource === undefined ? DEFAULT_IDENTITY_SOURCE : Array.isArray(spec.identitySource) ? spec.identitySource : [spec.identitySource];
  const id = `${normalizeName(spec.name)}WebsocketsAuthorizer`;
  resources[id] = {
    Type: 'AWS::ApiGatewayV2::Authorizer',
    Properties: {
      ApiId: api,
      Name: `${spec.name}-authorizer`,
      AuthorizerType: 'REQUEST',
      AuthorizerUri: invocationUri(spec.name),
      IdentitySource: identitySource,
    },
  };
  return id;
}
