/**
 * The init sender: delivers the messages `$connect` queued (the init message first) once the
 * connection is open. `$connect` cannot post them itself: API Gateway answers 410 to a post while
 * the `$connect` integration runs (api-gateway-websocket.md A5), so `$connect` invokes this function
 * asynchronously just before it returns, and this function posts, retrying 410 with a short
 * exponential backoff until the connection opens.
 *
 * A 410 is ambiguous: "not open yet" or "already gone". It stops retrying, whichever comes first:
 * - when the connection item is gone from the table (the connection was refused or `$disconnect`
 *   ran), checked after the first 410 and then at most every `existenceCheckEveryMs`;
 * - when the 410s outlast the connect grace (`connectGraceMs` from this function's start; outcome
 *   'expired', as for `retryUntil`, since the client may also never have opened). `$connect`
 *   invokes this function as its very last step, so the connection opens within one handshake of that
 *   (measured locally: 0-12 ms; on AWS tens of ms); 410s for longer mean the client left. This is what
 *   makes an anonymous client that connects and leaves cheap: `$disconnect` is best effort, so the
 *   item may stay, and without the grace the sender would post and check until `retryUntil`
 *   (`$connect`'s remaining time plus 2 s; measured by bench/anonymousConnection.ts: 9.5 s, 51 posts
 *   and 15 reads per connection, against 1.3 s, 11 posts and 2-3 reads with the grace);
 * - when `retryUntil` passes: the `$connect` invocation's own deadline plus a margin, after which
 *   `$connect` has ended one way or the other, so a 410 can only mean gone.
 * GetConnection (GET @connections) cannot tell the two apart either: it answers 410 before the
 * connection opens as after it closed, so asking it would only add a request per retry.
 * Giving up is not an error (nothing to retry later), so the function never throws for it and
 * Lambda's async retries are not spent on it.
 *
 * The init message is built here, not in `$connect`, because it carries the connection's bind token
 * (sdk/bindToken.ts), signed with a secret this function reads once per process: the read overlaps
 * the wait for the connection to open instead of delaying the handshake. Without the key there is
 * no init: the browser client takes a missing init as a failure and reconnects.
 */
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { LambdaInvocationContext } from './webSocketEvent.ts';
import { mintBindToken } from '../sdk/bindToken.ts';
import { mintResumeToken } from '../sdk/resumeToken.ts';

/** The payload `$connect` sends. */
export interface InitSenderEvent {
  readonly connectionId: string;
  /** Post `{"type":"init","client_id","bind_token"}` first. */
  readonly init?: boolean;
  /** Posted in order, each once (after the init message). */
  readonly messages: readonly string[];
  /** Epoch ms after which a 410 means the connection is gone rather than still opening. */
  readonly retryUntil: number;
  /**
   * A connection of the browser client (`?gw=1`): the init message also says in how many ms the
   * gateway will cut it (`cut_in`) and, with a window, carries its resume token (docs/guides/recovery.md).
   */
  readonly recovery?: { readonly cutAt: number; readonly windowMs: number };
}

export type InitSenderOutcome = 'sent' | 'gone' | 'expired' | 'failed';

export interface InitSenderResult {
  readonly outcome: InitSenderOutcome;
  /** Messages delivered. */
  readonly delivered: number;
  /** PostToConnection calls made, including the ones answered 410. */
  readonly attempts: number;
  /** From the handler's start to the last post. */
  readonly elapsedMs: number;
}

export interface BackoffOptions {
  /** Delay after the first 410. */
  readonly firstDelayMs: number;
  /** Upper bound of the doubling delay. */
  readonly maxDelayMs: number;
  /** How often, at most, to check that the connection item still exists while retrying. */
  readonly existenceCheckEveryMs: number;
  /** From this function's start: past it, a 410 means the client is gone, whatever the table says. */
  readonly connectGraceMs: number;
}

/**
 * Measured on the local gateway (40 sequential connects, warm functions): the first post succeeded in
 * 15 of 40 connects and the second in the other 25; the init arrived 0-12 ms after the socket opened
 * (p50 5 ms, p90 10 ms). On AWS the asynchronous invocation alone takes tens of ms, so the first post
 * mostly lands after the open. A 10 ms first delay doubling to 200 ms keeps the init within one short
 * delay of the open for a handful of 410s; the existence check stops a sender whose client left.
 */
export const DEFAULT_BACKOFF: BackoffOptions = { firstDelayMs: 10, maxDelayMs: 200, existenceCheckEveryMs: 500, connectGraceMs: 2000 };

