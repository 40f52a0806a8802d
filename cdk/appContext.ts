/**
 * The deployable app's `-c key=value` context switches, turned into GatewayBackendProps. Kept apart
 * from cdk/bin/app.ts so that tests can check every switch without running `cdk synth`.
 *
 * A switch left unset takes the construct's default, except `apiGatewayCloudWatchRole`, which the app
 * turns on (a fresh account then gets both the region's logging role and access logs).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import type { Construct } from 'constructs';
import type { GatewayBackendProps, GatewayDomainNameOptions, GatewayFanoutProps, GatewayThrottleSettings } from './GatewayBackendProps.ts';

/** Thrown for a context value the app cannot use; the message names the switch and what it takes. */
export class AppContextError extends Error {
  override readonly name = 'AppContextError';
}

/** Every switch the app reads, with what it takes (test/unit/cdk-app-context.test.ts checks that the README names each). */
export const APP_CONTEXT_KEYS = {
  stackName: "the stack's name (default ServerlessGatewayWorker)",
  eventsModule: 'path of your Events module',
  stageName: 'the stage name (default prod)',
  routes: 'comma-separated custom route keys',
  removalPolicy: "'retain' (default) or 'destroy'",
  apiGatewayCloudWatchRole: "'true' (the app's default) or 'false'",
  accessLogs: "'true' or 'false' (default: the value of apiGatewayCloudWatchRole)",
  requireBindToken: "'true' (default: binds need the init message's bind token) or 'false'",
  tracing: "'true' or 'false' (default): X-Ray active tracing on every function",
  logFormat: "'text' (default) or 'json'",
  metricsNamespace: 'the namespace of the metrics (default ServerlessGatewayWorker)',
  sendRate: "@connections requests per second of one process's inline sends (a positive number), or 'off'",
  recoveryWindow: 'how long a lost browser-client connection stays resumable: seconds, or a number with s, m, h or d; 0 turns recovery off (default 2m)',
  fanoutThreshold: 'recipients above which a send is chunked',
  fanoutReservedConcurrency: "executions reserved for the fan-out worker, or 'none' (default)",
  fanoutMemorySize: "the fan-out worker's memory in MB",
  fanoutTimeout: "one chunk's timeout: seconds, or a number with s, m, h or d",
  fanoutRetryAttempts: "Lambda's retries of a failed chunk, 0 to 2",
  fanoutMaxEventAge: 'how long a chunk may wait in the queue: seconds, or with s, m, h or d',
  fanoutFailureRetention: 'how long the failure queue keeps a chunk: seconds, or with s, m, h or d',
  fanoutRateLimit: '@connections requests per second one broadcast may spend (a positive number)',
  deletionProtection: "'true' (default: the tables cannot be deleted until it is turned off) or 'false'",
  connectThrottle: "$connect's own throttle as 'RATE/BURST' (default '200/400'), or 'off' (the stage's throttle applies)",
  gatewayApiMethods: "the Gateway API's allow-list: 'all' (default), 'read-only', 'send-only', or comma-separated method names",
  domainName: "a custom domain for the API, e.g. 'ws.example.com'",
  certificateArn: "the ARN of an ACM certificate for domainName in the stack's region (default: one is created with DNS validation)",
  hostedZoneId: 'the Route 53 hosted zone of domainName (with hostedZoneName): certificate validation and the alias record',
  hostedZoneName: "that hosted zone's name, e.g. 'example.com'",
} as const;

export type AppContextKey = keyof typeof APP_CONTEXT_KEYS;

/** Reads one context value as a string; undefined, null and '' mean unset. */
export type ContextReader = (key: AppContextKey) => string | undefined;

export interface AppSettings {
  readonly stackName: string;
  /** Every prop but `domainName`, which needs a scope to import the certificate and zone in: see `domainNameProps`. */
  readonly props: GatewayBackendProps;
  /** The custom domain switches, when `domainName` is set. */
  readonly domain?: AppDomainSettings;
}

export interface AppDomainSettings {
  readonly domainName: string;
  readonly certificateArn?: string;
  readonly hostedZone?: { readonly id: string; readonly name: string };
}

/** The `domainName` prop from the domain switches: the certificate and the zone imported into `scope`. */
export function domainNameProps(scope: Construct, domain: AppDomainSettings): GatewayDomainNameOptions {
  return {
    domainName: domain.domainName,
    ...(domain.certificateArn ? { certificate: acm.Certificate.fromCertificateArn(scope, 'ImportedCertificate', domain.certificateArn) } : {}),
    ...(domain.hostedZone
      ? {
          hostedZone: route53.HostedZone.fromHostedZoneAttributes(scope, 'ImportedHostedZone', {
            hostedZoneId: domain.hostedZone.id,
            zoneName: domain.hostedZone.name,
          }),
        }
      : {}),
  };
}

