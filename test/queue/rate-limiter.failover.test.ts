/**
 * The rate limiter through a Sentinel failover, against a real primary,
 * replica and three Sentinels (private redis-servers), as the restart test
 * does it through a Redis restart: two limiters, each on its own Sentinel
 * connection as two workers would have, take slots at a global rate while the
 * primary goes; they follow the Sentinels to the promoted replica and go on,
 * and no one-second window ever holds more starts than the rate allows.
 * Besides a plain SIGKILL: one behind a lagging replica, and a SENTINEL
 * FAILOVER (the old primary takes writes until it is demoted). Both lose the
 * latest writes, and with them slots still pending in the workers.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { expect, it, onTestFinished } from 'vitest';
import { type PrivateSentinels, startPrivateSentinels } from '../../scripts/lib/private-sentinel.js';
import { createKeys, rateScopes } from '../../src/queue/keys.js';
import { createRateLimiter, type RateLimiter, type RateRequest } from '../../src/queue/rate-limiter.js';
import { MARKER_TTL_MS } from '../../src/queue/rate-slots.js';
import { createRedis, sentinelTarget } from '../../src/queue/redis.js';
import { uniquePrefix } from '../helpers/redis.js';
import { describeWithTools, tools } from '../helpers/tools.js';

const RATE = 50;
const WINDOW_MS = 1000;
const DOWN_AFTER_MS = 1000;
/** Callers per limiter: together enough to keep slots taken maxAheadMs ahead at the rate. */
const CALLERS = 110;

/**
 * The most starts one second may hold: the restart test's rule,
 * floor(rate x 1.05 + 1) = 53 at 50/s. Slots are at least 1/rate apart, so a
 * window of their times holds at most rate + 1 (both ends); a start is
 * recorded up to the late tolerance after its slot (one interval at 50/s, see
 * lateToleranceMs), and each process maps Redis time to its own clock within a
 * round trip. The 5% covers those and no more: a few extra starts break it
 * (see the checker's own test).
 */
const windowLimit = (rate: number) => Math.floor(rate * 1.05 + 1);

/** The busiest window of `windowMs`: how many times it holds and where it starts. */
function busiestWindow(times: number[], windowMs: number): { count: number; at: number } {
  const t = [...times].sort((a, b) => a - b);
  let best = { count: 0, at: Number.NaN };
  let j = 0;
  for (let i = 0; i < t.length; i++) {
    while (j < t.length && t[j]! < t[i]! + windowMs) j++;
    if (j - i > best.count) best = { count: j - i, at: t[i]! };
  }
  return best;
}

async function useTopology(...args: Parameters<typeof startPrivateSentinels>): Promise<PrivateSentinels> {
  const topology = await startPrivateSentinels(...args);
  onTestFinished(() => topology.close());
  return topology;
}

interface Starts {
  /** Local times of the grants that were on time when acquire resolved: the starts a worker makes. */
  times: number[];
  /** Grants already late when acquire resolved (a worker would ask again): not starts. */
  late: number;
  errors: unknown[];
}

/** `loops` callers acquiring until `signal` aborts, as the restart test's callers do. */
function run(limiter: RateLimiter, request: RateRequest, loops: number, signal: AbortSignal, out: Starts) {
  return Promise.all(
    Array.from({ length: loops }, async () => {
      while (!signal.aborted) {
        try {
          const grant = await limiter.acquire(request, signal);
          if (grant.onTime()) out.times.push(performance.now());
          else out.late++;
        } catch (error) {
          if (!signal.aborted) out.errors.push(error);
        }
      }
    }),
  );
}

interface Scenario {
  name: string;
  /** Longer than the failover, so the old primary's slots still start after the promoted replica takes over. */
  maxAheadMs: number;
  /**
   * Makes the Sentinels fail over; resolves with the old primary's port and,
   * when it was killed, the local time it died (it handed out no slot after that).
   */
  failOver(ha: PrivateSentinels): Promise<{ old: number; killedAt?: number }>;
}

