import { afterEach, describe, expect, it } from 'vitest';
import { createCampaignStore } from '../../src/queue/campaign-store.js';
import { createKeys } from '../../src/queue/keys.js';
import { deactivateUnit } from '../../src/queue/units.js';
import { enqueueNumbers, makeCampaign, startWorker, testEnv, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { connect, deletePrefix, uniquePrefix } from '../helpers/redis.js';
import { startSimulator } from '../helpers/simulator.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('a sending unit deactivated mid-campaign', () => {
  it('is refused at send: the campaign is paused by the service and no more calls go out', async () => {
    const prefix = uniquePrefix('unit-off');
    const keys = createKeys(prefix);
    const redis = connect();
    cleanups.push(async () => {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    });
    const sim = await startSimulator();
    cleanups.push(() => sim.stop());
    const campaign = makeCampaign();
    await enqueueNumbers(prefix, campaign, [syntheticList(200, 90_000)]);
    const worker = await startWorker(testEnv(prefix, sim.url, { RATE_PER_SECOND: '40' }));
    cleanups.push(() => worker.stop(2000));
    await waitFor(
      async () => sim.stats().accepted,
      (n) => n >= 10,
      { what: 'sending to start' },
    );

    await deactivateUnit(redis, keys, campaign.unit.hsaId);
    const store = createCampaignStore(redis, keys);
    const state = await waitFor(
      () => store.state(campaign.id),
      (s) => s?.state === 'paused',
      { what: 'the pause' },
    );
    expect(state?.by).toBe('system');
    expect(state?.reason).toContain(`${campaign.unit.hsaId} is not active`);
    await new Promise((r) => setTimeout(r, 1000));
    const after = sim.stats().requests;
    await new Promise((r) => setTimeout(r, 1000));
    expect(sim.stats().requests).toBe(after);
    expect(after).toBeLessThan(200);
  });
});
