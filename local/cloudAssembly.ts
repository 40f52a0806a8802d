/**
 * Reads a synthesized CDK cloud assembly (`cdk.out`) and turns one stack's WebSocket API into local
 * gateway options: the routes and their integrations (Lambda proxy and MOCK), the `$connect` authorizer,
 * route responses, the stage's throttling (default route settings and per-route settings),
 * the Lambda functions with their bundled code (the very assets `cdk deploy` would upload), their
 * environment, timeout, memory and on-failure destinations, and the DynamoDB tables.
 *
 * CloudFormation intrinsics in those properties are resolved locally: `Ref` to a table gives its
 * name (its `TableName`, else its logical id), to a function its name (likewise), to the API the
 * local api id, to the stage its name; `Fn::GetAtt` gives ARNs in the local account and region;
 * `Fn::Join`, `Fn::Sub`, `Fn::Select` and `Fn::Split` are evaluated. URLs of the API itself are turned
 * into the local ones by the gateway when it starts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import type { AuthorizerDefinition, LocalGatewayOptions, RouteTarget } from './LocalGateway.ts';
import type { MockIntegration, MockIntegrationResponse } from './mockIntegration.ts';
import type { RouteThrottleSettings, ThrottleSettings } from './throttling.ts';
import type { ModuleFunctionDefinition } from './functions.ts';
import type { LocalTableDefinition } from './dynamo.ts';
import { DEFAULT_RUNTIME, unsupportedRuntimeReason } from './runtimes.ts';
import type { LocalSecretDefinition } from './secretsManager.ts';
import { createHash } from 'node:crypto';
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

export interface CloudAssemblyApp {
  readonly stackName: string;
  /** Spread into `new LocalGateway({...})`. */
  readonly gatewayOptions: Pick<
    LocalGatewayOptions,
    'routes' | 'functions' | 'tables' | 'secrets' | 'authorizer' | 'routeSelectionExpression' | 'stage' | 'apiId' | 'region' | 'accountId' | 'throttle' | 'routeThrottles'
  >;
  /** Each function's resolved environment, by function name (as in `gatewayOptions.functions`). */
  readonly environments: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Logical id -> local name, for tables and functions. */
  readonly physicalNames: Readonly<Record<string, string>>;
  /**
   * The stack's outputs that resolve locally, by logical id: a function's or table's local name; the
   * API's own URLs in their AWS form (the gateway turns those into local ones only in environments).
   */
  readonly outputs: Readonly<Record<string, string>>;
  /** What could not be carried over, e.g. an SQS on-failure destination. */
  readonly warnings: readonly string[];
}

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

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

type Template = { Resources: Record<string, CfnResource>; Outputs?: Record<string, { Value?: unknown }> };

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
    template: artifact.template as Template,
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
  return new TemplateReader(chosen.name, chosen.template, chosen.directory, {
    region: options.region ?? 'us-east-1',
    accountId: options.accountId ?? '000000000000',
    apiId: options.apiId ?? 'localwsapi',
  }).read();
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
    throw new CloudAssemblyError('reading a cloud assembly needs aws-cdk-lib (the package the app was synthesized with): npm install --save-dev aws-cdk-lib', { cause: error });
  }
  try {
    return new cxapi.CloudAssembly(directory);
  } catch (error) {
    throw new CloudAssemblyError(`${directory} is not a cloud assembly this aws-cdk-lib can read: ${(error as Error).message}`, { cause: error });
  }
}

