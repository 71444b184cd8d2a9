import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createCampaignStore } from '../../src/queue/campaign-store.js';
import { resumeCampaign } from '../../src/queue/control.js';
import {
  createDeadLetterQueue,
  createDeliverQueue,
  defaultJobPolicy,
} from '../../src/queue/deliver-queue.js';
import { createKeys } from '../../src/queue/keys.js';
import { enqueueNumbers, makeCampaign, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type Harness, metricValue, openHarness } from '../helpers/workers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('the platform refuses the sender (Unauthorized)', () => {
  it('pauses the campaign after a handful of calls; after the fix and a resume it completes', async () => {
    const concurrency = 2;
    const callsPerJob = 4;
    const slots = concurrency * callsPerJob;
    h = await openHarness(
      'unauthorized',
      { unauthorized: true },
      { WORKER_CONCURRENCY: String(concurrency), CALLS_PER_JOB: String(callsPerJob) },
    );
    const campaign = makeCampaign();
    const numbers = syntheticList(300, 100_000);
    await enqueueNumbers(
      h.prefix,
      campaign,
      [0, 100, 200].map((i) => numbers.slice(i, i + 100)),
    );
    const store = createCampaignStore(h.redis, createKeys(h.prefix));
    const worker = await h.startWorker();

    const state = await waitFor(
      () => store.state(campaign.id),
      (s) => s?.state === 'paused',
      { what: 'the campaign paused by the service' },
    );
    expect(state?.by).toBe('system');
    expect(state?.reason).toMatch(/the platform refused this system \(HTTP 403, unauthorised\)/);

    // While paused nothing more is sent. Calls that passed their state check just before the
    // pause (the worker's view is at most 250 ms old) may still land: count from after that.
    await sleep(500);
    const requestsAtPause = h.sim.stats().requests;
    await sleep(1500);
    const stats = h.sim.stats();
    expect(stats.requests).toBe(requestsAtPause);
    // The calls already in flight, and at most one more round: not one failure per resident.
    expect(stats.requests).toBeGreaterThanOrEqual(1);
    expect(stats.requests).toBeLessThanOrEqual(2 * slots);
    expect(stats.unauthorized).toBe(stats.requests);
    // No recipient got an outcome from a refusal, and none is left in flight.
    const counts = await h.counts(campaign.id);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
    expect((await h.slots(campaign.id)).filter((s) => s.state !== 'pending').length).toBe(0);
    const text = await worker.metrics.registry.metrics();
    const pauses = metricValue(text, 'utskick_campaign_auto_pauses_total', {
      campaign: campaign.id,
      reason: 'unauthorized',
    });
    // One pause, counted once, however many calls in flight were refused.
    expect(pauses).toBe(1);
    expect(metricValue(text, 'utskick_inbox_calls_total', { result: 'stop_campaign' })).toBe(stats.requests);

    h.sim.setOptions({ unauthorized: false });
    const resumed = await h.cliJson<{ state: string }>('campaign', ['resume', campaign.id]);
    expect(resumed.state).toBe('active');
    const after = await h.waitDone(campaign.id, 300);
    expect(after.delivered).toBe(300);
    const end = h.sim.stats();
    expect(end.accepted).toBe(300);
    expect(end.duplicates).toBe(0);
    expect((await store.state(campaign.id))?.state).toBe('active');
  }, 60_000);
});

describe('a campaign the service paused for a high share of rejected recipients', () => {
  it('pauses once; after a resume it judges the calls made since, not the ones before the pause', async () => {
    h = await openHarness(
      'auto-pause-resume',
      { rejectedShare: 0.8 },
      {
        AUTO_PAUSE_WINDOW: '20',
        AUTO_PAUSE_THRESHOLD: '0.5',
        WORKER_CONCURRENCY: '1',
        CALLS_PER_JOB: '2',
      },
    );
    const campaign = makeCampaign();
    await enqueueNumbers(h.prefix, campaign, [syntheticList(200, 220_000)]);
    const store = createCampaignStore(h.redis, createKeys(h.prefix));
    const worker = await h.startWorker();
    const state = await waitFor(
      () => store.state(campaign.id),
      (s) => s?.state === 'paused',
      { what: 'the campaign paused by the service' },
    );
    expect(state?.by).toBe('system');
    expect(state?.reason).toMatch(/rejected/);
    expect((await h.counts(campaign.id)).rejected).toBeGreaterThan(10);

    // The list was fixed upstream: from now on nobody is rejected. An operator resumes.
    h.sim.setOptions({ rejectedShare: 0 });
    const keys = createKeys(h.prefix);
    const deliver = createDeliverQueue(h.redis, keys);
    const deadLetters = createDeadLetterQueue(h.redis, keys);
    try {
      const deps = { redis: h.redis, keys, deliver, deadLetters, jobPolicy: defaultJobPolicy };
      await resumeCampaign(deps, campaign.id, 'operator');
    } finally {
      await deliver.close();
      await deadLetters.close();
    }
    const counts = await h.waitDone(campaign.id, 200);
    const stats = h.sim.stats();
    expect(counts.rejected).toBe(stats.rejected);
    expect(counts.delivered).toBe(stats.accepted);
    // Only the calls before the pause (a window of 20, and the ones then in flight) were rejected.
    expect(counts.rejected).toBeLessThan(25);
    expect(counts.rejected + counts.delivered).toBe(200);
    expect((await store.state(campaign.id))?.state).toBe('active');
    const text = await worker.metrics.registry.metrics();
    expect(
      metricValue(text, 'utskick_campaign_auto_pauses_total', {
        campaign: campaign.id,
        reason: 'rejected_share',
      }),
    ).toBe(1);
  }, 60_000);
});
