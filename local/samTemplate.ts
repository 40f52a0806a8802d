/**
 * Serves a SAM or plain CloudFormation template (YAML with the short-form tags, or JSON) on the local
 * gateway. SAM's resources are turned into the CloudFormation ones they deploy as, as SAM's transform
 * does for what the gateway runs: `AWS::Serverless::Function` (after `Globals.Function`) into
 * `AWS::Lambda::Function` with its `CodeUri` folder or `InlineCode`, `EventInvokeConfig` into
 * `AWS::Lambda::EventInvokeConfig`, `AWS::Serverless::SimpleTable` into `AWS::DynamoDB::Table`,
 * `AWS::Serverless::WebSocketApi` into the API, stage, routes, integrations and authorizer SAM
 * generates for it. A WebSocket API written in `AWS::ApiGatewayV2::*` resources is kept as it is;
 * webSocketTemplate.ts reads the result as it reads a CDK app's.
 */
import { basename, dirname, resolve } from 'node:path';
import { localCodeEntry, type BundleSettings } from './localCode.ts';
import { readTemplateFile, TemplateError } from './templateText.ts';
import { readWebSocketTemplate, type CfnResource, type CfnTemplate, type FunctionCode, type WebSocketApp } from './webSocketTemplate.ts';

export interface TemplateOptions {
  /** The template file (template.yaml, template.json, ...). */
  readonly path: string;
  /** Values for the template's Parameters, over their defaults (as `sam deploy --parameter-overrides`). */
  readonly parameters?: Readonly<Record<string, string>>;
  /** `AWS::StackName`. @default the template folder's name */
  readonly stackName?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
  /** @default 'localwsapi' */
  readonly apiId?: string;
}

const SAM_TRANSFORM = 'AWS::Serverless-2016-10-31';
/** SimpleTable's PrimaryKey types -> DynamoDB attribute types. */
const SIMPLE_TABLE_KEY_TYPES: Readonly<Record<string, string>> = { String: 'S', Number: 'N', Binary: 'B' };

/**
 * Reads a SAM or CloudFormation template's WebSocket API: what to spread into `new LocalGateway()`,
 * each function's environment and the warnings (what cannot run locally). Throws TemplateError.
 *
 * @example
 * ```ts
 * const app = loadTemplate({ path: 'template.yaml', parameters: { StageName: 'dev' } });
 * for (const warning of app.warnings) console.warn(warning);
 * const gateway = new LocalGateway({ ...app.gatewayOptions, environment: sharedEnvironmentOf(app), port: 0 });
 * const { wsUrl, callbackUrl } = await gateway.start();
 * ```
 */
export function loadTemplate(options: TemplateOptions): WebSocketApp {
  const path = resolve(options.path);
  const parsed = readTemplateFile(path);
  if (!parsed || typeof parsed !== 'object' || typeof (parsed as CfnTemplate).Resources !== 'object') {
    throw new TemplateError(`${path} is not a CloudFormation template: it has no Resources`);
  }
  const warnings: string[] = [];
  const template = transformSam(parsed as SamTemplate, warnings);
  const baseDirectory = dirname(path);
  return readWebSocketTemplate({
    stackName: options.stackName ?? basename(baseDirectory),
    template,
    region: options.region ?? 'us-east-1',
    accountId: options.accountId ?? '000000000000',
    apiId: options.apiId ?? 'localwsapi',
    parameters: options.parameters ?? {},
    warnings,
    locateCode: (fn) => localCodeEntry(fn, { baseDirectory, bundle: samBundle }),
  });
}

interface SamTemplate extends CfnTemplate {
  readonly Transform?: string | string[];
  readonly Globals?: Record<string, Record<string, unknown>>;
}

/** `sam build`'s esbuild: `Metadata.BuildMethod: esbuild` and its `BuildProperties`. */
function samBundle(fn: FunctionCode): { settings: BundleSettings; always: boolean } | undefined {
  if (fn.metadata.BuildMethod !== 'esbuild') return undefined;
  const p = (fn.metadata.BuildProperties ?? {}) as Record<string, unknown>;
  const flag = (value: unknown) => value === true || value === 'true';
  return {
    always: true,
    settings: {
      ...(p.Format === 'esm' || p.Format === 'cjs' ? { format: p.Format } : {}),
      ...(typeof p.Target === 'string' ? { target: p.Target } : {}),
      ...(p.Minify !== undefined ? { minify: flag(p.Minify) } : {}),
      ...(p.Sourcemap !== undefined ? { sourcemap: flag(p.Sourcemap) } : {}),
      ...(Array.isArray(p.External) ? { external: p.External.map(String) } : {}),
      ...(Array.isArray(p.EntryPoints) ? { entryPoints: p.EntryPoints.map(String) } : {}),
    },
  };
}

