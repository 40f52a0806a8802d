/**
 * A request-rate budget for `@connections` calls: a token bucket like API Gateway's own (it holds
 * `burst` tokens and refills at `rate` per second, by the clock), with the callers that find it
 * empty waiting in arrival order for one timer to hand tokens out. Every attempt, first tries and
 * retries alike, takes one token. Over any window of W seconds it lets at most `rate * W + burst`
 * requests start, also after the process stalled: tokens handed out late are not made up for, so
 * a stall never turns into a burst (a bucket that reserved future slots in advance would release
 * every overdue slot at once).
 *
 * Why here and not only in API Gateway: the account's 10,000 requests/s (per region) are shared by
 * every API and every `@connections` call of the account. A broadcast that relies on 429s to find the
 * limit throttles everything else in the account while it runs; a sender that paces itself does not.
 */
import { ConfigurationError } from './errors.ts';
import { describe } from './validation.ts';

export interface RateLimit {
  /** Requests per second, steady state. */
  readonly rate: number;
  /** Requests that may start at once from a rested bucket. @default ceil(rate / 20), at least 1 */
  readonly burst?: number;
}

/** Time and timers, replaceable in tests. */
export interface LimiterClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
}

const SYSTEM_CLOCK: LimiterClock = { now: Date.now, setTimeout: (callback, ms) => setTimeout(callback, ms) };

interface Waiter {
  readonly resolve: (granted: boolean) => void;
  readonly deadlineMs: number | undefined;
}

export class RateLimiter {
  readonly rate: number;
  readonly burst: number;
  private readonly interval: number;
  private tokens: number;
  private updatedAt: number;
  private readonly waiting: Waiter[] = [];
  private timerSet = false;

  constructor(
    limit: RateLimit,
    private readonly clock: LimiterClock = SYSTEM_CLOCK,
  ) {
    checkRateLimit(limit, 'rate limit');
    this.rate = limit.rate;
    this.burst = limit.burst ?? defaultBurst(limit.rate);
    this.interval = 1000 / this.rate;
    this.tokens = this.burst;
    this.updatedAt = clock.now();
  }

  /** Callers waiting for a token. */
  get queued(): number {
    return this.waiting.length;
  }

  /**
   * Resolves true once a token is taken, at once when there is one and nobody waits. Resolves false,
   * taking nothing, when the token would come after `deadlineMs` (epoch ms): as estimated on arrival,
   * or because the process fell behind while the caller waited.
   */
  take(deadlineMs?: number): Promise<boolean> {
    const now = this.refill();
    if (this.waiting.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve(true);
    }
    // The token this caller would get: after everyone ahead, at the bucket's rate.
    const eta = now + (this.waiting.length + 1 - this.tokens) * this.interval;
    if (deadlineMs !== undefined && eta > deadlineMs) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.waiting.push({ resolve, deadlineMs });
      this.schedule();
    });
  }

  private refill(): number {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) / 1000) * this.rate);
    this.updatedAt = now;
    return now;
  }

  private schedule(): void {
    if (this.timerSet || this.waiting.length === 0) return;
    this.timerSet = true;
    this.clock.setTimeout(() => this.pump(), Math.max(1, Math.ceil((1 - this.tokens) * this.interval)));
  }

  /** Hands out the tokens that have come in, first come first served. */
  private pump(): void {
    this.timerSet = false;
    const now = this.refill();
    while (this.waiting.length > 0 && this.tokens >= 1) {
      const waiter = this.waiting.shift()!;
      if (waiter.deadlineMs !== undefined && now > waiter.deadlineMs) {
        waiter.resolve(false);
        continue;
      }
      this.tokens -= 1;
      waiter.resolve(true);
    }
    this.schedule();
  }
}

/** 50 ms worth of requests: small enough that one second never sees much more than `rate`. */
export function defaultBurst(rate: number): number {
  return Math.max(1, Math.ceil(rate / 20));
}

/** A rate limit option: `rate` a positive finite number, `burst` a whole number >= 1. */
export function checkRateLimit(limit: unknown, name: string): RateLimit {
  const l = limit as Partial<RateLimit> | null;
  if (typeof l !== 'object' || l === null) throw new ConfigurationError(`${name} must be { rate, burst? }, got ${describe(limit)}`);
  if (typeof l.rate !== 'number' || !Number.isFinite(l.rate) || !(l.rate > 0)) {
    throw new ConfigurationError(`${name}.rate must be a positive number of requests per second, got ${describe(l.rate)}`);
  }
  if (l.burst !== undefined && (typeof l.burst !== 'number' || !Number.isInteger(l.burst) || l.burst < 1)) {
    throw new ConfigurationError(`${name}.burst must be a whole number >= 1, got ${describe(l.burst)}`);
  }
  return { rate: l.rate, ...(l.burst !== undefined ? { burst: l.burst } : {}) };
}
