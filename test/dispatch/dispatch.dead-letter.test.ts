import { afterEach, describe, expect, it } from 'vitest';
import type { DeadLetterView } from '../../src/queue/control.js';
import { createDeadLetterQueue } from '../../src/queue/deliver-queue.js';
import { createKeys } from '../../src/queue/keys.js';
import { enqueueNumbers, makeCampaign, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type Harness, metricValue, openHarness } from '../helpers/workers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('attempts exhausted: the dead-letter queue and its redrive', () => {
  it('dead-letters what could not be sent, and a redrive sends exactly those once', async () => {
    // No call retries and two job attempts: a recipient that cannot be sent costs two calls.
    h = await openHarness('dlq', {}, { RATE_PER_SECOND: '200', CALL_RETRIES: '0' });
    const campaign = makeCampaign();
    const numbers = syntheticList(250, 60_000);
    await enqueueNumbers(h.prefix, campaign, [numbers.slice(0, 150), numbers.slice(150)], {
      jobAttempts: 2,
      jobBackoffMs: 50,
    });
    const worker = await h.startWorker();
    // Part of each chunk goes through, then the platform goes down.
    await waitFor(
      () => h!.done(campaign.id),
      (n) => n >= 40,
      { what: 'the first deliveries' },
    );
    h.sim.setOptions({ down: true });
    const down = await h.waitDone(campaign.id, 250);
    const deliveredBefore = down.delivered;
    expect(deliveredBefore).toBeGreaterThanOrEqual(40);
    expect(down.failed).toBeGreaterThan(0);
    expect(down.delivered + down.failed).toBe(250);
    expect(h.sim.stats().accepted).toBe(deliveredBefore);

    const letters = await h.cliJson<DeadLetterView[]>('dlq', ['list', '--campaign', campaign.id]);
    expect(letters.length).toBe(2);
    expect(letters.reduce((n, l) => n + l.slots.length, 0)).toBe(down.failed);
    for (const l of letters) {
      expect(l.campaignId).toBe(campaign.id);
      expect(l.attempts).toBe(2);
      expect(l.lastError).toMatch(/503|Unavailable/);
      expect(l.sourceJobId).toBe(`${campaign.id}.${l.chunkId}`);
    }
    const failedSlots = (await h.slots(campaign.id)).filter((s) => s.state === 'failed');
    expect(failedSlots.map((s) => `${s.chunkId}.${s.slot}`).sort()).toEqual(
      letters.flatMap((l) => l.slots.map((slot) => `${l.chunkId}.${slot}`)).sort(),
    );
    const text = await worker.metrics.registry.metrics();
    expect(metricValue(text, 'utskick_dead_lettered_recipients_total', { campaign: campaign.id })).toBe(
      down.failed,
    );

    h.sim.setOptions({ down: false });
    const redriven = await h.cliJson<{ jobs: number; recipients: number }>('dlq', [
      'redrive',
      '--campaign',
      campaign.id,
    ]);
    expect(redriven).toEqual({ campaignId: campaign.id, jobs: 2, recipients: down.failed });
    const after = await waitFor(
      () => h!.counts(campaign.id),
      (c) => c.delivered === 250,
      { what: 'every recipient delivered after the redrive' },
    );
    expect(after.failed).toBe(0);
    const stats = h.sim.stats();
    expect(stats.accepted).toBe(250);
    expect(stats.duplicates).toBe(0);
    const join = await h.join(campaign.id);
    expect(join.slots.filter((s) => s.received?.count !== 1).length).toBe(0);
    const deadLetters = createDeadLetterQueue(h.redis, createKeys(h.prefix));
    try {
      expect((await deadLetters.getJobCounts('wait')).wait).toBe(0);
    } finally {
      await deadLetters.close();
    }
  }, 60_000);
});
