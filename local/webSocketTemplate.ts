/**
 * Turns one CloudFormation template's WebSocket API into local gateway options: the routes and their
 * integrations (Lambda proxy and MOCK), the `$connect` authorizer, route responses, the stage's
 * throttling (default route settings and per-route settings), the Lambda functions (their code found
 * by the caller: a CDK asset, a SAM `CodeUri`, ...), their environment, timeout, memory and on-failure
 * destinations, the DynamoDB tables and the Secrets Manager secrets. A synthesized CDK app
 * (cloudAssembly.ts), a SAM or CloudFormation template (samTemplate.ts) and a serverless.yml
 * (serverlessConfig.ts) all come through here.
 *
 * CloudFormation intrinsics in those properties are resolved locally: `Ref` to a table gives its
 * name (its `TableName`, else its logical id), to a function its name (likewise), to the API the
 * local api id, to the stage its name, to a parameter its value (`Parameters` defaults and
 * overrides); `Fn::GetAtt` gives ARNs in the local account and region; `Fn::Join`, `Fn::Sub`,
 * `Fn::Select`, `Fn::Split`, `Fn::If` (with `Conditions`), `Fn::FindInMap` (with `Mappings`),
 * `Fn::Base64` and `Fn::GetAZs` are evaluated; a resource whose `Condition` is false is left out.
 * What cannot be evaluated (`Fn::ImportValue`, an attribute of a resource the gateway does not have)
 * is a warning. URLs of the API itself are turned into the local ones by the gateway when it starts.
 */
import { createHash } from 'node:crypto';
import type { AuthorizerDefinition, LocalGatewayOptions, RouteTarget } from './LocalGatewayOptions.ts';
import type { MockIntegration, MockIntegrationResponse } from './mockIntegration.ts';
import type { RouteThrottleSettings, ThrottleSettings } from './throttling.ts';
import type { ModuleFunctionDefinition } from './functionDefinitions.ts';
import type { LocalTableDefinition } from './dynamo.ts';
import { DEFAULT_RUNTIME, unsupportedRuntimeReason } from './runtimes.ts';
import type { LocalSecretDefinition } from './secretsManager.ts';
import { TemplateError } from './templateText.ts';

export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly Condition?: string;
}

export interface CfnTemplate {
  readonly Resources?: Record<string, CfnResource>;
  readonly Outputs?: Record<string, { Value?: unknown; Condition?: string }>;
  readonly Parameters?: Record<string, CfnParameter>;
  readonly Conditions?: Record<string, unknown>;
  readonly Mappings?: Record<string, Record<string, Record<string, unknown>>>;
}

interface CfnParameter {
  readonly Type?: string;
  readonly Default?: unknown;
  readonly AllowedValues?: readonly unknown[];
}

/** What the gateway serves from a template, whichever kind of app it came from. */
export interface WebSocketApp {
  readonly stackName: string;
  /** Spread into `new LocalGateway({...})`. */
  readonly gatewayOptions: Pick<
    LocalGatewayOptions,
    | 'routes'
    | 'functions'
    | 'tables'
    | 'secrets'
    | 'authorizer'
    | 'routeSelectionExpression'
    | 'stage'
    | 'apiId'
    | 'region'
    | 'accountId'
    | 'throttle'
    | 'routeThrottles'
  >;
  /** Each function's resolved environment, by function name (as in `gatewayOptions.functions`). */
  readonly environments: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** Logical id -> local name, for tables and functions. */
  readonly physicalNames: Readonly<Record<string, string>>;
  /**
   * The template's outputs that resolve locally, by logical id: a function's or table's local name; the
   * API's own URLs in their AWS form (the gateway turns those into local ones only in environments).
   */
  readonly outputs: Readonly<Record<string, string>>;
  /** What could not be carried over, e.g. an SQS on-failure destination. */
  readonly warnings: readonly string[];
}

