/**
 * GatewayBackendProps checked and defaulted in one place, before the construct builds anything: the
 * settings the constructor builds from, and the errors that say what to change.
 */
import { DEFAULT_RECOVERY_WINDOW_SECONDS, MAX_RECOVERY_WINDOW_SECONDS } from '../sdk/gateway/options.ts';
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as logs from 'aws-cdk-lib/aws-logs';
import { FANOUT_DEFAULTS, MAX_FANOUT_RATE } from '../sdk/Fanout.ts';
import { DEFAULT_METRICS_NAMESPACE, METRICS_NAMESPACE_PATTERN } from '../sdk/metricNames.ts';
import type { GatewayBackendProps, GatewayThrottleSettings } from './GatewayBackendProps.ts';
import { resolveGatewayApiMethods } from '../lambdas/gatewayApiAccess.ts';

const LAMBDAS_DIR = fileURLToPath(new URL('../lambdas/', import.meta.url));
/** The entry points as this file finds them: `.ts` sources under tsx, the compiled `.js` in the package (dist/). */
const MODULE_EXTENSION = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
/** A Lambda entry point by name, without extension: the package ships x.js where the repository has x.ts. */
export const lambdaEntry = (name: string) => resolve(LAMBDAS_DIR, `${name}${MODULE_EXTENSION}`);
/** The seed's Events module: init on connect (sent by `$connect`), messages ignored. */
export const DEFAULT_EVENTS_MODULE = lambdaEntry('defaultEvents');

/** API Gateway's integration timeout: `$connect` must answer within it. */
export const MAX_INTEGRATION_TIMEOUT = Duration.seconds(29);

/** Thrown by the constructor for props it cannot build from; the message says what to change. */
export class GatewayBackendPropsError extends Error {
  override readonly name = 'GatewayBackendPropsError';
}

const RESERVED_ROUTE = /^\$/;
/** The heartbeat route's integration request: the mock's status code. */
export const HEARTBEAT_REQUEST_TEMPLATE = '{"statusCode": 200}';
const ROUTE_KEY = /^[^\s]{1,128}$/;
const STAGE_NAME = /^[A-Za-z0-9_-]{1,128}$/;
const QUERY_PARAMETER = /^[A-Za-z0-9._~-]{1,128}$/;
const EVENTS_EXTENSION = /\.(ts|mts|cts|js|mjs|cjs)$/;
/** A host name of two or more labels: what API Gateway accepts as a custom domain name (no wildcard here). */
const DOMAIN_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/**
 * `$connect`'s own throttle (GatewayBackendProps.connectThrottle has the reasoning): 200 new
 * connections/s, a burst of 400, under the account's 500/s for all its WebSocket APIs in a region.
 */
export const DEFAULT_CONNECT_THROTTLE: GatewayThrottleSettings = { rateLimit: 200, burstLimit: 400 };

export interface Settings {
  readonly eventsModule: string;
  readonly initMessage: boolean;
  readonly requireBindToken: boolean;
  /** The SDK's per-process `sendRate` for every function grantGateway configures; undefined: the SDK's default. */
  readonly sendRate: number | false | undefined;
  /** Seconds a lost browser-client connection stays resumable (GATEWAY_RECOVERY_WINDOW_SECONDS); 0: off. */
  readonly recoveryWindowSeconds: number;
  readonly routes: readonly string[];
  readonly heartbeatRoute: string | undefined;
  readonly routeSelectionExpression: string;
  readonly stageName: string;
  readonly throttle: GatewayThrottleSettings;
  /** `$connect`'s own throttle; undefined: the stage's default applies. */
  readonly connectThrottle: GatewayThrottleSettings | undefined;
  /** The Gateway API's allow-list, resolved to method names. */
  readonly gatewayApiMethods: readonly string[];
  /** GATEWAY_API_METHODS: a preset's name or the comma-separated names; undefined for 'all' (unset means every method). */
  readonly gatewayApiMethodsEnv: string | undefined;
  readonly deletionProtection: boolean;
  readonly authorizerQueryParameter: string;
  readonly pointInTimeRecovery: boolean;
  readonly apiGatewayCloudWatchRole: boolean;
  readonly accessLogs: boolean;
  readonly metricsNamespace: string;
  readonly alarmActions: readonly cloudwatch.IAlarmAction[];
  readonly tracing: boolean;
  readonly logFormat: 'text' | 'json';
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention: logs.RetentionDays;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly fanout: {
    readonly threshold: number;
    readonly reservedConcurrency: number | undefined;
    readonly memorySize: number;
    readonly timeout: Duration;
    readonly retryAttempts: number;
    readonly maxEventAge: Duration;
    readonly failureRetention: Duration;
    readonly rateLimit: number;
  };
}

