/**
 * A LocalGateway with the five tables and inline `$connect` / `$disconnect` routes that register
 * and unregister connections through the SDK, plus real `ws` clients that know their connection id.
 * Shared by the SDK tests and the benchmark. Everything binds port 0 on loopback.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import WebSocket from 'ws';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  LocalGateway,
  type LocalGatewayOptions,
  type FaultSettings,
  type GatewayEndpoints,
  type LocalTableDefinition,
  type WebSocketConnectEvent,
  type WebSocketDisconnectEvent,
  type WebSocketMessageEvent,
} from '../local/index.ts';
import { resumeRequestOf } from '../lambdas/messageHandler.ts';
import { Gateway, type ConnectionRecord, type GatewayOptions, type GatewayTableNames } from '../sdk/index.ts';
import { GatewayTables } from '../sdk/tables.ts';
import { REQUEST_START_CHANNEL } from '../sdk/http1Pool.ts';

export const TEST_TABLES: GatewayTableNames = {
  connections: 'gw-connections',
  sessions: 'gw-sessions',
  memberships: 'gw-memberships',
  uids: 'gw-uids',
  groups: 'gw-groups',
};
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** The five tables of the data model (sdk/tables.ts), under the given names, for LocalGateway's `tables`. */
export function localTables(names: GatewayTableNames): LocalTableDefinition[] {
  return (Object.keys(GatewayTables) as Array<keyof typeof GatewayTables>).map((role) => ({ name: names[role], ...GatewayTables[role] }));
}

export interface HarnessOptions {
  /** Options for the Gateway the harness (and its routes) use. */
  readonly gateway?: Partial<GatewayOptions>;
  readonly faults?: FaultSettings;
  /** Secrets the local gateway serves (GetSecretValue), e.g. a bind token secret. */
  readonly secrets?: LocalGatewayOptions['secrets'];
  /** Extra work in `$connect` after the connection is registered (e.g. a send during `$connect`). */
  readonly onConnect?: (connectionId: string, gateway: Gateway) => Promise<void>;
  /**
   * The handlers' recovery (docs/guides/recovery.md): `?gw=1` registers an enveloped connection,
   * `$disconnect` calls connectionClosed (held connections), `$default` takes resume requests.
   */
  readonly recovery?: boolean;
}

export class TestClient {
  readonly messages: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private read = 0;
  private waiter?: () => void;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
  ) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      this.messages.push(isBinary ? `binary:${data.toString('base64')}` : data.toString('utf8'));
      this.waiter?.();
    });
    this.closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** The next message not yet read (waits for it). */
  async next(): Promise<string> {
    while (this.messages.length <= this.read) await new Promise<void>((resolve) => (this.waiter = resolve));
    this.waiter = undefined;
    return this.messages[this.read++]!;
  }

  /** Messages received and not yet read by next(). */
  unread(): string[] {
    return this.messages.slice(this.read);
  }

  close(): Promise<{ code: number; reason: string }> {
    this.socket.close();
    return this.closed;
  }
}

export class GatewayHarness {
  readonly local: LocalGateway;
  endpoints!: GatewayEndpoints;
  gateway!: Gateway;
  doc!: DynamoDBDocumentClient;
  readonly tables = TEST_TABLES;
  private readonly pendingConnects = new Map<string, (id: string) => void>();
  private readonly disconnectWaiters = new Map<string, Array<(record: ConnectionRecord | undefined) => void>>();
  private readonly disconnected = new Map<string, ConnectionRecord | undefined>();
  private readonly extraGateways: Gateway[] = [];
  private readonly clients = new Set<TestClient>();
  private nextToken = 0;

  constructor(private readonly options: HarnessOptions = {}) {
    this.local = new LocalGateway({
      ttlSweepIntervalMs: 0,
      faults: options.faults,
      ...(options.secrets ? { secrets: options.secrets } : {}),
      tables: localTables(TEST_TABLES),
      routes: {
        $connect: async (event: WebSocketConnectEvent) => {
          const { connectionId, connectedAt, identity } = event.requestContext;
          const envelope = this.options.recovery === true && event.queryStringParameters?.gw === '1';
          await this.gateway.registerConnection({
            connectionId,
            connectedAt,
            sourceIp: identity.sourceIp,
            userAgent: identity.userAgent,
            ...(envelope ? { envelope } : {}),
          });
          await this.options.onConnect?.(connectionId, this.gateway);
          const token = event.queryStringParameters?.t;
          if (token) this.pendingConnects.get(token)?.(connectionId);
          return { statusCode: 200 };
        },
        $disconnect: async (event: WebSocketDisconnectEvent) => {
          const id = event.requestContext.connectionId;
          const record = this.options.recovery
            ? (await this.gateway.connectionClosed(id, event.requestContext.disconnectStatusCode)).record
            : await this.gateway.unregisterConnection(id);
          this.disconnected.set(id, record);
          for (const wake of this.disconnectWaiters.get(id) ?? []) wake(record);
          this.disconnectWaiters.delete(id);
          return { statusCode: 200 };
        },
        ...(options.recovery
          ? {
              $default: async (event: WebSocketMessageEvent) => {
                const resume = resumeRequestOf(event.body);
                if (resume) await this.gateway.resumeConnection(event.requestContext.connectionId, resume.from, resume.token);
                return { statusCode: 200 };
              },
            }
          : {}),
      },
    });
  }