/** A function as the code locator sees it: its properties with intrinsics resolved, and its metadata. */
export interface FunctionCode {
  readonly logicalId: string;
  readonly name: string;
  readonly properties: Readonly<Record<string, unknown>>;
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface WebSocketTemplateInput {
  readonly stackName: string;
  readonly template: CfnTemplate;
  readonly region: string;
  readonly accountId: string;
  readonly apiId: string;
  /** Values for the template's `Parameters`, over their defaults. */
  readonly parameters?: Readonly<Record<string, string>>;
  /**
   * The file a function's handler is in, or undefined when it has no code here (a warning follows).
   * Throws TemplateError when the code should be there and is not.
   */
  readonly locateCode: (fn: FunctionCode) => string | undefined;
  /** Warnings found before the template was read (e.g. while transforming SAM resources). */
  readonly warnings?: readonly string[];
}

export function readWebSocketTemplate(input: WebSocketTemplateInput): WebSocketApp {
  return new TemplateReader(input).read();
}

export function isWebSocketApi(resource: CfnResource): boolean {
  return resource.Type === 'AWS::ApiGatewayV2::Api' && resource.Properties?.ProtocolType === 'WEBSOCKET';
}

/** `Ref AWS::NoValue`: the property is left out where it appears. */
const NO_VALUE = Symbol('AWS::NoValue');

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
    ...(defaults.rateLimit !== undefined && defaults.burstLimit !== undefined
      ? { throttle: { rateLimit: defaults.rateLimit, burstLimit: defaults.burstLimit } }
      : {}),
    ...(routes.length > 0 ? { routeThrottles: Object.fromEntries(routes) } : {}),
  };
}

/** The `Parameters` with their values: overrides over defaults, lists split, allowed values checked. */
function parameterValues(declared: Record<string, CfnParameter>, overrides: Readonly<Record<string, string>>): Map<string, string | string[]> {
  for (const name of Object.keys(overrides)) {
    if (!(name in declared))
      throw new TemplateError(`parameter ${name} is not declared in the template's Parameters (it has ${Object.keys(declared).join(', ') || 'none'})`);
  }
  const values = new Map<string, string | string[]>();
  for (const [name, parameter] of Object.entries(declared)) {
    const given = overrides[name] ?? (parameter.Default === undefined ? undefined : String(parameter.Default));
    if (given === undefined) throw new TemplateError(`parameter ${name} has no Default: pass --parameter-overrides ${name}=<value>`);
    const allowed = parameter.AllowedValues?.map(String);
    if (allowed && !allowed.includes(given))
      throw new TemplateError(`parameter ${name}: ${JSON.stringify(given)} is not one of its AllowedValues (${allowed.join(', ')})`);
    const isList = /^(CommaDelimitedList|List<)/.test(parameter.Type ?? '');
    values.set(name, isList ? given.split(',').map((item) => item.trim()) : given);
  }
  return values;
}
class TemplateReader {
  private readonly resources: Record<string, CfnResource>;
  private readonly outputDefinitions: Record<string, { Value?: unknown; Condition?: string }>;
  private readonly warnings: string[];
  private readonly names = new Map<string, string>();
  private readonly parameters: Map<string, string | string[]>;
  private readonly conditions = new Map<string, boolean>();
  private readonly template: CfnTemplate;
  /** Above 0 while resolving properties read only for their literal values: nothing is reported. */
  private quiet = 0;

  constructor(private readonly input: WebSocketTemplateInput) {
    this.template = input.template;
    this.warnings = [...(input.warnings ?? [])];
    this.parameters = parameterValues(this.template.Parameters ?? {}, input.parameters ?? {});
    // A resource whose Condition is false does not exist.
    this.resources = Object.fromEntries(
      Object.entries(this.template.Resources ?? {}).filter(([, r]) => r.Condition === undefined || this.condition(r.Condition)),
    );
    this.outputDefinitions = Object.fromEntries(
      Object.entries(this.template.Outputs ?? {}).filter(([, o]) => o.Condition === undefined || this.condition(o.Condition)),
    );
    for (const [id, r] of Object.entries(this.resources)) {
      if (r.Type === 'AWS::DynamoDB::Table') this.names.set(id, String(this.literal(id, 'TableName') ?? id));
      if (r.Type === 'AWS::Lambda::Function') this.names.set(id, String(this.literal(id, 'FunctionName') ?? id));
    }
  }

  private get stackName(): string {
    return this.input.stackName;
  }

  private get env(): { region: string; accountId: string; apiId: string } {
    return this.input;
  }