/** The stage's `DefaultRouteSettings` and `RouteSettings` throttling; a field left out is not throttled. */
function stageThrottling(stage: Record<string, unknown>): { throttle?: ThrottleSettings; routeThrottles?: Record<string, RouteThrottleSettings> } {
  const of = (settings: unknown): RouteThrottleSettings => {
    const s = (settings ?? {}) as { ThrottlingRateLimit?: unknown; ThrottlingBurstLimit?: unknown };
    return {
      ...(typeof s.ThrottlingRateLimit === 'number' ? { rateLimit: s.ThrottlingRateLimit } : {}),
      ...(typeof s.ThrottlingBurstLimit === 'number' ? { burstLimit: s.ThrottlingBurstLimit } : {}),
    };
  };
  const defaults = of(stage.DefaultRouteSettings);
  const routes = Object.entries((stage.RouteSettings ?? {}) as Record<string, unknown>)
    .map(([routeKey, settings]) => [routeKey, of(settings)] as const)
    .filter(([, settings]) => Object.keys(settings).length > 0);
  return {
    ...(defaults.rateLimit !== undefined && defaults.burstLimit !== undefined ? { throttle: { rateLimit: defaults.rateLimit, burstLimit: defaults.burstLimit } } : {}),
    ...(routes.length > 0 ? { routeThrottles: Object.fromEntries(routes) } : {}),
  };
}

function isWebSocketApi(resource: CfnResource): boolean {
  return resource.Type === 'AWS::ApiGatewayV2::Api' && resource.Properties?.ProtocolType === 'WEBSOCKET';
}

class TemplateReader {
  private readonly resources: Record<string, CfnResource>;
  private readonly outputDefinitions: Record<string, { Value?: unknown }>;
  private readonly warnings: string[] = [];
  private readonly names = new Map<string, string>();
  /** Asset object key (`{hash}.zip`) -> directory in the assembly, from the `*.assets.json` manifests. */
  private readonly assetDirectories = new Map<string, string>();

  constructor(
    private readonly stackName: string,
    template: Template,
    private readonly directory: string,
    private readonly env: { region: string; accountId: string; apiId: string },
  ) {
    this.resources = template.Resources ?? {};
    this.outputDefinitions = template.Outputs ?? {};
    for (const file of readdirSync(directory).filter((f) => f.endsWith('.assets.json'))) {
      const assets = JSON.parse(readFileSync(join(directory, file), 'utf8')) as {
        files?: Record<string, { source?: { path?: string }; destinations?: Record<string, { objectKey?: string }> }>;
      };
      for (const asset of Object.values(assets.files ?? {})) {
        if (!asset.source?.path) continue;
        for (const destination of Object.values(asset.destinations ?? {})) {
          if (destination.objectKey) this.assetDirectories.set(destination.objectKey, asset.source.path);
        }
      }
    }
    for (const [id, r] of Object.entries(this.resources)) {
      if (r.Type === 'AWS::DynamoDB::Table') this.names.set(id, (r.Properties?.TableName as string | undefined) ?? id);
      if (r.Type === 'AWS::Lambda::Function') this.names.set(id, (r.Properties?.FunctionName as string | undefined) ?? id);
    }
  }

