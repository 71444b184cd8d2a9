import { afterEach, describe, expect, it } from 'vitest';
import { enqueueNumbers, makeCampaign, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type Harness, openHarness, tally } from '../helpers/workers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('a worker process killed mid-job (SIGKILL)', () => {
  it('a second worker finishes; with resend, only calls in flight at the kill can be stored twice (the platform does not de-duplicate)', async () => {
    const concurrency = 2;
    const callsPerJob = 8;
    h = await openHarness(
      'crash',
      { latencyMs: 200, jitterMs: 200 },
      {
        WORKER_CONCURRENCY: String(concurrency),
        CALLS_PER_JOB: String(callsPerJob),
        LOCK_DURATION_MS: '2000',
        STALLED_INTERVAL_MS: '500',
        ON_UNCERTAIN: 'resend',
      },
    );
    const campaign = makeCampaign();
    const numbers = syntheticList(200, 140_000);
    // The worker is up before the jobs exist: the test watches the whole run.
    const [first] = await h.spawnWorkers(1);
    await enqueueNumbers(h.prefix, campaign, [numbers.slice(0, 100), numbers.slice(100)]);
    // Kill while calls are surely under way (jitter keeps them from moving in lockstep rounds).
    await waitFor(
      () => h!.slots(campaign.id).then(tally),
      (t) => (t.inflight ?? 0) >= 4 && (t.delivered ?? 0) >= 30,
      { what: 'calls under way', intervalMs: 20 },
    );
    const exit = await first!.stop('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');
    const atKill = await h.slots(campaign.id);
    const inflightAtKill = atKill.filter((s) => s.state === 'inflight').length;
    expect(inflightAtKill).toBeGreaterThan(0);
    expect(inflightAtKill).toBeLessThanOrEqual(concurrency * callsPerJob);

    // The second worker takes the jobs over once their locks expire.
    await h.startWorker();
    const counts = await h.waitDone(campaign.id, 200);
    expect(counts.delivered).toBe(200);
    expect(counts.uncertain + counts.failed).toBe(0);
    const stats = h.sim.stats();
    // The simulator, like the platform, stores a resend again: every duplicate is a second message.
    expect(stats.accepted).toBe(counts.delivered + stats.duplicates);
    const join = await h.join(campaign.id);
    expect(new Set(h.sim.simulator.received().map((r) => r.messageId)).size).toBe(200);
    expect(join.orphans.length + join.wrongPerson + join.mismatched.length).toBe(0);
    expect(tally(join.slots)).toEqual({ delivered: 200 });
    // Only recipients in flight at the kill were sent again, and only once.
    const resent = join.slots.filter((s) => s.calls > 1);
    expect(resent.length).toBeLessThanOrEqual(inflightAtKill);
    expect(resent.every((s) => s.calls === 2)).toBe(true);
    expect(stats.duplicates).toBeLessThanOrEqual(resent.length);
    expect(stats.duplicates).toBe(join.slots.filter((s) => (s.received?.count ?? 0) > 1).length);
    // A slot is marked in flight before its rate wait and request: the kill may fall in between.
    const marked = join.slots.reduce((n, s) => n + s.calls, 0);
    expect(stats.requests).toBeLessThanOrEqual(marked);
    expect(marked - stats.requests).toBeLessThanOrEqual(inflightAtKill);
  }, 60_000);

  it('with park (the default), nothing is stored twice: the calls in flight at the kill are parked uncertain', async () => {
    const concurrency = 2;
    const callsPerJob = 8;
    h = await openHarness(
      'crash-park',
      { latencyMs: 200, jitterMs: 200 },
      {
        WORKER_CONCURRENCY: String(concurrency),
        CALLS_PER_JOB: String(callsPerJob),
        LOCK_DURATION_MS: '2000',
        STALLED_INTERVAL_MS: '500',
      },
    );
    const campaign = makeCampaign();
    const numbers = syntheticList(200, 150_000);
    const [first] = await h.spawnWorkers(1);
    await enqueueNumbers(h.prefix, campaign, [numbers.slice(0, 100), numbers.slice(100)]);
    await waitFor(
      () => h!.slots(campaign.id).then(tally),
      (t) => (t.inflight ?? 0) >= 4 && (t.delivered ?? 0) >= 30,
      { what: 'calls under way', intervalMs: 20 },
    );
    await first!.stop('SIGKILL');
    const inflightAtKill = (await h.slots(campaign.id)).filter((s) => s.state === 'inflight').length;
    expect(inflightAtKill).toBeGreaterThan(0);

    await h.startWorker();
    const counts = await h.waitDone(campaign.id, 200);
    expect(counts.uncertain).toBe(inflightAtKill);
    expect(counts.delivered + counts.uncertain).toBe(200);
    const stats = h.sim.stats();
    expect(stats.duplicates).toBe(0);
    expect(h.sim.simulator.received().every((r) => r.count === 1)).toBe(true);
    // Of the uncertain, some reached the platform before the kill: stored once, never twice.
    expect(stats.accepted).toBeGreaterThanOrEqual(counts.delivered);
    expect(stats.accepted).toBeLessThanOrEqual(200);
  }, 60_000);
});