  read(): WebSocketApp {
    const apis = this.ofType('AWS::ApiGatewayV2::Api').filter(([, r]) => isWebSocketApi(r));
    if (apis.length !== 1) throw new TemplateError(`stack ${this.stackName} has ${apis.length} WebSocket APIs; one is supported`);
    const [apiLogicalId] = apis[0]!;
    const belongsToApi = (r: CfnResource) => (r.Properties?.ApiId as { Ref?: string } | undefined)?.Ref === apiLogicalId;

    const stages = this.ofType('AWS::ApiGatewayV2::Stage').filter(([, r]) => belongsToApi(r));
    if (stages.length === 0) throw new TemplateError(`the WebSocket API ${apiLogicalId} has no stage`);
    const [stageId] = stages[0]!;
    const stage = String(this.literal(stageId, 'StageName'));
    const { throttle, routeThrottles } = stageThrottling({
      DefaultRouteSettings: this.literal(stageId, 'DefaultRouteSettings'),
      RouteSettings: this.literal(stageId, 'RouteSettings'),
    });
    if (stages.length > 1) this.warnings.push(`the API has ${stages.length} stages; serving ${stage}`);

    const functions: Record<string, ModuleFunctionDefinition> = {};
    const environments: Record<string, Record<string, string>> = {};
    const destinations = this.eventInvokeConfigs();
    for (const [logicalId, resource] of this.ofType('AWS::Lambda::Function')) {
      const name = this.names.get(logicalId)!;
      const environment = this.resolveEnvironment(logicalId, resource);
      environments[name] = environment;
      const config = destinations.get(logicalId);
      const runtime = String(this.literal(logicalId, 'Runtime') ?? DEFAULT_RUNTIME);
      if (!runtime.startsWith('nodejs')) {
        this.warnings.push(`function ${name} uses ${runtime}; the local gateway runs Node.js functions only: pass one in functions: { '${name}': ... }`);
        continue;
      }
      const refused = unsupportedRuntimeReason(runtime);
      if (refused) throw new TemplateError(`function ${logicalId}: ${refused}`);
      const properties = this.literalProperties(logicalId);
      const entry = this.input.locateCode({ logicalId, name, properties, metadata: resource.Metadata ?? {} });
      if (!entry) {
        this.warnings.push(`function ${name} has no local code (code in S3 or a container image): pass one in functions: { '${name}': ... }`);
        continue;
      }
      const role = resource.Properties?.Role;
      functions[name] = {
        entry,
        handlerName: String(properties.Handler ?? 'index.handler')
          .split('.')
          .pop()!,
        environment,
        timeoutMs: Number(properties.Timeout ?? 3) * 1000,
        memoryMB: Number(properties.MemorySize ?? 128),
        runtime,
        ...(role !== undefined ? { role: String(this.resolve(role, `${logicalId}.Role`)) } : {}),
        ...(typeof properties.Description === 'string' ? { description: properties.Description } : {}),
        ...(Array.isArray(properties.Architectures) ? { architectures: (properties.Architectures as unknown[]).map(String) } : {}),
        ...(config?.onFailure ? { onFailure: config.onFailure } : {}),
        ...(config?.maxRetryAttempts !== undefined ? { maxRetryAttempts: config.maxRetryAttempts } : {}),
      };
    }

    const routeResponses = new Set(
      this.ofType('AWS::ApiGatewayV2::RouteResponse')
        .filter(([id]) => this.literal(id, 'RouteResponseKey') === '$default')
        .map(([, r]) => (r.Properties?.RouteId as { Ref?: string } | undefined)?.Ref),
    );
    const routes: Record<string, RouteTarget> = {};
    let authorizer: AuthorizerDefinition | undefined;
    for (const [routeLogicalId, route] of this.ofType('AWS::ApiGatewayV2::Route').filter(([, r]) => belongsToApi(r))) {
      const routeKey = String(this.literal(routeLogicalId, 'RouteKey'));
      const target = String(this.resolve(route.Properties!.Target, `${routeLogicalId}.Target`) ?? '');
      const integrationId = /^integrations\/(.+)$/.exec(target)?.[1];
      const integration = integrationId ? this.resources[integrationId] : undefined;
      if (integration?.Type !== 'AWS::ApiGatewayV2::Integration') {
        this.warnings.push(`route ${routeKey} has no Lambda integration the gateway can run; skipped`);
        continue;
      }
      const integrationType = this.literal(integrationId!, 'IntegrationType');
      if (integrationType === 'MOCK') {
        routes[routeKey] = { mock: this.mockIntegration(integrationId!), returnResponse: routeResponses.has(routeLogicalId) };
        continue;
      }
      if (integrationType !== 'AWS_PROXY') {
        this.warnings.push(`route ${routeKey} uses a ${String(integrationType)} integration; only AWS_PROXY and MOCK run locally; skipped`);
        continue;
      }
      const functionName = this.functionFromInvocationUri(integration.Properties?.IntegrationUri, `${integrationId}.IntegrationUri`);
      if (!functionName) continue;
      routes[routeKey] = { function: functionName, returnResponse: routeResponses.has(routeLogicalId) };
      const authorizerId = (route.Properties!.AuthorizerId as { Ref?: string } | undefined)?.Ref;
      if (authorizerId && this.literal(routeLogicalId, 'AuthorizationType') === 'CUSTOM') {
        const resource = this.resources[authorizerId];
        const authorizerFunction = this.functionFromInvocationUri(resource?.Properties?.AuthorizerUri, `${authorizerId}.AuthorizerUri`);
        if (authorizerFunction) {
          const identitySource = this.literal(authorizerId, 'IdentitySource');
          authorizer = { function: authorizerFunction, identitySource: Array.isArray(identitySource) ? identitySource.map(String) : [] };
        }
      }
    }

    const tables: LocalTableDefinition[] = this.ofType('AWS::DynamoDB::Table').map(([logicalId]) => this.table(logicalId));
    const secrets: LocalSecretDefinition[] = this.ofType('AWS::SecretsManager::Secret').map(([logicalId]) => {
      const p = this.literalProperties(logicalId);
      const generate = p.GenerateSecretString as { PasswordLength?: number } | undefined;
      return {
        arn: this.secretArn(logicalId),
        name: this.secretName(logicalId),
        ...(typeof p.SecretString === 'string' ? { value: p.SecretString } : {}),
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
        routeSelectionExpression: String(this.literal(apiLogicalId, 'RouteSelectionExpression') ?? '$request.body.action'),
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

  /** One property with its intrinsics resolved, for its value only: what cannot be resolved is not reported. */
  private literal(logicalId: string, property: string): unknown {
    this.quiet++;
    try {
      const value = this.resolve(this.resources[logicalId]?.Properties?.[property], `${logicalId}.${property}`);
      return value === NO_VALUE ? undefined : value;
    } finally {
      this.quiet--;
    }
  }

  private literalProperties(logicalId: string): Record<string, unknown> {
    return Object.fromEntries(
      Object.keys(this.resources[logicalId]?.Properties ?? {})
        .map((key) => [key, this.literal(logicalId, key)])
        .filter(([, v]) => v !== undefined),
    );
  }

  private warn(message: string): void {
    if (this.quiet === 0) this.warnings.push(message);
  }

  private secretName(logicalId: string): string {
    return String(this.literal(logicalId, 'Name') ?? `${logicalId}-local`);
  }

  /** A secret's ARN ends in `-` and 6 random characters; here they are derived from the logical id, so the ARN is stable. */
  private secretArn(logicalId: string): string {
    const suffix = createHash('sha256')
      .update(logicalId)
      .digest('base64url')
      .replace(/[^A-Za-z0-9]/g, 'x')
      .slice(0, 6);
    return this.arn('secretsmanager', `secret:${this.secretName(logicalId)}-${suffix}`);
  }

  /** A MOCK integration and its integration responses, as the local gateway takes them. */
  private mockIntegration(integrationId: string): MockIntegration {
    const p = this.literalProperties(integrationId);
    const responses: MockIntegrationResponse[] = this.ofType('AWS::ApiGatewayV2::IntegrationResponse')
      .filter(([, r]) => (r.Properties?.IntegrationId as { Ref?: string } | undefined)?.Ref === integrationId)
      .map(([id]) => {
        const r = this.literalProperties(id);
        return {
          key: String(r.IntegrationResponseKey),
          ...(r.ResponseTemplates ? { responseTemplates: r.ResponseTemplates as Record<string, string> } : {}),
          ...(r.TemplateSelectionExpression !== undefined ? { templateSelectionExpression: String(r.TemplateSelectionExpression) } : {}),
        };
      });
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

  private resolveEnvironment(logicalId: string, resource: CfnResource): Record<string, string> {
    const environment = this.resolve(resource.Properties?.Environment, `${logicalId}.Environment`) as { Variables?: Record<string, unknown> } | undefined;
    return Object.fromEntries(
      Object.entries(environment?.Variables ?? {})
        .filter(([, value]) => value !== NO_VALUE)
        .map(([name, value]) => [name, String(value ?? '')]),
    );
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
      const retries = this.literal(id, 'MaximumRetryAttempts');
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

  private table(logicalId: string): LocalTableDefinition {
    const p = this.literalProperties(logicalId);
    type Key = { AttributeName: string; KeyType: 'HASH' | 'RANGE' };
    const types = new Map(
      ((p.AttributeDefinitions as Array<{ AttributeName: string; AttributeType: 'S' | 'N' | 'B' }>) ?? []).map((a) => [a.AttributeName, a.AttributeType]),
    );
    const keys = (schema: Key[] | undefined) => {
      const hash = schema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
      if (!hash) throw new TemplateError(`table ${logicalId} has no HASH key in its KeySchema`);
      const range = schema!.find((k) => k.KeyType === 'RANGE')?.AttributeName;
      return { partitionKey: hash, partitionKeyType: types.get(hash), ...(range ? { sortKey: range, sortKeyType: types.get(range) } : {}) };
    };
    const ttl = p.TimeToLiveSpecification as { AttributeName?: string; Enabled?: unknown } | undefined;
    const gsis = (p.GlobalSecondaryIndexes as Array<{ IndexName: string; KeySchema: Key[] }> | undefined) ?? [];
    return {
      name: this.names.get(logicalId)!,
      ...keys(p.KeySchema as Key[] | undefined),
      ...((ttl?.Enabled === true || ttl?.Enabled === 'true') && ttl.AttributeName ? { timeToLiveAttribute: ttl.AttributeName } : {}),
      ...(gsis.length > 0 ? { globalSecondaryIndexes: gsis.map((g) => ({ indexName: g.IndexName, ...keys(g.KeySchema) })) } : {}),
    };
  }

  private arn(service: string, resource: string): string {
    return `arn:aws:${service}:${this.env.region}:${this.env.accountId}:${resource}`;
  }

  /** A named condition's value (Conditions may refer to each other; a cycle is an error). */
  private condition(name: string, seen: ReadonlySet<string> = new Set()): boolean {
    const known = this.conditions.get(name);
    if (known !== undefined) return known;
    if (seen.has(name)) throw new TemplateError(`condition ${name} refers to itself`);
    const definition = this.template.Conditions?.[name];
    if (definition === undefined) throw new TemplateError(`condition ${name} is not in the template's Conditions`);
    const value = this.evaluateCondition(definition, new Set([...seen, name]), `Conditions.${name}`);
    this.conditions.set(name, value);
    return value;
  }

  private evaluateCondition(definition: unknown, seen: ReadonlySet<string>, where: string): boolean {
    const [fn, arg] = Object.entries((definition ?? {}) as Record<string, unknown>)[0] ?? [];
    const list = (Array.isArray(arg) ? arg : []) as unknown[];
    switch (fn) {
      case 'Condition':
        return this.condition(String(arg), seen);
      case 'Fn::Equals': {
        const [a, b] = list.map((v) => this.resolve(v, where));
        return JSON.stringify(a) === JSON.stringify(b) || String(a) === String(b);
      }
      case 'Fn::And':
        return list.every((c) => this.evaluateCondition(c, seen, where));
      case 'Fn::Or':
        return list.some((c) => this.evaluateCondition(c, seen, where));
      case 'Fn::Not':
        return !this.evaluateCondition(list[0], seen, where);
      default:
        throw new TemplateError(`${where}: ${String(fn)} is not a condition function`);
    }
  }

  /** Evaluates the intrinsics the gateway needs; anything else is reported and left unresolved. */
  private resolve(value: unknown, where: string): unknown {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => this.resolve(v, where)).filter((v) => v !== NO_VALUE);
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length !== 1 || !(entries[0]![0] === 'Ref' || entries[0]![0].startsWith('Fn::'))) {
      return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v, where)]).filter(([, v]) => v !== NO_VALUE));
    }
    const [fn, arg] = entries[0]!;
    switch (fn) {
      case 'Ref':
        return this.ref(String(arg), where);
      case 'Fn::GetAtt': {
        const [id, ...attribute] = Array.isArray(arg) ? (arg as unknown[]).map((a) => String(this.resolve(a, where))) : String(arg).split('.');
        return this.getAtt(id!, attribute.join('.'), where);
      }
      case 'Fn::Join': {
        const [separator, parts] = arg as [string, unknown];
        const list = this.resolve(parts, where);
        return Array.isArray(list) ? list.join(separator) : String(list);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [unknown, unknown];
        const items = this.resolve(list, where);
        return Array.isArray(items) ? items[Number(this.resolve(index, where))] : undefined;
      }
      case 'Fn::Split': {
        const [separator, source] = arg as [string, unknown];
        return String(this.resolve(source, where)).split(separator);
      }
      case 'Fn::Sub':
        return this.sub(arg, where);
      case 'Fn::If': {
        const [name, ifTrue, ifFalse] = arg as [string, unknown, unknown];
        return this.resolve(this.condition(String(name)) ? ifTrue : ifFalse, where);
      }
      case 'Fn::FindInMap': {
        const [map, top, second] = (arg as unknown[]).map((a) => String(this.resolve(a, where)));
        const found = this.template.Mappings?.[map!]?.[top!]?.[second!];
        if (found === undefined) throw new TemplateError(`${where}: Fn::FindInMap ${map}.${top}.${second} is not in the template's Mappings`);
        return found;
      }
      case 'Fn::Base64':
        return Buffer.from(String(this.resolve(arg, where))).toString('base64');
      case 'Fn::GetAZs':
        return ['a', 'b', 'c'].map((zone) => `${this.env.region}${zone}`);
      case 'Fn::Equals': {
        const [a, b] = (arg as unknown[]).map((v) => this.resolve(v, where));
        return String(a) === String(b);
      }
      case 'Fn::ImportValue':
        this.warn(`${where}: Fn::ImportValue ${JSON.stringify(this.resolve(arg, where))} reads another stack's export, which is not here; left unresolved`);
        return `UNRESOLVED(Fn::ImportValue)`;
      default:
        this.warn(`${where}: ${fn} is not evaluated locally`);
        return `UNRESOLVED(${fn})`;
    }
  }

