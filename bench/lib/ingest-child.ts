/**
 * The ingest side of `npm run bench`, run as a child process so its peak RSS
 * and CPU are its own. Not a user command.
 *
 *   node --import tsx bench/lib/ingest-child.ts ingest|baseline
 *
 * Configuration comes from the environment: REDIS_URL, UTSKICK_PREFIX and
 * UTSKICK_DATA_KEY as for `npm run enqueue`, BENCH_CHILD (JSON, see ChildConfig)
 * the archive password in BENCH_ARCHIVE_PASSWORD, and BENCH_CPU_PROFILE (a
 * path: profile the timed part into it). Prints one line
 * `BENCH_RESULT=<json>` (a ChildResult) on stdout.
 *
 * - ingest: scripts/enqueue.ts' own steps, timed: readInputs → parseRecipientFile
 *   → enqueueCampaign (validation, dedupe, sealing, the MULTI write, addBulk).
 * - baseline: the naive design, for comparison: the same files read, parsed and
 *   sealed untimed (or the jobs taken from `jobsCache`), then only a bare BullMQ
 *   addBulk of the same jobs with each sealed chunk inline in the job data
 *   (base64), timed.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import type { JobsOptions } from 'bullmq';
import { assertApproved, loadCampaign } from '../../src/campaign/load.js';
import { loadClientConfig } from '../../src/config/client.js';
import { loadKeyring } from '../../src/config/env.js';
import { sealChunk } from '../../src/queue/chunks.js';
import { createDeliverQueue, deliverJobOptions } from '../../src/queue/deliver-queue.js';
import { enqueueCampaign } from '../../src/queue/enqueue.js';
import { createKeys, deliverJobId } from '../../src/queue/keys.js';
import { createRedis } from '../../src/queue/redis.js';
import { assertUnitActive } from '../../src/queue/units.js';
import { expandInputs, readInputs } from '../../src/recipients/inputs.js';
import { todayOf } from '../../src/recipients/personnummer.js';
import { planChunks } from '../../src/recipients/plan.js';
import { parseRecipientFile } from '../../src/recipients/read-file.js';

export interface ChildConfig {
  /** The campaign JSON file. */
  campaignFile: string;
  /** Files, directories or archives, as `npm run enqueue` takes them. */
  inputs: string[];
  /** Only the first this many files of the expanded inputs (sorted). Default all. */
  limitFiles?: number;
  /** baseline: a file keeping the naive jobs between runs (written by the first run). Default none. */
  jobsCache?: string;
}

export interface ChildResult {
  role: 'ingest' | 'baseline';
  recipients: number;
  jobs: number;
  /** Reading files (and decrypting archives), ms. */
  readMs: number;
  /** parseRecipientFile over every file, ms. */
  parseMs: number;
  /** enqueueCampaign (ingest) or the bare addBulk (baseline), ms. */
  writeMs: number;
  /** What the case times: read + parse + write (ingest) or the addBulk alone (baseline), ms. */
  timedMs: number;
  /** process.resourceUsage().maxRSS at the end, KiB. */
  maxRssKiB: number;
  /** The same just before the first read (modules loaded, nothing read), KiB. */
  startRssKiB: number;
  cpuUserMs: number;
  cpuSystemMs: number;
}

/** A job of the naive design: the sealed chunk inline, base64. */
interface NaiveJob {
  name: string;
  data: { c: string; k: string; n: number; s: string };
  opts: JobsOptions;
}

/**
 * The V8 CPU profiler (what `node --cpu-prof` runs) over the timed part only,
 * through the inspector in this process, sampling every 100 µs.
 */
async function startProfiler(): Promise<{ stop(): Promise<object> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      return profile;
    },
  };
}

const role = process.argv[2];
if (role !== 'ingest' && role !== 'baseline') {
  process.stderr.write('ingest-child: the first argument must be ingest or baseline\n');
  process.exit(2);
}

