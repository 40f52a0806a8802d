/**
 * The construct's props: what `new GatewayBackend(scope, id, props)` takes, and what `grantGateway`
 * needs from a function. Types only, in a module of their own so settings.ts, customDomain.ts and
 * appContext.ts read them without importing the construct that calls them.
 */
import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as route53 from 'aws-cdk-lib/aws-route53';
import type { GatewayApiPreset } from '../lambdas/gatewayApiAccess.ts';

/** A Lambda REQUEST authorizer on `$connect`. */
export interface GatewayAuthorizerOptions {
  /**
   * The authorizer function. It receives API Gateway's REQUEST authorizer event and returns an IAM
   * policy allowing `execute-api:Invoke` on `event.methodArn` (plus a `context`, which every later
   * event of the connection carries as `requestContext.authorizer`).
   */
  readonly handler: lambda.IFunction;
  /**
   * The query-string parameter holding the token. Browsers cannot set headers on a WebSocket, so the
   * token travels in the URL: `wss://.../prod?token=...`. A connection without it is refused with
   * 401 before the authorizer runs.
   * @default 'token'
   */
  readonly queryParameter?: string;
}

/**
 * The fan-out worker: sends to more recipients than `threshold` are split into chunks that this
 * Lambda delivers, invoked asynchronously by the SDK (see sdk/Fanout.ts for why not a queue).
 */
export interface GatewayFanoutProps {
  /**
   * A sendToUid / sendToGroup / sendToAll with more distinct recipients than this is chunked; the
   * SDK reads it from GATEWAY_FANOUT_THRESHOLD, which `grantGateway` sets.
   * @default 1000
   */
  readonly threshold?: number;
  /**
   * Reserved concurrency of the worker: at most this many chunks are delivered at once; the others
   * wait in Lambda's asynchronous queue. Off by default, because Lambda refuses any reservation that
   * leaves fewer than 100 unreserved executions in the account, and new accounts start with a
   * concurrency quota too small for any (the deploy fails with InvalidParameterValueException).
   * A reservation also holds those executions back from every other function of the account.
   * `false` is the same as leaving it unset.
   * @default - no reservation
   */
  readonly reservedConcurrency?: number | false;
  /**
   * Memory of the worker, in MB. Fan-out is CPU work (signing, sockets); Lambda gives CPU in
   * proportion to memory (a full vCPU at 1769 MB).
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Timeout of one chunk's delivery (a chunk holds up to 1,000 recipients by default). A timeout
   * makes Lambda run the chunk again, duplicating the message for the recipients already reached.
   * @default Duration.minutes(1)
   */
  readonly timeout?: Duration;
  /**
   * Lambda's retries of a chunk whose invocation failed (the worker fails it only when nothing could
   * be delivered, so a retry duplicates nothing), 0 to 2; then it goes to `fanoutFailureQueue`.
   * @default 2
   */
  readonly retryAttempts?: number;
  /**
   * How long a chunk may wait in Lambda's asynchronous queue (behind the reserved concurrency, or
   * throttled) before it goes to the failure queue instead; 1 minute to 6 hours.
   * @default Duration.hours(1)
   */
  readonly maxEventAge?: Duration;
  /**
   * `@connections` requests per second one chunked broadcast may spend, retries included, shared by
   * its chunks: each gets rateLimit / min(chunks, reservedConcurrency) (sdk/Fanout.ts). It comes out
   * of the account's API Gateway quota (10,000 requests/s per region, 2,500 in some newer regions),
   * which every API and every `$connect` of the account shares. `grantGateway` sets it as
   * GATEWAY_FANOUT_RATE. Without a reservation every chunk may run at once, so each chunk takes as
   * long as the whole broadcast (recipients / rateLimit): keep that under the worker's `timeout`, or
   * reserve concurrency.
   * @default 2000 (a fifth of the default quota, and under the smaller regions' quota)
   */
  readonly rateLimit?: number;
  /**
   * How long the failure queue keeps a failed chunk; 1 minute to 14 days. Privacy: each message is
   * the whole chunk, that is the full payload and up to 1,000 connection ids, kept readable to
   * whoever may read the queue for this long. Keep it as short as your replay routine allows.
   * @default Duration.days(14)
   */
  readonly failureRetention?: Duration;
}

/** Throttling of routes: the stage's default (every route), or one route's (`connectThrottle`). */
export interface GatewayThrottleSettings {
  /** Steady-state requests per second. */
  readonly rateLimit: number;
  /** Burst bucket size. */
  readonly burstLimit: number;
}

