import { afterEach, describe, expect, it } from 'vitest';
import type { CampaignStatus } from '../../src/queue/status.js';
import { enqueueNumbers, makeCampaign, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type Harness, metricValue, openHarness, tally } from '../helpers/workers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const total = (o: CampaignStatus['outcomes']) =>
  o.delivered + o.unreachable + o.rejected + o.failed + o.uncertain + o.cancelled + o.pending;

describe('outcomes across two workers (one a child process) and the campaign status CLI', () => {
  it('gives each recipient the answer the platform gave; status adds up while running and at the end', async () => {
    // Slow answers at first, so the status taken mid-campaign surely sees work left;
    // few calls in flight (2 jobs x 4 calls per worker) keep that slow phase slow.
    h = await openHarness(
      'outcomes',
      { unreachableShare: 0.1, rejectedShare: 0.05, latencyMs: 1000 },
      { WORKER_CONCURRENCY: '2', CALLS_PER_JOB: '4' },
    );
    const campaign = makeCampaign();
    const numbers = syntheticList(600, 20_000);
    const files = [0, 150, 300, 450].map((i) => numbers.slice(i, i + 150));
    const [enqueued, [child], inProcess] = await Promise.all([
      enqueueNumbers(h.prefix, campaign, files),
      h.spawnWorkers(1),
      h.startWorker(),
    ]);
    expect(enqueued.jobs).toBe(4);

    await waitFor(
      () => h!.done(campaign.id),
      (n) => n >= 8,
      { what: 'the first outcomes' },
    );
    const running = await h.cliJson<CampaignStatus>('campaign', ['status', campaign.id]);
    h.sim.setOptions({ latencyMs: 0 });
    expect(running.campaignId).toBe(campaign.id);
    expect(running.state).toBe('active');
    expect(running.recipients.valid).toBe(600);
    expect(running.outcomes.delivered).toBeGreaterThan(0);
    expect(running.outcomes.pending).toBeGreaterThan(0);
    expect(total(running.outcomes)).toBe(600);

    const counts = await h.waitDone(campaign.id, 600);
    const end = await h.cliJson<CampaignStatus>('campaign', ['status', campaign.id]);
    expect(end.state).toBe('done');
    expect(end.outcomes).toEqual({ ...counts, pending: 0 });
    expect(total(end.outcomes)).toBe(600);

    // The ledger against what the simulator received, recipient by recipient.
    const stats = h.sim.stats();
    expect(counts.delivered).toBe(stats.accepted);
    expect(counts.unreachable).toBe(stats.unreachable);
    expect(counts.rejected).toBe(stats.rejected);
    expect(counts.unreachable).toBeGreaterThan(30);
    expect(counts.rejected).toBeGreaterThan(10);
    expect(counts.failed + counts.uncertain + counts.cancelled).toBe(0);
    expect(stats.duplicates).toBe(0);
    expect(stats.requests).toBe(600);
    const join = await h.join(campaign.id);
    expect(join.orphans.length).toBe(0);
    expect(join.wrongPerson).toBe(0);
    expect(join.mismatched).toEqual([]);
    expect(join.slots.filter((s) => !s.received || s.calls !== 1).length).toBe(0);
    expect(tally(join.slots)).toEqual(Object.fromEntries(Object.entries(counts).filter(([, n]) => n > 0)));

    // Both workers took part, and each outcome is counted once across their metrics.
    const texts = [await child!.scrape(), await inProcess.metrics.registry.metrics()];
    const byWorker = texts.map((t) => metricValue(t, 'utskick_messages_total', { campaign: campaign.id }));
    expect(byWorker.every((n) => n > 0)).toBe(true);
    expect(byWorker[0]! + byWorker[1]!).toBe(600);
    for (const outcome of ['delivered', 'unreachable', 'rejected'] as const) {
      const sum = texts.reduce(
        (n, t) => n + metricValue(t, 'utskick_messages_total', { campaign: campaign.id, outcome }),
        0,
      );
      expect(sum).toBe(counts[outcome]);
    }
  }, 60_000);
});
