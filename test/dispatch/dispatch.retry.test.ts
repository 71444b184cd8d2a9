import { afterEach, describe, expect, it } from 'vitest';
import { enqueueNumbers, makeCampaign } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type Harness, metricValue, openHarness } from '../helpers/workers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('transient failures that recover', () => {
  it('loses no recipient and sends none twice through call retries and job retries; retries are counted', async () => {
    // One call retry only: with 30% 503s about 9% of recipients run out of call
    // retries in an attempt, so the job itself is retried too.
    h = await openHarness('retry', { errorRate: 0.3 }, { CALL_RETRIES: '1' });
    const campaign = makeCampaign();
    const numbers = syntheticList(300, 40_000);
    await enqueueNumbers(h.prefix, campaign, [numbers.slice(0, 250), numbers.slice(250)], {
      jobAttempts: 10,
      jobBackoffMs: 50,
    });
    const worker = await h.startWorker();
    const counts = await h.waitDone(campaign.id, 300);

    expect(counts.delivered).toBe(300);
    expect(counts.failed + counts.uncertain).toBe(0);
    const stats = h.sim.stats();
    expect(stats.accepted).toBe(300);
    expect(stats.duplicates).toBe(0);
    expect(stats.unavailable).toBeGreaterThan(50);
    // Every request the simulator saw is one in-flight mark in the ledger.
    const join = await h.join(campaign.id);
    expect(join.slots.reduce((n, s) => n + s.calls, 0)).toBe(stats.requests);
    expect(join.slots.filter((s) => s.state !== 'delivered' || s.received?.count !== 1).length).toBe(0);
    expect(join.orphans.length + join.wrongPerson + join.mismatched.length).toBe(0);

    const text = await worker.metrics.registry.metrics();
    const transient = metricValue(text, 'utskick_inbox_calls_total', { result: 'transient_error' });
    const retries = metricValue(text, 'utskick_call_retries_total', { campaign: campaign.id });
    expect(transient).toBe(stats.unavailable);
    expect(retries).toBeGreaterThan(0);
    // A call that ran out of retries is not a retry; the job's next attempt calls it afresh.
    expect(retries).toBeLessThan(transient);
    expect(metricValue(text, 'utskick_jobs_processed_total', { result: 'retry' })).toBeGreaterThan(0);
    expect(metricValue(text, 'utskick_jobs_processed_total', { result: 'completed' })).toBe(2);
    expect(metricValue(text, 'utskick_messages_total', { campaign: campaign.id, outcome: 'delivered' })).toBe(
      300,
    );
    expect(metricValue(text, 'utskick_dead_lettered_recipients_total')).toBe(0);
  }, 60_000);
});