  static async start(options?: HarnessOptions): Promise<GatewayHarness> {
    const harness = new GatewayHarness(options);
    harness.endpoints = await harness.local.start();
    harness.doc = DynamoDBDocumentClient.from(
      new DynamoDBClient({ endpoint: harness.endpoints.dynamoEndpoint, region: harness.endpoints.region, credentials: LOCAL_CREDENTIALS }),
    );
    harness.gateway = harness.newGateway(options?.gateway);
    return harness;
  }

  /** Another SDK instance on the same gateway and tables (destroyed by stop()). */
  newGateway(overrides: Partial<GatewayOptions> = {}): Gateway {
    const gateway = new Gateway({
      callbackUrl: this.endpoints.callbackUrl,
      tables: TEST_TABLES,
      region: this.endpoints.region,
      credentials: LOCAL_CREDENTIALS,
      dynamoDb: this.doc,
      logger: { warn: () => {} },
      ...overrides,
    });
    this.extraGateways.push(gateway);
    return gateway;
  }

  /** Opens a real WebSocket client; resolves once it is open, with its connection id. */
  async connect(query = ''): Promise<TestClient> {
    const token = `c${this.nextToken++}`;
    const idPromise = new Promise<string>((resolve) => this.pendingConnects.set(token, resolve));
    const socket = new WebSocket(`${this.endpoints.wsUrl}?t=${token}${query}`, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
    });
    const id = await idPromise;
    this.pendingConnects.delete(token);
    const client = new TestClient(id, socket);
    this.clients.add(client);
    return client;
  }

  async connectMany(count: number, parallel = 50): Promise<TestClient[]> {
    const clients: TestClient[] = [];
    for (let i = 0; i < count; i += parallel) {
      clients.push(...(await Promise.all(Array.from({ length: Math.min(parallel, count - i) }, () => this.connect()))));
    }
    return clients;
  }

  /** Resolves when `$disconnect` for the id has run (with what unregisterConnection returned). */
  whenDisconnected(id: string): Promise<ConnectionRecord | undefined> {
    if (this.disconnected.has(id)) return Promise.resolve(this.disconnected.get(id));
    return new Promise((resolve) => {
      const list = this.disconnectWaiters.get(id) ?? [];
      list.push(resolve);
      this.disconnectWaiters.set(id, list);
    });
  }

  /** Polls (every 5 ms) until the probe holds; for effects with no event to wait on. */
  async until(probe: () => boolean | Promise<boolean>): Promise<void> {
    while (!(await probe())) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Whether the gateway has the connection open. */
  isOpen(id: string): boolean {
    return this.local.openConnectionIds().includes(id);
  }

  async stop(): Promise<void> {
    for (const client of this.clients) client.socket.terminate();
    for (const gateway of this.extraGateways) gateway.destroy();
    await this.local.stop();
    this.doc.destroy();
  }
}

/**
 * Calls `listener` for every HTTP request this process starts: Node's http client's (the AWS SDK's
 * DynamoDB calls) and the SDK's own client's (@connections, Lambda Invoke: sdk/http1Pool.ts).
 * Returns the unsubscribe.
 */
export function watchHttpRequests(listener: (request: { method: string; path: string }) => void): () => void {
  const onStart = (message: unknown) => listener((message as { request: { method: string; path: string } }).request);
  subscribe('http.client.request.start', onStart);
  subscribe(REQUEST_START_CHANNEL, onStart);
  return () => {
    unsubscribe('http.client.request.start', onStart);
    unsubscribe(REQUEST_START_CHANNEL, onStart);
  };
}

/** Counts the HTTP requests this process starts while `fn` runs (DynamoDB and @connections alike). */
export async function countHttpRequests(fn: () => Promise<unknown>): Promise<{ requests: number; error?: unknown }> {
  let requests = 0;
  const stop = watchHttpRequests(() => requests++);
  try {
    await fn();
    return { requests };
  } catch (error) {
    return { requests, error };
  } finally {
    stop();
  }
}
