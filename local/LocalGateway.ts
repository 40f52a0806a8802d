/**
 * A local stand-in for an API Gateway WebSocket API: the WebSocket endpoint, its `@connections`
 * management API, the Lambda invoke API for the functions it hosts, and DynamoDB (dynalite), in one
 * process, on one HTTP port (DynamoDB on its own). One instance owns all of its state.
 *
 * Lifecycle: new -> start() -> running -> stop() -> stopped. stop() closes every client with 1001,
 * lets every invocation under way finish (their posts still get answers), then closes the servers.
 *
 * This class owns the state (connections, counters, routes, servers) and runs the steps; the steps
 * that need little of it live apart: the options and results (LocalGatewayOptions.ts), the
 * environment of functions and backends (functionEnvironment.ts), the HTTP requests that are not
 * upgrades (httpDispatch.ts), the handshake's stateless steps (handshake.ts) and the `$connect`
 * authorizer (authorizer.ts).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { isUtf8 } from 'node:buffer';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  buildConnectEvent,
  buildDisconnectEvent,
  buildMessageEvent,
  connectHeaders,
  queryParameters,
  type ApiDescription,
  type ConnectionDescription,
} from './events.ts';
import type { WebSocketAuthorizerContext, WebSocketIdentity } from '../lambdas/webSocketEvent.ts';
import type { GatewayEndpoints, GatewayStats, GatewayUrls, LocalGatewayOptions, RouteTarget } from './LocalGatewayOptions.ts';
import { backendEnvironment, functionEnvironment, httpsRedirects, localizeUrls } from './functionEnvironment.ts';
import { AWS_LIMITS, CloseCode, type GatewayLimits } from './limits.ts';
import { isGatewayId, newApiId, newGatewayId, newTraceId } from './ids.ts';
import { compileRouteSelectionExpression, type RouteSelector } from './routeSelection.ts';
import { FrameHeaderInspector } from './frameInspector.ts';
import { FunctionHost, type InvocationOutcome, type LambdaHandler } from './functions.ts';
import { LocalDynamo } from './dynamo.ts';
import { FaultInjector, type FaultSettings } from './faults.ts';
import type { ConnectionInfo, ConnectionManager, PostOutcome } from './managementApi.ts';
import { listenOn } from './listen.ts';
import { foreignHostLine, HostGuard } from './hostGuard.ts';
import { dispatchHttpRequest, type HttpDispatchTarget } from './httpDispatch.ts';
import { integrationResponse, isStagePath, isWebSocketUpgrade, NewConnectionRate, plainIp, rejectUpgrade, withoutHopByHop } from './handshake.ts';
import { authorize, type AuthorizerRoute } from './authorizer.ts';
import { LocalSecrets } from './secretsManager.ts';
import {
  GatewayThrottles,
  rejectThrottledUpgrade,
  THROTTLED_MESSAGE,
  type RouteThrottleSettings,
  type ThrottleReport,
  type ThrottleSettings,
} from './throttling.ts';
import { checkSigningTime, type SigningRefusal } from './signingTime.ts';
import { CompiledMockIntegration } from './mockIntegration.ts';

type ConnectionState = 'connecting' | 'open' | 'closing' | 'closed';

interface LocalConnection extends ConnectionDescription {
  state: ConnectionState;
  lastActiveAt: number;
  socket?: WebSocket;
  idleTimer?: NodeJS.Timeout;
  ageTimer?: NodeJS.Timeout;
  /** Set when the gateway, not the client, closed the connection. */
  serverClose?: { code: number; reason: string };
  authorizer?: WebSocketAuthorizerContext;
}

interface ResolvedRoute {
  /** A Lambda integration's function, or */
  readonly functionName?: string;
  /** a MOCK integration, answered by the gateway itself. */
  readonly mock?: CompiledMockIntegration;
  readonly returnResponse: boolean;
}

type GatewayState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

const CLOSE_REASONS: Record<number, string> = {
  [CloseCode.noStatus]: 'Client-side close frame status not set',
};

