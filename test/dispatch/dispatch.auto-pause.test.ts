import { afterEach, describe, expect, it } from 'vitest';
import { createCampaignStore } from '../../src/queue/campaign-store.js';
import { createKeys } from '../../src/queue/keys.js';
import { enqueueNumbers, makeCampaign, startWorker, testEnv, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { connect, deletePrefix, uniquePrefix } from '../helpers/redis.js';
import { startSimulator } from '../helpers/simulator.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('automatic pause on permanent failures', () => {
  it('pauses the campaign when the rejected share of the last calls passes the threshold', async () => {
    const prefix = uniquePrefix('autopause');
    const redis = connect();
    cleanups.push(async () => {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    });
    const sim = await startSimulator({ rejectedShare: 0.9 });
    cleanups.push(() => sim.stop());
    const campaign = makeCampaign();
    await enqueueNumbers(prefix, campaign, [syntheticList(250, 70_000), syntheticList(250, 70_250)]);
    const worker = await startWorker(
      testEnv(prefix, sim.url, {
        AUTO_PAUSE_WINDOW: '20',
        AUTO_PAUSE_THRESHOLD: '0.5',
        CALLS_PER_JOB: '2',
        WORKER_CONCURRENCY: '1',
      }),
    );
    cleanups.push(() => worker.stop(2000));
    const store = createCampaignStore(redis, createKeys(prefix));
    const state = await waitFor(
      () => store.state(campaign.id),
      (s) => s?.state === 'paused',
      { what: 'the automatic pause' },
    );
    expect(state?.by).toBe('system');
    expect(state?.reason).toMatch(/rejected/);
    // It stopped long before the end: a person looks before more go out.
    await new Promise((r) => setTimeout(r, 800));
    const requests = sim.stats().requests;
    expect(requests).toBeLessThan(100);
    await new Promise((r) => setTimeout(r, 800));
    expect(sim.stats().requests).toBe(requests);
    const pauses = (
      await worker.metrics.registry.getSingleMetric('utskick_campaign_auto_pauses_total')?.get()
    )?.values;
    expect(pauses?.find((v) => v.labels.reason === 'rejected_share')?.value).toBe(1);
  });
});
