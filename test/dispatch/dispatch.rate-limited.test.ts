import { afterEach, describe, expect, it } from 'vitest';
import { defaultOutcomeTablePath } from '../../src/config/delivery.js';
import { loadOutcomeTable } from '../../src/delivery/outcome-table.js';
import { warmUpCallPath } from '../../src/dispatch/warm-up.js';
import { enqueueNumbers, makeCampaign, waitFor } from '../helpers/campaign.js';
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

describe('a slow spell at the platform', () => {
  it('is not followed by a burst: calls that found no free connection in time wait for a new slot', async () => {
    // 40 calls want to be in flight, over 2 connections; at 200 ms an answer the
    // worker can make 10 calls/s, far below its 100/s. Queued inside the HTTP
    // client, those calls would all go out at once when the platform speeds up.
    h = await openHarness(
      'slow-spell',
      { latencyMs: 200 },
      { RATE_PER_SECOND: '100', WORKER_CONCURRENCY: '1', CALLS_PER_JOB: '40', INBOX_CONNECTIONS: '2' },
    );
    const campaign = makeCampaign();
    const numbers = syntheticList(250, 83_000);
    await enqueueNumbers(h.prefix, campaign, [numbers]);
    const worker = await h.startWorker();
    await waitFor(
      async () => h!.sim.stats().accepted,
      (n) => n >= 10,
      { timeoutMs: 15_000, what: 'the first calls of the slow spell' },
    );
    await new Promise((r) => setTimeout(r, 1000));
    h.sim.setOptions({ latencyMs: 0 });
    const counts = await h.waitDone(campaign.id, 250);

    expect(counts.delivered).toBe(250);
    const stats = h.sim.stats();
    expect(stats.accepted).toBe(250);
    expect(stats.duplicates).toBe(0);
    // Any one-second window, sliding over the arrival times (a burst that
    // straddles two fixed seconds shows here too).
    const arrivals = h.sim.simulator
      .received()
      .map((m) => m.firstAtMs)
      .sort((a, b) => a - b);
    let worst = 0;
    for (let i = 0, j = 0; i < arrivals.length; i++) {
      while (arrivals[i]! - arrivals[j]! >= 1000) j++;
      worst = Math.max(worst, i - j + 1);
    }
    // At 100/s "too late" is 20 ms: at most two extra starts in a window; the
    // bar is +5 %. Calls queued in the client would add up to 38 at once.
    expect(worst, JSON.stringify(stats.histogram)).toBeLessThanOrEqual(105);
    const text = await worker.metrics.registry.metrics();
    // Slots that went stale waiting for a connection were given up, and counted.
    expect(metricValue(text, 'utskick_rate_limiter_slots_dropped_total')).toBeGreaterThan(0);
  }, 60_000);
});

describe('warm-up of a fresh worker', () => {
  it('runs the call path against its own loopback server: the inbox gets nothing until there is a job', async () => {
    h = await openHarness('warm-up', {}, { WARM_UP_CALLS: '200' });
    await h.startWorker();
    await new Promise((r) => setTimeout(r, 200));
    expect(h.sim.stats().requests).toBe(0);
  }, 30_000);

  it('drops the TLS settings and never contacts the configured inbox', async () => {
    const warm = await warmUpCallPath(
      {
        url: 'https://inbox.invalid/inbox',
        logicalAddress: 'SE2321000016-TEST',
        tls: { cert: 'not a certificate', key: 'not a key' },
        outcomeTable: loadOutcomeTable(defaultOutcomeTablePath()),
      },
      { calls: 50 },
    );
    expect(warm.calls).toBe(50);
  });
});