  read(): CloudAssemblyApp {
    const apis = this.ofType('AWS::ApiGatewayV2::Api').filter(([, r]) => isWebSocketApi(r));
    if (apis.length !== 1) throw new CloudAssemblyError(`stack ${this.stackName} has ${apis.length} WebSocket APIs; one is supported`);
    const [apiLogicalId, api] = apis[0]!;
    const belongsToApi = (r: CfnResource) => (r.Properties?.ApiId as { Ref?: string } | undefined)?.Ref === apiLogicalId;

    const stages = this.ofType('AWS::ApiGatewayV2::Stage').filter(([, r]) => belongsToApi(r));
    if (stages.length === 0) throw new CloudAssemblyError(`the WebSocket API ${apiLogicalId} has no stage`);
    const stage = String(stages[0]![1].Properties!.StageName);
    const { throttle, routeThrottles } = stageThrottling(stages[0]![1].Properties ?? {});
    if (stages.length > 1) this.warnings.push(`the API has ${stages.length} stages; serving ${stage}`);

    const functions: Record<string, ModuleFunctionDefinition> = {};
    const environments: Record<string, Record<string, string>> = {};
    const destinations = this.eventInvokeConfigs();
    for (const [logicalId, resource] of this.ofType('AWS::Lambda::Function')) {
      const name = this.names.get(logicalId)!;
      const environment = this.resolveEnvironment(logicalId, resource);
      environments[name] = environment;
      const config = destinations.get(logicalId);
      const runtime = String(resource.Properties?.Runtime ?? DEFAULT_RUNTIME);
      if (!runtime.startsWith('nodejs')) {
        this.warnings.push(`function ${name} uses ${runtime}; the local gateway runs Node.js functions only: pass one in functions: { '${name}': ... }`);
        continue;
      }
      const refused = unsupportedRuntimeReason(runtime);
      if (refused) throw new CloudAssemblyError(`function ${logicalId}: ${refused}`);
      const entry = this.functionEntry(logicalId, resource);
      if (!entry) {
        this.warnings.push(`function ${name} has no local asset (inline code or a container image): pass one in functions: { '${name}': ... }`);
        continue;
      }
      functions[name] = {
        entry,
        handlerName: String(resource.Properties?.Handler ?? 'index.handler').split('.').pop()!,
        environment,
        timeoutMs: Number(resource.Properties?.Timeout ?? 3) * 1000,
        memoryMB: Number(resource.Properties?.MemorySize ?? 128),
        runtime,
        ...(resource.Properties?.Role !== undefined ? { role: String(this.resolve(resource.Properties.Role, `${logicalId}.Role`)) } : {}),
        ...(typeof resource.Properties?.Description === 'string' ? { description: resource.Properties.Description } : {}),
        ...(Array.isArray(resource.Properties?.Architectures) ? { architectures: (resource.Properties.Architectures as unknown[]).map(String) } : {}),
        ...(config?.onFailure ? { onFailure: config.onFailure } : {}),
        ...(config?.maxRetryAttempts !== undefined ? { maxRetryAttempts: config.maxRetryAttempts } : {}),
      };
    }

    const routeResponses = new Set(
      this.ofType('AWS::ApiGatewayV2::RouteResponse')
        .filter(([, r]) => r.Properties?.RouteResponseKey === '$default')
        .map(([, r]) => (r.Properties?.RouteId as { Ref?: string } | undefined)?.Ref),
    );
    const routes: Record<string, RouteTarget> = {};
    let authorizer: AuthorizerDefinition | undefined;
    for (const [routeLogicalId, route] of this.ofType('AWS::ApiGatewayV2::Route').filter(([, r]) => belongsToApi(r))) {
      const routeKey = String(route.Properties!.RouteKey);
      const target = String(this.resolve(route.Properties!.Target, `${routeLogicalId}.Target`) ?? '');
      const integrationId = /^integrations\/(.+)$/.exec(target)?.[1];
      const integration = integrationId ? this.resources[integrationId] : undefined;
      if (integration?.Type !== 'AWS::ApiGatewayV2::Integration') {
        this.warnings.push(`route ${routeKey} has no Lambda integration the gateway can run; skipped`);
        continue;
      }
      if (integration.Properties?.IntegrationType === 'MOCK') {
        routes[routeKey] = { mock: this.mockIntegration(integrationId!, integration), returnResponse: routeResponses.has(routeLogicalId) };
        continue;
      }
      if (integration.Properties?.IntegrationType !== 'AWS_PROXY') {
        this.warnings.push(`route ${routeKey} uses a ${String(integration.Properties?.IntegrationType)} integration; only AWS_PROXY and MOCK run locally; skipped`);
        continue;
      }
      const functionName = this.functionFromInvocationUri(integration.Properties?.IntegrationUri, `${integrationId}.IntegrationUri`);
      if (!functionName) continue;
      routes[routeKey] = { function: functionName, returnResponse: routeResponses.has(routeLogicalId) };
      const authorizerId = (route.Properties!.AuthorizerId as { Ref?: string } | undefined)?.Ref;
      if (authorizerId && route.Properties!.AuthorizationType === 'CUSTOM') {
        const resource = this.resources[authorizerId];
        const authorizerFunction = this.functionFromInvocationUri(resource?.Properties?.AuthorizerUri, `${authorizerId}.AuthorizerUri`);
        if (authorizerFunction) {
          authorizer = { function: authorizerFunction, identitySource: (resource!.Properties!.IdentitySource as string[] | undefined) ?? [] };
        }
      }
    }

    const tables: LocalTableDefinition[] = this.ofType('AWS::DynamoDB::Table').map(([logicalId, r]) => this.table(logicalId, r));
    const secrets: LocalSecretDefinition[] = this.ofType('AWS::SecretsManager::Secret').map(([logicalId, r]) => {
      const generate = r.Properties?.GenerateSecretString as { PasswordLength?: number } | undefined;
      return {
        arn: this.secretArn(logicalId),
        name: this.secretName(logicalId),
        ...(typeof r.Properties?.SecretString === 'string' ? { value: r.Properties.SecretString } : {}),
        ...(generate?.PasswordLength ? { generateLength: Number(generate.PasswordLength) } : {}),
      };
    });

    return {
      stackName: this.stackName,
      gatewayOptions: {
        routes,
        functions,
        tables,
        secrets,
        ...(authorizer ? { authorizer } : {}),
        routeSelectionExpression: String(api.Properties?.RouteSelectionExpression ?? '$request.body.action'),
        ...(throttle ? { throttle } : {}),
        ...(routeThrottles ? { routeThrottles } : {}),
        stage,
        apiId: this.env.apiId,
        region: this.env.region,
        accountId: this.env.accountId,
      },
      environments,
      physicalNames: Object.fromEntries(this.names),
      outputs: this.resolveOutputs(),
      warnings: this.warnings,
    };
  }

