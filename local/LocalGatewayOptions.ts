/**
 * What `new LocalGateway(options)` takes and what it answers with: the options, the route and
 * authorizer definitions, the URLs and environment from `start()`, the counters from `stats()`.
 * Types only, so the modules that build options (builtinApp.ts, webSocketTemplate.ts, cli.ts) do not
 * import the gateway itself.
 */
import type { FunctionDefinition, LambdaHandler } from './functions.ts';
import type { FunctionOutput } from './workerFunction.ts';
import type { LocalTableDefinition } from './dynamo.ts';
import type { FaultSettings } from './faults.ts';
import type { GatewayLimits } from './limits.ts';
import type { PortRequest } from './listen.ts';
import type { LocalSecretDefinition } from './secretsManager.ts';
import type { RouteThrottleSettings, ThrottleSettings } from './throttling.ts';
import type { MockRouteDefinition } from './mockIntegration.ts';

/** A route's integration: a function name from `functions`, or a handler defined inline. */
export interface RouteDefinition {
  readonly function: string | LambdaHandler;
  /** Send the integration's `body` back to the client (a `$default` route response). @default false */
  readonly returnResponse?: boolean;
}

/** A function name, an inline handler, a Lambda route, or a MOCK integration (local/mockIntegration.ts). */
export type RouteTarget = string | LambdaHandler | RouteDefinition | MockRouteDefinition;

/** A Lambda REQUEST authorizer on `$connect`. */
export interface AuthorizerDefinition {
  readonly function: string | LambdaHandler;
  /**
   * Where the identity comes from; a request missing any of them is refused with 401 without running
   * the authorizer. @default ['route.request.header.Authorization']
   */
  readonly identitySource?: readonly string[];
}

export interface LocalGatewayOptions {
  /**
   * The address to listen on. Requests are answered only when their `Host` is a loopback name or
   * address, this address, the API's AWS name (`{apiId}.execute-api.{region}.amazonaws.com`) or one
   * of `domainNames` (local/hostGuard.ts). @default '127.0.0.1'
   */
  readonly host?: string;
  /** Custom domain names of the API (e.g. `ws.example.com`) that `Host` may carry too. @default none */
  readonly domainNames?: readonly string[];
  /** @default 0 (an ephemeral port); `{ preferred: n }`: n when it is free, else an ephemeral port */
  readonly port?: PortRequest;
  /** @default 'local' */
  readonly stage?: string;
  /** @default a random 10-character id */
  readonly apiId?: string;
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '000000000000' */
  readonly accountId?: string;
  /** @default '$request.body.action' */
  readonly routeSelectionExpression?: string;
  /** Route key -> integration. `$connect`, `$disconnect` and `$default` are the special keys. */
  readonly routes: Readonly<Record<string, RouteTarget>>;
  /** Named functions: route targets, and what the invoke API serves. */
  readonly functions?: Readonly<Record<string, FunctionDefinition>>;
  readonly authorizer?: AuthorizerDefinition;
  /** Tables created in the embedded DynamoDB at start. */
  readonly tables?: readonly LocalTableDefinition[];
  /** Secrets served by GetSecretValue on the HTTP port (local/secretsManager.ts); generated values are new at each start. */
  readonly secrets?: readonly LocalSecretDefinition[];
  /** Directory for DynamoDB's files; in memory when absent. */
  readonly dynamoPath?: string;
  /** Port of the embedded DynamoDB, as `port`. @default 0 (an ephemeral port) */
  readonly dynamoPort?: PortRequest;
  /** Overrides of the AWS quotas, e.g. a short idle timeout in a test. */
  readonly limits?: Partial<GatewayLimits>;
  /**
   * The stage's default route throttling, for every route (`$connect` and messages), each route with
   * a token bucket of its own; see local/throttling.ts. @default none (the template's, in template mode)
   */
  readonly throttle?: ThrottleSettings;
  /** Per route key, overriding `throttle` field by field. @default none */
  readonly routeThrottles?: Readonly<Record<string, RouteThrottleSettings>>;
  /**
   * The account's bucket, shared by connects, messages and `@connections` calls. AWS: 10,000
   * requests/s, burst 5,000 (2,500 / 1,250 in some newer regions). @default none
   */
  readonly accountThrottle?: ThrottleSettings;
  /**
   * How far the gateway's clock runs ahead of this host's (negative: behind). It checks SigV4 signing
   * times against it and puts it in answers' `Date` header: for testing clock-skew handling. @default 0
   */
  readonly clockOffsetMs?: number;
  readonly faults?: FaultSettings;
  /** Extra environment for every hosted function and for `endpoints.env`, e.g. table names. */
  readonly environment?: Record<string, string> | ((endpoints: GatewayUrls) => Record<string, string>);
  /** How often expired items are deleted, as DynamoDB TTL would; 0 turns the sweeper off. @default 60000 */
  readonly ttlSweepIntervalMs?: number;
  /** Delays before the retries of a failed asynchronous invocation. @default [1000, 2000] */
  readonly asyncRetryDelaysMs?: readonly number[];
  /**
   * Invocations of one module function that run in its worker at once; more wait in line, and a
   * function's timeout counts from the start of its invocation (see functions.ts). @default 64
   */
  readonly maxConcurrentInvocations?: number;
  /**
   * The budget of a module function's init phase (module load) on its first start; it is not part of
   * any invocation's timeout. Past it, the init runs again within the first invocation, as on Lambda
   * (see workerFunction.ts). @default 10000, Lambda's
   */
  readonly functionInitTimeoutMs?: number;
  /** Where to write one line per event; silent when absent. */
  readonly log?: (line: string) => void;
  /**
   * Takes what module functions write to their console, line by line, with the function's name (the
   * command line hides EMF metric lines with it). @default the host's stdout and stderr, unchanged
   */
  readonly functionOutput?: FunctionOutput;
}

export interface GatewayUrls {
  /** `ws://host:port/{stage}`: what a browser or `ws` client connects to. */
  readonly wsUrl: string;
  /** `http://host:port/{stage}`: the `@connections` endpoint for ApiGatewayManagementApiClient. */
  readonly callbackUrl: string;
  /** `http://host:port`: the Lambda invoke API endpoint. */
  readonly httpUrl: string;
  /** The embedded DynamoDB endpoint. */
  readonly dynamoEndpoint: string;
  readonly region: string;
  readonly apiId: string;
  readonly stage: string;
}

export interface GatewayEndpoints extends GatewayUrls {
  /** What a backend process needs in its environment to reach this gateway with unmodified AWS SDK code. */
  readonly env: Readonly<Record<string, string>>;
}

export interface GatewayStats {
  readonly openConnections: number;
  readonly connects: number;
  readonly rejectedConnects: number;
  readonly messages: number;
  readonly posts: number;
  readonly disconnects: number;
  readonly droppedDisconnects: number;
}
