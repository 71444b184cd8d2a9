import { afterEach, describe, expect, it } from 'vitest';
import { enqueueNumbers, makeCampaign } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type Harness, metricValue, openHarness } from '../helpers/workers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('HTTP 429 with Retry-After', () => {
  it('waits as told and delivers everyone once', async () => {
    // No limit of our own: the platform's own cap (and random 429s) push back.
    h = await openHarness('rate-limited', { retryAfterRate: 0.15, retryAfterSeconds: 1, maxRate: 80 });
    const campaign = makeCampaign();
    const numbers = syntheticList(200, 80_000);
    await enqueueNumbers(h.prefix, campaign, [numbers.slice(0, 100), numbers.slice(100)]);
    const worker = await h.startWorker();
    const counts = await h.waitDone(campaign.id, 200);

    expect(counts.delivered).toBe(200);
    const stats = h.sim.stats();
    expect(stats.accepted).toBe(200);
    expect(stats.duplicates).toBe(0);
    expect(stats.rateLimited).toBeGreaterThan(10);
    const text = await worker.metrics.registry.metrics();
    // Each 429 (Retry-After: 1) is one call result, one wait of one second and one retry.
    expect(metricValue(text, 'utskick_inbox_calls_total', { result: 'rate_limited' })).toBe(
      stats.rateLimited,
    );
    expect(metricValue(text, 'utskick_retry_after_wait_seconds_total')).toBe(stats.rateLimited);
    expect(
      metricValue(text, 'utskick_call_retries_total', { campaign: campaign.id, reason: 'retry_after' }),
    ).toBe(stats.rateLimited);
    // A 429 does not use up the call's retries: nobody failed, nothing was dead-lettered.
    expect(counts.failed + counts.uncertain).toBe(0);
    expect(metricValue(text, 'utskick_dead_lettered_recipients_total')).toBe(0);
  }, 60_000);

  it('two workers under one global limit below the platform cap never see a 429', async () => {
    // One job at a time per worker, so both workers get one of the jobs.
    h = await openHarness('rate-global', { maxRate: 40 }, { RATE_PER_SECOND: '30', WORKER_CONCURRENCY: '1' });
    const campaign = makeCampaign();
    const numbers = syntheticList(90, 81_000);
    await enqueueNumbers(h.prefix, campaign, [numbers.slice(0, 45), numbers.slice(45)]);
    const [a, b] = await Promise.all([h.startWorker(), h.startWorker()]);
    const started = Date.now();
    const counts = await h.waitDone(campaign.id, 90);
    const elapsedMs = Date.now() - started;

    expect(counts.delivered).toBe(90);
    const stats = h.sim.stats();
    expect(stats.rateLimited).toBe(0);
    expect(stats.accepted).toBe(90);
    // 90 calls at 30/s: about three seconds, however many workers.
    expect(elapsedMs).toBeGreaterThan(2500);
    const delivered = await Promise.all(
      [a, b].map(async (w) =>
        metricValue(await w.metrics.registry.metrics(), 'utskick_messages_total', { outcome: 'delivered' }),
      ),
    );
    expect(delivered[0]! + delivered[1]!).toBe(90);
    expect(Math.min(...delivered)).toBeGreaterThan(0);
  }, 60_000);
});
