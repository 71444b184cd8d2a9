import { afterEach, describe, expect, it } from 'vitest';
import { enqueueNumbers, makeCampaign, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type Harness, metricValue, openHarness, tally } from '../helpers/workers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('calls that may have landed, with ON_UNCERTAIN=park', () => {
  it('after a SIGKILL, parks the recipients that were in flight instead of sending them again', async () => {
    const concurrency = 2;
    const callsPerJob = 8;
    // Without dedupe the platform would accept a resend as a second message.
    h = await openHarness(
      'uncertain-crash',
      { latencyMs: 200, jitterMs: 200, dedupe: false },
      {
        WORKER_CONCURRENCY: String(concurrency),
        CALLS_PER_JOB: String(callsPerJob),
        LOCK_DURATION_MS: '2000',
        STALLED_INTERVAL_MS: '500',
        ON_UNCERTAIN: 'park',
      },
    );
    const campaign = makeCampaign();
    const numbers = syntheticList(200, 160_000);
    // The worker is up before the jobs exist: the test watches the whole run.
    const [first] = await h.spawnWorkers(1);
    await enqueueNumbers(h.prefix, campaign, [numbers.slice(0, 100), numbers.slice(100)]);
    // Kill while calls are surely under way (jitter keeps them from moving in lockstep rounds).
    await waitFor(
      () => h!.slots(campaign.id).then(tally),
      (t) => (t.inflight ?? 0) >= 4 && (t.delivered ?? 0) >= 30,
      { what: 'calls under way', intervalMs: 20 },
    );
    await first!.stop('SIGKILL');
    const inflightAtKill = (await h.slots(campaign.id)).filter((s) => s.state === 'inflight');
    expect(inflightAtKill.length).toBeGreaterThan(0);

    await h.startWorker();
    const counts = await h.waitDone(campaign.id, 200);
    const stats = h.sim.stats();
    expect(stats.duplicates).toBe(0);
    expect(counts.uncertain).toBe(inflightAtKill.length);
    expect(counts.uncertain).toBeLessThanOrEqual(concurrency * callsPerJob);
    expect(counts.delivered + counts.uncertain).toBe(200);
    const join = await h.join(campaign.id);
    const parked = join.slots.filter((s) => s.state === 'uncertain');
    expect(parked.map((s) => s.messageId).sort()).toEqual(inflightAtKill.map((s) => s.messageId).sort());
    expect(parked.every((s) => s.calls === 1)).toBe(true);
    // Accepted = the delivered ones plus those parked calls that did land (the platform has them once).
    const landed = parked.filter((s) => s.received).length;
    expect(stats.accepted).toBe(counts.delivered + landed);
    expect(
      join.slots.filter((s) => s.state === 'delivered' && s.received?.outcome !== 'delivered').length,
    ).toBe(0);
    expect(join.orphans.length + join.wrongPerson).toBe(0);
  }, 60_000);

  it('parks a call that timed out (no resend), and resends it under ON_UNCERTAIN=resend', async () => {
    h = await openHarness(
      'uncertain-timeout',
      { timeoutRate: 0.1, timeoutMs: 3000, dedupe: false },
      { INBOX_TIMEOUT_MS: '300', ON_UNCERTAIN: 'park' },
    );
    const parkCampaign = makeCampaign();
    await enqueueNumbers(h.prefix, parkCampaign, [syntheticList(150, 170_000)]);
    const parkWorker = await h.startWorker();
    const parkedCounts = await h.waitDone(parkCampaign.id, 150);
    const parkStats = h.sim.stats();
    expect(parkStats.timeouts).toBeGreaterThan(3);
    expect(parkedCounts.uncertain).toBe(parkStats.timeouts);
    expect(parkedCounts.delivered).toBe(150 - parkStats.timeouts);
    expect(parkStats.accepted).toBe(parkedCounts.delivered);
    expect(parkStats.duplicates).toBe(0);
    const parkText = await parkWorker.metrics.registry.metrics();
    expect(metricValue(parkText, 'utskick_messages_total', { outcome: 'uncertain' })).toBe(
      parkStats.timeouts,
    );
    await parkWorker.stop(2000);

    h.sim.reset();
    const resendCampaign = makeCampaign();
    await enqueueNumbers(h.prefix, resendCampaign, [syntheticList(150, 171_000)]);
    await h.startWorker({ ON_UNCERTAIN: 'resend' });
    const resent = await h.waitDone(resendCampaign.id, 150);
    const stats = h.sim.stats();
    expect(stats.timeouts).toBeGreaterThan(3);
    expect(resent.delivered).toBe(150);
    expect(stats.accepted).toBe(150);
    expect(stats.duplicates).toBe(0);
    const slots = await h.slots(resendCampaign.id);
    expect(tally(slots)).toEqual({ delivered: 150 });
    expect(slots.reduce((n, s) => n + s.calls, 0)).toBe(stats.requests);
  }, 60_000);
});
