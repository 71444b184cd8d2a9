import { afterEach, describe, expect, it } from 'vitest';
import { createSendTimeCheck, nextSendTime } from '../../src/dispatch/window.js';
import { createKeys } from '../../src/queue/keys.js';
import { createLedger, finalOutcomes } from '../../src/queue/ledger.js';
import { enqueueNumbers, makeCampaign, startWorker, testEnv, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { connect, deletePrefix, uniquePrefix } from '../helpers/redis.js';
import { startSimulator } from '../helpers/simulator.js';

const weekdays = {
  days: ['mon', 'tue', 'wed', 'thu', 'fri'] as ('mon' | 'tue' | 'wed' | 'thu' | 'fri')[],
  from: '08:00',
  to: '20:00',
  timeZone: 'Europe/Stockholm',
};
const at = (iso: string) => Date.parse(iso);

describe('sending window (pure, Europe/Stockholm)', () => {
  it('lets a campaign send inside its window', () => {
    expect(nextSendTime({ sendingWindow: weekdays }, at('2026-11-30T10:00:00+01:00'))).toBeUndefined();
  });
  it('holds it until the window opens the same morning', () => {
    expect(nextSendTime({ sendingWindow: weekdays }, at('2026-11-30T03:00:00+01:00'))).toBe(
      at('2026-11-30T08:00:00+01:00'),
    );
  });
  it('holds a Friday evening until Monday morning', () => {
    expect(nextSendTime({ sendingWindow: weekdays }, at('2026-11-27T20:00:00+01:00'))).toBe(
      at('2026-11-30T08:00:00+01:00'),
    );
    expect(nextSendTime({ sendingWindow: weekdays }, at('2026-11-28T12:00:00+01:00'))).toBe(
      at('2026-11-30T08:00:00+01:00'),
    );
  });
  it('follows daylight saving time: 08:00 is 06:00 UTC in summer and 07:00 UTC in winter', () => {
    // Clocks go forward on Sunday 2026-03-29; Monday 30 March opens at 08:00 CEST.
    expect(nextSendTime({ sendingWindow: weekdays }, at('2026-03-28T12:00:00Z'))).toBe(
      at('2026-03-30T06:00:00Z'),
    );
    // Clocks go back on Sunday 2026-10-25; Monday 26 October opens at 08:00 CET.
    expect(nextSendTime({ sendingWindow: weekdays }, at('2026-10-24T12:00:00Z'))).toBe(
      at('2026-10-26T07:00:00Z'),
    );
  });
  it('combines notBefore with the window', () => {
    const rules = { notBefore: '2026-12-01T19:59:00+01:00', sendingWindow: weekdays };
    expect(nextSendTime(rules, at('2026-11-30T10:00:00+01:00'))).toBe(at('2026-12-01T19:59:00+01:00'));
    expect(
      nextSendTime(
        { notBefore: '2026-12-01T21:00:00+01:00', sendingWindow: weekdays },
        at('2026-11-30T10:00:00+01:00'),
      ),
    ).toBe(at('2026-12-02T08:00:00+01:00'));
  });
});

describe('sending window: the memoised per-call check', () => {
  it('answers as nextSendTime every 7 s across openings, closings and both DST changes', () => {
    const check = createSendTimeCheck();
    const rules = { notBefore: '2026-03-27T09:30:30+01:00', sendingWindow: weekdays };
    const spans = [
      ['2026-03-27T07:00:00+01:00', '2026-03-27T21:00:00+01:00'],
      ['2026-03-29T00:00:00+01:00', '2026-03-30T09:00:00+02:00'],
      ['2026-10-23T19:00:00+02:00', '2026-10-26T09:00:00+01:00'],
    ];
    let compared = 0;
    for (const [from, to] of spans) {
      for (let t = at(from!); t <= at(to!); t += 7_000) {
        expect(check(rules, t), new Date(t).toISOString()).toBe(nextSendTime(rules, t));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(40_000);
  });
  it('does not trust its memo for a clock that went back', () => {
    const check = createSendTimeCheck();
    const rules = { notBefore: '2026-11-30T10:00:30+01:00', sendingWindow: weekdays };
    expect(check(rules, at('2026-11-30T10:00:40+01:00'))).toBeUndefined();
    expect(check(rules, at('2026-11-30T10:00:20+01:00'))).toBe(at('2026-11-30T10:00:30+01:00'));
  });
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('sending window (worker with an injected clock)', () => {
  it('holds jobs until the window opens, without busy-waiting, then sends them', async () => {
    const prefix = uniquePrefix('window');
    const sim = await startSimulator();
    cleanups.push(() => sim.stop());
    const redis = connect();
    cleanups.push(async () => {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    });
    // The injected clock says Monday 07:59:57.5 in Stockholm: the window opens 2.5 s from now.
    const offset = at('2026-11-30T07:59:57.500+01:00') - Date.now();
    const campaign = makeCampaign({ sendingWindow: { ...weekdays, days: [...weekdays.days] } });
    await enqueueNumbers(prefix, campaign, [syntheticList(40, 5000)]);
    const started = Date.now();
    const worker = await startWorker(testEnv(prefix, sim.url), { now: () => Date.now() + offset });
    cleanups.push(() => worker.stop(2000));

    await new Promise((r) => setTimeout(r, 1500));
    expect(sim.stats().requests).toBe(0);

    const ledger = createLedger(redis, createKeys(prefix));
    await waitFor(
      () => ledger.counts(campaign.id),
      (c) => finalOutcomes.reduce((n, o) => n + c[o], 0) === 40,
      { what: 'all 40 sent after the window opened', timeoutMs: 15_000 },
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(sim.stats().accepted).toBe(40);
    const held = (
      await worker.metrics.registry.getSingleMetric('utskick_jobs_processed_total')?.get()
    )?.values.find((v) => v.labels.result === 'delayed');
    // Held once and woken at the opening: no polling loop.
    expect(held?.value).toBe(1);
  });
});
