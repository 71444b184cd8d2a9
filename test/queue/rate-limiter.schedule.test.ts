import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { type SlotKeys, takeSlots } from '../../src/queue/rate-limiter.js';
import { connect, deletePrefix, uniquePrefix } from '../helpers/redis.js';

/**
 * The schedule itself, in Redis time (no local timers): every global slot,
 * frontier or island, is at least one global interval from every other, each
 * campaign's slots one campaign interval apart, and none beyond max-ahead.
 */
describe('rate limiter: the slot schedule in Redis time', () => {
  let redis: Redis;
  const prefixes: string[] = [];

  beforeAll(() => {
    redis = connect();
  });
  afterAll(async () => {
    for (const p of prefixes) await deletePrefix(redis, p);
    redis.disconnect();
  });

  function keysFor(name: string) {
    const prefix = uniquePrefix(name);
    prefixes.push(prefix);
    const k = createKeys(prefix);
    return {
      marker: k.rate('epoch'),
      global: { tat: k.rate('global'), islands: k.rate('global-islands') },
      campaign: (id: string) => k.rate(`campaign:${id}`),
    };
  }

  function minGap(slots: number[]): number {
    const s = [...slots].sort((a, b) => a - b);
    let gap = Number.POSITIVE_INFINITY;
    for (let i = 1; i < s.length; i++) gap = Math.min(gap, s[i]! - s[i - 1]!);
    return gap;
  }

  it('keeps global and campaign spacing for any mix of requests', async () => {
    const globalUs = 1000;
    const campaignUs = { a: 3000, b: 7000 } as const;
    const step = fc.record({
      campaign: fc.constantFrom('none', 'a', 'b'),
      global: fc.boolean(),
      want: fc.integer({ min: 1, max: 20 }),
      pauseMs: fc.constantFrom(0, 0, 0, 1, 3),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 20, maxLength: 80 }), async (steps) => {
        const keys = keysFor('rate-schedule');
        await redis.set(keys.marker, '1', 'PX', 60_000);
        const globalSlots: number[] = [];
        const campaignSlots: Record<string, number[]> = { a: [], b: [] };
        for (const s of steps) {
          const withGlobal = s.global || s.campaign === 'none';
          const slotKeys: SlotKeys = { marker: keys.marker };
          if (withGlobal) slotKeys.global = keys.global;
          if (s.campaign !== 'none') slotKeys.campaign = keys.campaign(s.campaign);
          const reply = await takeSlots(redis, {
            keys: slotKeys,
            want: s.want,
            maxAheadUs: 50_000,
            globalUs: withGlobal ? globalUs : 0,
            campaignUs: s.campaign === 'none' ? 0 : campaignUs[s.campaign],
          });
          expect(reply.lost).toBe(false);
          expect(reply.offsetsUs.length).toBeLessThanOrEqual(s.want);
          if (reply.offsetsUs.length === 0) expect(reply.retryUs).toBeGreaterThan(0);
          for (const off of reply.offsetsUs) {
            expect(off).toBeGreaterThanOrEqual(0);
            expect(off).toBeLessThanOrEqual(50_000);
            if (withGlobal) globalSlots.push(reply.nowUs + off);
            if (s.campaign !== 'none') campaignSlots[s.campaign]!.push(reply.nowUs + off);
          }
          if (s.pauseMs > 0) await delay(s.pauseMs);
        }
        expect(minGap(globalSlots)).toBeGreaterThanOrEqual(globalUs);
        expect(minGap(campaignSlots.a!)).toBeGreaterThanOrEqual(campaignUs.a);
        expect(minGap(campaignSlots.b!)).toBeGreaterThanOrEqual(campaignUs.b);
      }),
      { numRuns: 25 },
    );
  });

  it('lets global-only callers use the global time before a campaign-bound slot', async () => {
    const keys = keysFor('rate-islands');
    await redis.set(keys.marker, '1', 'PX', 60_000);
    // Campaign c at 1/s takes two slots: now and now + 1 s (the second an island). The gap is
    // wide so that a loaded machine between the two calls cannot close it.
    const c = await takeSlots(redis, {
      keys: { marker: keys.marker, global: keys.global, campaign: keys.campaign('c') },
      want: 2,
      maxAheadUs: 2_000_000,
      globalUs: 10_000,
      campaignUs: 1_000_000,
    });
    expect(c.offsetsUs).toHaveLength(2);
    expect(c.offsetsUs[1]! - c.offsetsUs[0]!).toBeGreaterThanOrEqual(1_000_000);
    // Global-only (100/s) then fills the gap instead of queueing after the island.
    const g = await takeSlots(redis, {
      keys: { marker: keys.marker, global: keys.global },
      want: 5,
      maxAheadUs: 2_000_000,
      globalUs: 10_000,
      campaignUs: 0,
    });
    expect(g.offsetsUs).toHaveLength(5);
    const island = c.nowUs + c.offsetsUs[1]!;
    const slots = g.offsetsUs.map((o) => g.nowUs + o);
    expect(Math.max(...slots)).toBeLessThan(island);
    expect(minGap([...slots, c.nowUs + c.offsetsUs[0]!, island])).toBeGreaterThanOrEqual(10_000);
  });

  it('refuses past max-ahead and says when to ask again', async () => {
    const keys = keysFor('rate-ahead');
    await redis.set(keys.marker, '1', 'PX', 60_000);
    const request = {
      keys: { marker: keys.marker, global: keys.global },
      want: 100,
      maxAheadUs: 100_000,
      globalUs: 20_000,
      campaignUs: 0,
    };
    const first = await takeSlots(redis, request);
    expect(first.offsetsUs).toHaveLength(6); // 0, 20, ..., 100 ms
    const second = await takeSlots(redis, request);
    expect(second.offsetsUs).toHaveLength(0);
    expect(second.retryUs).toBeGreaterThan(0);
    expect(second.retryUs).toBeLessThanOrEqual(20_000);
  });
});