async function kill(ha: PrivateSentinels): Promise<{ old: number; killedAt: number }> {
  const killedAt = performance.now();
  return { old: await ha.killPrimary(), killedAt };
}

const scenarios: Scenario[] = [
  { name: 'the primary is SIGKILLed', maxAheadMs: 3500, failOver: kill },
  {
    name: 'the primary is SIGKILLed while the replica lags 400 ms behind',
    maxAheadMs: 3500,
    async failOver(ha) {
      // As in dispatch.failover.test.ts: paused, its link cut, the replica misses the last 400 ms of writes.
      await ha.pauseReplica(0);
      const primary = new Redis(ha.primary.url);
      await primary.client('KILL', 'TYPE', 'replica');
      primary.disconnect();
      await delay(400);
      const killed = await kill(ha);
      await ha.resumeReplica(0);
      return killed;
    },
  },
  {
    name: 'an operator runs SENTINEL FAILOVER (maxAheadMs at its default)',
    maxAheadMs: 1000,
    async failOver(ha) {
      const old = await ha.currentPrimaryPort();
      const sentinel = new Redis({ ...ha.sentinels[0]!, lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await sentinel.call('SENTINEL', 'FAILOVER', ha.masterName);
      } finally {
        sentinel.disconnect();
      }
      return { old };
    },
  },
];

describeWithTools('rate limiter: Sentinel failover', [tools.redisServer], () => {
  it('the window checker sees a burst: a second schedule for 200 ms, or 5 extra starts at once', () => {
    const even = Array.from({ length: 5 * RATE }, (_, i) => (i * 1000) / RATE);
    expect(busiestWindow(even, WINDOW_MS).count).toBe(RATE);
    expect(busiestWindow([], WINDOW_MS).count).toBe(0);
    // A schedule the failover rolled back: the slots of 200 ms handed out again.
    const twice = [...even, ...even.filter((t) => t >= 2000 && t < 2200).map((t) => t + 1)];
    expect(busiestWindow(twice, WINDOW_MS).count).toBe(RATE + 10);
    expect(busiestWindow(twice, WINDOW_MS).count).toBeGreaterThan(windowLimit(RATE));
    const bunched = [...even, 2500.5, 2500.6, 2500.7, 2500.8, 2500.9];
    expect(busiestWindow(bunched, WINDOW_MS).count).toBeGreaterThan(windowLimit(RATE));
  });

  for (const scenario of scenarios) {
    it(`goes on when ${scenario.name}, with no one-second window above the rate`, async () => {
      const { maxAheadMs } = scenario;
      const ha = await useTopology({ replicas: 1, downAfterMs: DOWN_AFTER_MS });
      const target = sentinelTarget({ sentinels: ha.sentinelsEnv, master: ha.masterName });
      const keys = createKeys(uniquePrefix('rate-failover'));
      const admin = createRedis(target, 'worker');
      // A keyspace in use, not a fresh one (whose first slot is maxAheadMs out): the marker is there.
      await admin.set(keys.rate(rateScopes.marker), '1', 'PX', MARKER_TTL_MS);
      admin.disconnect();
      const redisErrors = [0, 0];
      const connections = redisErrors.map(() => {
        const redis = createRedis(target, 'worker');
        onTestFinished(() => redis.disconnect());
        return redis;
      });
      const limiters = connections.map((redis, i) =>
        createRateLimiter(redis, {
          key: keys.rate,
          maxAheadMs,
          onRedisError: () => {
            redisErrors[i]!++;
          },
        }),
      );
      const controller = new AbortController();
      const out: Starts = { times: [], late: 0, errors: [] };
      const startedAt = performance.now();
      const running = Promise.all(
        limiters.map((l) => run(l, { globalPerSecond: RATE }, CALLERS, controller.signal, out)),
      );

      await delay(1000);
      const failingAt = performance.now();
      const { old, killedAt } = await scenario.failOver(ha);
      const promoted = await ha.waitForFailover(old);
      const failedOverAt = performance.now();
      // A dead primary handed out no slot more than maxAheadMs after it died; a live one, after the
      // clients left it for the promoted replica (+switch-master). Later starts are the promoted replica's.
      const fromPromotedAt = (killedAt ?? failedOverAt) + maxAheadMs + 100;
      const deadline = failedOverAt + maxAheadMs + 4000;
      while (performance.now() < deadline && !out.times.some((t) => t >= fromPromotedAt)) await delay(50);
      await delay(1500);
      const statuses = connections.map((r) => r.status);
      controller.abort(new Error('test over'));
      await running;

      const times = [...out.times].sort((a, b) => a - b);
      const first = times[0] ?? Number.NaN;
      const last = times.at(-1) ?? Number.NaN;
      const busiest = busiestWindow(times, WINDOW_MS);
      const within = (from: number) => times.filter((t) => t >= from && t < from + WINDOW_MS).length;
      const stillOld = times.filter((t) => t >= failedOverAt && t < fromPromotedAt).length;
      const resumedAt = times.find((t) => t >= fromPromotedAt) ?? Number.NaN;
      const fromPromoted = times.filter((t) => t >= fromPromotedAt).length;
      const longestGap = Math.max(0, ...times.slice(1).map((t, i) => t - times[i]!));
      const rel = (t: number) => Math.round(t - startedAt);
      const seen = [
        `failover ${old} -> ${promoted} from ${rel(failingAt)} to ${rel(failedOverAt)} (${Math.round(failedOverAt - failingAt)} ms)`,
        `starts ${times.length} from ${rel(first)} to ${rel(last)}, longest gap ${Math.round(longestGap)} ms, late ${out.late}, redis errors ${redisErrors}, connections ${statuses}`,
        `busiest second ${busiest.count} at ${rel(busiest.at)}; first second after the failover ${within(failedOverAt)} (${stillOld} of the old primary's slots)`,
        `promoted replica's starts from ${rel(resumedAt)}: ${within(resumedAt)} in the first second, ${fromPromoted} in all`,
      ].join('\n');
      expect(out.errors, seen).toEqual([]);
      // The premise: the old primary's slots still start after the failover, so the promoted
      // replica's slots meet them, and a schedule the failover rolled back would show as a burst.
      expect(stillOld, seen).toBeGreaterThan(0);

      // (1) The limiters follow the Sentinels and go on at the rate on the promoted replica.
      expect(statuses, seen).toEqual(['ready', 'ready']);
      expect(fromPromoted, seen).toBeGreaterThan(0);
      expect(fromPromoted, seen).toBeGreaterThanOrEqual(0.8 * RATE * ((last - resumedAt) / 1000));
      expect(within(resumedAt), seen).toBeGreaterThanOrEqual(0.8 * RATE);
      // (2) No second anywhere in the run, the failover included, above the rate.
      expect(busiest.count, seen).toBeLessThanOrEqual(windowLimit(RATE));
      // (3) No burst where the two primaries' slots meet, nor when the promoted replica's begin.
      expect(within(failedOverAt), seen).toBeLessThanOrEqual(windowLimit(RATE));
      expect(within(resumedAt), seen).toBeLessThanOrEqual(windowLimit(RATE));
      if (killedAt !== undefined) {
        // As after a restart that lost data: the promoted replica, up only once the primary was
        // judged down, hands out its first slot maxAheadMs out, after all the old primary's.
        expect(resumedAt - killedAt, seen).toBeGreaterThanOrEqual(DOWN_AFTER_MS + maxAheadMs);
      }
      // The total: never above the rate over the run (slots are 1/rate apart), short of it only
      // by the one pause, which is no longer than the failover and a reconnect.
      const spanS = (last - first) / 1000;
      expect(longestGap, seen).toBeLessThanOrEqual(failedOverAt - failingAt + 1000);
      expect(times.length, seen).toBeLessThanOrEqual(RATE * spanS + 3);
      expect(times.length, seen).toBeGreaterThanOrEqual(0.9 * RATE * (spanS - longestGap / 1000));
    }, 60_000);
  }
});