export interface GatewayBackendProps {
  /**
   * Path of the Events module (onConnect, onWebSocketConnect, onMessage, onClose; see
   * lambdas/events.ts), compiled into the `$connect`, `$disconnect` and message bundles. A relative
   * path is resolved from the working directory (the directory of cdk.json under `cdk synth`).
   * @default - the seed's module (lambdas/defaultEvents.ts): the init message on connect, messages
   * accepted and ignored
   */
  readonly eventsModule?: string;
  /**
   * Send `{"type":"init","client_id":"<id>"}` to every new connection as soon as it opens.
   * @default true
   */
  readonly initMessage?: boolean;
  /**
   * Binds (`bindUid`, `joinGroup`) must carry the `bind_token` of the connection's init message
   * (GATEWAY_REQUIRE_BIND_TOKEN, read by `Gateway.fromEnv()`): a client id alone can no longer be
   * bound by whoever learned it. `false` for GatewayWorker code that cannot pass the token yet; the
   * tokens are sent and can be verified either way. `grantGateway` writes the value on every function
   * it configures; a process configured otherwise that holds GATEWAY_BIND_TOKEN_SECRET requires tokens
   * unless its GATEWAY_REQUIRE_BIND_TOKEN is `false` (the SDK fails closed).
   * @default true
   */
  readonly requireBindToken?: boolean;
  /**
   * `@connections` requests per second one process may spend on inline sends, retries included
   * (the SDK's `sendRate`), in every function `grantGateway` configures: GATEWAY_SEND_RATE. `false`:
   * unpaced. Each execution environment has its own budget, so the account sees up to this rate
   * times the functions' concurrency; fan-out chunks are paced by `fanout.rateLimit` instead.
   * @default - the SDK's default, 2,000 requests/s per process (a bucket of 1,000)
   */
  readonly sendRate?: number | false;
  /**
   * How long a browser-client connection lost without a deliberate close stays resumable: its uid,
   * groups and session are kept and pushes to it wait, for the client's next connection to take over
   * (docs/guides/recovery.md). GATEWAY_RECOVERY_WINDOW_SECONDS in every function grantGateway
   * configures. `Duration.seconds(0)` turns recovery off (push ids and make before break stay).
   * @default Duration.minutes(2), as Socket.IO and Ably
   */
  readonly recoveryWindow?: Duration;
  /**
   * Route keys, besides `$default`, whose messages go to onMessage (`ctx.routeKey` tells them apart).
   * Keys starting with `$` are reserved.
   * @default - none: every message goes to `$default`
   */
  readonly routes?: readonly string[];
  /**
   * The route key of the browser client's heartbeat (`{"action":"ping"}` every 5 minutes, which keeps
   * the connection from its 10-minute idle timeout). API Gateway answers this route itself (a MOCK
   * integration whose request template sets status 200): no Lambda runs and nothing is sent back, so
   * a heartbeat costs one inbound message and nothing else. `false`: no such route; pings then reach
   * `$default` (onMessage) like any message.
   * @default 'ping'
   */
  readonly heartbeatRoute?: string | false;
  /**
   * How API Gateway picks a route from a message.
   * @default '$request.body.action'
   */
  readonly routeSelectionExpression?: string;
  /**
   * The stage name: the last segment of the wss and callback URLs.
   * @default 'prod'
   */
  readonly stageName?: string;
  /**
   * Throttling for every route of the stage (`$connect` has its own: `connectThrottle`).
   * @default { rateLimit: 1000, burstLimit: 500 } (a tenth of the account's default quota)
   */
  readonly throttle?: GatewayThrottleSettings;
  /**
   * Throttling of `$connect` alone (a route setting on the stage, overriding `throttle` for that
   * route): how fast new connections are admitted. Every connection that passes runs `$connect`, the
   * init sender and later `$disconnect`, and writes three items, whoever opened it; the account admits
   * 500 new connections/s per region across all its WebSocket APIs. 200/s with a burst of 400 lets
   * 10,000 clients dropped together reconnect within about 50 s (the browser client backs off with
   * jitter up to 30 s) and leaves 300/s of the account's quota to its other APIs and stages, while it
   * caps what a flood of anonymous connections can cost (docs: the cost of an anonymous connection).
   * `false`: `$connect` is throttled by `throttle` like every other route.
   * @default { rateLimit: 200, burstLimit: 400 }
   */
  readonly connectThrottle?: GatewayThrottleSettings | false;
  /**
   * A custom domain for the API: browsers connect to `wss://{domainName}` instead of the
   * `execute-api` host (`url` becomes that, and the `CustomDomainUrl` output holds it). The
   * `@connections` endpoint (`callbackUrl`) stays on the `execute-api` host.
   * @default - none: only the `execute-api` URL
   */
  readonly domainName?: GatewayDomainNameOptions;
  /**
   * Which Gateway API methods the Gateway API function accepts (GATEWAY_API_METHODS, enforced
   * inside the function before any AWS call): a preset, or method names. A call to any other method
   * answers `{ ok: false, error: { code: 'METHOD_NOT_ALLOWED', method } }`. An unknown preset or
   * method name fails synth.
   * @default { methods: 'all' }
   */
  readonly gatewayApi?: GatewayApiProps;
  /**
   * A Lambda REQUEST authorizer on `$connect` that reads a token from the query string.
   * @default - no authorizer: anyone may connect; onWebSocketConnect may still refuse
   */
  readonly authorizer?: GatewayAuthorizerOptions;
  /**
   * Point-in-time recovery on the five tables.
   * @default true
   */
  readonly pointInTimeRecovery?: boolean;
  /**
   * Deletion protection on the five tables: DynamoDB refuses to delete them (by hand, or by a stack
   * update that removes or replaces one) until it is turned off. Set `false` before deleting a stack
   * whose `removalPolicy` is DESTROY, or for throwaway stacks.
   * @default true
   */
  readonly deletionProtection?: boolean;
  /**
   * What happens to the tables, the log groups and the bind token secret when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Retention of the access logs and the functions' logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Memory of each function, in MB (Lambda gives CPU in proportion).
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Timeout of the `$connect`, `$disconnect` and message functions; at most 29 s, API Gateway's
   * integration timeout.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * Extra environment for the `$connect`, `$disconnect` and message functions (for the Events module).
   * @default - none
   */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * Create API Gateway's account-wide CloudWatch Logs role for this region (`AWS::ApiGateway::Account`
   * and its role, both retained when the stack is deleted: other APIs in the region may log with it).
   * One setting per account and region: when another stack or a person has set it, leave this off
   * and pass `accessLogs: true`. See cdk/apiGatewayLogging.ts for what two stacks that both set it do.
   * @default false
   */
  readonly apiGatewayCloudWatchRole?: boolean;
  /**
   * JSON access logs of the stage, in their own log group. API Gateway refuses a stage with access
   * logs in an account and region whose CloudWatch Logs role was never set ("CloudWatch Logs role
   * ARN must be set in account settings"), so they are on by default only when this construct sets
   * that role; `true` without `apiGatewayCloudWatchRole` states that the region already has it.
   * @default - the value of `apiGatewayCloudWatchRole`
   */
  readonly accessLogs?: boolean;
  /**
   * The API's name; also the `service` dimension of the backend's metrics.
   * @default - the construct's path
   */
  readonly apiName?: string;
  /**
   * Namespace of the CloudWatch metrics the functions emit (see `metricPostsSent()` and the others).
   * @default 'ServerlessGatewayWorker'
   */
  readonly metricsNamespace?: string;
  /**
   * Actions of the construct's alarm (`fanoutFailureAlarm`), e.g. `new SnsAction(topic)`.
   * @default - none: the alarm changes state, nobody is told
   */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];
  /**
   * X-Ray active tracing on every function: Lambda's own segments (init, invocation, overhead)
   * for sampled requests. The SDK's calls inside are not instrumented, and API Gateway's WebSocket
   * APIs have no X-Ray tracing. Traces cost per trace recorded and scanned.
   * @default false
   */
  readonly tracing?: boolean;
  /**
   * Log format of every function: 'json' makes Lambda write every line as a JSON object
   * (timestamp, level, requestId, message), for Logs Insights queries; the metrics are unaffected.
   * @default 'text'
   */
  readonly logFormat?: 'text' | 'json';
  /**
   * The chunked fan-out worker, its concurrency and its failure handling.
   * @default - a worker with the defaults of GatewayFanoutProps
   */
  readonly fanout?: GatewayFanoutProps;
}

