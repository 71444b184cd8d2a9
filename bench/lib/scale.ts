/**
 * Case 4 of `npm run bench`: how Redis memory and time per recipient grow with
 * the campaign (ingest at 10k, 100k and 1M), what is left in Redis once a
 * campaign is delivered (10k and 100k, two workers at full speed), and the
 * projection for a national campaign of 10 million.
 */
import { createKeys, queueNames } from '../../src/queue/keys.js';
import { createLedger, finalOutcomes } from '../../src/queue/ledger.js';
import { MAX_PER_JOB } from '../../src/recipients/plan.js';
import { type BenchContext, type CaseOutput, freshRedis } from './context.js';
import { benchCampaign, benchPrefix, enqueueSynthetic } from './fixtures.js';
import { startSimulator, startWorkers } from './fleet.js';
import { type IngestInputs, type IngestRun, ingestOnce } from './ingest.js';
import { memoryOfKeys, sleep, summarise, usedMemory } from './measure.js';
import type { Metric } from './report.js';

export interface DeliveredRun {
  recipients: number;
  /** Seconds from the workers being up to the last outcome recorded. */
  seconds: number;
  /** used_memory after delivery minus the empty server, per recipient. */
  totalBytes: number;
  queuedBytes: number;
  ledgerBytes: number;
  chunkBytes: number;
  bullmqBytes: number;
}

const label = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);

async function deliverOnce(ctx: BenchContext, recipients: number): Promise<DeliveredRun> {
  const sim = await startSimulator(ctx, `scale-${label(recipients)}`);
  try {
    await freshRedis(ctx);
    const empty = await usedMemory(ctx.redis);
    const campaign = benchCampaign(`bench-scale-${label(recipients).toLowerCase()}`);
    await enqueueSynthetic({ redisUrl: ctx.server.url, dataKey: ctx.dataKey, campaign, recipients });
    const queued = (await usedMemory(ctx.redis)) - empty;
    const workers = await startWorkers(ctx, `scale-${label(recipients)}`, 2, sim.url, 0);
    const started = performance.now();
    try {
      const ledger = createLedger(ctx.redis, createKeys(benchPrefix));
      const deadline = Date.now() + 600_000;
      for (;;) {
        const counts = await ledger.counts(campaign.id);
        if (finalOutcomes.reduce((s, o) => s + counts[o], 0) >= recipients) break;
        if (Date.now() > deadline) throw new Error(`scale: ${recipients} not delivered within 10 minutes`);
        await sleep(100);
      }
    } finally {
      await workers.stop();
    }
    const seconds = (performance.now() - started) / 1000;
    const total = (await usedMemory(ctx.redis)) - empty;
    const keys = createKeys(benchPrefix);
    const ledgerKeys = await memoryOfKeys(ctx.redis, keys.ledgerPattern(campaign.id));
    const chunkKeys = await memoryOfKeys(ctx.redis, keys.chunkPattern(campaign.id));
    const bullmq = await memoryOfKeys(ctx.redis, keys.queuePattern(queueNames.deliver));
    return {
      recipients,
      seconds,
      totalBytes: total / recipients,
      queuedBytes: queued / recipients,
      ledgerBytes: ledgerKeys.bytes / recipients,
      chunkBytes: chunkKeys.bytes / recipients,
      bullmqBytes: bullmq.bytes / recipients,
    };
  } finally {
    await sim.stop();
  }
}

export interface ScaleCaseResult extends CaseOutput {
  ingest: Map<number, IngestRun[]>;
  delivered: DeliveredRun[];
}

/**
 * @param known ingest runs already measured in this bench (the ingest case's), by size
 */
