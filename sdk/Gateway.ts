/**
 * Gateway: GatewayClient's API (every method async, same names) on DynamoDB and API Gateway's
 * `@connections` API. This class is the public surface and documents each method's semantics; the
 * work is in sdk/gateway/, one file per concern (options, lifecycle, sending, broadcast, delivery,
 * clients, sessions, bindings, groups, presence, queries, scans; context.ts is what they share).
 * The data model is in sdk/tables.ts. The rules common to all:
 *
 * - Input is checked before any network call (sdk/validation.ts lists the rules); a failure rejects
 *   with ValidationError / PayloadTooLargeError. Every method rejects, none throws synchronously;
 *   only the constructor and fromEnv throw (ConfigurationError).
 * - Mutations (bindUid, unbindUid, joinGroup, leaveGroup, setSession, updateSession) on a client
 *   whose connection item (or, for the session methods, session item) does not exist reject with
 *   ConnectionGoneError; they are never silently ignored. Queries on such a client answer
 *   "nothing": undefined, false, [].
 * - What a membership change or a send touches is small whatever the session: bindUid, joinGroup
 *   and leaveGroup write an index item, a membership item (groups) and the small connection item,
 *   each under 1 KB; the session is an item of its own that only the session methods, $connect and
 *   $disconnect touch.
 * - Sends return a SendReport (sent / gone / failed) instead of throwing per recipient. 429, 5xx
 *   and network errors are retried (full-jitter exponential backoff, `maxRetries` = 3 by default);
 *   a retried post can in rare cases be delivered twice (at-least-once). A 410 prunes the
 *   connection item, then its session, memberships and index items, and the index item the
 *   recipient was found through; a connection younger than 30 s is kept (API Gateway also answers
 *   410 while `$connect` runs). Delivery runs `concurrency` (64) posts at once over keep-alive
 *   sockets, signed by sdk/sigv4.ts rather than through ApiGatewayManagementApiClient's middleware.
 * - Write order (no transactions): when adding, the index item first, then (groups) the membership
 *   item, then the connection item, conditional on it existing, so nothing is resurrected; on any
 *   failure of that update the items this call created are deleted again, so sends agree with the
 *   error the caller got. When removing, the connection item (or the membership item, then the
 *   connection item) first and the index item last. A crash in between leaves at worst an extra
 *   index item (an extra recipient, pruned on 410 or by TTL) or a group count off by one, never a
 *   live connection hidden from a send. Known narrow race, unchanged by the split items: a
 *   leaveGroup (or unbind / rebind away) running at the same moment as a joinGroup (bind) of the
 *   same client to the same group (uid) can end with the membership recorded (membership item, or
 *   the connection item's uid) but no index item; the next join/bind repairs it.
 * - Reads that drive sendToUid / sendToGroup, and per-group / per-uid / per-connection queries, are
 *   strongly consistent ("bind, then send at once" must not miss). sendToAll and the getAll* family
 *   scan (parallel segments, every page), eventually consistent: sendToAll reads the small
 *   connection items page by page and posts (or chunks) each page as it arrives (broadcast.ts says
 *   why eventual consistency is safe there). Queries and scans never give partial results: a page
 *   that fails fails the call (for sendToAll, after the pages before it went out).
 * - One connection is in at most MAX_GROUPS_PER_CONNECTION (200) groups: a condition on the
 *   connection item's groupCount.
 * - With `fanout` (set by the construct through GATEWAY_FANOUT_FUNCTION), sendToUid, sendToGroup and
 *   sendToAll with more recipients than `fanout.threshold` hand them in chunks to the worker Lambda
 *   (asynchronous invocations) instead of posting: the report then carries `queued` and the workers
 *   log the per-recipient outcome (sdk/Fanout.ts, and lambdas/fanoutWorkerHandler.ts for what a
 *   worker does with failures).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BindTokenGuard, type BindOptions } from './bindToken.ts';
import { TokenSecret } from './tokenSecret.ts';
import { ConnectionsApi } from './ConnectionsApi.ts';
import { CredentialCache } from './CredentialCache.ts';
import { ConnectionStore } from './ConnectionStore.ts';
import { ConfigurationError } from './errors.ts';
import { GatewayEnvVar } from './env.ts';
import { parseRate, parseThreshold } from './Fanout.ts';
import { RateLimiter } from './RateLimiter.ts';
import type { GatewayTableNames } from './tables.ts';
import { checkClientId, describe, type Session } from './validation.ts';
import type { GatewayContext } from './gateway/context.ts';
import { isOptionsObject, readConfig, resolveOptions, sendBurst, type GatewayOptions } from './gateway/options.ts';
import type { ChunkReport, CloseReport, ConnectionRecord, DeliverChunkOptions, Message, SendReport } from './gateway/types.ts';
import * as bindings from './gateway/bindings.ts';
import * as clients from './gateway/clients.ts';
import * as delivery from './gateway/delivery.ts';
import * as groups from './gateway/groups.ts';
import * as lifecycle from './gateway/lifecycle.ts';
import * as presence from './gateway/presence.ts';
import type { PresenceJoin, PresenceMember } from './gateway/presence.ts';
import * as recovery from './gateway/recovery.ts';
import * as queries from './gateway/queries.ts';
import * as scans from './gateway/scans.ts';
import * as sending from './gateway/sending.ts';
import * as sessions from './gateway/sessions.ts';

export { CONNECT_GRACE_MS } from './gateway/delivery.ts';
export type { GatewayOptions } from './gateway/options.ts';
export type { ChunkReport, CloseReport, ConnectionRecord, DeliverChunkOptions, Message, SendMetrics, SendReport, Session } from './gateway/types.ts';

/** What `new Gateway()` takes to make a view (sdk/internal.ts); never built outside this module. */
class GatewayView {
  constructor(
    readonly of: Gateway,
    readonly change: Partial<GatewayContext>,
  ) {}
}