async function main(which: 'ingest' | 'baseline'): Promise<ChildResult> {
  const config = JSON.parse(process.env.BENCH_CHILD ?? '{}') as ChildConfig;
  const client = loadClientConfig(process.env);
  const keyring = loadKeyring(process.env);
  const campaign = await loadCampaign(config.campaignFile);
  assertApproved(campaign, config.campaignFile);
  const paths = (await expandInputs(config.inputs)).slice(0, config.limitFiles ?? Number.POSITIVE_INFINITY);

  const startRssKiB = process.resourceUsage().maxRSS;
  const profiler = process.env.BENCH_CPU_PROFILE ? await startProfiler() : undefined;
  const t0 = performance.now();
  const sources = await readInputs(paths, { password: async () => process.env.BENCH_ARCHIVE_PASSWORD });
  const t1 = performance.now();
  const options = { today: todayOf(new Date()), allowCoordinationNumbers: campaign.allowCoordinationNumbers };
  const parsed = sources.map((s) => parseRecipientFile(s, options));
  const t2 = performance.now();

  const redis = createRedis(client.redisUrl, 'client', client.redisOptions);
  redis.on('error', () => {});
  const keys = createKeys(client.prefix);
  const queue = createDeliverQueue(redis, keys);
  try {
    await redis.ping();
    await assertUnitActive(redis, keys, campaign.unit.hsaId);
    let recipients: number;
    let jobs: number;
    let writeMs: number;
    let timedMs: number;
    if (which === 'ingest') {
      const t3 = performance.now();
      const result = await enqueueCampaign(
        { redis, keys, keyring, queue, jobPolicy: client.jobPolicy },
        { campaign, parsed, skipInvalid: false, dryRun: false },
      );
      writeMs = performance.now() - t3;
      timedMs = performance.now() - t0;
      if (result.status !== 'enqueued') throw new Error(`enqueue ended ${result.status}`);
      recipients = result.recipients.valid;
      jobs = result.enqueued;
    } else {
      let all: NaiveJob[];
      if (config.jobsCache && existsSync(config.jobsCache)) {
        all = JSON.parse(await readFile(config.jobsCache, 'utf8')) as NaiveJob[];
      } else {
        const plan = planChunks(campaign.id, parsed, { numbers: new Set(), files: new Map() });
        all = plan.files.flatMap((f) =>
          f.chunks.map((c) => ({
            name: 'deliver',
            data: {
              c: campaign.id,
              k: c.chunkId,
              n: c.numbers.length,
              s: sealChunk(keyring, campaign.id, c.chunkId, c.numbers).toString('base64'),
            },
            opts: deliverJobOptions(deliverJobId(campaign.id, c.chunkId), client.jobPolicy),
          })),
        );
        if (config.jobsCache) await writeFile(config.jobsCache, JSON.stringify(all));
      }
      const t3 = performance.now();
      // The same batches of 1,000 that enqueueCampaign uses.
      for (let i = 0; i < all.length; i += 1000) await queue.addBulk(all.slice(i, i + 1000));
      writeMs = performance.now() - t3;
      timedMs = writeMs;
      recipients = all.reduce((sum, j) => sum + j.data.n, 0);
      jobs = all.length;
    }
    if (profiler) await writeFile(process.env.BENCH_CPU_PROFILE!, JSON.stringify(await profiler.stop()));
    const usage = process.resourceUsage();
    return {
      role: which,
      recipients,
      jobs,
      readMs: t1 - t0,
      parseMs: t2 - t1,
      writeMs,
      timedMs,
      maxRssKiB: usage.maxRSS,
      startRssKiB,
      cpuUserMs: usage.userCPUTime / 1000,
      cpuSystemMs: usage.systemCPUTime / 1000,
    };
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

try {
  const result = await main(role);
  process.stdout.write(`BENCH_RESULT=${JSON.stringify(result)}\n`);
} catch (err) {
  process.stderr.write(`ingest-child ${role}: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