  /** Outputs are informational: one that cannot be resolved locally is left out, without a warning. */
  private resolveOutputs(): Record<string, string> {
    const outputs: Record<string, string> = {};
    for (const [id, output] of Object.entries(this.outputDefinitions)) {
      const warningCount = this.warnings.length;
      const value = this.resolve(output.Value, `Outputs.${id}`);
      if (this.warnings.length === warningCount && (typeof value === 'string' || typeof value === 'number')) outputs[id] = String(value);
      this.warnings.length = warningCount;
    }
    return outputs;
  }

  private secretName(logicalId: string): string {
    return String(this.resources[logicalId]?.Properties?.Name ?? `${logicalId}-local`);
  }

  /** A secret's ARN ends in `-` and 6 random characters; here they are derived from the logical id, so the ARN is stable. */
  private secretArn(logicalId: string): string {
    const suffix = createHash('sha256').update(logicalId).digest('base64url').replace(/[^A-Za-z0-9]/g, 'x').slice(0, 6);
    return this.arn('secretsmanager', `secret:${this.secretName(logicalId)}-${suffix}`);
  }

  /** A MOCK integration and its integration responses, as the local gateway takes them. */
  private mockIntegration(integrationId: string, integration: CfnResource): MockIntegration {
    const p = integration.Properties ?? {};
    const responses: MockIntegrationResponse[] = this.ofType('AWS::ApiGatewayV2::IntegrationResponse')
      .filter(([, r]) => (r.Properties?.IntegrationId as { Ref?: string } | undefined)?.Ref === integrationId)
      .map(([, r]) => ({
        key: String(r.Properties?.IntegrationResponseKey),
        ...(r.Properties?.ResponseTemplates ? { responseTemplates: r.Properties.ResponseTemplates as Record<string, string> } : {}),
        ...(r.Properties?.TemplateSelectionExpression !== undefined ? { templateSelectionExpression: String(r.Properties.TemplateSelectionExpression) } : {}),
      }));
    return {
      ...(p.RequestTemplates ? { requestTemplates: p.RequestTemplates as Record<string, string> } : {}),
      ...(p.TemplateSelectionExpression !== undefined ? { templateSelectionExpression: String(p.TemplateSelectionExpression) } : {}),
      ...(p.PassthroughBehavior !== undefined ? { passthroughBehavior: p.PassthroughBehavior as MockIntegration['passthroughBehavior'] } : {}),
      ...(responses.length > 0 ? { integrationResponses: responses } : {}),
    };
  }

  private ofType(type: string): Array<[string, CfnResource]> {
    return Object.entries(this.resources).filter(([, r]) => r.Type === type);
  }