/** Props checked and defaulted in one place, with messages that say what to change. */
export function validate(props: GatewayBackendProps): Settings {
  const fail = (message: string): never => {
    throw new GatewayBackendPropsError(message);
  };

  let eventsModule = DEFAULT_EVENTS_MODULE;
  if (props.eventsModule !== undefined) {
    eventsModule = isAbsolute(props.eventsModule) ? props.eventsModule : resolve(props.eventsModule);
    if (!existsSync(eventsModule) || !statSync(eventsModule).isFile()) {
      fail(
        `eventsModule: ${JSON.stringify(props.eventsModule)} resolves to ${eventsModule}, which is not a file. Give a path relative to ${process.cwd()} or an absolute path.`,
      );
    }
    if (!EVENTS_EXTENSION.test(eventsModule)) fail(`eventsModule: ${eventsModule} must be a .ts, .mts, .cts, .js, .mjs or .cjs file.`);
  }

  const routes = [...(props.routes ?? [])];
  const seen = new Set<string>();
  for (const routeKey of routes) {
    if (RESERVED_ROUTE.test(routeKey))
      fail(
        `routes: ${JSON.stringify(routeKey)} starts with '$', which API Gateway reserves ($connect, $disconnect, $default are always there); remove it or rename it.`,
      );
    if (!ROUTE_KEY.test(routeKey)) fail(`routes: ${JSON.stringify(routeKey)} must be 1-128 characters without whitespace.`);
    if (seen.has(routeKey)) fail(`routes: ${JSON.stringify(routeKey)} is listed twice.`);
    seen.add(routeKey);
  }
  const heartbeatRoute = props.heartbeatRoute === false ? undefined : (props.heartbeatRoute ?? 'ping');
  if (heartbeatRoute !== undefined) {
    if (typeof heartbeatRoute !== 'string' || RESERVED_ROUTE.test(heartbeatRoute) || !ROUTE_KEY.test(heartbeatRoute)) {
      fail(`heartbeatRoute: ${JSON.stringify(heartbeatRoute)} must be a route key of 1-128 characters without whitespace, not starting with '$', or false.`);
    }
    if (seen.has(heartbeatRoute)) {
      fail(
        `routes: ${JSON.stringify(heartbeatRoute)} is the heartbeat route, which API Gateway answers without a Lambda; pass heartbeatRoute: false to have onMessage handle it, or another heartbeatRoute.`,
      );
    }
  }

  const routeSelectionExpression = props.routeSelectionExpression ?? '$request.body.action';
  if (!Token.isUnresolved(routeSelectionExpression) && !/\$\{?request\.body\.[^\s]+/.test(routeSelectionExpression)) {
    fail(
      `routeSelectionExpression: ${JSON.stringify(routeSelectionExpression)} must select from the message body, e.g. '$request.body.action' or '\${request.body.service}/\${request.body.action}'.`,
    );
  }

  const stageName = props.stageName ?? 'prod';
  if (!STAGE_NAME.test(stageName)) fail(`stageName: ${JSON.stringify(stageName)} must be 1-128 letters, digits, '-' or '_'.`);

  const checkThrottle = (name: string, t: GatewayThrottleSettings) => {
    if (!(Number.isFinite(t.rateLimit) && t.rateLimit > 0)) fail(`${name}.rateLimit: ${t.rateLimit} must be a positive number of requests per second.`);
    if (!(Number.isInteger(t.burstLimit) && t.burstLimit > 0)) fail(`${name}.burstLimit: ${t.burstLimit} must be a positive whole number.`);
    return t;
  };
  const throttle = checkThrottle('throttle', props.throttle ?? { rateLimit: 1000, burstLimit: 500 });
  const connectThrottle = props.connectThrottle === false ? undefined : checkThrottle('connectThrottle', props.connectThrottle ?? DEFAULT_CONNECT_THROTTLE);

  const methods = props.gatewayApi?.methods ?? 'all';
  let gatewayApiMethods: string[] = [];
  try {
    gatewayApiMethods = resolveGatewayApiMethods(methods);
  } catch (error) {
    fail(`gatewayApi.methods: ${(error as Error).message}.`);
  }
  const gatewayApiMethodsEnv = methods === 'all' ? undefined : typeof methods === 'string' ? methods : gatewayApiMethods.join(',');

  const domain = props.domainName;
  if (domain !== undefined) {
    if (typeof domain.domainName !== 'string' || (!Token.isUnresolved(domain.domainName) && !DOMAIN_NAME.test(domain.domainName))) {
      fail(
        `domainName.domainName: ${JSON.stringify(domain.domainName)} must be a lower-case host name such as 'ws.example.com' (no scheme, path, port or wildcard).`,
      );
    }
    if (domain.aliasRecord === true && !domain.hostedZone)
      fail('domainName.aliasRecord: an alias record needs domainName.hostedZone, the zone to create it in.');
  }

  const authorizerQueryParameter = props.authorizer?.queryParameter ?? 'token';
  if (!QUERY_PARAMETER.test(authorizerQueryParameter))
    fail(`authorizer.queryParameter: ${JSON.stringify(authorizerQueryParameter)} must be 1-128 URL-safe characters (letters, digits, '.', '_', '~', '-').`);

  const memorySize = props.memorySize ?? 256;
  if (!Token.isUnresolved(memorySize) && !(Number.isInteger(memorySize) && memorySize >= 128 && memorySize <= 10240)) {
    fail(`memorySize: ${memorySize} must be a whole number of MB from 128 to 10240.`);
  }

  const timeout = props.timeout ?? Duration.seconds(10);
  if (!timeout.isUnresolved() && (timeout.toMilliseconds() < 1000 || timeout.toMilliseconds() > MAX_INTEGRATION_TIMEOUT.toMilliseconds())) {
    fail(`timeout: ${timeout.toHumanString()} must be from 1 second to 29 seconds: API Gateway stops waiting for an integration after 29 s.`);
  }

  const metricsNamespace = props.metricsNamespace ?? DEFAULT_METRICS_NAMESPACE;
  if (!Token.isUnresolved(metricsNamespace) && !METRICS_NAMESPACE_PATTERN.test(metricsNamespace)) {
    fail(
      `metricsNamespace: ${JSON.stringify(metricsNamespace)} must be 1-255 letters, digits, spaces or . - _ / # : and not start with 'AWS/' (CloudWatch's rule).`,
    );
  }
  const logFormat = props.logFormat ?? 'text';
  if (logFormat !== 'text' && logFormat !== 'json') fail(`logFormat: ${JSON.stringify(logFormat)} must be 'text' or 'json'.`);

  const f = props.fanout ?? {};
  const wholeNumber = (name: string, value: number, min: number, max: number, unit = '') => {
    if (!Token.isUnresolved(value) && !(Number.isInteger(value) && value >= min && value <= max))
      fail(`${name}: ${value} must be a whole number${unit} from ${min} to ${max}.`);
    return value;
  };
  const duration = (name: string, value: Duration, min: Duration, max: Duration) => {
    if (!value.isUnresolved() && (value.toMilliseconds() < min.toMilliseconds() || value.toMilliseconds() > max.toMilliseconds())) {
      fail(`${name}: ${value.toHumanString()} must be from ${min.toHumanString()} to ${max.toHumanString()}.`);
    }
    return value;
  };
  const fanout = {
    threshold: wholeNumber('fanout.threshold', f.threshold ?? 1000, 0, Number.MAX_SAFE_INTEGER, ' of recipients'),
    reservedConcurrency:
      f.reservedConcurrency === false || f.reservedConcurrency === undefined
        ? undefined
        : wholeNumber('fanout.reservedConcurrency', f.reservedConcurrency, 1, 100_000),
    memorySize: wholeNumber('fanout.memorySize', f.memorySize ?? 1024, 128, 10240, ' of MB'),
    timeout: duration('fanout.timeout', f.timeout ?? Duration.minutes(1), Duration.seconds(10), Duration.minutes(15)),
    retryAttempts: wholeNumber('fanout.retryAttempts', f.retryAttempts ?? 2, 0, 2),
    maxEventAge: duration('fanout.maxEventAge', f.maxEventAge ?? Duration.hours(1), Duration.minutes(1), Duration.hours(6)),
    failureRetention: duration('fanout.failureRetention', f.failureRetention ?? Duration.days(14), Duration.minutes(1), Duration.days(14)),
    rateLimit: f.rateLimit ?? FANOUT_DEFAULTS.rateLimit,
  };
  if (!Token.isUnresolved(fanout.rateLimit) && !(Number.isFinite(fanout.rateLimit) && fanout.rateLimit > 0 && fanout.rateLimit <= MAX_FANOUT_RATE)) {
    fail(`fanout.rateLimit: ${fanout.rateLimit} must be a number of requests per second above 0 and at most ${MAX_FANOUT_RATE}.`);
  }

  const sendRate = props.sendRate;
  if (sendRate !== undefined && sendRate !== false && !Token.isUnresolved(sendRate) && !(Number.isFinite(sendRate) && sendRate > 0)) {
    fail(`sendRate: ${sendRate} must be a positive number of requests per second, or false for none.`);
  }

  const recoveryWindow = props.recoveryWindow ?? Duration.seconds(DEFAULT_RECOVERY_WINDOW_SECONDS);
  const recoveryWindowSeconds = recoveryWindow.toSeconds({ integral: false });
  if (
    !Token.isUnresolved(recoveryWindowSeconds) &&
    !(Number.isInteger(recoveryWindowSeconds) && recoveryWindowSeconds >= 0 && recoveryWindowSeconds <= MAX_RECOVERY_WINDOW_SECONDS)
  ) {
    fail(`recoveryWindow: ${recoveryWindowSeconds} s must be whole seconds from 0 (off) to ${MAX_RECOVERY_WINDOW_SECONDS}.`);
  }

  return {
    fanout,
    sendRate,
    recoveryWindowSeconds,
    eventsModule,
    initMessage: props.initMessage ?? true,
    requireBindToken: props.requireBindToken ?? true,
    routes,
    heartbeatRoute,
    routeSelectionExpression,
    stageName,
    throttle,
    connectThrottle,
    gatewayApiMethods,
    gatewayApiMethodsEnv,
    deletionProtection: props.deletionProtection ?? true,
    authorizerQueryParameter,
    pointInTimeRecovery: props.pointInTimeRecovery ?? true,
    apiGatewayCloudWatchRole: props.apiGatewayCloudWatchRole ?? false,
    accessLogs: props.accessLogs ?? props.apiGatewayCloudWatchRole ?? false,
    metricsNamespace,
    alarmActions: [...(props.alarmActions ?? [])],
    tracing: props.tracing ?? false,
    logFormat,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    memorySize,
    timeout,
  };
}
