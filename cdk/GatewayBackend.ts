/**
 * The whole backend as one construct: the five DynamoDB tables, the WebSocket API and its stage, the
 * Lambdas (`$connect`, `$disconnect`, `$default` + custom routes, the init sender, and the fan-out
 * worker with its failure queue, the Gateway API), and the outputs. `grantGateway(fn)` gives another
 * Lambda the SDK in one call, chunked fan-out included; `grantInvokeGatewayApi(grantee)` lets any
 * principal call the Gateway API (other languages).
 *
 * Construct ids are part of the contract (renaming one replaces its resource, and the local gateway's
 * template mode finds functions and tables by them): Connections, Sessions, Memberships, Uids, Groups, Api, Stage,
 * AccessLogs (when on), ApiGatewayCloudWatchRole and ApiGatewayAccount (when created), ConnectFunction, DisconnectFunction, MessageFunction, InitSenderFunction,
 * FanoutWorkerFunction, FanoutWorkerRequeuePolicy, FanoutFailures, FanoutFailuresAlarm, GatewayApiFunction;
 * with a custom domain DomainName, ApiMapping, Certificate (when created) and AliasRecord (when created).
 */
import { Annotations, ArnFormat, CfnOutput, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration, WebSocketMockIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { GatewayEnvVar, gatewayEnvironment } from '../sdk/env.ts';
import { GatewayTables, type GatewayTableRole, type TableKeyDefinition } from '../sdk/tables.ts';
import { LambdaEnvVar } from '../lambdas/env.ts';
import { GATEWAY_API_FUNCTION_ENV } from '../lambdas/gatewayApiProtocol.ts';
import { GATEWAY_API_METHODS_ENV } from '../lambdas/gatewayApiAccess.ts';
import type { GatewayBackendProps, IGatewayFunction } from './GatewayBackendProps.ts';
import {
  FANOUT_WORKER_CONNECTIONS_METHODS,
  FANOUT_WORKER_TABLE_ACTIONS,
  GATEWAY_SECRET_ACTIONS,
  GATEWAY_TABLE_ACTIONS,
  MANAGE_CONNECTIONS_METHODS,
} from './permissions.ts';
import { acknowledgeFinding, iam5ResourceFindingId } from './nagFindingId.ts';
import { createApiGatewayLoggingRole } from './apiGatewayLogging.ts';
import { assertBundlingPeers } from './bundlingPeers.ts';
import { createFanoutFailureAlarm, gatewayMetric } from './monitoring.ts';
import { HEARTBEAT_REQUEST_TEMPLATE, lambdaEntry, validate } from './settings.ts';
import { createCustomDomain } from './customDomain.ts';
import { GatewayMetricName, MetricsEnvVar, type GatewayMetricNameValue } from '../sdk/metricNames.ts';

export { DEFAULT_EVENTS_MODULE, GatewayBackendPropsError } from './settings.ts';

/** The warning a backend without an authorizer carries; acknowledge it as `annotation::<id>`. */
export const NO_AUTHORIZER_WARNING = 'serverless-gateway-worker:noAuthorizer';

/** The specifier lambdas/bundled/*.ts import the Events module by; esbuild aliases it at bundle time. */
export const EVENTS_MODULE_SPECIFIER = '@gateway-backend/events';

/** The init sender retries until `$connect`'s deadline plus 2 s (lambdas/connectHandler.ts), plus slack. */
const INIT_SENDER_EXTRA_TIME = Duration.seconds(5);

/**
 * The whole backend as one construct: the WebSocket API and its stage, the Lambdas (connect,
 * disconnect, messages, init sender, fan-out worker, Gateway API), the five tables, the bind token
 * secret and the fan-out failure queue. `grantGateway(fn)` gives a function of yours the IAM and the
 * environment `Gateway.fromEnv()` needs.
 *
 * @example
 * ```ts
 * import * as lambda from 'aws-cdk-lib/aws-lambda';
 * import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
 * import { GatewayBackend } from 'serverless-gateway-worker/cdk';
 *
 * const backend = new GatewayBackend(this, 'Gateway', { eventsModule: 'src/events.ts' });
 * const notify = new NodejsFunction(this, 'Notify', { entry: 'src/notify.ts', runtime: lambda.Runtime.NODEJS_24_X });
 * backend.grantGateway(notify);
 * ```
 */
export class GatewayBackend extends Construct {
  /** One small item per live connection: connectedAt, uid, groupCount, expiresAt (sdk/tables.ts has the layout). */
  readonly connectionsTable: dynamodb.Table;
  /** One item per connection: the session, its version, the handshake identity. */
  readonly sessionsTable: dynamodb.Table;
  /** connection id -> its groups, one item per membership. */
  readonly membershipsTable: dynamodb.Table;
  /** uid -> connection ids. */
  readonly uidsTable: dynamodb.Table;
  /** group -> connection ids. */
  readonly groupsTable: dynamodb.Table;
  readonly webSocketApi: apigwv2.WebSocketApi;
  /** `$connect`, with the authorizer when there is one. */
  readonly connectRoute: apigwv2.WebSocketRoute;
  readonly disconnectRoute: apigwv2.WebSocketRoute;
  /** `$default`: every message no custom route matches. */
  readonly defaultRoute: apigwv2.WebSocketRoute;
  /** One per key in `routes`, in order. */
  readonly customRoutes: readonly apigwv2.WebSocketRoute[];
  /** The heartbeat route (`heartbeatRoute`), answered by API Gateway with no Lambda; undefined when turned off. */
  readonly heartbeatRoute: apigwv2.WebSocketRoute | undefined;
  readonly stage: apigwv2.WebSocketStage;
  /** The stage's access logs, when `accessLogs` is on. */
  readonly accessLogGroup: logs.LogGroup | undefined;
  readonly connectFunction: NodejsFunction;
  readonly disconnectFunction: NodejsFunction;
  /** Handles `$default` and every custom route. */
  readonly messageFunction: NodejsFunction;
  /** Posts the init message once a connection opens, invoked asynchronously by `$connect`. */
  readonly initSenderFunction: NodejsFunction;
  /**
   * The key of the bind tokens (64 generated characters; GATEWAY_BIND_TOKEN_SECRET is its ARN),
   * readable by the init sender, which signs the tokens, and by whatever `grantGateway` grants.
   */
  readonly bindTokenSecret: secretsmanager.Secret;
  /** Delivers the chunks of large sends (lambdas/fanoutWorker.ts), invoked asynchronously by the SDK. */
  readonly fanoutWorkerFunction: NodejsFunction;
  /**
   * The Gateway API (lambdas/gatewayApi.ts): GatewayClient's methods for any language, invoked with
   * `lambda:InvokeFunction`; `grantInvokeGatewayApi(grantee)` allows a caller.
   */
  readonly gatewayApiFunction: NodejsFunction;
  /**
   * Where Lambda puts a chunk the worker failed to deliver after its retries, or that waited longer
   * than `fanout.maxEventAge`: the invocation record, with the chunk as `requestPayload`.
   */
  readonly fanoutFailureQueue: sqs.Queue;
  /** Lets the fan-out worker invoke itself (its own unqualified ARN only), to re-queue recipients that still fail. */
  readonly fanoutWorkerRequeuePolicy: iam.Policy;
  /** Recipients above which sends are chunked (GATEWAY_FANOUT_THRESHOLD). */
  readonly fanoutThreshold: number;
  /** The functions' log groups (each function's role is `fn.role`). */
  readonly functionLogGroups: {
    readonly connect: logs.LogGroup;
    readonly disconnect: logs.LogGroup;
    readonly message: logs.LogGroup;
    readonly initSender: logs.LogGroup;
    readonly fanoutWorker: logs.LogGroup;
    readonly gatewayApi: logs.LogGroup;
  };
  /** The authorizer on `$connect`, when `authorizer` is set. */
  readonly authorizer: WebSocketLambdaAuthorizer | undefined;
  /** The role API Gateway logs with, when `apiGatewayCloudWatchRole` is set. */
  readonly cloudWatchRole: iam.Role | undefined;
  /** The account-level API Gateway setting that names `cloudWatchRole`. */
  readonly apiGatewayAccount: apigateway.CfnAccount | undefined;
  /** Namespace of the metrics (`metricsNamespace`). */
  readonly metricsNamespace: string;
  /** The `service` dimension of every metric: the API's name. */
  readonly metricsService: string;
  /** In alarm while a failed chunk waits in `fanoutFailureQueue`. */
  readonly fanoutFailureAlarm: cloudwatch.Alarm;
  /**
   * What browsers connect to: `wss://{apiId}.execute-api.{region}.amazonaws.com/{stage}`, or
   * `wss://{domainName}` with a custom domain.
   */
  readonly url: string;
  /** `https://{apiId}.execute-api.{region}.amazonaws.com/{stage}`: the `@connections` endpoint. */
  readonly callbackUrl: string;
  /** The custom domain (`domainName`), mapped to the stage. */
  readonly domainName: apigwv2.DomainName | undefined;
  /** The mapping of the custom domain's root to the stage. */
  readonly apiMapping: apigwv2.ApiMapping | undefined;
  /** The certificate of the custom domain: the one given, or the one created. */
  readonly certificate: acm.ICertificate | undefined;
  /** The alias record of the custom domain, when `hostedZone` is given and `aliasRecord` is not false. */
  readonly aliasRecord: route53.ARecord | undefined;
  /** The Gateway API methods the Gateway API function accepts (`gatewayApi.methods`, resolved). */
  readonly gatewayApiMethods: readonly string[];
  readonly urlOutput: CfnOutput;
  readonly callbackUrlOutput: CfnOutput;
  /**
   * The environment `Gateway.fromEnv()` reads (names from sdk/env.ts). `grantGateway` sets it on a
   * function; give it to other compute (containers, ...) along with `grantGatewayPermissions`.
   */
  readonly environment: Readonly<Record<string, string>>;

  private readonly stageArnPrefix: string;

  constructor(scope: Construct, id: string, props: GatewayBackendProps = {}) {
    super(scope, id);
    const settings = validate(props);

    // ---- tables ----
    const table = (tableId: string, keys: TableKeyDefinition) =>
      new dynamodb.Table(this, tableId, {
        partitionKey: { name: keys.partitionKey, type: dynamodb.AttributeType.STRING },
        ...(keys.sortKey ? { sortKey: { name: keys.sortKey, type: dynamodb.AttributeType.STRING } } : {}),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        timeToLiveAttribute: keys.timeToLiveAttribute,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: settings.pointInTimeRecovery },
        removalPolicy: settings.removalPolicy,
        deletionProtection: settings.deletionProtection,
      });
    this.connectionsTable = table('Connections', GatewayTables.connections);
    this.sessionsTable = table('Sessions', GatewayTables.sessions);
    this.membershipsTable = table('Memberships', GatewayTables.memberships);
    this.uidsTable = table('Uids', GatewayTables.uids);
    this.groupsTable = table('Groups', GatewayTables.groups);
    if (!settings.pointInTimeRecovery) {
      for (const t of Object.values(this.tablesByRole())) {
        Validations.of(t).acknowledge({
          id: 'AwsSolutions-DDB3',
          reason:
            'Point-in-time recovery was turned off through GatewayBackendProps.pointInTimeRecovery: the items only live as long as a connection (2 h at most).',
        });
      }
    }

    // ---- logs ----
    const logGroup = (logId: string) => new logs.LogGroup(this, logId, { retention: settings.logRetention, removalPolicy: settings.removalPolicy });
    this.accessLogGroup = settings.accessLogs ? logGroup('AccessLogs') : undefined;
    this.functionLogGroups = {
      connect: logGroup('ConnectFunctionLogs'),
      disconnect: logGroup('DisconnectFunctionLogs'),
      message: logGroup('MessageFunctionLogs'),
      initSender: logGroup('InitSenderFunctionLogs'),
      fanoutWorker: logGroup('FanoutWorkerFunctionLogs'),
      gatewayApi: logGroup('GatewayApiFunctionLogs'),
    };

    // ---- functions ----
    // Only when this stack is bundled (`cdk synth` bundles every stack; tests may skip it).
    if (Stack.of(this).bundlingRequired) assertBundlingPeers();
    const handlerEnvironment = { ...props.environment };
    const bundledFunction = (
      fnId: string,
      entry: string,
      logs_: logs.LogGroup,
      timeout: Duration,
      description: string,
      aliasEvents: boolean,
      extra: { memorySize?: number; reservedConcurrentExecutions?: number } = {},
    ) => {
      // Its own role with only what it needs: logs to its own log group (no AWSLambdaBasicExecutionRole,
      // which would allow creating log groups anywhere), plus the grants below.
      const role = new iam.Role(this, `${fnId}Role`, { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
      logs_.grantWrite(role);
      return new NodejsFunction(this, fnId, {
        entry,
        handler: 'handler',
        description,
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: extra.memorySize ?? settings.memorySize,
        ...(settings.tracing ? { tracing: lambda.Tracing.ACTIVE } : {}),
        ...(settings.logFormat === 'json' ? { loggingFormat: lambda.LoggingFormat.JSON } : {}),
        ...(extra.reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions: extra.reservedConcurrentExecutions } : {}),
        timeout,
        role,
        logGroup: logs_,
        environment: aliasEvents ? handlerEnvironment : {},
        bundling: {
          // The local esbuild (a devDependency), never a Docker container.
          forceDockerBundling: false,
          format: OutputFormat.ESM,
          minify: true,
          // Bundled, not the runtime's copy: the versions the lock file pins (and the tests ran) are the
          // versions deployed, and the bundle is self-contained for the local gateway's template mode.
          bundleAwsSDK: true,
          // Only a LambdaClient given as `fanout.lambda` needs it (sdk/Fanout.ts loads it lazily), and no
          // entry point gives one: left out, so no bundle carries it whether or not the app installed it.
          externalModules: ['@aws-sdk/client-lambda'],
          mainFields: ['module', 'main'],
          // CommonJS dependencies inside an ESM bundle may still call require() for Node built-ins.
          banner: "import{createRequire as __gwCreateRequire}from'node:module';const require=__gwCreateRequire(import.meta.url);",
          ...(aliasEvents ? { esbuildArgs: { '--alias': `${EVENTS_MODULE_SPECIFIER}=${settings.eventsModule}` } } : {}),
        },
      });
    };
    this.connectFunction = bundledFunction(
      'ConnectFunction',
      lambdaEntry('bundled/connect'),
      this.functionLogGroups.connect,
      settings.timeout,
      'GatewayBackend $connect: stores the connection, runs onConnect/onWebSocketConnect',
      true,
    );
    this.disconnectFunction = bundledFunction(
      'DisconnectFunction',
      lambdaEntry('bundled/disconnect'),
      this.functionLogGroups.disconnect,
      settings.timeout,
      'GatewayBackend $disconnect: removes the connection and its mappings, runs onClose',
      true,
    );
    this.messageFunction = bundledFunction(
      'MessageFunction',
      lambdaEntry('bundled/message'),
      this.functionLogGroups.message,
      settings.timeout,
      'GatewayBackend $default and custom routes: runs onMessage',
      true,
    );
    this.initSenderFunction = bundledFunction(
      'InitSenderFunction',
      lambdaEntry('initSender'),
      this.functionLogGroups.initSender,
      settings.timeout.plus(INIT_SENDER_EXTRA_TIME),
      'GatewayBackend init sender: posts the init message once the connection is open',
      false,
    );
    // A late init message is worthless: no retries, no queueing beyond a minute (Lambda's minimum).
    this.initSenderFunction.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(1) });

    // ---- chunked fan-out ----
    const fanout = settings.fanout;
    this.fanoutThreshold = fanout.threshold;
    this.fanoutWorkerFunction = bundledFunction(
      'FanoutWorkerFunction',
      lambdaEntry('fanoutWorker'),
      this.functionLogGroups.fanoutWorker,
      fanout.timeout,
      'GatewayBackend fan-out worker: delivers one chunk of a large send, logs its counts',
      false,
      { memorySize: fanout.memorySize, reservedConcurrentExecutions: fanout.reservedConcurrency },
    );
    // The last stop for a chunk: kept for inspection and replay (the record's requestPayload is the chunk).
    this.fanoutFailureQueue = new sqs.Queue(this, 'FanoutFailures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: fanout.failureRetention,
      removalPolicy: settings.removalPolicy,
    });
    Validations.of(this.fanoutFailureQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter destination: Lambda sends it the chunks the fan-out worker could not deliver after its retries. Nothing consumes it automatically, so a further DLQ behind it would never receive anything.',
    });
    const failureQueue = this.fanoutFailureQueue;
    this.fanoutWorkerFunction.configureAsyncInvoke({
      retryAttempts: fanout.retryAttempts,
      maxEventAge: fanout.maxEventAge,
      // As SqsDestination, but granting sqs:SendMessage only (it would add GetQueueAttributes and GetQueueUrl).
      onFailure: {
        bind: (_scope, fn) => {
          iam.Grant.addToPrincipal({ grantee: fn, actions: ['sqs:SendMessage'], resourceArns: [failureQueue.queueArn] });
          return { destination: failureQueue.queueArn };
        },
      },
    });

    // The worker re-queues recipients that still fail to itself (lambdas/fanoutWorkerHandler.ts). A
    // policy of its own: the function does not wait for it, so naming the function's own ARN makes
    // no dependency cycle (the role's default policy, which the function waits for, would).
    this.fanoutWorkerRequeuePolicy = new iam.Policy(this, 'FanoutWorkerRequeuePolicy', {
      roles: [this.fanoutWorkerFunction.role!],
      statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.fanoutWorkerFunction.functionArn] })],
    });

    // ---- API and stage ----
    this.metricsService = props.apiName ?? this.node.path.replace(/\//g, '-');
    this.metricsNamespace = settings.metricsNamespace;
    const integration = (integrationId: string, fn: lambda.IFunction) => new WebSocketLambdaIntegration(integrationId, fn);
    this.authorizer = props.authorizer
      ? new WebSocketLambdaAuthorizer('Authorizer', props.authorizer.handler, {
          identitySource: [`route.request.querystring.${settings.authorizerQueryParameter}`],
        })
      : undefined;
    this.webSocketApi = new apigwv2.WebSocketApi(this, 'Api', {
      apiName: this.metricsService,
      description: 'GatewayWorker-style push gateway (GatewayBackend)',
      routeSelectionExpression: settings.routeSelectionExpression,
    });
    this.connectRoute = this.webSocketApi.addRoute('$connect', {
      integration: integration('ConnectIntegration', this.connectFunction),
      ...(this.authorizer ? { authorizer: this.authorizer } : {}),
    });
    this.disconnectRoute = this.webSocketApi.addRoute('$disconnect', { integration: integration('DisconnectIntegration', this.disconnectFunction) });
    this.defaultRoute = this.webSocketApi.addRoute('$default', { integration: integration('DefaultIntegration', this.messageFunction) });
    const usedIds = new Set<string>();
    this.customRoutes = settings.routes.map((routeKey) => {
      let integrationId = `Route${routeId(routeKey)}Integration`;
      if (usedIds.has(integrationId)) integrationId = `Route${Buffer.from(routeKey).toString('hex')}Integration`;
      usedIds.add(integrationId);
      return this.webSocketApi.addRoute(routeKey, { integration: integration(integrationId, this.messageFunction) });
    });
    // One-way (no route response): a MOCK whose request template yields status 200 sends nothing back.
    // Without the template the mock would fail ("statusCode should be an integer") and every ping
    // would get the "Internal server error" frame.
    this.heartbeatRoute = settings.heartbeatRoute
      ? this.webSocketApi.addRoute(settings.heartbeatRoute, {
          integration: new WebSocketMockIntegration('HeartbeatIntegration', {
            requestTemplates: { $default: HEARTBEAT_REQUEST_TEMPLATE },
            templateSelectionExpression: '\\$default',
          }),
        })
      : undefined;
    if (!this.authorizer) {
      Annotations.of(this).addWarningV2(
        NO_AUTHORIZER_WARNING,
        `No authorizer on $connect: any client can open a connection. Pass \`authorizer\` (a token in the query string), refuse in onWebSocketConnect, or acknowledge this with Validations.of(backend).acknowledge({ id: 'annotation::${NO_AUTHORIZER_WARNING}', reason }) together with AwsSolutions-APIG4 on backend.connectRoute.`,
      );
    }

    const loggingRole = settings.apiGatewayCloudWatchRole ? createApiGatewayLoggingRole(this) : undefined;
    this.cloudWatchRole = loggingRole?.role;
    this.apiGatewayAccount = loggingRole?.account;

    this.stage = new apigwv2.WebSocketStage(this, 'Stage', {
      webSocketApi: this.webSocketApi,
      stageName: settings.stageName,
      autoDeploy: true,
      throttle: settings.throttle,
      ...(this.accessLogGroup
        ? {
            accessLogSettings: {
              destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
              format: apigateway.AccessLogFormat.custom(ACCESS_LOG_FORMAT),
            },
          }
        : {}),
    });
    if (this.apiGatewayAccount) this.stage.node.addDependency(this.apiGatewayAccount);
    if (settings.connectThrottle) {
      // A route setting names an existing route: the stage waits for it. RouteSettings is a JSON map
      // to CloudFormation, so its keys are written as CloudFormation spells them.
      (this.stage.node.defaultChild as apigwv2.CfnStage).routeSettings = {
        $connect: { ThrottlingRateLimit: settings.connectThrottle.rateLimit, ThrottlingBurstLimit: settings.connectThrottle.burstLimit },
      };
      this.stage.node.addDependency(this.connectRoute);
    }
    const domain = props.domainName ? createCustomDomain(this, props.domainName, this.stage) : undefined;
    this.domainName = domain?.domainName;
    this.apiMapping = domain?.apiMapping;
    this.certificate = domain?.certificate;
    this.aliasRecord = domain?.aliasRecord;
    if (!this.accessLogGroup) {
      Validations.of(this.stage).acknowledge({
        id: 'AwsSolutions-APIG1',
        reason:
          'Access logs are off because API Gateway refuses them in a region whose account-wide CloudWatch Logs role was never set, and this backend was not asked to set it. Turn them on with GatewayBackendProps.apiGatewayCloudWatchRole (creates the role) or accessLogs: true (the region has one). Lambda logs and metrics are kept either way.',
      });
    }

    this.url = props.domainName ? `wss://${props.domainName.domainName}` : this.stage.url;
    this.callbackUrl = this.stage.callbackUrl;
    this.stageArnPrefix = Stack.of(this).formatArn({
      service: 'execute-api',
      resource: this.webSocketApi.apiId,
      resourceName: this.stage.stageName,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    this.bindTokenSecret = new secretsmanager.Secret(this, 'BindTokenSecret', {
      description: 'GatewayBackend: the key of the bind tokens in init messages (sdk/bindToken.ts)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      // Like the tables: a retained table with a deleted key would hold connections nobody can bind.
      removalPolicy: settings.removalPolicy,
    });
    Validations.of(this.bindTokenSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotation is a PutSecretValue of a new random value, done by the operator (docs: rotating the bind token key): there is no rotation Lambda to run. Processes re-read the key hourly and accept tokens of the previous version (AWSPREVIOUS), so a rotation needs no restart; tokens expire within 2 hours.',
    });
    const sdkEnvironment = gatewayEnvironment(
      this.callbackUrl,
      Object.fromEntries(Object.entries(this.tablesByRole()).map(([role, t]) => [role, t.tableName])) as Record<GatewayTableRole, string>,
    );
    const metricsEnvironment = { [MetricsEnvVar.namespace]: this.metricsNamespace, [MetricsEnvVar.service]: this.metricsService };
    this.environment = {
      ...sdkEnvironment,
      ...metricsEnvironment,
      [GatewayEnvVar.fanoutFunction]: this.fanoutWorkerFunction.functionName,
      [GatewayEnvVar.fanoutThreshold]: String(fanout.threshold),
      [GatewayEnvVar.bindTokenSecret]: this.bindTokenSecret.secretArn,
      [GatewayEnvVar.requireBindToken]: String(settings.requireBindToken),
      [GatewayEnvVar.fanoutRate]: String(fanout.rateLimit),
      ...(settings.sendRate !== undefined ? { [GatewayEnvVar.sendRate]: settings.sendRate === false ? 'off' : String(settings.sendRate) } : {}),
      [GatewayEnvVar.recoveryWindow]: String(settings.recoveryWindowSeconds),
      // The most chunks that run at once, when Lambda bounds it: each chunk's share of the budget.
      ...(fanout.reservedConcurrency !== undefined ? { [GatewayEnvVar.fanoutConcurrency]: String(fanout.reservedConcurrency) } : {}),
    };

    this.gatewayApiFunction = bundledFunction(
      'GatewayApiFunction',
      lambdaEntry('gatewayApi'),
      this.functionLogGroups.gatewayApi,
      settings.timeout,
      "GatewayBackend Gateway API: GatewayClient's methods for any language, invoked with lambda:InvokeFunction",
      false,
    );
    this.gatewayApiMethods = settings.gatewayApiMethods;

    // ---- wiring ----
    // The backend's own handlers run user code that may call any SDK method: they get what any SDK user gets.
    for (const fn of [this.connectFunction, this.disconnectFunction, this.messageFunction]) this.grantGateway(fn);
    // The Gateway API calls any SDK method on its callers' behalf.
    this.grantGateway(this.gatewayApiFunction);
    // The allow-list the function enforces before any call (lambdas/gatewayApiAccess.ts).
    if (settings.gatewayApiMethodsEnv !== undefined) this.gatewayApiFunction.addEnvironment(GATEWAY_API_METHODS_ENV, settings.gatewayApiMethodsEnv);
    this.connectFunction.addEnvironment(LambdaEnvVar.initFunction, this.initSenderFunction.functionName);
    this.connectFunction.addEnvironment(LambdaEnvVar.initMessage, String(settings.initMessage));
    // lambda:InvokeFunction on the function's own ARN only (grantInvoke would add `:*` for versions).
    this.connectFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.initSenderFunction.functionArn] }));
    // The init sender only posts, and checks that the connection item still exists.
    this.initSenderFunction.addEnvironment(GatewayEnvVar.callbackUrl, this.callbackUrl);
    this.initSenderFunction.addEnvironment(GatewayEnvVar.connectionsTable, this.connectionsTable.tableName);
    for (const [name, value] of Object.entries(metricsEnvironment)) this.initSenderFunction.addEnvironment(name, value);
    this.manageConnectionsGrant(this.initSenderFunction, ['POST']);
    iam.Grant.addToPrincipal({ grantee: this.initSenderFunction, actions: ['dynamodb:GetItem'], resourceArns: [this.connectionsTable.tableArn] });
    // ... and signs the bind token of each init message.
    this.initSenderFunction.addEnvironment(GatewayEnvVar.bindTokenSecret, this.bindTokenSecret.secretArn);
    this.bindTokenSecretGrant(this.initSenderFunction);
    // The fan-out worker posts and prunes on 410; it gets no fan-out settings, so it never chunks again.
    for (const [name, value] of Object.entries({ ...sdkEnvironment, ...metricsEnvironment })) this.fanoutWorkerFunction.addEnvironment(name, value);
    this.manageConnectionsGrant(this.fanoutWorkerFunction, FANOUT_WORKER_CONNECTIONS_METHODS);
    for (const [role, t] of Object.entries(this.tablesByRole()) as Array<[GatewayTableRole, dynamodb.Table]>) {
      const actions: readonly string[] = FANOUT_WORKER_TABLE_ACTIONS[role];
      if (actions.length > 0)
        iam.Grant.addToPrincipal({ grantee: this.fanoutWorkerFunction, actions: actions.map((a) => `dynamodb:${a}`), resourceArns: [t.tableArn] });
    }

    // ---- monitoring ----
    this.fanoutFailureAlarm = createFanoutFailureAlarm(this, this.fanoutFailureQueue, settings.alarmActions);
    if (settings.tracing) this.acknowledgeTracingWildcard();

    // ---- outputs ----
    this.urlOutput = new CfnOutput(this, 'WebSocketUrl', {
      value: this.stage.url,
      description: domain ? 'The stage on the execute-api host (browsers use CustomDomainUrl)' : 'What browsers connect to',
    });
    if (domain) {
      new CfnOutput(this, 'CustomDomainUrl', { value: this.url, description: 'What browsers connect to: the custom domain' });
      new CfnOutput(this, 'CustomDomainTarget', {
        value: domain.domainName.regionalDomainName,
        description: `Where ${props.domainName!.domainName} must point (CNAME or alias), when no alias record was created`,
      });
    }
    this.callbackUrlOutput = new CfnOutput(this, 'CallbackUrl', {
      value: this.callbackUrl,
      description: `The @connections endpoint (${GatewayEnvVar.callbackUrl})`,
    });
    // Table names too, so a backend (or the scenario tests against a deployed stack) can be configured from the outputs alone.
    new CfnOutput(this, 'ConnectionsTableName', { value: this.connectionsTable.tableName, description: GatewayEnvVar.connectionsTable });
    new CfnOutput(this, 'SessionsTableName', { value: this.sessionsTable.tableName, description: GatewayEnvVar.sessionsTable });
    new CfnOutput(this, 'MembershipsTableName', { value: this.membershipsTable.tableName, description: GatewayEnvVar.membershipsTable });
    new CfnOutput(this, 'UidsTableName', { value: this.uidsTable.tableName, description: GatewayEnvVar.uidsTable });
    new CfnOutput(this, 'GroupsTableName', { value: this.groupsTable.tableName, description: GatewayEnvVar.groupsTable });
    new CfnOutput(this, 'BindTokenSecretArn', { value: this.bindTokenSecret.secretArn, description: GatewayEnvVar.bindTokenSecret });
    new CfnOutput(this, 'FanoutFunctionName', { value: this.fanoutWorkerFunction.functionName, description: GatewayEnvVar.fanoutFunction });
    new CfnOutput(this, 'GatewayApiFunctionName', {
      value: this.gatewayApiFunction.functionName,
      description: `${GATEWAY_API_FUNCTION_ENV}: invoke it to call GatewayClient's methods from any language`,
    });

    this.acknowledgeFindings();
  }

  /**
   * Gives a function the Gateway SDK in one call: least-privilege IAM (see
   * `grantGatewayPermissions`) and the environment `Gateway.fromEnv()` reads.
   */
  grantGateway(fn: IGatewayFunction): iam.Grant {
    for (const [name, value] of Object.entries(this.environment)) fn.addEnvironment(name, value);
    return this.grantGatewayPermissions(fn);
  }

  /**
   * The IAM the SDK needs, and nothing more: `execute-api:ManageConnections` for POST, GET and
   * DELETE on this stage's `@connections/*` only, on each table exactly the DynamoDB actions the
   * SDK calls on it (cdk/permissions.ts), and `lambda:InvokeFunction` on the fan-out worker only
   * (its unqualified ARN: no other function, version or alias), and `secretsmanager:GetSecretValue`
   * on the bind token secret.
   */
  grantGatewayPermissions(grantee: iam.IGrantable): iam.Grant {
    let grant = this.manageConnectionsGrant(grantee, MANAGE_CONNECTIONS_METHODS);
    for (const [role, t] of Object.entries(this.tablesByRole()) as Array<[GatewayTableRole, dynamodb.Table]>) {
      const actions: readonly string[] = GATEWAY_TABLE_ACTIONS[role];
      grant = grant.combine(iam.Grant.addToPrincipal({ grantee, actions: actions.map((a) => `dynamodb:${a}`), resourceArns: [t.tableArn] }));
    }
    grant = grant.combine(this.bindTokenSecretGrant(grantee));
    return grant.combine(iam.Grant.addToPrincipal({ grantee, actions: ['lambda:InvokeFunction'], resourceArns: [this.fanoutWorkerFunction.functionArn] }));
  }

  /**
   * Lets a caller invoke the Gateway API: `lambda:InvokeFunction` on its unqualified ARN only (the
   * CDK's `grantInvoke` would add `:*`, every version and alias). Give the caller the function's name
   * too, e.g. `fn.addEnvironment('GATEWAY_API_FUNCTION', backend.gatewayApiFunction.functionName)`.
   */
  grantInvokeGatewayApi(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['lambda:InvokeFunction'], resourceArns: [this.gatewayApiFunction.functionArn] });
  }

  /** GetSecretValue on the bind token secret only (no DescribeSecret: `secret.grantRead` would add it). */
  private bindTokenSecretGrant(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: GATEWAY_SECRET_ACTIONS.map((a) => `secretsmanager:${a}`),
      resourceArns: [this.bindTokenSecret.secretArn],
    });
  }

  /** One of the backend's metrics (sdk/metricNames.ts) under this backend's namespace and dimension; Sum over 5 minutes by default. */
  metric(metricName: GatewayMetricNameValue, options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return gatewayMetric(this.metricsNamespace, this.metricsService, metricName, options);
  }

  /** Posts `@connections` accepted, inline and in fan-out chunks. */
  metricPostsSent(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetricName.postsSent, options);
  }

  /** Posts answered 410 (the connection was gone; pruned). */
  metricPostsGone(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetricName.postsGone, options);
  }

  /** Recipients not reached after the retries. */
  metricPostsFailed(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetricName.postsFailed, options);
  }

  /** `@connections` answers with 429, every attempt counted. */
  metricPostsThrottled(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetricName.postsThrottled, options);
  }

  /** Chunks of large sends Lambda accepted for the fan-out worker. */
  metricFanoutChunksQueued(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetricName.fanoutChunksQueued, options);
  }

  /** Chunks that could not be queued, and worker invocations that delivered nothing. */
  metricFanoutChunksFailed(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetricName.fanoutChunksFailed, options);
  }

  /** Connections `$connect` accepted. */
  metricConnects(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetricName.connects, options);
  }

  /** Connections `$connect` refused. */
  metricConnectsRefused(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetricName.connectsRefused, options);
  }

  /** `$disconnect` events. */
  metricDisconnects(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetricName.disconnects, options);
  }

  /** Accepted connections whose init message never arrived. */
  metricInitMessagesFailed(options?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(GatewayMetricName.initMessagesFailed, options);
  }

  /** The five tables by their role in sdk/tables.ts. */
  tablesByRole(): Record<GatewayTableRole, dynamodb.Table> {
    return {
      connections: this.connectionsTable,
      sessions: this.sessionsTable,
      memberships: this.membershipsTable,
      uids: this.uidsTable,
      groups: this.groupsTable,
    };
  }

  /** `arn:...:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/@connections/*` for each method. */
  connectionsArn(method: string): string {
    return `${this.stageArnPrefix}/${method}/@connections/*`;
  }

  private manageConnectionsGrant(grantee: iam.IGrantable, methods: readonly string[]): iam.Grant {
    this.acknowledgeConnectionsWildcard(grantee, methods);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:ManageConnections'],
      resourceArns: methods.map((m) => this.connectionsArn(m)),
    });
  }

  /** The one unavoidable wildcard: connection ids exist only at run time. Acknowledged where the policy lives. */
  private acknowledgeConnectionsWildcard(grantee: iam.IGrantable, methods: readonly string[]): void {
    const principal = grantee.grantPrincipal;
    const target: Construct | undefined = principal instanceof Construct ? principal : undefined;
    if (!target) return;
    for (const method of methods) {
      acknowledgeFinding(target, {
        id: iam5ResourceFindingId(this, this.connectionsArn(method)),
        reason: `Connection ids are created by API Gateway at run time, so ${method} @connections can only be granted for every connection of this one stage; no other API, stage or method is included.`,
      });
    }
  }

  /** X-Ray's PutTraceSegments and PutTelemetryRecords take no resource: the `*` CDK grants with active tracing is the only form. */
  private acknowledgeTracingWildcard(): void {
    for (const fn of [
      this.connectFunction,
      this.disconnectFunction,
      this.messageFunction,
      this.initSenderFunction,
      this.fanoutWorkerFunction,
      this.gatewayApiFunction,
    ]) {
      Validations.of(fn.role!).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Active X-Ray tracing (GatewayBackendProps.tracing) needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions: the only resource they can be granted on is *.',
      });
    }
  }

  /**
   * API Gateway accepts an authorizer on `$connect` only, so the other routes' APIG4 findings are
   * structural. `$connect` without an authorizer is a choice: it is warned about (NO_AUTHORIZER_WARNING)
   * and left for the app to acknowledge, with its own reason.
   */
  private acknowledgeFindings(): void {
    for (const route of [this.disconnectRoute, this.defaultRoute, ...this.customRoutes, ...(this.heartbeatRoute ? [this.heartbeatRoute] : [])]) {
      Validations.of(route).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          'API Gateway accepts an authorizer on the $connect route only; messages and $disconnect travel on a connection that $connect (and its authorizer, when configured) already admitted.',
      });
    }
  }
}

/** A construct id from a route key: its letters and digits (the caller falls back to hex on a clash). */
function routeId(routeKey: string): string {
  const cleaned = routeKey.replace(/[^A-Za-z0-9]/g, '');
  return cleaned.length > 0 ? cleaned.charAt(0).toUpperCase() + cleaned.slice(1) : Buffer.from(routeKey).toString('hex');
}

/** One JSON line per request, with the WebSocket $context variables worth having when debugging. */
const ACCESS_LOG_FORMAT = JSON.stringify({
  requestId: '$context.requestId',
  extendedRequestId: '$context.extendedRequestId',
  requestTime: '$context.requestTime',
  eventType: '$context.eventType',
  routeKey: '$context.routeKey',
  connectionId: '$context.connectionId',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  status: '$context.status',
  integrationStatus: '$context.integrationStatus',
  integrationLatency: '$context.integrationLatency',
  errorMessage: '$context.error.message',
  authorizerError: '$context.authorizer.error',
});