/** A custom domain name for the WebSocket API (`GatewayBackendProps.domainName`). */
export interface GatewayDomainNameOptions {
  /** The name browsers connect to, e.g. 'ws.example.com'. */
  readonly domainName: string;
  /**
   * A certificate for `domainName` in the stack's region (a regional endpoint's certificate must be
   * in the API's region).
   * @default - one is created with DNS validation: its records go into `hostedZone` when given;
   * without a zone the deploy waits until you add the CNAME that ACM shows
   */
  readonly certificate?: acm.ICertificate;
  /**
   * The public hosted zone holding `domainName`: where a created certificate is validated, and the
   * alias record goes.
   * @default - none: point `domainName` at the `CustomDomainTarget` output yourself
   */
  readonly hostedZone?: route53.IHostedZone;
  /**
   * An alias A record for `domainName` in `hostedZone`, pointing at the API's regional domain.
   * @default true when `hostedZone` is given
   */
  readonly aliasRecord?: boolean;
}

/** The Gateway API function's allow-list (`GatewayBackendProps.gatewayApi`). */
export interface GatewayApiProps {
  /**
   * 'all'; 'read-only' (the queries: isOnline, getSession, getClientIdByUid, getAll*, ...);
   * 'send-only' (sendToClient, sendToUid, sendToGroup, sendToAll); or a list of method names
   * (lambdas/gatewayApiMethods.ts).
   * @default 'all'
   */
  readonly methods?: GatewayApiPreset | readonly string[];
}

/** What `grantGateway` needs from a function: IAM, and a way to set its environment. */
export interface IGatewayFunction extends iam.IGrantable {
  addEnvironment(key: string, value: string): unknown;
}
