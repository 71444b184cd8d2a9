import { afterAll, describe, expect, it } from 'vitest';
import { createCampaignCache } from '../../src/dispatch/campaign-cache.js';
import { type CampaignStore, createCampaignStore } from '../../src/queue/campaign-store.js';
import { createKeys } from '../../src/queue/keys.js';
import { enqueueNumbers, makeCampaign } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { connect, deletePrefix, uniquePrefix } from '../helpers/redis.js';

const redis = connect();
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(redis, p);
  redis.disconnect();
});

/** The real store on Redis, counting the state reads that reach it. */
function countingStore(store: CampaignStore) {
  const counted = { reads: 0 };
  const wrapped: CampaignStore = {
    ...store,
    state: (id) => {
      counted.reads++;
      return store.state(id);
    },
  };
  return { store: wrapped, counted };
}

describe('campaign cache', () => {
  it('serves a fresh view from memory, a stale one while it refreshes, and waits only when it has none', async () => {
    const prefix = uniquePrefix('campaign-cache');
    prefixes.push(prefix);
    const campaign = makeCampaign();
    await enqueueNumbers(prefix, campaign, [syntheticList(3, 84_000)]);
    const real = createCampaignStore(redis, createKeys(prefix));
    const { store, counted } = countingStore(real);
    let t = 1_000_000;
    const cache = createCampaignCache(store, async () => true, { maxAgeMs: 250, now: () => t });

    expect((await cache.get(campaign.id))?.state).toBe('active');
    expect(counted.reads).toBe(1);
    t += 100;
    await cache.get(campaign.id);
    expect(counted.reads).toBe(1);

    // Paused in Redis; the cached view is 300 ms old: the old view comes back at once, one refresh runs.
    await real.pauseIfActive(campaign.id, 'test', 'operator');
    t += 200;
    const [first, second] = await Promise.all([cache.get(campaign.id), cache.get(campaign.id)]);
    expect(first?.state).toBe('active');
    expect(second?.state).toBe('active');
    await new Promise((r) => setTimeout(r, 50));
    expect(counted.reads).toBe(2);
    expect((await cache.get(campaign.id))?.state).toBe('paused');

    // Older than staleMs (4 x maxAge): callers wait for Redis.
    await real.setState(campaign.id, 'active', 'test', 'operator');
    t += 1500;
    expect((await cache.get(campaign.id))?.state).toBe('active');
    expect(counted.reads).toBe(3);

    // After invalidate, the next caller waits for Redis too.
    await real.pauseIfActive(campaign.id, 'test', 'system');
    cache.invalidate(campaign.id);
    expect((await cache.get(campaign.id))?.state).toBe('paused');
    expect(counted.reads).toBe(4);
  });
});
