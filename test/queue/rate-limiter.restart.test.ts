import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { createRateLimiter, type RateLimiter, type RateRequest } from '../../src/queue/rate-limiter.js';
import { type PrivateRedis, usePrivateRedis } from '../helpers/private-redis.js';
import { uniquePrefix } from '../helpers/redis.js';

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

function open(server: PrivateRedis, extra: RedisOptions = {}): Redis {
  const r = new Redis(server.url, { maxRetriesPerRequest: null, ...extra });
  r.on('error', () => {});
  onTestFinished(() => r.disconnect());
  return r;
}

/** `loops` callers acquiring until `signal` aborts; grant times and unexpected errors land in the arrays. */
function run(
  limiter: RateLimiter,
  request: RateRequest,
  loops: number,
  signal: AbortSignal,
  times: number[],
  errors: unknown[],
) {
  return Promise.all(
    Array.from({ length: loops }, async () => {
      while (!signal.aborted) {
        try {
          await limiter.acquire(request, signal);
          times.push(performance.now());
        } catch (error) {
          if (!signal.aborted) errors.push(error);
        }
      }
    }),
  );
}

describe('rate limiter: Redis restarts', () => {
  it('keeps going through a Redis restart without a burst after it', async () => {
    const server = await usePrivateRedis();
    const keys = createKeys(uniquePrefix('rate-restart'));
    const redisErrors = [0, 0, 0];
    // Two connections queue commands while Redis is away; the third fails them at once (backoff path).
    const conns = [open(server), open(server), open(server, { enableOfflineQueue: false })];
    const limiters = conns.map((c, i) =>
      createRateLimiter(c, {
        key: keys.rate,
        maxAheadMs: 2000,
        onRedisError: () => {
          redisErrors[i]!++;
        },
      }),
    );
    const controller = new AbortController();
    const times: number[] = [];
    const errors: unknown[] = [];
    const t0 = performance.now();
    const running = Promise.all(
      limiters.map((l) => run(l, { globalPerSecond: 50 }, 30, controller.signal, times, errors)),
    );

    // A fresh keyspace starts maxAheadMs out: grants from t0 + 2 s, slots taken 2 s ahead.
    await delay(3000);
    const stoppedAt = performance.now();
    await server.stop('SIGKILL');
    await delay(1000);
    await server.start();
    const upAt = performance.now();
    await delay(4000);
    controller.abort(new Error('test over'));
    await running;

    const before = times.filter((t) => t < stoppedAt).length;
    const afterHold = times.filter((t) => t > upAt + 2000);
    const seen = `before ${before}, after ${afterHold.length}, window max ${maxInWindow(times, 1000)}, redis errors ${redisErrors}`;
    expect(errors, seen).toEqual([]);
    expect(before, seen).toBeGreaterThanOrEqual(35);
    // Slots granted before the crash still start; new ones only after them.
    expect(maxInWindow(times, 1000), seen).toBeLessThanOrEqual(Math.floor(50 * 1.05 + 1));
    // Resumed at the rate: about 2 s x 50/s after the hold.
    expect(afterHold.length, seen).toBeGreaterThanOrEqual(70);
    expect(afterHold.length, seen).toBeLessThanOrEqual(2 * 50 + 3);
    expect(redisErrors[2], seen).toBeGreaterThan(0);
    expect(performance.now() - t0).toBeLessThan(12_000);
  });

  it('abort works while Redis is down, and a waiting caller resumes when it is back', async () => {
    const server = await usePrivateRedis();
    const keys = createKeys(uniquePrefix('rate-down'));
    const limiter = createRateLimiter(open(server), { key: keys.rate, maxAheadMs: 300 });
    await limiter.acquire({ globalPerSecond: 20 });
    await server.stop();

    const controller = new AbortController();
    const reason = new Error('stopping');
    const aborted = limiter.acquire({ globalPerSecond: 20 }, controller.signal).catch((e: unknown) => e);
    const patient = limiter.acquire({ globalPerSecond: 20 });
    await delay(200);
    const abortAt = performance.now();
    controller.abort(reason);
    expect(await aborted).toBe(reason);
    expect(performance.now() - abortAt).toBeLessThan(50);

    await delay(300);
    await server.start();
    const grant = await patient;
    // Waited through the outage and then the lost-data hold (maxAheadMs).
    expect(grant.waitedMs).toBeGreaterThanOrEqual(500 + 300);
    expect(grant.waitedMs).toBeLessThan(5000);
  });

  it('with AOF the schedule survives a crash: no hold, TAT kept', async () => {
    const server = await usePrivateRedis({ aof: true, appendfsync: 'always' });
    const keys = createKeys(uniquePrefix('rate-aof'));
    const admin = open(server);
    await admin.set(keys.rate('epoch'), '1', 'PX', 60_000);
    const limiter = createRateLimiter(open(server), { key: keys.rate, maxAheadMs: 2000 });
    for (let i = 0; i < 5; i++) await limiter.acquire({ globalPerSecond: 50 });
    const tatBefore = Number(await admin.get(keys.rate('global')));
    expect(tatBefore).toBeGreaterThan(0);

    const port = server.port;
    await server.restart(0, 'SIGKILL');
    expect(server.port).toBe(port);
    expect(Number(await admin.get(keys.rate('global')))).toBe(tatBefore);
    const grant = await limiter.acquire({ globalPerSecond: 50 });
    // Without the marker it would wait maxAheadMs (2 s).
    expect(grant.waitedMs).toBeLessThan(1000);

    const pid = server.pid!;
    expect(existsSync(join(server.dir, 'appendonlydir'))).toBe(true);
    await server.close();
    expect(server.running).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    expect(existsSync(server.dir)).toBe(false);
  });
});