/**
 * API Gateway's WebSocket API, its `@connections` API, the Lambda API and DynamoDB (dynalite) in
 * one process on loopback, for development and tests: no AWS account, no Docker. Serve a synthesized
 * CDK app with {@link loadCloudAssembly}, or routes and functions of your own.
 *
 * @example
 * ```ts
 * import { LocalGateway, loadCloudAssembly, sharedEnvironmentOf } from 'serverless-gateway-worker/local';
 *
 * const app = loadCloudAssembly({ directory: 'cdk.out' });
 * const gateway = new LocalGateway({ ...app.gatewayOptions, environment: sharedEnvironmentOf(app) });
 * const { wsUrl, env } = await gateway.start(); // port 0: a free port
 * // ... WebSocket clients on wsUrl; a backend with env (Gateway.fromEnv) ...
 * await gateway.stop();
 * ```
 */
export class LocalGateway implements ConnectionManager {
  readonly stage: string;
  readonly apiId: string;
  readonly region: string;
  readonly limits: GatewayLimits;
  readonly functions: FunctionHost;
  /** What the `faults` option and setFaults() set; the `@connections` handler draws from it. @internal */
  readonly faults: FaultInjector;
  readonly secrets: LocalSecrets;
  /** The token buckets setThrottling() sets and throttleReport() reads; tests reset their meter. @internal */
  readonly throttles: GatewayThrottles;

  private state: GatewayState = 'new';
  private readonly host: string;
  private readonly connections = new Map<string, LocalConnection>();
  private readonly routes = new Map<string, ResolvedRoute>();
  private readonly authorizerRoute?: AuthorizerRoute;
  private readonly selectRoute: RouteSelector;
  private readonly dynamo: LocalDynamo;
  private readonly hostGuard: HostGuard;
  private readonly httpTarget: HttpDispatchTarget;
  private readonly wss: WebSocketServer;
  private readonly upgradeHeaders = new WeakMap<IncomingMessage, Record<string, string>>();
  private server?: Server;
  private urls?: GatewayUrls;
  private extraEnv: Record<string, string> = {};
  private sweepTimer?: NodeJS.Timeout;
  private readonly pendingUpgrades = new Set<Promise<void>>();
  private readonly connectRate = new NewConnectionRate();
  private counters = { connects: 0, rejectedConnects: 0, messages: 0, posts: 0, disconnects: 0, droppedDisconnects: 0 };