export interface InitSenderOptions {
  readonly management: ApiGatewayManagementApiClient;
  /** Where to check that the connection still exists; omit to rely on `retryUntil` alone. */
  readonly connections?: { readonly client: DynamoDBClient; readonly tableName: string; readonly partitionKey: string };
  readonly backoff?: Partial<BackoffOptions>;
  /** The bind token key (TokenSecret: minted with its current version); without it the init message carries no `bind_token`. */
  readonly bindTokenKey?: { key(): Promise<Uint8Array> };
  readonly log?: (message: string, details: Record<string, unknown>) => void;
  /** The clock (epoch ms), for tests. @default Date.now */
  readonly now?: () => number;
}

const SAFETY_MARGIN_MS = 500;

export function createInitSenderHandler(options: InitSenderOptions) {
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  const log = options.log ?? ((message, details) => console.warn(JSON.stringify({ message, ...details })));
  const clock = options.now ?? Date.now;

  async function connectionExists(connectionId: string): Promise<boolean> {
    const table = options.connections;
    if (!table) return true;
    try {
      const { Item } = await table.client.send(
        new GetItemCommand({
          TableName: table.tableName,
          Key: { [table.partitionKey]: { S: connectionId } },
          ConsistentRead: true,
          ProjectionExpression: '#k',
          ExpressionAttributeNames: { '#k': table.partitionKey },
        }),
      );
      return Item !== undefined;
    } catch (error) {
      log('init sender: existence check failed; retrying the post anyway', { connectionId, error: String(error) });
      return true;
    }
  }

  return async function handler(event: InitSenderEvent, context?: LambdaInvocationContext): Promise<InitSenderResult> {
    const started = clock();
    const { connectionId, retryUntil } = event;
    let messages = event.messages;
    let attempts = 0;
    let delivered = 0;
    let delay = backoff.firstDelayMs;
    // The first 410 is checked at once (a refused or departed client stops the sender after one post;
    // on AWS the first post mostly lands after the open, so this read is rare), later ones at most
    // every existenceCheckEveryMs.
    let lastCheck = Number.NEGATIVE_INFINITY;
    const result = (outcome: InitSenderOutcome): InitSenderResult => ({ outcome, delivered, attempts, elapsedMs: clock() - started });
    if (event.init) {
      let bindToken: string | undefined;
      let resumeToken: string | undefined;
      const recovery = event.recovery;
      if (options.bindTokenKey) {
        try {
          const key = await options.bindTokenKey.key();
          bindToken = mintBindToken(key, connectionId);
          if (recovery && recovery.windowMs > 0) resumeToken = mintResumeToken(key, connectionId, recovery.cutAt + recovery.windowMs);
        } catch (error) {
          log('init sender: the bind token key could not be read; no init message sent', { connectionId, error: String(error) });
          return result('failed');
        }
      }
      // How long until the cut, not when: the browser's clock may be off, the function's is AWS's.
      const extra = recovery ? { cut_in: Math.max(0, recovery.cutAt - Date.now()), ...(resumeToken ? { resume_token: resumeToken } : {}) } : undefined;
      messages = [initMessageFor(connectionId, bindToken, extra), ...messages];
    }

    while (delivered < messages.length) {
      attempts++;
      try {
        await options.management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(messages[delivered]!, 'utf8') }));
        delivered++;
        continue;
      } catch (error) {
        if (!isGone(error)) {
          log('init sender: post failed', { connectionId, attempts, error: String(error) });
          return result('failed');
        }
      }
      // 410: not open yet, or gone.
      if (delivered > 0) return result('gone'); // it was open a moment ago: gone for good
      const now = clock();
      // It would have opened by now. 'expired', not 'gone': the table still has the item, so this is
      // counted as an init that never arrived (InitMessagesFailed), as a socket that never opened was.
      if (now - started >= backoff.connectGraceMs) return result('expired');
      const remaining = context ? context.getRemainingTimeInMillis() : Number.POSITIVE_INFINITY;
      if (now + delay > retryUntil || remaining < delay + SAFETY_MARGIN_MS) return result('expired');
      if (now - lastCheck >= backoff.existenceCheckEveryMs) {
        lastCheck = now;
        if (!(await connectionExists(connectionId))) return result('gone');
      }
      await sleep(jittered(delay));
      delay = Math.min(backoff.maxDelayMs, delay * 2);
    }
    return result('sent');
  };
}

/** The message a GatewayWorker seed sends from onConnect, plus the bind token the browser posts with the id. */
export function initMessageFor(clientId: string, bindToken?: string, extra?: { cut_in: number; resume_token?: string }): string {
  return JSON.stringify(
    bindToken === undefined ? { type: 'init', client_id: clientId, ...extra } : { type: 'init', client_id: clientId, bind_token: bindToken, ...extra },
  );
}

function isGone(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'GoneException' || e?.$metadata?.httpStatusCode === 410;
}

/** Between half and all of `ms`, so connections opened together do not retry in lockstep. */
function jittered(ms: number): number {
  return ms / 2 + Math.random() * (ms / 2);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