/** The template as CloudFormation sees it after SAM's transform, for the resources the gateway serves. */
export function transformSam(template: SamTemplate, warnings: string[]): CfnTemplate {
  const transforms = template.Transform === undefined ? [] : Array.isArray(template.Transform) ? template.Transform : [template.Transform];
  for (const transform of transforms.filter((t) => t !== SAM_TRANSFORM)) warnings.push(`Transform ${String(transform)} is not applied locally`);
  const globals = template.Globals ?? {};
  for (const section of Object.keys(globals).filter((s) => s !== 'Function' && s !== 'SimpleTable')) {
    warnings.push(`Globals.${section} is not used locally (the gateway serves WebSocket APIs, functions and tables)`);
  }
  const resources: Record<string, CfnResource> = {};
  for (const [id, resource] of Object.entries(template.Resources ?? {})) {
    switch (resource.Type) {
      case 'AWS::Serverless::Function': {
        const properties = mergeGlobals(globals.Function ?? {}, resource.Properties ?? {});
        resources[id] = { ...resource, Type: 'AWS::Lambda::Function', Properties: lambdaProperties(id, properties, warnings) };
        const invokeConfig = properties.EventInvokeConfig as Record<string, unknown> | undefined;
        if (invokeConfig) resources[`${id}EventInvokeConfig`] = eventInvokeConfig(id, invokeConfig);
        break;
      }
      case 'AWS::Serverless::WebSocketApi':
        Object.assign(resources, webSocketApiResources(id, resource.Properties ?? {}, warnings));
        break;
      case 'AWS::Serverless::SimpleTable':
        resources[id] = {
          ...resource,
          Type: 'AWS::DynamoDB::Table',
          Properties: tableProperties(mergeGlobals(globals.SimpleTable ?? {}, resource.Properties ?? {})),
        };
        break;
      default:
        if (resource.Type.startsWith('AWS::Serverless::')) warnings.push(`${id}: ${resource.Type} is not served locally`);
        resources[id] = resource;
    }
  }
  return { ...template, Resources: resources };
}

/** SAM's Globals rule: maps merge, lists are appended to, a resource's own scalar wins. */
function mergeGlobals(globals: Record<string, unknown>, own: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...globals };
  for (const [key, value] of Object.entries(own)) {
    const global = merged[key];
    if (Array.isArray(global) && Array.isArray(value)) merged[key] = [...global, ...value];
    else if (isPlainMap(global) && isPlainMap(value)) merged[key] = mergeGlobals(global, value);
    else merged[key] = value;
  }
  return merged;
}

/** A map of properties, not an intrinsic (`{ Ref: ... }`, `{ 'Fn::...': ... }`), which is replaced whole. */
function isPlainMap(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return !(keys.length === 1 && (keys[0] === 'Ref' || keys[0]!.startsWith('Fn::')));
}

const LAMBDA_PROPERTIES = ['FunctionName', 'Handler', 'Runtime', 'Timeout', 'MemorySize', 'Environment', 'Description', 'Architectures', 'Role'] as const;

function lambdaProperties(id: string, p: Record<string, unknown>, warnings: string[]): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const key of LAMBDA_PROPERTIES) if (p[key] !== undefined) properties[key] = p[key];
  if (p.InlineCode !== undefined) properties.Code = { ZipFile: p.InlineCode };
  else if (typeof p.CodeUri === 'string' || isIntrinsic(p.CodeUri)) properties.Code = p.CodeUri;
  else if (p.CodeUri !== undefined) properties.Code = { S3Bucket: (p.CodeUri as { Bucket?: unknown }).Bucket, S3Key: (p.CodeUri as { Key?: unknown }).Key };
  else if (p.ImageUri === undefined && p.PackageType !== 'Image') properties.Code = '.';
  for (const [name, event] of Object.entries((p.Events ?? {}) as Record<string, { Type?: string }>)) {
    warnings.push(`${id}: event ${name} (${String(event?.Type)}) is not served locally; WebSocket routes come from AWS::ApiGatewayV2::Route resources`);
  }
  if (Array.isArray(p.Layers) && p.Layers.length > 0) warnings.push(`${id}: its Layers are not loaded locally`);
  return properties;
}

function isIntrinsic(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !isPlainMap(value);
}

/** SAM's `EventInvokeConfig` property, as the resource it becomes. */
function eventInvokeConfig(id: string, config: Record<string, unknown>): CfnResource {
  const onFailure = (config.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)?.OnFailure;
  return {
    Type: 'AWS::Lambda::EventInvokeConfig',
    Properties: {
      FunctionName: { Ref: id },
      Qualifier: '$LATEST',
      ...(config.MaximumRetryAttempts !== undefined ? { MaximumRetryAttempts: config.MaximumRetryAttempts } : {}),
      ...(onFailure?.Destination !== undefined ? { DestinationConfig: { OnFailure: { Destination: onFailure.Destination } } } : {}),
    },
  };
}