  /** `Fn::Sub` in both forms: `text`, or `[text, { Name: value }]`; `${!Literal}` stays `${Literal}`. */
  private sub(arg: unknown, where: string): string {
    const [text, variables] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
    return String(text)
      .replace(/\$\{([^}!][^}]*)\}/g, (_m, raw: string) => {
        const name = raw.trim();
        if (variables && name in variables) return String(this.resolve(variables[name], where));
        const dot = name.indexOf('.');
        // A parameter or resource named `A`; `A.B` is an attribute, unless `A.B` itself is a parameter.
        if (dot === -1 || this.parameters.has(name)) return String(this.ref(name, where));
        return String(this.getAtt(name.slice(0, dot), name.slice(dot + 1), where));
      })
      .replace(/\$\{!/g, '${');
  }

  private ref(id: string, where: string): unknown {
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
      case 'AWS::StackId':
        return this.arn('cloudformation', `stack/${this.stackName}/00000000-0000-0000-0000-000000000000`);
      case 'AWS::NotificationARNs':
        return [];
      case 'AWS::NoValue':
        return NO_VALUE;
    }
    if (this.parameters.has(id)) return this.parameters.get(id);
    const resource = this.resources[id];
    if (!resource) {
      this.warn(`${where}: Ref ${id} is not a parameter or resource of this stack`);
      return `UNRESOLVED(${id})`;
    }
    switch (resource.Type) {
      case 'AWS::DynamoDB::Table':
      case 'AWS::Lambda::Function':
        return this.names.get(id)!;
      case 'AWS::ApiGatewayV2::Api':
        return this.env.apiId;
      case 'AWS::ApiGatewayV2::Stage':
        return String(this.literal(id, 'StageName'));
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
        this.warn(`${where}: Fn::GetAtt ${id}.${attribute} is not evaluated locally`);
        return `UNRESOLVED(${id}.${attribute})`;
    }
  }
}
