/**
 * Request throttling as API Gateway applies it to a WebSocket API: token buckets (a bucket holds
 * `burstLimit` tokens and refills at `rateLimit` per second; a request takes one token or is refused
 * with 429), at two levels.
 * - Stage: the stage's default route throttling (`DefaultRouteSettings.ThrottlingRateLimit` /
 *   `ThrottlingBurstLimit`) applies to every route, each route with a bucket of its own ("default
 *   route throttling"); `RouteSettings` override it for single routes. It covers `$connect` and
 *   messages. `$disconnect` is never refused here (nothing can be refused at that point), and
 *   `@connections` calls are not routes: only the account bucket covers them.
 * - Account: one bucket for the account and region, shared by every API and by every `@connections`
 *   call ("HTTP APIs, REST APIs, WebSocket APIs, and WebSocket callback APIs": 10,000 requests/s,
 *   burst 5,000 by default; 2,500 / 1,250 in some newer regions). Off unless set, so that local load
 *   tests are not throttled by a quota they would share with nothing.
 * What a refusal looks like: an upgrade answered `429 Too Many Requests` with `{"message":"Too Many
 * Requests"}`; a message answered with the error frame `{"message": "Too Many Requests", ...}` (the
 * text of API Gateway's THROTTLED response, in the frame it uses for "Forbidden" and "Internal server
 * error"); `@connections` answered 429 `LimitExceededException` `{"message":"Too Many Requests"}`.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-protect.html
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
 *
 * Every decision is counted per second in a RequestMeter, so that tests assert on what the gateway
 * admitted in each second instead of timing their own calls.
 */
import type { Socket } from 'node:net';

export interface ThrottleSettings {
  /** Tokens added per second (steady-state requests per second). 0 refuses everything once the burst is spent. */
  readonly rateLimit: number;
  /** Bucket size: requests admitted at once from a full bucket. */
  readonly burstLimit: number;
}

/** Per-route settings may give either field; the other comes from the stage's default. */
export type RouteThrottleSettings = Partial<ThrottleSettings>;

export const THROTTLED_MESSAGE = 'Too Many Requests';

export class ThrottleSettingsError extends Error {
  override readonly name = 'ThrottleSettingsError';
}

/** A bucket that starts full, as a freshly deployed stage does. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly settings: ThrottleSettings,
    private readonly now: () => number,
  ) {
    this.tokens = settings.burstLimit;
    this.updatedAt = now();
  }

  tryTake(): boolean {
    const now = this.now();
    const { rateLimit, burstLimit } = this.settings;
    this.tokens = Math.min(burstLimit, this.tokens + ((now - this.updatedAt) / 1000) * rateLimit);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export type RequestKind = 'connect' | 'message' | 'management';

export interface SecondCounts {
  /** Epoch second. */
  readonly second: number;
  readonly admitted: number;
  readonly throttled: number;
}

export interface RequestKindReport {
  readonly admitted: number;
  readonly throttled: number;
  /** One entry per second in which anything happened, oldest first (the last 10 minutes). */
  readonly perSecond: readonly SecondCounts[];
}

export type ThrottleReport = Readonly<Record<RequestKind, RequestKindReport>>;

const KEPT_SECONDS = 600;

/** Admitted and throttled requests, in total and per epoch second. */
export class RequestMeter {
  private readonly totals = new Map<RequestKind, { admitted: number; throttled: number }>();
  private readonly seconds = new Map<RequestKind, Map<number, { admitted: number; throttled: number }>>();

  constructor(private readonly now: () => number) {}

  record(kind: RequestKind, admitted: boolean): void {
    const second = Math.floor(this.now() / 1000);
    const total = this.totals.get(kind) ?? { admitted: 0, throttled: 0 };
    this.totals.set(kind, total);
    let perSecond = this.seconds.get(kind);
    if (!perSecond) this.seconds.set(kind, (perSecond = new Map()));
    let slot = perSecond.get(second);
    if (!slot) {
      perSecond.set(second, (slot = { admitted: 0, throttled: 0 }));
      for (const old of perSecond.keys()) {
        if (old > second - KEPT_SECONDS) break;
        perSecond.delete(old);
      }
    }
    if (admitted) {
      total.admitted++;
      slot.admitted++;
    } else {
      total.throttled++;
      slot.throttled++;
    }
  }