  constructor(private readonly options: LocalGatewayOptions) {
    this.host = options.host ?? '127.0.0.1';
    this.stage = options.stage ?? 'local';
    this.apiId = options.apiId ?? newApiId();
    this.region = options.region ?? 'us-east-1';
    this.limits = { ...AWS_LIMITS, ...options.limits };
    this.selectRoute = compileRouteSelectionExpression(options.routeSelectionExpression ?? '$request.body.action');
    this.faults = new FaultInjector(options.faults);
    this.secrets = new LocalSecrets(options.secrets ?? []);
    this.throttles = new GatewayThrottles({
      ...(options.throttle ? { stage: options.throttle } : {}),
      ...(options.routeThrottles ? { routes: options.routeThrottles } : {}),
      ...(options.accountThrottle ? { account: options.accountThrottle } : {}),
    });
    this.functions = new FunctionHost({
      region: this.region,
      accountId: options.accountId ?? '000000000000',
      baseEnvironment: () => functionEnvironment(this.urls!, this.extraEnv, this.limits.maxConnectionDurationMs),
      httpsRedirects: () => httpsRedirects(this.urls!),
      rewriteEnvironment: (environment) => localizeUrls(environment, this.urls!),
      asyncRetryDelaysMs: options.asyncRetryDelaysMs,
      maxConcurrentInvocations: options.maxConcurrentInvocations,
      initTimeoutMs: options.functionInitTimeoutMs,
      log: options.log,
      output: options.functionOutput,
    });
    for (const [name, definition] of Object.entries(options.functions ?? {})) this.functions.define(name, definition);
    for (const [routeKey, target] of Object.entries(options.routes)) this.routes.set(routeKey, this.resolveRoute(routeKey, target));
    if (options.authorizer) {
      this.authorizerRoute = {
        functionName: this.functionNameFor('$authorizer', options.authorizer.function),
        identitySource: options.authorizer.identitySource ?? ['route.request.header.Authorization'],
      };
    }
    this.dynamo = new LocalDynamo({ host: this.host, region: this.region, path: options.dynamoPath, port: options.dynamoPort });
    const awsName = `${this.apiId}.execute-api.${this.region}.amazonaws.com`;
    this.hostGuard = new HostGuard([this.host, awsName, `${awsName}.cn`, ...(options.domainNames ?? [])]);
    this.httpTarget = {
      stage: this.stage,
      region: this.region,
      hostGuard: this.hostGuard,
      clockOffsetMs: options.clockOffsetMs ?? 0,
      clockNow: () => this.clockNow(),
      connections: this,
      faults: this.faults,
      functions: this.functions,
      secrets: this.secrets,
      log: (line) => this.log(line),
    };
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: this.limits.maxMessageBytes,
      handleProtocols: (_protocols, req) => this.upgradeHeaders.get(req)?.['Sec-WebSocket-Protocol'] ?? false,
    });
    this.wss.on('headers', (headers, req) => {
      for (const [name, value] of Object.entries(this.upgradeHeaders.get(req) ?? {})) {
        const lower = name.toLowerCase();
        if (lower === 'sec-websocket-protocol' && req.headers['sec-websocket-protocol']) continue; // ws negotiated it
        if (['upgrade', 'connection', 'sec-websocket-accept', 'sec-websocket-extensions'].includes(lower)) continue;
        headers.push(`${name}: ${value}`);
      }
    });
  }

  private resolveRoute(routeKey: string, target: RouteTarget): ResolvedRoute {
    if (typeof target === 'object' && 'mock' in target) {
      const returnResponse = target.returnResponse ?? false;
      return { mock: new CompiledMockIntegration(routeKey, target.mock, returnResponse), returnResponse };
    }
    if (typeof target === 'object') {
      return { functionName: this.functionNameFor(routeKey, target.function), returnResponse: target.returnResponse ?? false };
    }
    return { functionName: this.functionNameFor(routeKey, target), returnResponse: false };
  }

  private functionNameFor(routeKey: string, target: string | LambdaHandler): string {
    if (typeof target === 'function') {
      const name = `route-${routeKey.replace(/[^A-Za-z0-9-_]/g, '') || 'handler'}-${this.functions.names().length}`;
      this.functions.define(name, target);
      return name;
    }
    if (!this.functions.has(target)) {
      throw new Error(
        `route ${routeKey} names function ${JSON.stringify(target)}, which is not in functions: define it (by that name) in the functions option`,
      );
    }
    return target;
  }

  /** Starts DynamoDB, creates the tables and listens. Returns the URLs and the environment for a backend. */
  async start(): Promise<GatewayEndpoints> {
    if (this.state !== 'new') throw new Error(`start() called on a gateway that is ${this.state}`);
    this.state = 'starting';
    const dynamoEndpoint = await this.dynamo.start();
    for (const table of this.options.tables ?? []) await this.dynamo.createTable(table);
    const server = createServer((req, res) => dispatchHttpRequest(this.httpTarget, req, res));
    server.keepAliveTimeout = 65_000;
    server.on('upgrade', (req, socket, head) => this.trackUpgrade(this.onUpgrade(req, socket as Socket, head)));
    server.on('clientError', (_error, socket) => socket.destroy());
    // A large backlog: with Node's default of 511, a burst of connects stalls on SYN retries.
    const port = await listenOn(server, this.options.port ?? 0, { host: this.host, backlog: 8192 });
    this.server = server;
    const hostPort = `${this.host.includes(':') ? `[${this.host}]` : this.host}:${port}`;
    this.urls = {
      wsUrl: `ws://${hostPort}/${this.stage}`,
      callbackUrl: `http://${hostPort}/${this.stage}`,
      httpUrl: `http://${hostPort}`,
      dynamoEndpoint,
      region: this.region,
      apiId: this.apiId,
      stage: this.stage,
    };
    const environment = this.options.environment;
    this.extraEnv = localizeUrls(typeof environment === 'function' ? environment(this.urls) : { ...environment }, this.urls);
    const sweepEvery = this.options.ttlSweepIntervalMs ?? 60_000;
    if (sweepEvery > 0) {
      this.sweepTimer = setInterval(() => void this.sweepExpiredItems().catch((e) => this.log(`TTL sweep failed: ${e}`)), sweepEvery);
      this.sweepTimer.unref();
    }
    this.state = 'running';
    return this.endpoints;
  }

  get endpoints(): GatewayEndpoints {
    if (!this.urls) throw new Error('the gateway is not started');
    return { ...this.urls, env: backendEnvironment(this.urls, this.extraEnv) };
  }

  private get api(): ApiDescription {
    return { apiId: this.apiId, stage: this.stage, domainName: this.urls!.httpUrl.replace(/^http:\/\//, '') };
  }

  get maxPostBytes(): number {
    return this.limits.maxPostBytes;
  }

  /** Replaces the fault settings (see FaultSettings). */
  setFaults(settings: FaultSettings): void {
    this.faults.set(settings);
  }

  stats(): GatewayStats {
    let open = 0;
    for (const c of this.connections.values()) if (isOpen(c)) open++;
    return { openConnections: open, ...this.counters };
  }

  /** Replaces the throttle settings given at construction (see `throttle`, `routeThrottles`, `accountThrottle`). */
  setThrottling(settings: {
    throttle?: ThrottleSettings;
    routeThrottles?: Readonly<Record<string, RouteThrottleSettings>>;
    accountThrottle?: ThrottleSettings;
  }): void {
    this.throttles.configure({
      ...(settings.throttle ? { stage: settings.throttle } : {}),
      ...(settings.routeThrottles ? { routes: settings.routeThrottles } : {}),
      ...(settings.accountThrottle ? { account: settings.accountThrottle } : {}),
    });
  }

  /** Requests admitted and throttled (connects, messages, `@connections`), in total and per second. */
  throttleReport(): ThrottleReport {
    return this.throttles.meter.report();
  }

  /** The gateway's clock: this host's plus `clockOffsetMs`. */
  clockNow(): number {
    return Date.now() + (this.options.clockOffsetMs ?? 0);
  }

  /** Ids of the connections that are open now. */
  openConnectionIds(): string[] {
    return [...this.connections.values()].filter(isOpen).map((c) => c.connectionId);
  }

  /** Runs one TTL pass now; returns how many items it deleted. */
  sweepExpiredItems(nowMs?: number): Promise<number> {
    return this.dynamo.sweepExpiredItems(nowMs);
  }

  /** Invokes a hosted function, as the invoke API would (RequestResponse). */
  invoke(functionName: string, event: unknown): Promise<InvocationOutcome> {
    return this.functions.invoke(functionName, event);
  }

  // ---- WebSocket side ----

  private trackUpgrade(work: Promise<void>): void {
    this.pendingUpgrades.add(work);
    void work.catch((error) => this.log(`upgrade failed: ${error?.stack ?? error}`)).finally(() => this.pendingUpgrades.delete(work));
  }

  private async onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    // Pages of any origin may connect, as on AWS; but not through a name that is not this API's (DNS rebinding).
    if (!this.hostGuard.allows(req)) {
      this.log(foreignHostLine(req));
      return rejectUpgrade(socket, 403, 'Forbidden');
    }
    if (this.state !== 'running') return rejectUpgrade(socket, 503, 'Service Unavailable');
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!isStagePath(req.url ?? '/', this.stage)) return rejectUpgrade(socket, 403, 'Forbidden');
    if (!isWebSocketUpgrade(req)) return rejectUpgrade(socket, 400, 'Bad Request');
    if (!this.throttles.admit('connect', '$connect')) {
      this.counters.rejectedConnects++;
      return rejectThrottledUpgrade(socket);
    }
    const now = Date.now();
    if (!this.connectRate.admit(now, this.limits.newConnectionsPerSecond)) {
      this.counters.rejectedConnects++;
      return rejectUpgrade(socket, 429, 'Too Many Requests');
    }

    const userAgent = req.headers['user-agent'];
    // userAgent first, as in AWS's events (test/fixtures/aws-websocket-event-shapes.json).
    const identity: WebSocketIdentity = { ...(userAgent ? { userAgent } : {}), sourceIp: plainIp(socket.remoteAddress) };
    const connection: LocalConnection = { connectionId: newGatewayId(), connectedAt: now, lastActiveAt: now, identity, state: 'connecting' };
    // Registered while $connect runs, so that a post to it answers 410 as on AWS.
    this.connections.set(connection.connectionId, connection);

    const { headers, multiValueHeaders } = connectHeaders(withoutHopByHop(req.rawHeaders), {
      'X-Amzn-Trace-Id': newTraceId(now),
      'X-Forwarded-For': identity.sourceIp,
      'X-Forwarded-Port': String(socket.localPort ?? 0),
      'X-Forwarded-Proto': 'http',
    });
    const connectEvent = buildConnectEvent(this.api, connection, {
      headers,
      multiValueHeaders,
      query: queryParameters(url.searchParams),
      requestId: newGatewayId(),
      nowMs: now,
    });

    if (this.authorizerRoute) {
      const methodArn = `arn:aws:execute-api:${this.region}:${this.options.accountId ?? '000000000000'}:${this.apiId}/${this.stage}/$connect`;
      const decision = await authorize(this.authorizerRoute, connectEvent, methodArn, (name, event) =>
        this.functions.invoke(name, event, this.limits.integrationTimeoutMs),
      );
      if (decision.status !== 200) {
        this.forget(connection);
        this.counters.rejectedConnects++;
        return rejectUpgrade(
          socket,
          decision.status,
          decision.status === 401 ? 'Unauthorized' : decision.status === 403 ? 'Forbidden' : 'Internal Server Error',
        );
      }
      connection.authorizer = decision.context;
    }

    const connectRoute = this.routes.get('$connect');
    let responseHeaders: Record<string, string> = {};
    if (connectRoute?.mock) {
      const outcome = connectRoute.mock.run({ body: '', context: this.mockContext(connection, '$connect', 'CONNECT', connectEvent.requestContext.requestId) });
      const status = outcome.ok ? outcome.statusCode : 500;
      if (!outcome.ok) this.log(`$connect MOCK failed for ${connection.connectionId}: ${outcome.reason}`);
      if (status < 200 || status > 299) {
        this.forget(connection);
        this.counters.rejectedConnects++;
        return rejectUpgrade(socket, status, status === 500 ? 'Internal Server Error' : 'Forbidden');
      }
    } else if (connectRoute?.functionName) {
      const eventWithAuth = connection.authorizer
        ? { ...connectEvent, requestContext: { ...connectEvent.requestContext, authorizer: connection.authorizer } }
        : connectEvent;
      const outcome = await this.functions.invoke(connectRoute.functionName, eventWithAuth, this.limits.integrationTimeoutMs);
      const response = integrationResponse(outcome);
      if (response.status < 200 || response.status > 299) {
        this.forget(connection);
        this.counters.rejectedConnects++;
        const failure = outcome.ok ? '' : `: function ${connectRoute.functionName} ${outcome.error.errorType}: ${outcome.error.errorMessage}`;
        this.log(`$connect refused ${connection.connectionId} with ${response.status}${failure}`);
        return rejectUpgrade(socket, response.status, response.status === 502 ? 'Bad Gateway' : 'Forbidden');
      }
      responseHeaders = response.headers;
    }

    if (socket.destroyed || this.state !== 'running') {
      // The client left while $connect ran: the backend has recorded a connection that is already gone.
      connection.state = 'open';
      this.onClose(connection, CloseCode.abnormal, Buffer.alloc(0));
      return;
    }
    this.upgradeHeaders.set(req, responseHeaders);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(connection, ws, socket));
  }

  private onOpen(connection: LocalConnection, ws: WebSocket, socket: Socket): void {
    connection.socket = ws;
    connection.state = 'open';
    this.counters.connects++;
    this.log(`connect ${connection.connectionId} from ${connection.identity.sourceIp}`);
    const inspector = new FrameHeaderInspector(this.limits.maxFrameBytes, () => this.closeConnection(connection, CloseCode.messageTooBig, 'Frame too big'));
    socket.prependListener('data', (chunk: Buffer) => inspector.feed(chunk));
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(connection, data, isBinary));
    ws.on('close', (code: number, reason: Buffer) => this.onClose(connection, code, reason));
    ws.on('error', (error: Error & { code?: string }) => {
      // ws closes the connection itself after a protocol error (1002 malformed frame, 1007 invalid
      // UTF-8, 1009 over maxPayload); record the code it sent, for $disconnect.
      connection.serverClose ??= { code: protocolErrorCloseCode(error), reason: error.message };
      if (connection.state === 'open') connection.state = 'closing';
    });
    this.resetIdleTimer(connection);
    connection.ageTimer = setTimeout(() => this.closeConnection(connection, CloseCode.goingAway, 'Going away'), this.limits.maxConnectionDurationMs);
    connection.ageTimer.unref();
  }

  private resetIdleTimer(connection: LocalConnection): void {
    clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(() => this.closeConnection(connection, CloseCode.goingAway, 'Going away'), this.limits.idleTimeoutMs);
    connection.idleTimer.unref();
  }

  private onMessage(connection: LocalConnection, data: Buffer, isBinary: boolean): void {
    if (connection.state !== 'open') return;
    if (isBinary) {
      this.closeConnection(connection, CloseCode.unsupportedData, 'Binary frames are not supported');
      return;
    }
    this.counters.messages++;
    const now = Date.now();
    connection.lastActiveAt = now;
    this.resetIdleTimer(connection);
    const body = data.toString('utf8');
    const selected = this.selectRoute(body);
    const matched = selected !== undefined && !selected.startsWith('$') ? this.routes.get(selected) : undefined;
    const routeKey = matched ? selected! : '$default';
    const route = matched ?? this.routes.get('$default');
    const requestId = newGatewayId();
    if (!route) {
      this.sendErrorFrame(connection, 'Forbidden', requestId);
      return;
    }
    if (!this.throttles.admit('message', routeKey)) {
      this.sendErrorFrame(connection, THROTTLED_MESSAGE, requestId);
      return;
    }
    const messageId = newGatewayId();
    if (route.mock) {
      const outcome = route.mock.run({ body, context: { ...this.mockContext(connection, routeKey, 'MESSAGE', requestId), messageId } });
      if (!outcome.ok) {
        this.log(`${routeKey} MOCK failed for ${connection.connectionId}: ${outcome.reason}`);
        this.sendErrorFrame(connection, outcome.frameMessage, requestId);
      } else if (outcome.reply !== undefined) {
        this.sendToClient(connection, Buffer.from(outcome.reply));
      }
      return;
    }
    const event = buildMessageEvent(this.api, connection, { routeKey, body, messageId, requestId, nowMs: now });
    void this.functions.invoke(route.functionName!, event, this.limits.integrationTimeoutMs).then((outcome) => {
      if (!outcome.ok) {
        this.log(`${routeKey} failed for ${connection.connectionId}: function ${route.functionName} ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
        this.sendErrorFrame(connection, 'Internal server error', requestId);
        return;
      }
      if (route.returnResponse) {
        const value = outcome.value as { body?: unknown } | null;
        const reply = typeof value === 'object' && value !== null && value.body !== undefined ? value.body : undefined;
        if (reply !== undefined && isOpen(connection)) this.sendToClient(connection, Buffer.from(typeof reply === 'string' ? reply : JSON.stringify(reply)));
      }
    });
  }

  /** The frame API Gateway sends when it cannot route or integrate a message; spacing as on AWS. */
  private sendErrorFrame(connection: LocalConnection, message: string, requestId: string): void {
    if (!isOpen(connection)) return;
    connection.socket!.send(
      `{"message": ${JSON.stringify(message)}, "connectionId":${JSON.stringify(connection.connectionId)}, "requestId":${JSON.stringify(requestId)}}`,
    );
  }

  private closeConnection(connection: LocalConnection, code: number, reason: string): void {
    if (!isOpen(connection)) return;
    connection.state = 'closing';
    connection.serverClose = { code, reason };
    this.log(`closing ${connection.connectionId} with ${code} ${reason}`);
    connection.socket!.close(code, reason);
    // A client that never answers the close frame is cut off, so $disconnect is not held up.
    setTimeout(() => connection.socket!.terminate(), 2000).unref();
  }

  private onClose(connection: LocalConnection, code: number, reason: Buffer): void {
    if (connection.state === 'closed') return;
    connection.state = 'closed';
    clearTimeout(connection.idleTimer);
    clearTimeout(connection.ageTimer);
    this.connections.delete(connection.connectionId);
    const statusCode = connection.serverClose?.code ?? code;
    const disconnectReason = connection.serverClose?.reason ?? (reason.length > 0 ? reason.toString('utf8') : (CLOSE_REASONS[statusCode] ?? ''));
    this.counters.disconnects++;
    this.log(`disconnect ${connection.connectionId} ${statusCode} ${disconnectReason}`);
    const route = this.routes.get('$disconnect');
    if (!route?.functionName) return;
    if (this.faults.shouldDropDisconnect()) {
      this.counters.droppedDisconnects++;
      this.log(`fault injection: dropped $disconnect of ${connection.connectionId}`);
      return;
    }
    const event = buildDisconnectEvent(this.api, connection, { statusCode, reason: disconnectReason, requestId: newGatewayId(), nowMs: Date.now() });
    void this.functions.invoke(route.functionName, event, this.limits.integrationTimeoutMs).then((outcome) => {
      if (!outcome.ok)
        this.log(`$disconnect failed for ${connection.connectionId}: function ${route.functionName} ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
    });
  }

  private forget(connection: LocalConnection): void {
    connection.state = 'closed';
    this.connections.delete(connection.connectionId);
  }

  // ---- @connections, also callable in-process ----

  postToConnection(connectionId: string, data: Buffer): PostOutcome {
    if (!isGatewayId(connectionId)) return 'invalid-id';
    const connection = this.connections.get(connectionId);
    if (!connection || !isOpen(connection)) return 'gone';
    if (data.length > this.limits.maxPostBytes) return 'too-large';
    if (connection.socket!.bufferedAmount > this.limits.clientBufferBytes) return 'client-buffer-full';
    this.counters.posts++;
    connection.lastActiveAt = Date.now();
    this.sendToClient(connection, data);
    return 'sent';
  }

  /**
   * Writes a message to the client in frames of at most 32 KB, as API Gateway does. Valid UTF-8 goes
   * as a text frame, anything else as binary (AWS does not document the frame type).
   */
  private sendToClient(connection: LocalConnection, data: Buffer): void {
    const ws = connection.socket!;
    const binary = !isUtf8(data);
    const frame = this.limits.maxFrameBytes;
    if (data.length <= frame) {
      ws.send(data, { binary, compress: false });
      return;
    }
    for (let offset = 0; offset < data.length; offset += frame) {
      ws.send(data.subarray(offset, offset + frame), { binary, compress: false, fin: offset + frame >= data.length });
    }
  }

  getConnection(connectionId: string): ConnectionInfo | 'gone' | 'invalid-id' {
    if (!isGatewayId(connectionId)) return 'invalid-id';
    const connection = this.connections.get(connectionId);
    if (!connection || !isOpen(connection)) return 'gone';
    return connection;
  }

  deleteConnection(connectionId: string): 'deleted' | 'gone' | 'invalid-id' {
    if (!isGatewayId(connectionId)) return 'invalid-id';
    const connection = this.connections.get(connectionId);
    if (!connection || !isOpen(connection)) return 'gone';
    this.closeConnection(connection, CloseCode.normal, '');
    return 'deleted';
  }

  /** Cuts a connection off without a close frame, as a network drop would (the client sees 1006). */
  dropConnection(connectionId: string): boolean {
    const connection = this.connections.get(connectionId);
    if (!connection?.socket) return false;
    connection.socket.terminate();
    return true;
  }

  // ---- HTTP side (local/httpDispatch.ts answers it; the gateway screens @connections requests) ----

  /**
   * Screens an `@connections` request after its Authorization header was found: the signing time
   * (local/signingTime.ts), then the account's throttle. Called by local/managementApi.ts. @internal
   */
  screenManagementRequest(req: IncomingMessage): SigningRefusal | { status: 429; errorType: 'LimitExceededException'; message: string } | undefined {
    const refusal = checkSigningTime(req, this.clockNow());
    if (refusal) return refusal;
    if (!this.throttles.admit('management')) return { status: 429, errorType: 'LimitExceededException', message: THROTTLED_MESSAGE };
    return undefined;
  }

  private mockContext(connection: LocalConnection, routeKey: string, eventType: string, requestId: string): Record<string, string | number | undefined> {
    return {
      apiId: this.apiId,
      connectedAt: connection.connectedAt,
      connectionId: connection.connectionId,
      domainName: this.api.domainName,
      eventType,
      extendedRequestId: requestId,
      'identity.sourceIp': connection.identity.sourceIp,
      'identity.userAgent': connection.identity.userAgent,
      requestId,
      requestTimeEpoch: Date.now(),
      routeKey,
      stage: this.stage,
    };
  }

  private log(line: string): void {
    this.options.log?.(line);
  }

  /**
   * Stops accepting connections, closes every client with 1001 (each gets its `$disconnect`), waits
   * for every invocation under way, then closes the servers and the function workers.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    if (this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    clearInterval(this.sweepTimer);
    await Promise.allSettled([...this.pendingUpgrades]);
    const closing = [...this.connections.values()].filter((c) => c.state === 'open' || c.state === 'closing');
    await Promise.all(
      closing.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (!c.socket || c.state === 'closed') return resolve();
            c.socket.once('close', () => resolve());
            if (c.state === 'open') this.closeConnection(c, CloseCode.goingAway, 'Going away');
            setTimeout(() => {
              c.socket?.terminate();
              resolve();
            }, 1000).unref();
          }),
      ),
    );
    await this.functions.drain();
    await new Promise<void>((resolve) => {
      this.server!.close(() => resolve());
      this.server!.closeAllConnections();
    });
    await this.functions.close();
    this.wss.close();
    await this.dynamo.stop();
    this.state = 'stopped';
  }
}

/**
 * Open for @connections: `$connect` has finished and no close frame has gone either way. Once the
 * client's close frame arrives, ws answers it and waits for the TCP close, which can take a while
 * (a client that never closes its side is cut off after 30 s); API Gateway answers 410 from the
 * client's close frame on, so this does too.
 */
function isOpen(connection: LocalConnection): boolean {
  const socket = connection.socket;
  return connection.state === 'open' && socket !== undefined && socket.readyState === socket.OPEN;
}

/** The close code ws sends after a receiver error: it keeps it on the error under a private symbol. */
function protocolErrorCloseCode(error: Error & { code?: string }): number {
  const statusSymbol = Object.getOwnPropertySymbols(error).find((symbol) => symbol.description === 'status-code');
  const status = statusSymbol ? (error as unknown as Record<symbol, unknown>)[statusSymbol] : undefined;
  if (typeof status === 'number') return status;
  if (error.code === 'WS_ERR_INVALID_UTF8') return CloseCode.invalidPayload;
  if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return CloseCode.messageTooBig;
  return CloseCode.protocolError;
}