/** The argument `new Gateway()` gets for a view, with the view in `pendingView` (set just before). */
const VIEW = Object.freeze({}) as GatewayOptions;
let pendingView: GatewayView | undefined;

/** Set by the class's static block: sdk/internal.ts's way in, not exported from the package. */
export let viewOf: (gateway: Gateway, change: Partial<GatewayContext>) => Gateway;
export let contextOf: (gateway: Gateway) => GatewayContext;

/**
 * GatewayClient's API on DynamoDB and API Gateway's `@connections` API: bind clients to uids and
 * groups, keep their sessions, and push to one client, a uid, a group or everyone. Build one per
 * process (a Lambda's module scope) with {@link Gateway.fromEnv}, which reads what the construct's
 * `grantGateway` sets.
 *
 * @example
 * ```ts
 * import { Gateway } from 'serverless-gateway-worker';
 *
 * const gateway = Gateway.fromEnv();
 *
 * export const handler = async (event: { uid: string; text: string }) => {
 *   const report = await gateway.sendToUid(event.uid, { type: 'notice', text: event.text });
 *   return { sent: report.sent.length, gone: report.gone.length, failed: report.failed.length };
 * };
 * ```
 */
export class Gateway {
  readonly callbackUrl: string;
  readonly region: string;
  readonly tables: GatewayTableNames;
  /** What every operation in sdk/gateway/ runs with. */
  readonly #ctx: GatewayContext;
  readonly #doc: DynamoDBDocumentClient;
  readonly #ownsDoc: boolean;

