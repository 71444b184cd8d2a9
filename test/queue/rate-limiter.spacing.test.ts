import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import {
  createRateLimiter,
  lateToleranceMs,
  type RateLimiter,
  RateLimiterError,
  type RateRequest,
} from '../../src/queue/rate-limiter.js';
import { connect, deletePrefix, uniquePrefix } from '../helpers/redis.js';

/** The most grants any window of `windowMs` holds (each window starting at a grant). */
function maxInWindow(times: number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  let j = 0;
  for (let i = 0; i < t.length; i++) {
    if (j < i) j = i;
    while (j < t.length && t[j]! < t[i]! + windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

/** Runs `count` acquires through `loops` concurrent loops; returns the local grant times. */
async function take(limiter: RateLimiter, request: RateRequest, count: number, loops: number) {
  const times: number[] = [];
  let left = count;
  await Promise.all(
    Array.from({ length: loops }, async () => {
      while (left > 0) {
        left--;
        await limiter.acquire(request);
        times.push(performance.now());
      }
    }),
  );
  return times;
}

const span = (times: number[]) => Math.max(...times) - Math.min(...times);

describe('rate limiter: how late a start may be', () => {
  it('is maxLateMs, cut to whole intervals of every limit in force', () => {
    expect(lateToleranceMs(25, [1000])).toBe(25); // 1000/s: 25 intervals
    expect(lateToleranceMs(25, [20_000])).toBe(20); // 50/s: one interval, not 1.25
    expect(lateToleranceMs(25, [10_000])).toBe(20); // 100/s: two intervals
    expect(lateToleranceMs(25, [100_000])).toBe(25); // 10/s: never below maxLateMs... nor above it
    expect(lateToleranceMs(25, [1000, 20_000])).toBe(20); // the stricter limit wins
    expect(lateToleranceMs(25, [0, 0])).toBe(25);
  });
  it('lets at most max(1, floor(rate x maxLate)) extra starts into any window', () => {
    for (const rate of [1, 7, 40, 50, 51, 99, 100, 333, 1000, 5000]) {
      const us = Math.ceil(1e6 / rate);
      const tolerance = lateToleranceMs(25, [us]);
      const extra = Math.max(1, Math.floor((25 * 1000) / us));
      // Slots us apart whose starts may lag by `tolerance` fill a window of 1 s from [s - tolerance, s + 1000).
      expect(Math.floor(((1000 + tolerance) * 1000) / us), `rate ${rate}`).toBeLessThanOrEqual(
        Math.floor(1e9 / us / 1000) + extra,
      );
      expect(tolerance).toBeLessThanOrEqual(25);
    }
  });
});

describe('rate limiter: spacing across connections', () => {
  const conns: Redis[] = [];
  const prefixes: string[] = [];
  let admin: Redis;

  /** A prefix of its own whose marker is already set, so the first-use hold is out of the way. */
  async function warmKeys(name: string) {
    const prefix = uniquePrefix(name);
    prefixes.push(prefix);
    const keys = createKeys(prefix);
    await admin.set(keys.rate('epoch'), '1', 'PX', 60_000);
    return keys;
  }

  function limiters(n: number, keys: ReturnType<typeof createKeys>, maxAheadMs = 1000) {
    return Array.from({ length: n }, () => {
      const c = connect();
      conns.push(c);
      return createRateLimiter(c, { key: keys.rate, maxAheadMs });
    });
  }

  beforeAll(() => {
    admin = connect();
  });

  afterAll(async () => {
    for (const p of prefixes) await deletePrefix(admin, p);
    for (const c of conns) c.disconnect();
    admin.disconnect();
  });

  it('spaces 300 starts of 3 connections at 200/s: no one-second window above the rate', async () => {
    const keys = await warmKeys('rate-spacing');
    const ls = limiters(3, keys);
    const all = (await Promise.all(ls.map((l) => take(l, { globalPerSecond: 200 }, 100, 20)))).flat();

    expect(all).toHaveLength(300);
    const seen = `window max ${maxInWindow(all, 1000)}, span ${span(all).toFixed(1)} ms`;
    expect(maxInWindow(all, 1000), seen).toBeLessThanOrEqual(Math.floor(200 * 1.05 + 1));
    // 299 gaps of 5 ms. The first start may come up to maxLateMs (25) + a round trip after its slot,
    // the last never before its own; slack above for a loaded machine.
    expect(span(all), seen).toBeGreaterThanOrEqual(1495 - 40);
    expect(span(all), seen).toBeLessThan(1495 + 500);
  });

  it('a keyspace without its marker (first use, or Redis lost its data) starts maxAheadMs later', async () => {
    const prefix = uniquePrefix('rate-fresh');
    prefixes.push(prefix);
    const keys = createKeys(prefix);
    const [limiter] = limiters(1, keys, 400);
    const first = await limiter!.acquire({ globalPerSecond: 100 });
    expect(first.waitedMs).toBeGreaterThanOrEqual(390);
    expect(await admin.exists(keys.rate('epoch'), keys.rate('global'))).toBe(2);
    const second = await limiter!.acquire({ globalPerSecond: 100 });
    expect(second.waitedMs).toBeLessThan(200);
  });

  it('applies a campaign rate lower than the global rate, and a global rate lower than the campaign rate', async () => {
    for (const request of [
      { globalPerSecond: 200, campaign: { id: 'c1', perSecond: 25 } },
      { globalPerSecond: 25, campaign: { id: 'c1', perSecond: 200 } },
    ]) {
      const keys = await warmKeys('rate-campaign');
      const ls = limiters(2, keys);
      const all = (await Promise.all(ls.map((l) => take(l, request, 10, 5)))).flat();
      // 19 gaps of 40 ms; at the higher rate it would be 19 x 5 ms.
      expect(span(all)).toBeGreaterThanOrEqual(760 - 40);
      expect(span(all)).toBeLessThan(760 + 500);
      expect(maxInWindow(all, 400)).toBeLessThanOrEqual(25 * 0.4 + 1 + 2);
    }
  });

  it('keeps campaigns apart: two campaigns at 25/s under a global 200/s run side by side', async () => {
    const keys = await warmKeys('rate-two-campaigns');
    const [a, b] = limiters(2, keys);
    const started = performance.now();
    const [ta, tb] = await Promise.all([
      take(a!, { globalPerSecond: 200, campaign: { id: 'ca', perSecond: 25 } }, 20, 5),
      take(b!, { globalPerSecond: 200, campaign: { id: 'cb', perSecond: 25 } }, 20, 5),
    ]);
    // Each alone needs 19 x 40 ms; one after the other would need twice that.
    expect(performance.now() - started).toBeLessThan(760 + 500);
    // The spacing itself is asserted in Redis time (rate-limiter.schedule.test.ts); this only
    // shows the campaigns ran side by side at their pace, give or take the first start's
    // lateness (up to 25 ms plus a round trip on a machine the suite loads).
    expect(span(ta)).toBeGreaterThanOrEqual(760 - 60);
    expect(span(tb)).toBeGreaterThanOrEqual(760 - 60);
    expect(maxInWindow([...ta, ...tb], 1000)).toBeLessThanOrEqual(40);
    expect(await admin.exists(keys.rate('campaign:ca'), keys.rate('campaign:cb'))).toBe(2);
  });

  it('rate 0 means no limit: no waiting and no Redis key', async () => {
    const prefix = uniquePrefix('rate-zero');
    prefixes.push(prefix);
    const keys = createKeys(prefix);
    const [limiter] = limiters(1, keys);
    const started = performance.now();
    const grants = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        limiter!.acquire(
          i % 2 === 0 ? { globalPerSecond: 0 } : { globalPerSecond: 0, campaign: { id: 'c0', perSecond: 0 } },
        ),
      ),
    );
    expect(performance.now() - started).toBeLessThan(200);
    expect(grants.every((g) => g.waitedMs === 0)).toBe(true);
    expect(await admin.keys(`${prefix}:*`)).toEqual([]);
  });

  it('rejects a rate that is negative or not a number, as not retryable', async () => {
    const keys = await warmKeys('rate-invalid');
    const [limiter] = limiters(1, keys);
    for (const request of [
      { globalPerSecond: -1 },
      { globalPerSecond: Number.NaN },
      { globalPerSecond: 10, campaign: { id: 'c', perSecond: Number.POSITIVE_INFINITY } },
      { globalPerSecond: 10, campaign: { id: 'a:b', perSecond: 5 } },
    ]) {
      const error = await limiter!.acquire(request).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RateLimiterError);
      expect((error as RateLimiterError).code).toBe('INVALID_RATE');
      expect((error as RateLimiterError).retryable).toBe(false);
    }
  });

  it('gives up the slots that fell due while the event loop was blocked instead of bunching them', async () => {
    const keys = await warmKeys('rate-stall');
    const c = connect();
    conns.push(c);
    const dropped: number[] = [];
    const limiter = createRateLimiter(c, { key: keys.rate, onSlotDropped: (lateMs) => dropped.push(lateMs) });
    const controller = new AbortController();
    const times: number[] = [];
    const loops = Array.from({ length: 30 }, async () => {
      while (!controller.signal.aborted) {
        await limiter.acquire({ globalPerSecond: 100 }, controller.signal).then(
          () => times.push(performance.now()),
          () => {},
        );
      }
    });
    await delay(700);
    const blockedUntil = performance.now() + 300;
    while (performance.now() < blockedUntil) {
      // a stalled event loop: about 30 slots fall due meanwhile
    }
    await delay(700);
    controller.abort();
    await Promise.all(loops);

    const seen = `dropped ${dropped.length}, 100-ms max ${maxInWindow(times, 100)}, starts ${times.length}`;
    expect(dropped.length, seen).toBeGreaterThanOrEqual(10);
    // At 100/s "too late" is two intervals (20 ms), not the 25 ms default.
    expect(Math.min(...dropped), seen).toBeGreaterThan(20);
    // At 100/s a 100-ms window holds 10 (+1); bunched late starts would put ~30 in one.
    expect(maxInWindow(times, 100), seen).toBeLessThanOrEqual(10 + 1 + 3);
    expect(times.filter((t) => t > blockedUntil + 100).length, seen).toBeGreaterThanOrEqual(40);
  });

  it("says when a granted slot has gone stale in the caller's hands", async () => {
    const keys = await warmKeys('rate-ontime');
    const [limiter] = limiters(1, keys);
    const fresh = await limiter!.acquire({ globalPerSecond: 100 });
    expect(fresh.onTime()).toBe(true);
    const stale = await limiter!.acquire({ globalPerSecond: 100 });
    const until = performance.now() + 30; // two intervals at 100/s are 20 ms
    while (performance.now() < until) {
      // bookkeeping that took too long
    }
    expect(stale.onTime()).toBe(false);
    const unlimited = await limiter!.acquire({ globalPerSecond: 0 });
    expect(unlimited.onTime()).toBe(true);
  });

  it('abort rejects waiting callers with the signal reason, at once', async () => {
    const keys = await warmKeys('rate-abort');
    const [limiter] = limiters(1, keys);
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const settled: { ok: boolean; error?: unknown; at: number }[] = [];
    const all = Array.from({ length: 30 }, () =>
      limiter!.acquire({ globalPerSecond: 10 }, controller.signal).then(
        () => settled.push({ ok: true, at: performance.now() }),
        (error: unknown) => settled.push({ ok: false, error, at: performance.now() }),
      ),
    );
    await delay(300);
    const abortedAt = performance.now();
    controller.abort(reason);
    await Promise.all(all);

    const rejected = settled.filter((s) => !s.ok);
    const granted = settled.filter((s) => s.ok);
    expect(granted.length).toBeGreaterThanOrEqual(1);
    expect(granted.length).toBeLessThanOrEqual(5);
    expect(rejected.length).toBe(30 - granted.length);
    expect(rejected.every((s) => s.error === reason)).toBe(true);
    expect(Math.max(...rejected.map((s) => s.at)) - abortedAt).toBeLessThan(100);

    const pre = new AbortController();
    pre.abort(reason);
    await expect(limiter!.acquire({ globalPerSecond: 10 }, pre.signal)).rejects.toBe(reason);
  });
});
