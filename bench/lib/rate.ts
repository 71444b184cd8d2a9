/**
 * Case 3 of `npm run bench`: how closely two and three real worker processes
 * sharing the global limit keep a configured rate, read from the simulator's
 * per-second histogram of accepted calls.
 */
import { type BenchContext, type CaseOutput, freshRedis } from './context.js';
import { benchCampaign, enqueueSynthetic } from './fixtures.js';
import { secondsOf, startSimulator, startWorkers } from './fleet.js';
import { sleep } from './measure.js';
import type { Metric } from './report.js';

export interface RateRun {
  /** Accepted calls in each full second of the run. */
  perSecond: number[];
  mean: number;
  /** Mean from the third full second on: without the cold start of the workers' code. */
  steadyMean: number;
  worst: number;
  lowest: number;
  /** Rate slots the workers gave up for starting too late (utskick_rate_limiter_slots_dropped_total). */
  dropped?: number;
  /** Of those, the ones that went stale after the grant (stage "call"). */
  droppedAfterGrant?: number;
}

/** Full seconds only: the first second with an accepted call and the second in progress are partial. */
export function rateRunOf(histogram: Record<string, number>, snapshotMs: number): RateRun {
  const seen = Object.keys(histogram)
    .map(Number)
    .sort((a, b) => a - b);
  const first = seen[0];
  const last = Math.floor(snapshotMs / 1000) - 1;
  const perSecond = first === undefined ? [] : secondsOf(histogram, first + 1, last);
  const sum = perSecond.reduce((s, n) => s + n, 0);
  return {
    perSecond,
    mean: perSecond.length > 0 ? sum / perSecond.length : 0,
    steadyMean:
      perSecond.length > 2 ? perSecond.slice(2).reduce((a, n) => a + n, 0) / (perSecond.length - 2) : 0,
    worst: Math.max(0, ...perSecond),
    lowest: perSecond.length > 0 ? Math.min(...perSecond) : 0,
  };
}

export const rateCombinations = [
  { procs: 2, rate: 50 },
  { procs: 3, rate: 50 },
  { procs: 2, rate: 1000 },
  { procs: 3, rate: 1000 },
] as const;

export async function rateCase(
  ctx: BenchContext,
  options: { seconds: number; runs: number },
): Promise<CaseOutput> {
  const sim = await startSimulator(ctx, 'rate');
  const results = new Map<string, { procs: number; rate: number; runs: RateRun[] }>();
  try {
    for (let run = 1; run <= options.runs; run++) {
      for (const { procs, rate } of rateCombinations) {
        await freshRedis(ctx);
        await sim.reset();
        // Workers are up before the campaign arrives, as in production: no start-up in the measured seconds.
        const workers = await startWorkers(ctx, `rate-${procs}-${rate}`, procs, sim.url, rate);
        // Enough to outlast the run, so the limiter (not the campaign) sets the pace.
        const recipients = Math.ceil((rate * (options.seconds + 8)) / 250) * 250;
        try {
          await enqueueSynthetic({
            redisUrl: ctx.server.url,
            dataKey: ctx.dataKey,
            campaign: benchCampaign(`bench-rate-${procs}-${rate}`),
            recipients,
          });
        } catch (err) {
          await workers.stop();
          throw err;
        }
        let r: RateRun;
        try {
          const deadline = Date.now() + 30_000;
          while ((await sim.stats()).accepted === 0) {
            if (Date.now() > deadline) throw new Error('the workers sent nothing within 30 s');
            await sleep(50);
          }
          await sleep(options.seconds * 1000 + 1200);
          const snapshotMs = Date.now();
          r = rateRunOf((await sim.stats()).histogram, snapshotMs);
          r.dropped = await workers.counter('utskick_rate_limiter_slots_dropped_total');
          r.droppedAfterGrant = await workers.counter(
            'utskick_rate_limiter_slots_dropped_total',
            'stage="call"',
          );
        } finally {
          await workers.stop();
        }
        const key = `${procs}@${rate}`;
        const entry = results.get(key) ?? { procs, rate, runs: [] };
        entry.runs.push(r);
        results.set(key, entry);
        ctx.log(
          `  ${procs} workers at ${rate}/s: mean ${r.mean.toFixed(1)}/s over ${r.perSecond.length} s, worst second ${r.worst}, lowest ${r.lowest}, slots dropped ${r.dropped} (${r.droppedAfterGrant} after the grant)`,
        );
      }
    }
  } finally {
    await sim.stop();
  }
  const metrics: Metric[] = [];
  for (const { procs, rate, runs } of results.values()) {
    const c = `rate ${procs} workers @ ${rate}/s`;
    const configured = { baseline: { name: 'configured', values: runs.map(() => rate) } };
    metrics.push(
      {
        case: c,
        name: 'mean calls/s',
        unit: 'full seconds',
        values: runs.map((r) => r.mean),
        ...configured,
        decimals: 1,
      },
      {
        case: c,
        name: 'mean calls/s from the 3rd full second',
        unit: 'steady state',
        values: runs.map((r) => r.steadyMean),
        ...configured,
        decimals: 1,
      },
      {
        case: c,
        name: 'mean error',
        unit: '% of rate',
        values: runs.map((r) => ((r.mean - rate) / rate) * 100),
        aim: { op: 'abs<=', value: 2, text: 'within ±2%' },
        decimals: 2,
      },
      {
        case: c,
        name: 'worst 1-s window',
        unit: 'calls',
        values: runs.map((r) => r.worst),
        ...configured,
        aim: { op: '<=', value: rate * 1.05, text: `≤ ${(rate * 1.05).toLocaleString('en-US')} (+5%)` },
        decimals: 0,
      },
      {
        case: c,
        name: 'lowest 1-s window',
        unit: 'calls',
        values: runs.map((r) => r.lowest),
        ...configured,
        decimals: 0,
      },
    );
  }
  return {
    metrics,
    details: {
      ratePerSecond: [...results.values()].map(({ procs, rate, runs }) => ({
        procs,
        rate,
        perSecond: runs.map((r) => r.perSecond),
        slotsDropped: runs.map((r) => r.dropped ?? 0),
      })),
    },
    notes: [
      {
        case: 'rate',
        text:
          `Two and three worker processes (RATE_PER_SECOND = the rate, shared through the Redis limiter), started before the campaign is enqueued, against the simulator for ${options.seconds} s ` +
          `per combination, ${options.runs} run${options.runs > 1 ? 's' : ''} each. Calls per second are the simulator's histogram of accepted calls per unix second ` +
          '(GET /__stats); the first second with a call and the second in progress are partial and dropped. The "from the 3rd full second" row ' +
          "leaves out the cold start as well (the workers' code not yet optimised; the limiter never catches up on a slot it could not use). " +
          'Windows are fixed unix seconds, ' +
          'not sliding ones (bench/limiter.ts measures sliding windows of the limiter alone). Every second is in latest.json (details.ratePerSecond).',
      },
    ],
  };
}