  /**
   * The bundled handler file: `{asset dir}/{handler file}.mjs|.js|.cjs`. The asset directory comes from
   * the `aws:asset:path` metadata the CDK CLI adds, else from the asset manifest by the code's S3 key.
   */
  private functionEntry(logicalId: string, resource: CfnResource): string | undefined {
    const s3Key = (resource.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key;
    const metadataPath = resource.Metadata?.['aws:asset:path'];
    const assetPath = typeof metadataPath === 'string' ? metadataPath : typeof s3Key === 'string' ? this.assetDirectories.get(s3Key) : undefined;
    if (!assetPath) return undefined;
    const handler = String(resource.Properties?.Handler ?? 'index.handler');
    const file = handler.slice(0, handler.lastIndexOf('.'));
    const base = join(this.directory, assetPath, file);
    const entry = ['.mjs', '.js', '.cjs'].map((ext) => base + ext).find((candidate) => existsSync(candidate));
    if (!entry) throw new CloudAssemblyError(`function ${logicalId}: no ${file}.mjs, .js or .cjs in ${join(this.directory, assetPath)}`);
    return entry;
  }

  private resolveEnvironment(logicalId: string, resource: CfnResource): Record<string, string> {
    const variables = ((resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, String(this.resolve(value, `${logicalId}.Environment.${name}`) ?? '')]));
  }

  private eventInvokeConfigs(): Map<string, { onFailure?: string; maxRetryAttempts?: number }> {
    const configs = new Map<string, { onFailure?: string; maxRetryAttempts?: number }>();
    for (const [id, r] of this.ofType('AWS::Lambda::EventInvokeConfig')) {
      const target = (r.Properties?.FunctionName as { Ref?: string } | undefined)?.Ref;
      if (!target) continue;
      const destination = (r.Properties?.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)?.OnFailure?.Destination;
      let onFailure: string | undefined;
      if (destination !== undefined) {
        const arn = String(this.resolve(destination, `${id}.DestinationConfig`));
        onFailure = /:function:([^:]+)/.exec(arn)?.[1];
        if (!onFailure) this.warnings.push(`${id}: on-failure destination ${arn} is not a Lambda function; failures are only logged`);
      }
      const retries = r.Properties?.MaximumRetryAttempts;
      configs.set(target, { onFailure, ...(retries !== undefined ? { maxRetryAttempts: Number(retries) } : {}) });
    }
    return configs;
  }

  private functionFromInvocationUri(uri: unknown, where: string): string | undefined {
    const resolved = String(this.resolve(uri, where) ?? '');
    const name = /:function:([^/:]+)(?::[^/]+)?\/invocations$/.exec(resolved)?.[1];
    if (!name || ![...this.names.values()].includes(name)) {
      this.warnings.push(`${where}: ${resolved} does not invoke a function of this stack; skipped`);
      return undefined;
    }
    return name;
  }

  private table(logicalId: string, resource: CfnResource): LocalTableDefinition {
    const p = resource.Properties ?? {};
    type Key = { AttributeName: string; KeyType: 'HASH' | 'RANGE' };
    const types = new Map(((p.AttributeDefinitions as Array<{ AttributeName: string; AttributeType: 'S' | 'N' | 'B' }>) ?? []).map((a) => [a.AttributeName, a.AttributeType]));
    const keys = (schema: Key[]) => {
      const hash = schema.find((k) => k.KeyType === 'HASH')!.AttributeName;
      const range = schema.find((k) => k.KeyType === 'RANGE')?.AttributeName;
      return { partitionKey: hash, partitionKeyType: types.get(hash), ...(range ? { sortKey: range, sortKeyType: types.get(range) } : {}) };
    };
    const ttl = p.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
    const gsis = (p.GlobalSecondaryIndexes as Array<{ IndexName: string; KeySchema: Key[] }> | undefined) ?? [];
    return {
      name: this.names.get(logicalId)!,
      ...keys(p.KeySchema as Key[]),
      ...(ttl?.Enabled && ttl.AttributeName ? { timeToLiveAttribute: ttl.AttributeName } : {}),
      ...(gsis.length > 0 ? { globalSecondaryIndexes: gsis.map((g) => ({ indexName: g.IndexName, ...keys(g.KeySchema) })) } : {}),
    };
  }