  static {
    viewOf = (gateway, change) => {
      // Not a Gateway of this module (a test double of one): there is no context to change.
      if (!(#ctx in gateway)) return gateway;
      pendingView = new GatewayView(gateway, change);
      return new Gateway(VIEW);
    };
    contextOf = (gateway) => gateway.#ctx;
  }

  /** Throws a ConfigurationError for options that are missing, of the wrong type or unreadable. */
  constructor(options: GatewayOptions) {
    // An identity check: it reads nothing of `options`, which may be any value (a hostile Proxy too).
    if (options === VIEW && pendingView) {
      // A view of another Gateway (sdk/internal.ts): its clients and settings, a changed context.
      const view = pendingView;
      pendingView = undefined;
      this.callbackUrl = view.of.callbackUrl;
      this.region = view.of.region;
      this.tables = view.of.tables;
      this.#doc = view.of.#doc;
      this.#ownsDoc = false;
      this.#ctx = { ...view.of.#ctx, ...view.change };
      return;
    }
    const o = resolveOptions(options);
    this.callbackUrl = o.url.toString().replace(/\/+$/, '');
    this.tables = o.tables;
    this.region = o.region;
    const retryBackoff = { baseDelayMs: o.retryBaseDelayMs, maxDelayMs: o.retryMaxDelayMs };
    const api = new ConnectionsApi({
      callbackUrl: o.url,
      region: o.region,
      credentials: new CredentialCache(o.credentials),
      maxSockets: o.concurrency,
      timeoutMs: o.requestTimeoutMs,
      retry: {
        maxRetries: o.maxRetries,
        ...retryBackoff,
        random: o.random,
        throttleBaseDelayMs: o.throttleBaseDelayMs,
        throttleMaxDelayMs: o.throttleMaxDelayMs,
      },
      ...(o.sendRate !== undefined ? { limiter: new RateLimiter({ rate: o.sendRate, burst: sendBurst(o.sendRate) }) } : {}),
      ...(o.connectionsTransport ? { transport: o.connectionsTransport } : {}),
    });
    this.#ownsDoc = !o.dynamoDb;
    this.#doc =
      o.dynamoDb ??
      DynamoDBDocumentClient.from(new DynamoDBClient({ region: o.region, ...(o.credentials ? { credentials: o.credentials } : {}) }), {
        marshallOptions: { removeUndefinedValues: true },
      });
    const store = new ConnectionStore(this.#doc, this.tables, {
      scanSegments: o.scanSegments,
      concurrency: o.concurrency,
      onConsumedCapacity: o.onConsumedCapacity,
    });
    const secret =
      o.bindTokenSecret === undefined
        ? undefined
        : new TokenSecret({
            secretId: o.bindTokenSecret,
            region: o.region,
            ...(o.secretsManager ? { client: o.secretsManager } : {}),
            ...(o.credentials ? { credentials: o.credentials } : {}),
          });
    this.#ctx = {
      store,
      api,
      concurrency: o.concurrency,
      maxSessionAttempts: o.maxSessionAttempts,
      random: o.random,
      hooks: {},
      logger: o.logger,
      onSendCompleted: o.onSendCompleted,
      fanout: o.fanout,
      retryBackoff,
      bindTokens: new BindTokenGuard(secret, o.requireBindToken),
      recoveryWindowMs: o.recoveryWindowSeconds * 1000,
      ...(secret ? { resumeKeys: async () => (await secret.keys()).all } : {}),
      sendToGroup: (group, message, options) => sending.sendToGroup(this.#ctx, group, message, options),
    };
  }

  /**
   * Builds a Gateway from the environment variables in GatewayEnvVar (set by the CDK construct and by
   * the local gateway). Explicit `overrides` win; a variable that is needed and missing is a
   * ConfigurationError naming it. GATEWAY_FANOUT_FUNCTION (with GATEWAY_FANOUT_THRESHOLD, optional)
   * turns chunked fan-out on unless `overrides.fanout` is given: an object replaces the environment's
   * settings as a whole, `false` turns chunking off. Overrides or an environment that are not objects
   * (or cannot be read) are a ConfigurationError too.
   */
  static fromEnv(overrides: Partial<GatewayOptions> = {}, env: Readonly<Record<string, string | undefined>> = process.env): Gateway {
    if (!isOptionsObject('fromEnv overrides', overrides))
      throw new ConfigurationError(`fromEnv: overrides must be an object of Gateway options, got ${describe(overrides)}`);
    if (!isOptionsObject('fromEnv env', env)) throw new ConfigurationError(`fromEnv: env must be an object of environment variables, got ${describe(env)}`);
    const given: Partial<GatewayOptions> = readConfig('fromEnv overrides', () => ({ ...overrides }));
    const variable = (name: string): string | undefined => {
      const value: unknown = readConfig(`environment variable ${name}`, () => env[name]);
      if (value !== undefined && typeof value !== 'string')
        throw new ConfigurationError(`environment variable ${name} must be a string, got ${describe(value)}`);
      return value;
    };
    const read = (name: string): string => {
      const value = variable(name);
      if (value === undefined || value === '') throw new ConfigurationError(`environment variable ${name} is not set`);
      return value;
    };
    const callbackUrl = given.callbackUrl ?? read(GatewayEnvVar.callbackUrl);
    const tables = given.tables ?? {
      connections: read(GatewayEnvVar.connectionsTable),
      sessions: read(GatewayEnvVar.sessionsTable),
      memberships: read(GatewayEnvVar.membershipsTable),
      uids: read(GatewayEnvVar.uidsTable),
      groups: read(GatewayEnvVar.groupsTable),
    };
    let fanout = given.fanout ?? undefined;
    const fanoutFunction = variable(GatewayEnvVar.fanoutFunction)?.trim();
    if (fanout === undefined && fanoutFunction) {
      const threshold = variable(GatewayEnvVar.fanoutThreshold);
      const rate = variable(GatewayEnvVar.fanoutRate);
      const concurrency = variable(GatewayEnvVar.fanoutConcurrency);
      fanout = {
        functionName: fanoutFunction,
        ...(threshold !== undefined && threshold.trim() !== '' ? { threshold: parseThreshold(GatewayEnvVar.fanoutThreshold, threshold) } : {}),
        ...(rate !== undefined && rate.trim() !== '' ? { rateLimit: parseRate(GatewayEnvVar.fanoutRate, rate) } : {}),
        ...(concurrency !== undefined && concurrency.trim() !== ''
          ? { maxConcurrentChunks: parseThreshold(GatewayEnvVar.fanoutConcurrency, concurrency, 'chunks') }
          : {}),
      };
    }
    const bindTokenSecret = given.bindTokenSecret ?? (variable(GatewayEnvVar.bindTokenSecret)?.trim() || undefined);
    const requireBindToken = given.requireBindToken ?? parseFlag(GatewayEnvVar.requireBindToken, variable(GatewayEnvVar.requireBindToken));
    const recoveryVariable = variable(GatewayEnvVar.recoveryWindow)?.trim();
    const recoveryWindowSeconds =
      given.recoveryWindowSeconds ?? (recoveryVariable ? parseThreshold(GatewayEnvVar.recoveryWindow, recoveryVariable, 'seconds') : undefined);
    const sendRateVariable = variable(GatewayEnvVar.sendRate)?.trim();
    const sendRate =
      given.sendRate !== undefined || !sendRateVariable
        ? given.sendRate
        : sendRateVariable === 'off'
          ? false
          : parseRate(GatewayEnvVar.sendRate, sendRateVariable);
    return new Gateway({
      ...given,
      callbackUrl,
      tables,
      ...(fanout !== undefined ? { fanout } : {}),
      ...(bindTokenSecret !== undefined ? { bindTokenSecret } : {}),
      ...(requireBindToken !== undefined ? { requireBindToken } : {}),
      ...(sendRate !== undefined ? { sendRate } : {}),
      ...(recoveryWindowSeconds !== undefined ? { recoveryWindowSeconds } : {}),
    });
  }

  /** Closes the keep-alive sockets, and the DynamoDB, Lambda and Secrets Manager clients the Gateway built. */
  destroy(): void {
    this.#ctx.api.destroy();
    if (this.#ownsDoc) this.#doc.destroy();
    this.#ctx.fanout?.destroy();
    this.#ctx.bindTokens.destroy();
  }

  /**
   * The path a post to `connectionId` uses (the same as ApiGatewayManagementApiClient's). Throws a
   * ValidationError (synchronously: this method is not async) for what is not a connection id.
   */
  connectionPath(connectionId: string): string {
    return this.#ctx.api.pathFor(checkClientId(connectionId, 'connectionId'));
  }

  // ---- connection lifecycle ($connect / $disconnect): sdk/gateway/lifecycle.ts ----

  /**
   * Stores a new connection (from `$connect`): empty session, version 0, TTL at connectedAt + 2 h +
   * margin. A user agent longer than 1024 UTF-16 code units is stored truncated (a long header must
   * not refuse the connection), on a code-point boundary: a surrogate pair is never split. The id
   * comes from AWS, so it gets the loose check (1-128 URL-safe characters), not the strict one of the
   * methods that take an id from your code: a change of AWS's undocumented format must not fail
   * every `$connect`.
   */
  async registerConnection(record: { connectionId: string; connectedAt: number; sourceIp?: string; userAgent?: string; envelope?: boolean }): Promise<void> {
    return lifecycle.registerConnection(this.#ctx, record);
  }

  /**
   * Removes a connection (from `$disconnect`): the connection item, then its uid and group index
   * items. Returns what the item held (uid, groups, session: what `onClose` needs) or undefined.
   * The id gets the loose check, as in registerConnection.
   */
  async unregisterConnection(connectionId: string): Promise<ConnectionRecord | undefined> {
    return lifecycle.unregisterConnection(this.#ctx, connectionId);
  }

  /** Seconds a browser-client connection stays resumable after an unexpected close (0: off). */
  get recoveryWindowSeconds(): number {
    return this.#ctx.recoveryWindowMs / 1000;
  }

  /**
   * `$disconnect`'s call: a browser-client connection (`envelope` at registerConnection) closed with
   * any code but 1000 is held for `recoveryWindowSeconds` (uid, groups and session kept, pushes to
   * it buffered: docs/guides/recovery.md); any other is removed as unregisterConnection removes it.
   * `record` is the connection as onClose sees it.
   */
  async connectionClosed(connectionId: string, closeCode: number | undefined): Promise<{ held: boolean; record: ConnectionRecord | undefined }> {
    return recovery.connectionClosed(this.#ctx, connectionId, closeCode);
  }

  /**
   * `clientId` (open) takes over `fromClientId`, proven by the `resume_token` of `fromClientId`'s
   * init message: uid, groups and session move, buffered pushes are replayed to `clientId` in order,
   * and the outcome is posted to `clientId` as a control message. A refusal carries nothing over.
   */
  async resumeConnection(clientId: string, fromClientId: string, resumeToken: string): Promise<recovery.ResumeOutcome> {
    return recovery.resumeConnection(this.#ctx, clientId, fromClientId, resumeToken);
  }

  /** The stored connection, or undefined. */
  async getConnection(clientId: string): Promise<ConnectionRecord | undefined> {
    return lifecycle.getConnection(this.#ctx, clientId);
  }

  // ---- sending: sdk/gateway/sending.ts ----

  async sendToClient(clientId: string, message: Message): Promise<SendReport> {
    return sending.sendToClient(this.#ctx, clientId, message);
  }

  /** To every connection of one uid or several (each connection once), minus `exclude`. */
  async sendToUid(uid: string | string[], message: Message, options?: { exclude?: string | string[] }): Promise<SendReport> {
    return sending.sendToUid(this.#ctx, uid, message, options);
  }

  /** To every member of one group or several (each connection once), minus `exclude`. */
  async sendToGroup(group: string | string[], message: Message, options?: { exclude?: string | string[] }): Promise<SendReport> {
    return sending.sendToGroup(this.#ctx, group, message, options);
  }

  /**
   * To every connection (an eventually consistent parallel scan of the small connection items,
   * streamed: each page is posted, or chunked, as it arrives), or only to `clientIds` (no DynamoDB
   * read; an empty list sends to nobody, as in GatewayWorker), minus `exclude`.
   */
  async sendToAll(message: Message, options?: { clientIds?: string[]; exclude?: string | string[] }): Promise<SendReport> {
    return sending.sendToAll(this.#ctx, message, options);
  }

  // ---- the fan-out worker's side of a chunk: sdk/gateway/delivery.ts ----

  /**
   * Delivers one fan-out chunk (the worker Lambda's event, see sdk/Fanout.ts): the same posts,
   * retries and 410 pruning as an inline send, then up to `extraRounds` more rounds for the
   * recipients whose failure is retryable. Never chunks again. Rejects with a ValidationError when
   * `event` is not a well-formed chunk; otherwise resolves with the per-recipient outcome (a recipient
   * is in exactly one of sent, gone, failed).
   */
  async deliverChunk(event: unknown, options: DeliverChunkOptions = {}): Promise<ChunkReport> {
    return delivery.deliverChunk(this.#ctx, event, options);
  }

  // ---- connections on API Gateway's side: sdk/gateway/clients.ts ----

  /** Whether API Gateway has the connection open (GET @connections; read-only, prunes nothing). */
  async isOnline(clientId: string): Promise<boolean> {
    return clients.isOnline(this.#ctx, clientId);
  }

  /**
   * Posts `message` if given, then closes the connection (DELETE @connections; `$disconnect` follows
   * and unregisters it). False when it was already gone (its items are then pruned).
   */
  async closeClient(clientId: string, message?: Message): Promise<boolean> {
    return clients.closeClient(this.#ctx, clientId, message);
  }

  /** Closes the connection at once. API Gateway has no harder close than DELETE, so this is closeClient without a message. */
  async destroyClient(clientId: string): Promise<boolean> {
    return clients.destroyClient(this.#ctx, clientId);
  }

  /** Closes every connection of the uid (posting `message` first when given). */
  async closeUid(uid: string, message?: Message): Promise<CloseReport> {
    return clients.closeUid(this.#ctx, uid, message);
  }

  // ---- sessions: sdk/gateway/sessions.ts ----

  /** The session, `{}` when none was set, undefined when the client is not connected. */
  async getSession(clientId: string): Promise<Session | undefined> {
    return sessions.getSession(this.#ctx, clientId);
  }

  /** Replaces the session. ConnectionGoneError when the client is not connected. */
  async setSession(clientId: string, session: Session): Promise<void> {
    return sessions.setSession(this.#ctx, clientId, session);
  }

  /**
   * Deep-merges `patch` into the session (nested objects merge; arrays, scalars and null replace;
   * keys cannot be deleted) and returns the result. Optimistic locking on `version`: a concurrent
   * update makes this one re-read and retry, so no update is lost. ConnectionGoneError when the
   * client is not connected; ConflictError after `maxSessionAttempts` lost races.
   */
  async updateSession(clientId: string, patch: Session): Promise<Session> {
    return sessions.updateSession(this.#ctx, clientId, patch);
  }

  // ---- bind tokens: sdk/bindToken.ts ----

  /**
   * True when `token` is a valid, unexpired bind token for `clientId` (the `bind_token` of its init
   * message). Constant-time; no network call once the secret was read (the first call reads it).
   * Rejects with ConfigurationError without `bindTokenSecret`, ServiceError when the secret cannot
   * be read, ValidationError for a malformed client id.
   */
  async verifyBindToken(clientId: string, token: string): Promise<boolean> {
    checkClientId(clientId);
    return this.#ctx.bindTokens.verify(clientId, token);
  }

  /** A bind token for `clientId`, valid 2 hours: for an Events module that sends its own init message. */
  async createBindToken(clientId: string): Promise<string> {
    checkClientId(clientId);
    return this.#ctx.bindTokens.create(clientId);
  }

  // ---- uids: sdk/gateway/bindings.ts ----

  /**
   * Binds the client to `uid`. A client has at most one uid: binding again moves it (the old uid's
   * index item is removed last). ConnectionGoneError when the client is not connected. With
   * `requireBindToken`, BindTokenError before any write unless `options.bindToken` is the client's.
   */
  async bindUid(clientId: string, uid: string, options?: BindOptions): Promise<void> {
    return bindings.bindUid(this.#ctx, clientId, uid, options);
  }

  /**
   * Unbinds the client's uid. Without `uid`, whatever uid it has (GatewayClient's behaviour); with
   * `uid`, only if that is the uid it has now; otherwise nothing changes (so a late unbind cannot
   * undo a newer bind). A no-op when unbound; ConnectionGoneError when not connected.
   */
  async unbindUid(clientId: string, uid?: string): Promise<void> {
    return bindings.unbindUid(this.#ctx, clientId, uid);
  }

  // ---- groups: sdk/gateway/groups.ts ----

  /**
   * Adds the client to the group (idempotent). ConnectionGoneError when the client is not connected;
   * LimitExceededError when it is already in MAX_GROUPS_PER_CONNECTION (200) other groups (joining a
   * group it is in always succeeds). With `requireBindToken`, BindTokenError before any write unless
   * `options.bindToken` is the client's.
   */
  async joinGroup(clientId: string, group: string, options?: BindOptions): Promise<void> {
    return groups.joinGroup(this.#ctx, clientId, group, options);
  }

  /**
   * Removes the client from the group (a no-op when not a member). ConnectionGoneError when not
   * connected. Leaving a presence group as the uid's last connection there sends member_removed.
   * With `options` (a leave the page asked for, e.g. Laravel Echo's leave()), the bind token is
   * checked as joinGroup checks it; without, the caller is trusted backend code, as in GatewayClient.
   */
  async leaveGroup(clientId: string, group: string, options?: BindOptions): Promise<void> {
    return groups.leaveGroup(this.#ctx, clientId, group, options, (left) => presence.announceDepartures(this.#ctx, 'leaveGroup', [left]));
  }

  /**
   * Joins the client to `group` as a presence member (sdk/gateway/presence.ts): `member.id` is the
   * uid (a uid's tabs are one member), `member.info` any JSON value of up to 1 KB. joinGroup's rules,
   * bind token and errors apply. The group's other connections get
   * `{"event":"gateway:member_added","channel":group,"data":{"id","info"}}` when this is the uid's
   * first connection in the group; `{"event":"gateway:member_removed",...,"data":{"id"}}` follows
   * when its last one leaves or disconnects. Returns the members after the join (the joiner
   * included) and whether member_added was sent.
   */
  async joinPresence(clientId: string, group: string, member: PresenceMember, options?: BindOptions): Promise<PresenceJoin> {
    return presence.joinPresence(this.#ctx, clientId, group, member, options);
  }

  /** The members of a presence group, one per uid (strongly consistent); [] for a group without presence members. */
  async getPresenceMembers(group: string): Promise<PresenceMember[]> {
    return presence.getPresenceMembers(this.#ctx, group);
  }

  /** Removes every member from the group; the connections stay open and their sessions are untouched. */
  async ungroup(group: string): Promise<void> {
    return groups.ungroup(this.#ctx, group);
  }

  // ---- queries (strongly consistent reads and Queries): sdk/gateway/queries.ts ----

  async getUidByClientId(clientId: string): Promise<string | undefined> {
    return queries.getUidByClientId(this.#ctx, clientId);
  }

  /** The groups the client is in, sorted; [] when it is in none or not connected. */
  async getGroupsByClientId(clientId: string): Promise<string[]> {
    return queries.getGroupsByClientId(this.#ctx, clientId);
  }

  /** Whether the uid has at least one connection in the index (strongly consistent). */
  async isUidOnline(uid: string): Promise<boolean> {
    return queries.isUidOnline(this.#ctx, uid);
  }

  async getClientIdByUid(uid: string): Promise<string[]> {
    return queries.getClientIdByUid(this.#ctx, uid);
  }

  /** Every requested uid is a key ([] accepted, giving {}). */
  async isUidsOnline(uids: string[]): Promise<Record<string, boolean>> {
    return queries.isUidsOnline(this.#ctx, uids);
  }

  async batchGetClientIdByUid(uids: string[]): Promise<Record<string, string[]>> {
    return queries.batchGetClientIdByUid(this.#ctx, uids);
  }

  /** The members of one group, or the union of several (each id once). */
  async getClientIdListByGroup(group: string | string[]): Promise<string[]> {
    return queries.getClientIdListByGroup(this.#ctx, group);
  }

  async getClientCountByGroup(group: string): Promise<number> {
    return queries.getClientCountByGroup(this.#ctx, group);
  }

  /** Alias of getClientCountByGroup. */
  async getClientIdCountByGroup(group: string): Promise<number> {
    return queries.getClientIdCountByGroup(this.#ctx, group);
  }

  /** clientId -> session for the group's members whose connection item exists. */
  async getClientSessionsByGroup(group: string): Promise<Record<string, Session>> {
    return queries.getClientSessionsByGroup(this.#ctx, group);
  }

  /** The distinct uids among the members of one group or several. */
  async getUidListByGroup(group: string | string[]): Promise<string[]> {
    return queries.getUidListByGroup(this.#ctx, group);
  }

  async getUidCountByGroup(group: string | string[]): Promise<number> {
    return queries.getUidCountByGroup(this.#ctx, group);
  }

  /** Every requested group is a key ([] accepted, giving {}). */
  async batchGetClientIdCountByGroup(groups: string[]): Promise<Record<string, number>> {
    return queries.batchGetClientIdCountByGroup(this.#ctx, groups);
  }

  // ---- everything (parallel scans, eventually consistent): sdk/gateway/scans.ts ----

  async getAllClientCount(): Promise<number> {
    return scans.getAllClientCount(this.#ctx);
  }

  async getAllClientIdCount(): Promise<number> {
    return scans.getAllClientIdCount(this.#ctx);
  }

  async getAllClientIdList(): Promise<string[]> {
    return scans.getAllClientIdList(this.#ctx);
  }

  async getAllClientSessions(): Promise<Record<string, Session>> {
    return scans.getAllClientSessions(this.#ctx);
  }

  async getAllUidList(): Promise<string[]> {
    return scans.getAllUidList(this.#ctx);
  }

  async getAllUidCount(): Promise<number> {
    return scans.getAllUidCount(this.#ctx);
  }

  async getAllGroupIdList(): Promise<string[]> {
    return scans.getAllGroupIdList(this.#ctx);
  }

  /**
   * group -> the connection ids of its members, for every group with at least one member (GatewayWorker's
   * getAllGroupClientIdList, as lists, without its early stop: nothing is skipped, and a failed page
   * fails the call rather than giving part of the answer).
   */
  async getAllGroupClientIdList(): Promise<Record<string, string[]>> {
    return scans.getAllGroupClientIdList(this.#ctx);
  }

  /** group -> how many members it has: getAllGroupClientIdList's counts, from the same one Scan. */
  async getAllGroupClientIdCount(): Promise<Record<string, number>> {
    return scans.getAllGroupClientIdCount(this.#ctx);
  }

  /**
   * group -> the distinct uids of its members, for every group with at least one member; members
   * without a uid are skipped (a group none of whose members has one maps to []), never a reason to
   * stop. Unlike GatewayWorker, whose map leaves such groups out and whose loop stops at the first
   * connection without a uid, silently dropping the rest.
   */
  async getAllGroupUidList(): Promise<Record<string, string[]>> {
    return scans.getAllGroupUidList(this.#ctx);
  }

  /** group -> how many distinct uids its members have (getAllGroupUidList's counts; 0 when none has one). */
  async getAllGroupUidCount(): Promise<Record<string, number>> {
    return scans.getAllGroupUidCount(this.#ctx);
  }
}

/** An environment flag: `true` / `false` (any case), or unset / empty for the default. */
function parseFlag(name: string, value: string | undefined): boolean | undefined {
  const v = value?.trim().toLowerCase();
  if (v === undefined || v === '') return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new ConfigurationError(`environment variable ${name} must be true or false, got ${JSON.stringify(value)}`);
}