  report(): ThrottleReport {
    const of = (kind: RequestKind): RequestKindReport => ({
      ...(this.totals.get(kind) ?? { admitted: 0, throttled: 0 }),
      perSecond: [...(this.seconds.get(kind) ?? new Map()).entries()].map(([second, c]) => ({ second, ...c })),
    });
    return { connect: of('connect'), message: of('message'), management: of('management') };
  }

  reset(): void {
    this.totals.clear();
    this.seconds.clear();
  }
}

export interface GatewayThrottleOptions {
  /** The stage's default route throttling. @default none */
  readonly stage?: ThrottleSettings;
  /** Per route key. @default none */
  readonly routes?: Readonly<Record<string, RouteThrottleSettings>>;
  /** The account-level bucket. @default none */
  readonly account?: ThrottleSettings;
}

/** The stage's and the account's buckets of one local gateway, and its meter. */
export class GatewayThrottles {
  readonly meter: RequestMeter;
  private options: GatewayThrottleOptions = {};
  private account?: TokenBucket;
  private readonly routeBuckets = new Map<string, TokenBucket | null>();

  constructor(
    options: GatewayThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.meter = new RequestMeter(now);
    this.configure(options);
  }

  /** Replaces the settings; every bucket starts full again, the meter keeps counting. */
  configure(options: GatewayThrottleOptions): void {
    if (options.stage) checkSettings(options.stage, 'throttle');
    if (options.account) checkSettings(options.account, 'accountThrottle');
    for (const [routeKey, settings] of Object.entries(options.routes ?? {})) {
      for (const field of ['rateLimit', 'burstLimit'] as const) {
        const value = settings[field];
        if (value !== undefined) checkNumber(value, `routeThrottles[${JSON.stringify(routeKey)}].${field}`, field === 'burstLimit');
      }
    }
    this.options = options;
    this.account = options.account ? new TokenBucket(options.account, this.now) : undefined;
    this.routeBuckets.clear();
  }

  /**
   * Admits or refuses one request, counting it: `routeKey` for `$connect` and messages, none for
   * `@connections`. A request refused by its route's bucket does not spend an account token.
   */
  admit(kind: RequestKind, routeKey?: string): boolean {
    const route = routeKey === undefined ? undefined : this.bucketFor(routeKey);
    const admitted = (route ? route.tryTake() : true) && (this.account ? this.account.tryTake() : true);
    this.meter.record(kind, admitted);
    return admitted;
  }

  private bucketFor(routeKey: string): TokenBucket | undefined {
    let bucket = this.routeBuckets.get(routeKey);
    if (bucket === undefined) {
      const own = this.options.routes?.[routeKey];
      const stage = this.options.stage;
      const rateLimit = own?.rateLimit ?? stage?.rateLimit;
      const burstLimit = own?.burstLimit ?? stage?.burstLimit;
      bucket = rateLimit !== undefined && burstLimit !== undefined ? new TokenBucket({ rateLimit, burstLimit }, this.now) : null;
      this.routeBuckets.set(routeKey, bucket);
    }
    return bucket ?? undefined;
  }
}

/** The answer to a throttled upgrade. */
export function rejectThrottledUpgrade(socket: Socket): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ message: THROTTLED_MESSAGE });
  socket.end(
    `HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function checkSettings(settings: ThrottleSettings, name: string): void {
  if (typeof settings !== 'object' || settings === null) throw new ThrottleSettingsError(`${name} must be { rateLimit, burstLimit }`);
  checkNumber(settings.rateLimit, `${name}.rateLimit`, false);
  checkNumber(settings.burstLimit, `${name}.burstLimit`, true);
}

function checkNumber(value: unknown, name: string, whole: boolean): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (whole && !Number.isInteger(value))) {
    throw new ThrottleSettingsError(`${name} must be a ${whole ? 'whole ' : ''}number >= 0, got ${String(value)}`);
  }
}