export function appSettingsFromContext(read: ContextReader): AppSettings {
  const fail = (key: AppContextKey, value: string): never => {
    throw new AppContextError(`context ${key} must be ${APP_CONTEXT_KEYS[key]}, got ${JSON.stringify(value)}`);
  };
  const boolean = (key: AppContextKey): boolean | undefined => {
    const value = read(key);
    if (value === undefined) return undefined;
    if (value === 'true') return true;
    if (value === 'false') return false;
    return fail(key, value);
  };
  const wholeNumber = (key: AppContextKey): number | undefined => {
    const value = read(key);
    if (value === undefined) return undefined;
    return /^\d+$/.test(value) ? Number(value) : fail(key, value);
  };
  const positiveNumber = (key: AppContextKey): number | undefined => {
    const value = read(key);
    if (value === undefined) return undefined;
    return /^\d+(\.\d+)?$/.test(value) && Number(value) > 0 ? Number(value) : fail(key, value);
  };
  const duration = (key: AppContextKey): Duration | undefined => {
    const value = read(key);
    if (value === undefined) return undefined;
    const match = /^(\d+)([smhd]?)$/.exec(value);
    if (!match) return fail(key, value);
    const amount = Number(match[1]);
    switch (match[2]) {
      case 'm':
        return Duration.minutes(amount);
      case 'h':
        return Duration.hours(amount);
      case 'd':
        return Duration.days(amount);
      default:
        return Duration.seconds(amount);
    }
  };

  const removalPolicy = read('removalPolicy');
  if (removalPolicy !== undefined && removalPolicy !== 'retain' && removalPolicy !== 'destroy') fail('removalPolicy', removalPolicy);

  const logFormatValue = read('logFormat');
  const logFormat = logFormatValue === undefined || logFormatValue === 'text' || logFormatValue === 'json' ? logFormatValue : fail('logFormat', logFormatValue);

  const reservation = read('fanoutReservedConcurrency');
  const fanout: GatewayFanoutProps = {
    threshold: wholeNumber('fanoutThreshold'),
    reservedConcurrency: reservation === 'none' ? false : wholeNumber('fanoutReservedConcurrency'),
    memorySize: wholeNumber('fanoutMemorySize'),
    timeout: duration('fanoutTimeout'),
    retryAttempts: wholeNumber('fanoutRetryAttempts'),
    maxEventAge: duration('fanoutMaxEventAge'),
    failureRetention: duration('fanoutFailureRetention'),
    rateLimit: positiveNumber('fanoutRateLimit'),
  };

  const sendRate = read('sendRate') === 'off' ? false : positiveNumber('sendRate');

  const connectThrottleValue = read('connectThrottle');
  let connectThrottle: GatewayThrottleSettings | false | undefined;
  if (connectThrottleValue === 'off') connectThrottle = false;
  else if (connectThrottleValue !== undefined) {
    const match = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(connectThrottleValue);
    if (!match || !(Number(match[1]) > 0) || !(Number(match[2]) > 0)) return fail('connectThrottle', connectThrottleValue);
    connectThrottle = { rateLimit: Number(match[1]), burstLimit: Number(match[2]) };
  }

  const methodsValue = read('gatewayApiMethods');
  const isPreset = methodsValue === 'all' || methodsValue === 'read-only' || methodsValue === 'send-only';
  // The construct checks the names (an unknown one fails synth with the list of presets).
  const gatewayApiMethods = methodsValue === undefined || isPreset ? methodsValue : methodsValue.split(',').map((m) => m.trim());

  const domainName = read('domainName');
  const certificateArn = read('certificateArn');
  const hostedZoneId = read('hostedZoneId');
  const hostedZoneName = read('hostedZoneName');
  if (domainName === undefined) {
    for (const key of ['certificateArn', 'hostedZoneId', 'hostedZoneName'] as const) {
      const value = read(key);
      if (value !== undefined) throw new AppContextError(`context ${key} belongs to a custom domain: set domainName too (got ${key}=${JSON.stringify(value)})`);
    }
  }
  if (certificateArn !== undefined && !/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(certificateArn))
    fail('certificateArn', certificateArn);
  if ((hostedZoneId === undefined) !== (hostedZoneName === undefined)) {
    throw new AppContextError('context hostedZoneId and hostedZoneName go together: a hosted zone is imported by both');
  }
  const domain: AppDomainSettings | undefined =
    domainName === undefined
      ? undefined
      : {
          domainName,
          ...(certificateArn ? { certificateArn } : {}),
          ...(hostedZoneId && hostedZoneName ? { hostedZone: { id: hostedZoneId, name: hostedZoneName } } : {}),
        };
  const apiGatewayCloudWatchRole = boolean('apiGatewayCloudWatchRole') ?? true;
  return {
    stackName: read('stackName') ?? 'ServerlessGatewayWorker',
    props: {
      eventsModule: read('eventsModule'),
      stageName: read('stageName'),
      routes: read('routes')
        ?.split(',')
        .map((r) => r.trim())
        .filter(Boolean),
      removalPolicy: removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      apiGatewayCloudWatchRole,
      accessLogs: boolean('accessLogs') ?? apiGatewayCloudWatchRole,
      requireBindToken: boolean('requireBindToken'),
      tracing: boolean('tracing'),
      logFormat,
      metricsNamespace: read('metricsNamespace'),
      sendRate,
      recoveryWindow: duration('recoveryWindow'),
      fanout: withoutUnset(fanout),
      ...(boolean('deletionProtection') !== undefined ? { deletionProtection: boolean('deletionProtection') } : {}),
      ...(connectThrottle !== undefined ? { connectThrottle } : {}),
      ...(gatewayApiMethods !== undefined ? { gatewayApi: { methods: gatewayApiMethods } } : {}),
    },
    ...(domain ? { domain } : {}),
  };
}

function withoutUnset<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