export async function scaleCase(
  ctx: BenchContext,
  inputs: IngestInputs,
  known: Map<number, IngestRun[]>,
  options: { ingestSizes: number[]; deliverSizes: number[] },
): Promise<ScaleCaseResult> {
  const ingest = new Map<number, IngestRun[]>();
  for (const size of options.ingestSizes) {
    const have = known.get(size);
    if (have && have.length > 0) {
      ingest.set(size, have);
      continue;
    }
    const runs: IngestRun[] = [];
    for (let run = 1; run <= ctx.runs; run++) {
      runs.push(
        await ingestOnce(ctx, 'ingest', {
          campaignFile: inputs.campaignFile,
          inputs: [inputs.filesDir],
          limitFiles: size / MAX_PER_JOB,
        }),
      );
    }
    ingest.set(size, runs);
    ctx.log(`  ingest ${label(size)}: ${summarise(runs.map((r) => r.child.timedMs)).median.toFixed(0)} ms`);
  }
  const delivered: DeliveredRun[] = [];
  for (const size of options.deliverSizes) {
    const d = await deliverOnce(ctx, size);
    delivered.push(d);
    ctx.log(
      `  delivered ${label(size)} in ${d.seconds.toFixed(1)} s; ${d.totalBytes.toFixed(1)} bytes/recipient left`,
    );
  }

  const metrics: Metric[] = [];
  const smallest = ingest.get(Math.min(...ingest.keys()));
  const perRecipientUs = (r: IngestRun) => (r.child.timedMs * 1000) / r.child.recipients;
  const bytes = (r: IngestRun) => r.redisBytes / r.child.recipients;
  for (const [size, runs] of [...ingest].sort((a, b) => a[0] - b[0])) {
    const c = `scale ${label(size)} ingest`;
    const vs = (f: (r: IngestRun) => number) =>
      smallest && runs !== smallest
        ? { baseline: { name: `at ${label(Math.min(...ingest.keys()))}`, values: smallest.map(f) } }
        : {};
    metrics.push(
      {
        case: c,
        name: 'time',
        unit: 'µs/recipient',
        values: runs.map(perRecipientUs),
        ...vs(perRecipientUs),
        decimals: 2,
      },
      {
        case: c,
        name: 'Redis memory',
        unit: 'bytes/queued recipient',
        values: runs.map(bytes),
        ...vs(bytes),
        decimals: 1,
      },
      {
        case: c,
        name: 'RSS growth while ingesting',
        unit: 'MiB',
        values: runs.map((r) => (r.child.maxRssKiB - r.child.startRssKiB) / 1024),
        decimals: 0,
      },
    );
  }
  for (const d of delivered) {
    const c = `scale ${label(d.recipients)} delivered`;
    metrics.push(
      {
        case: c,
        name: 'Redis memory after delivery',
        unit: 'bytes/recipient',
        values: [d.totalBytes],
        decimals: 1,
      },
      { case: c, name: 'of which ledger', unit: 'bytes/recipient', values: [d.ledgerBytes], decimals: 1 },
      {
        case: c,
        name: 'of which sealed chunks',
        unit: 'bytes/recipient',
        values: [d.chunkBytes],
        decimals: 1,
      },
      {
        case: c,
        name: 'of which BullMQ keys',
        unit: 'bytes/recipient',
        values: [d.bullmqBytes],
        decimals: 1,
      },
      {
        case: c,
        name: 'delivery, 2 workers, no limit',
        unit: 'messages/s',
        values: [d.recipients / d.seconds],
        decimals: 0,
      },
    );
  }
  return {
    metrics,
    notes: [
      {
        case: 'scale',
        text:
          `Ingest as in the ingest case at ${[...ingest.keys()].map(label).join(', ')} recipients (the first N files; ${ctx.runs} runs each; ` +
          "the largest size is the ingest case's own runs); the ratio is the per-recipient figure against the smallest size, so 1.00× means linear growth. " +
          `Delivered: ${options.deliverSizes.map(label).join(' and ')} recipients enqueued, then two workers without a rate limit against the simulator ` +
          'until every recipient had an outcome (one run each); memory = used_memory against the empty server, and MEMORY USAGE summed over ' +
          'the ledger keys, the sealed chunk keys and the BullMQ queue keys (completed jobs are kept: removeOnComplete 10,000).',
      },
    ],
    ingest,
    delivered,
  };
}