  private arn(service: string, resource: string): string {
    return `arn:aws:${service}:${this.env.region}:${this.env.accountId}:${resource}`;
  }

  /** Evaluates the intrinsics the gateway needs; anything else is reported and left unresolved. */
  private resolve(value: unknown, where: string): unknown {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => this.resolve(v, where));
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length !== 1 || !(entries[0]![0] === 'Ref' || entries[0]![0].startsWith('Fn::'))) {
      return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v, where)]));
    }
    const [fn, arg] = entries[0]!;
    switch (fn) {
      case 'Ref':
        return this.ref(String(arg), where);
      case 'Fn::GetAtt': {
        const [id, attribute] = Array.isArray(arg) ? (arg as string[]) : String(arg).split('.');
        return this.getAtt(id!, attribute!, where);
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown[]];
        return (this.resolve(parts, where) as unknown[]).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [unknown, unknown];
        return (this.resolve(list, where) as unknown[])[Number(this.resolve(index, where))];
      }
      case 'Fn::Split': {
        const [separator, source] = arg as [string, unknown];
        return String(this.resolve(source, where)).split(separator);
      }
      case 'Fn::Sub': {
        const [text, variables] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
        return text.replace(/\$\{([^}!][^}]*)\}/g, (_m, name: string) => {
          if (name in variables) return String(this.resolve(variables[name], where));
          return String(name.includes('.') ? this.getAtt(name.split('.')[0]!, name.split('.').slice(1).join('.'), where) : this.ref(name, where));
        });
      }
      default:
        this.warnings.push(`${where}: ${fn} is not evaluated locally`);
        return `UNRESOLVED(${fn})`;
    }
  }

  private ref(id: string, where: string): string {
    switch (id) {
      case 'AWS::Region':
        return this.env.region;
      case 'AWS::AccountId':
        return this.env.accountId;
      case 'AWS::Partition':
        return 'aws';
      case 'AWS::URLSuffix':
        return 'amazonaws.com';
      case 'AWS::StackName':
        return this.stackName;
      case 'AWS::NoValue':
        return '';
    }
    const resource = this.resources[id];
    if (!resource) {
      this.warnings.push(`${where}: Ref ${id} is not a resource of this stack`);
      return `UNRESOLVED(${id})`;
    }
    switch (resource.Type) {
      case 'AWS::DynamoDB::Table':
      case 'AWS::Lambda::Function':
        return this.names.get(id)!;
      case 'AWS::ApiGatewayV2::Api':
        return this.env.apiId;
      case 'AWS::ApiGatewayV2::Stage':
        return String(resource.Properties?.StageName);
      case 'AWS::SecretsManager::Secret':
        return this.secretArn(id);
      default:
        return id;
    }
  }

  private getAtt(id: string, attribute: string, where: string): string {
    const resource = this.resources[id];
    const name = this.names.get(id) ?? id;
    switch (`${resource?.Type}.${attribute}`) {
      case 'AWS::DynamoDB::Table.Arn':
        return this.arn('dynamodb', `table/${name}`);
      case 'AWS::DynamoDB::Table.StreamArn':
        return this.arn('dynamodb', `table/${name}/stream/local`);
      case 'AWS::Lambda::Function.Arn':
        return this.arn('lambda', `function:${name}`);
      case 'AWS::ApiGatewayV2::Api.ApiEndpoint':
        return `wss://${this.env.apiId}.execute-api.${this.env.region}.amazonaws.com`;
      case 'AWS::ApiGatewayV2::Api.ApiId':
        return this.env.apiId;
      case 'AWS::SQS::Queue.Arn':
        return this.arn('sqs', id);
      case 'AWS::Logs::LogGroup.Arn':
        return this.arn('logs', `log-group:${id}:*`);
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${this.env.accountId}:role/${id}`;
      default:
        this.warnings.push(`${where}: Fn::GetAtt ${id}.${attribute} is not evaluated locally`);
        return `UNRESOLVED(${id}.${attribute})`;
    }
  }
}
