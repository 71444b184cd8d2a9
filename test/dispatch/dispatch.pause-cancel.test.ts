import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeliverQueue } from '../../src/queue/deliver-queue.js';
import { createKeys } from '../../src/queue/keys.js';
import { enqueueNumbers, makeCampaign, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type Harness, openHarness, tally } from '../helpers/workers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** How long after a pause the calls already under way (and the 250 ms state cache) may still land. */
const graceMs = 1000;

describe('pause, resume and cancel through the campaign CLI, two worker processes', () => {
  it('a pause stops sending within a second on every worker and resume completes; cancel closes the rest', async () => {
    h = await openHarness('pause', { latencyMs: 20 }, { RATE_PER_SECOND: '20' });
    const resumed = makeCampaign();
    const cancelled = makeCampaign();
    const a = syntheticList(150, 200_000);
    const b = syntheticList(200, 201_000);
    await Promise.all([
      h.spawnWorkers(2),
      enqueueNumbers(h.prefix, resumed, [a.slice(0, 75), a.slice(75)]),
      enqueueNumbers(h.prefix, cancelled, [b.slice(0, 100), b.slice(100)]),
    ]);
    const ids = [resumed.id, cancelled.id];
    await waitFor(
      () => Promise.all(ids.map((id) => h!.done(id))),
      (done) => done.every((n) => n >= 10),
      { what: 'both campaigns sending' },
    );

    const [pause, cancel] = await Promise.all([
      h.cliJson<{ state: string }>('campaign', ['pause', resumed.id]),
      h.cliJson<{ state: string; cancelled: number }>('campaign', ['cancel', cancelled.id]),
    ]);
    expect(pause.state).toBe('paused');
    expect(cancel.state).toBe('cancelled');
    const stateAt = async (id: string) =>
      Date.parse((await h!.redis.hget(`${h!.prefix}:campaign:${id}`, 'stateAt')) ?? '');
    const pausedAt = await stateAt(resumed.id);
    // Both were still under way when the commands landed.
    expect(await h.done(resumed.id)).toBeLessThan(150);
    expect(cancel.cancelled).toBeGreaterThan(0);

    await sleep(Math.max(0, pausedAt + graceMs + 1000 - Date.now()));
    const resume = await h.cliJson<{ state: string }>('campaign', ['resume', resumed.id]);
    expect(resume.state).toBe('active');
    const resumedAt = await stateAt(resumed.id);
    expect(resumedAt - pausedAt).toBeGreaterThan(graceMs + 1000);

    // Nothing landed from a second after the pause until the resume: per message, and per second.
    const sentFor = (id: string) =>
      h!.sim.simulator.received().filter((r) => r.messageId.startsWith(`${id}.`));
    const late = sentFor(resumed.id).filter(
      (r) => r.firstAtMs > pausedAt + graceMs && r.firstAtMs < resumedAt,
    );
    expect(late.length).toBe(0);
    const cancelledAt = await stateAt(cancelled.id);
    expect(sentFor(cancelled.id).filter((r) => r.firstAtMs > cancelledAt + graceMs).length).toBe(0);
    const quietFrom = Math.max(pausedAt, cancelledAt) + graceMs;
    const quiet = Object.entries(h.sim.stats().histogram).filter(
      ([s]) => Number(s) * 1000 >= quietFrom && (Number(s) + 1) * 1000 <= resumedAt,
    );
    expect(quiet.reduce((n, [, v]) => n + v, 0)).toBe(0);

    // The resumed campaign completes, everyone once.
    const done = await h.waitDone(resumed.id, 150);
    expect(done.delivered).toBe(150);
    expect(sentFor(resumed.id).length).toBe(150);
    expect(h.sim.stats().duplicates).toBe(0);

    // The cancelled one: recipients not sent are cancelled, the sent ones keep their outcome.
    const queue = createDeliverQueue(h.redis, createKeys(h.prefix));
    try {
      await waitFor(
        () => queue.getRanges(['wait', 'delayed', 'active', 'prioritized'], 0, -1),
        (jobIds) => jobIds.length === 0,
        { what: 'no delivery job left' },
      );
    } finally {
      await queue.close();
    }
    const c = await h.counts(cancelled.id);
    expect(c.cancelled).toBeGreaterThanOrEqual(cancel.cancelled);
    expect(c.delivered + c.cancelled + c.uncertain).toBe(200);
    expect(c.uncertain).toBe(0);
    expect(c.delivered).toBe(sentFor(cancelled.id).length);
    expect(tally(await h.slots(cancelled.id))).toEqual(
      Object.fromEntries(Object.entries(c).filter(([, n]) => n > 0)),
    );
  }, 60_000);
});
