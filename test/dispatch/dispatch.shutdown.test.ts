import { afterEach, describe, expect, it } from 'vitest';
import { enqueueNumbers, makeCampaign, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type Harness, openHarness, tally } from '../helpers/workers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('graceful shutdown (SIGTERM) of a worker process', () => {
  it('finishes the calls in flight, records them, exits 0 in the grace period; another worker completes', async () => {
    const graceMs = 5000;
    h = await openHarness(
      'shutdown',
      { latencyMs: 300 },
      { WORKER_CONCURRENCY: '2', CALLS_PER_JOB: '8', SHUTDOWN_GRACE_MS: String(graceMs) },
    );
    const campaign = makeCampaign();
    const numbers = syntheticList(240, 120_000);
    // The worker is up before the jobs exist: the test watches the whole run.
    const [worker] = await h.spawnWorkers(1);
    await enqueueNumbers(h.prefix, campaign, [numbers.slice(0, 120), numbers.slice(120)]);
    await waitFor(
      () => h!.done(campaign.id),
      (n) => n >= 40,
      { what: 'calls under way' },
    );
    const signalledAt = Date.now();
    const exit = await worker!.stop('SIGTERM', 15_000);
    expect(exit.code).toBe(0);
    expect(exit.signal).toBeNull();
    expect(exit.atMs - signalledAt).toBeLessThan(graceMs);
    expect(
      worker!.lines.some((l) => l.msg === 'grace period over; closing without waiting for active jobs'),
    ).toBe(false);
    expect(worker!.lines.filter((l) => l.msg === 'worker shutting down; job handed back').length).toBe(2);

    // Every call the platform took is recorded; nothing is left in flight.
    const stopped = await h.join(campaign.id);
    expect(stopped.slots.filter((s) => s.state === 'inflight').length).toBe(0);
    expect(stopped.slots.filter((s) => s.received && s.state !== 'delivered').length).toBe(0);
    expect(stopped.slots.filter((s) => s.state === 'delivered' && !s.received).length).toBe(0);
    const deliveredAtStop = tally(stopped.slots).delivered ?? 0;
    expect(deliveredAtStop).toBe(h.sim.stats().accepted);
    expect(deliveredAtStop).toBeLessThan(240);

    await h.startWorker();
    const counts = await h.waitDone(campaign.id, 240);
    expect(counts.delivered).toBe(240);
    const stats = h.sim.stats();
    expect(stats.accepted).toBe(240);
    expect(stats.duplicates).toBe(0);
    const join = await h.join(campaign.id);
    expect(join.slots.filter((s) => s.received?.count !== 1 || s.calls !== 1).length).toBe(0);
  }, 60_000);
});
