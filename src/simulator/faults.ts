import type { LiveOptions } from './options.js';

/** Fault injection: which calls fail how, and how long an answer waits. */

export type InjectedFault =
  | { kind: 'unauthorized' }
  | { kind: 'outage' }
  | { kind: 'over-rate' }
  | { kind: 'timeout' }
  | { kind: 'unavailable' }
  | { kind: 'retry-after' };

/** Fixed one-second windows on the given clock: at most `maxRate` calls pass per window. */
export interface RateWindow {
  tryPass(nowMs: number, maxRate: number | undefined): boolean;
  reset(): void;
}

export function createRateWindow(): RateWindow {
  let second = -1;
  let passed = 0;
  return {
    tryPass(nowMs, maxRate) {
      if (maxRate === undefined) return true;
      const s = Math.floor(nowMs / 1000);
      if (s !== second) {
        second = s;
        passed = 0;
      }
      if (passed >= maxRate) return false;
      passed++;
      return true;
    },
    reset() {
      second = -1;
      passed = 0;
    },
  };
}

export function inOutage(live: LiveOptions, sinceStartMs: number): boolean {
  if (live.down) return true;
  const o = live.outage;
  return o !== undefined && sinceStartMs >= o.startMs && sinceStartMs < o.startMs + o.durationMs;
}

/**
 * The fault for one call, in the platform's order: authentication, outage,
 * rate limit, then the random faults (one die: timeout, 503, 429).
 */
export function pickFault(
  live: LiveOptions,
  sinceStartMs: number,
  nowMs: number,
  window: RateWindow,
  random: () => number,
): InjectedFault | undefined {
  if (live.unauthorized) return { kind: 'unauthorized' };
  if (inOutage(live, sinceStartMs)) return { kind: 'outage' };
  if (!window.tryPass(nowMs, live.maxRate)) return { kind: 'over-rate' };
  if (live.timeoutRate + live.errorRate + live.retryAfterRate === 0) return undefined;
  const r = random();
  if (r < live.timeoutRate) return { kind: 'timeout' };
  if (r < live.timeoutRate + live.errorRate) return { kind: 'unavailable' };
  if (r < live.timeoutRate + live.errorRate + live.retryAfterRate) return { kind: 'retry-after' };
  return undefined;
}

/** Latency before an answer: fixed plus jitter (uniform in [0, jitterMs) or exponential with mean jitterMs). */
export function delayMs(live: LiveOptions, random: () => number): number {
  if (live.jitterMs <= 0) return live.latencyMs;
  const u = random();
  const jitter = live.jitter === 'exponential' ? -Math.log(1 - u) * live.jitterMs : u * live.jitterMs;
  return Math.round(live.latencyMs + Math.min(jitter, live.jitterMs * 20));
}
