/**
 * Fault injection for tests: what AWS may do and a healthy local run never would. `$disconnect` is
 * best effort on AWS ("API Gateway will try its best to deliver the $disconnect event ... but it
 * cannot guarantee delivery"), and `@connections` answers 429 under throttling or a full client buffer.
 */
export interface FaultSettings {
  /** Share (0..1) of `$disconnect` events that are never delivered. */
  readonly dropDisconnectRate?: number;
  /** Share (0..1) of `@connections` requests answered 429 LimitExceededException. */
  readonly throttleRate?: number;
  /** Share (0..1) of `@connections` requests answered 500. */
  readonly serverErrorRate?: number;
  /** Random source in [0, 1), for reproducible runs. @default Math.random */
  readonly random?: () => number;
}

export type ManagementFault = 'throttle' | 'server-error' | undefined;

export class FaultInjector {
  private settings: FaultSettings = {};

  constructor(initial?: FaultSettings) {
    if (initial) this.set(initial);
  }

  set(settings: FaultSettings): void {
    for (const key of ['dropDisconnectRate', 'throttleRate', 'serverErrorRate'] as const) {
      const rate = settings[key];
      if (rate !== undefined && !(rate >= 0 && rate <= 1)) throw new RangeError(`${key} must be between 0 and 1, got ${rate}`);
    }
    this.settings = { ...settings };
  }

  clear(): void {
    this.settings = {};
  }

  private roll(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && (this.settings.random ?? Math.random)() < rate;
  }

  shouldDropDisconnect(): boolean {
    return this.roll(this.settings.dropDisconnectRate);
  }

  managementFault(): ManagementFault {
    if (this.roll(this.settings.throttleRate)) return 'throttle';
    if (this.roll(this.settings.serverErrorRate)) return 'server-error';
    return undefined;
  }
}
