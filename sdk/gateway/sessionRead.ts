/**
 * A session read prepared ahead and run later without awaiting: what lets the message handler's
 * `ctx.session` be a getter that reads the session only if onMessage touches it.
 *
 * `prepareSessionRead` (async, no network) lets the AWS SDK build and sign the GetItem of the
 * session item exactly as for any other call (endpoint, region, credentials, the same middleware),
 * and keeps the signed HTTP request instead of sending it. `read()` sends it through BlockingHttp
 * and waits, then parses DynamoDB's JSON answer itself (the SDK's parsing is asynchronous). The
 * signature is valid for 5 minutes from prepare. Throttling, 5xx and network errors are retried like
 * the SDK's own calls (3 retries, full-jitter backoff); the consumed capacity is reported to
 * `onConsumedCapacity` as operation 'getSession'.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { BlockingHttp, blockingSleep, isServedInThisThread } from '../blockingHttp.ts';
import { NetworkError, ServiceError, ThrottledError } from '../errors.ts';
import { GatewayTables } from '../tables.ts';
import type { Session } from '../validation.ts';
import type { GatewayContext } from './context.ts';

export interface PreparedSessionRead {
  /** False when the table's DynamoDB answers on this very thread (the in-process local gateway): read() would never return. */
  readonly canBlock: boolean;
  /** The session (`{}` when none was set), undefined when the client is gone. Blocks this thread until DynamoDB answers. */
  read(): Session | undefined;
}

const RETRIES = 3;
const THROTTLING = /ProvisionedThroughputExceeded|Throttling|RequestLimitExceeded|LimitExceeded/;

/** The signed request the SDK would have sent, kept by a middleware that ends the call there. */
class CapturedRequest extends Error {
  constructor(readonly request: { protocol: string; hostname: string; port?: number; path: string; query?: Record<string, unknown>; method: string; headers: Record<string, string>; body?: unknown }) {
    super('captured');
  }
}

/** A Gateway's prepared session reads: the helper thread starts with the first one and stops with Gateway.destroy(). */
export class SessionReads {
  private http: BlockingHttp | undefined;

  constructor(
    private readonly ctx: GatewayContext,
    private readonly doc: DynamoDBDocumentClient,
    private readonly timeoutMs: number,
  ) {}

  prepare(clientId: string): Promise<PreparedSessionRead> {
    this.http ??= new BlockingHttp();
    return prepareSessionRead(this.ctx, this.doc, this.http, clientId, this.timeoutMs);
  }

  destroy(): void {
    this.http?.destroy();
    this.http = undefined;
  }
}

const READS = new WeakMap<object, SessionReads>();

/** Called by the Gateway constructor. */
export function attachSessionReads(gateway: object, reads: SessionReads): void {
  READS.set(gateway, reads);
}

/** The prepared-read support of a real Gateway; undefined for anything else (a test double), which then reads the session the usual way. */
export function sessionReadsOf(gateway: unknown): SessionReads | undefined {
  return typeof gateway === 'object' && gateway !== null ? READS.get(gateway) : undefined;
}

async function prepareSessionRead(ctx: GatewayContext, doc: DynamoDBDocumentClient, http: BlockingHttp, clientId: string, timeoutMs: number): Promise<PreparedSessionRead> {
  const command = new GetItemCommand({
    TableName: ctx.store.tables.sessions,
    Key: { [GatewayTables.sessions.partitionKey]: { S: clientId } },
    ConsistentRead: true,
    ProjectionExpression: '#s',
    ExpressionAttributeNames: { '#s': 'session' },
    ReturnConsumedCapacity: 'TOTAL',
  });
  // Innermost: after serialization and signing, where the HTTP handler would send it.
  command.middlewareStack.add(
    () => async (args) => {
      throw new CapturedRequest((args as { request: CapturedRequest['request'] }).request);
    },
    { step: 'deserialize', priority: 'low', name: 'gatewayCaptureSignedRequest' },
  );
  let captured: CapturedRequest['request'];
  try {
    await doc.send(command);
    throw new ServiceError('the session read was sent instead of prepared');
  } catch (error) {
    if (!(error instanceof CapturedRequest)) throw error;
    captured = error.request;
  }
  const port = captured.port ?? (captured.protocol === 'https:' ? 443 : 80);
  const query = new URLSearchParams((captured.query ?? {}) as Record<string, string>).toString();
  const url = `${captured.protocol}//${captured.hostname}:${port}${captured.path}${query ? `?${query}` : ''}`;
  // The SDK's JSON body is a Uint8Array (a subclass with string methods that warn when used): decoded as bytes.
  const body = typeof captured.body === 'string' ? captured.body : new TextDecoder().decode(captured.body as Uint8Array);
  return {
    canBlock: !isServedInThisThread(captured.hostname, port),
    read: () => {
      for (let attempt = 0; ; attempt++) {
        const answer = http.request({ url, method: captured.method, headers: captured.headers, body, timeoutMs });
        let error: ServiceError;
        if ('error' in answer) {
          error = new NetworkError(`DynamoDB GetItem failed: ${answer.error}`);
        } else if (answer.status === 200) {
          const out = JSON.parse(answer.body) as { Item?: Record<string, never>; ConsumedCapacity?: { TableName?: string; CapacityUnits?: number } };
          const capacity = out.ConsumedCapacity;
          if (capacity) ctx.store.reportConsumedCapacity('getSession', 'GetItem', capacity.TableName ?? '', capacity.CapacityUnits ?? 0);
          if (!out.Item) return undefined;
          return ((unmarshall(out.Item) as { session?: Session }).session ?? {}) as Session;
        } else {
          const type = parseErrorType(answer.body);
          const message = `DynamoDB GetItem failed: ${type}: ${answer.body.slice(0, 300)}`;
          const details = { statusCode: answer.status, errorType: type };
          error = THROTTLING.test(type) ? new ThrottledError(message, details) : new ServiceError(message, details);
          if (!(error instanceof ThrottledError) && answer.status < 500) throw error;
        }
        if (attempt >= RETRIES) throw error;
        blockingSleep(ctx.random() * Math.min(2000, 100 * 2 ** attempt));
      }
    },
  };
}

function parseErrorType(body: string): string {
  try {
    const type = (JSON.parse(body) as { __type?: string }).__type ?? 'Error';
    return type.slice(type.lastIndexOf('#') + 1);
  } catch {
    return 'Error';
  }
}