/** A SimpleTable: one partition key (`PrimaryKey`, default `id` of type String), pay per request. */
function tableProperties(p: Record<string, unknown>): Record<string, unknown> {
  const key = (p.PrimaryKey ?? { Name: 'id', Type: 'String' }) as { Name?: unknown; Type?: unknown };
  const name = String(key.Name ?? 'id');
  const type = SIMPLE_TABLE_KEY_TYPES[String(key.Type ?? 'String')];
  if (!type) throw new TemplateError(`SimpleTable PrimaryKey type ${String(key.Type)} is not String, Number or Binary`);
  return {
    ...(p.TableName !== undefined ? { TableName: p.TableName } : {}),
    AttributeDefinitions: [{ AttributeName: name, AttributeType: type }],
    KeySchema: [{ AttributeName: name, KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  };
}

/** `$connect` -> `connect`: SAM's logical-id form of a route key (special characters removed). */
function normalizedRouteKey(routeKey: string): string {
  return routeKey.replace(/[^A-Za-z0-9]/g, '');
}

/** The resources SAM generates for an `AWS::Serverless::WebSocketApi`, with SAM's logical ids. */
function webSocketApiResources(id: string, p: Record<string, unknown>, warnings: string[]): Record<string, CfnResource> {
  const api = { Ref: id };
  const stageName = p.StageName ?? 'default';
  const resources: Record<string, CfnResource> = {
    [id]: {
      Type: 'AWS::ApiGatewayV2::Api',
      Properties: {
        ProtocolType: 'WEBSOCKET',
        RouteSelectionExpression: p.RouteSelectionExpression ?? '$request.body.action',
        ...(p.Name !== undefined ? { Name: p.Name } : {}),
      },
    },
    [`${id}${typeof stageName === 'string' ? stageName : ''}Stage`]: {
      Type: 'AWS::ApiGatewayV2::Stage',
      Properties: {
        ApiId: api,
        StageName: stageName,
        ...(p.DefaultRouteSettings !== undefined ? { DefaultRouteSettings: p.DefaultRouteSettings } : {}),
        ...(p.RouteSettings !== undefined ? { RouteSettings: p.RouteSettings } : {}),
      },
    },
  };
  const auth = (p.Auth ?? {}) as { AuthType?: unknown; AuthArn?: unknown; IdentitySource?: unknown; Name?: unknown };
  let authorizerId: string | undefined;
  if (auth.AuthType === 'CUSTOM') {
    authorizerId = `${id}Authorizer`;
    resources[authorizerId] = {
      Type: 'AWS::ApiGatewayV2::Authorizer',
      Properties: {
        ApiId: api,
        AuthorizerType: 'REQUEST',
        AuthorizerUri: invocationUri(auth.AuthArn),
        IdentitySource: auth.IdentitySource ?? [],
        Name: auth.Name ?? authorizerId,
      },
    };
  } else if (auth.AuthType !== undefined && auth.AuthType !== 'NONE') {
    warnings.push(`${id}: Auth ${String(auth.AuthType)} is not checked locally; $connect runs without it`);
  }
  for (const [routeKey, route] of Object.entries((p.Routes ?? {}) as Record<string, Record<string, unknown>>)) {
    const name = `${id}${normalizedRouteKey(routeKey)}`;
    resources[`${name}Integration`] = {
      Type: 'AWS::ApiGatewayV2::Integration',
      Properties: { ApiId: api, IntegrationType: 'AWS_PROXY', IntegrationUri: invocationUri(route.FunctionArn) },
    };
    resources[`${name}Route`] = {
      Type: 'AWS::ApiGatewayV2::Route',
      Properties: {
        ApiId: api,
        RouteKey: routeKey,
        Target: { 'Fn::Join': ['/', ['integrations', { Ref: `${name}Integration` }]] },
        ...(routeKey === '$connect' && authorizerId ? { AuthorizationType: 'CUSTOM', AuthorizerId: { Ref: authorizerId } } : { AuthorizationType: 'NONE' }),
      },
    };
    if (route.RouteResponseSelectionExpression !== undefined) {
      resources[`${name}RouteResponse`] = {
        Type: 'AWS::ApiGatewayV2::RouteResponse',
        Properties: { ApiId: api, RouteId: { Ref: `${name}Route` }, RouteResponseKey: '$default' },
      };
    }
  }
  return resources;
}

/** API Gateway's invocation URI of a function ARN (an intrinsic here, resolved by the reader). */
function invocationUri(functionArn: unknown): unknown {
  return { 'Fn::Join': ['', ['arn:aws:apigateway:', { Ref: 'AWS::Region' }, ':lambda:path/2015-03-31/functions/', functionArn, '/invocations']] };
}
