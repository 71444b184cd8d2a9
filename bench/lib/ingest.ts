/**
 * Case 1 of `npm run bench`: ingest through the real path in a child process
 * (bench/lib/ingest-child.ts), against a bare BullMQ addBulk baseline, from
 * plain files and from encrypted 7-Zip archives.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { root } from '../../scripts/lib/processes.js';
import { MAX_PER_JOB } from '../../src/recipients/plan.js';
import { type BenchContext, baseEnv, type CaseOutput, freshRedis } from './context.js';
import { benchCampaign, writeArchives, writeRecipientFiles } from './fixtures.js';
import type { ChildConfig, ChildResult } from './ingest-child.js';
import { processCpuMs, usedMemory } from './measure.js';
import { moduleTable, readProfile, selfTimes, selfTimeTable } from './profile.js';
import type { Metric } from './report.js';

/** Runs node with `args` to completion, collecting its output (a hard limit of 10 minutes). */
function runNode(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface IngestInputs {
  campaignFile: string;
  filesDir: string;
  files: number;
  archivesDir: string;
  archives: number;
  filesPerArchive: number;
  archivePassword: string;
}

export interface IngestRun {
  child: ChildResult;
  /** used_memory after the child exited minus before it started (after a flush), bytes. */
  redisBytes: number;
  /** redis-server CPU time spent while the child ran, ms. */
  redisCpuMs: number;
}

/** Writes the campaign, `files` recipient files and the archives (none when `archives` is 0). Not timed. */
export async function prepareIngestInputs(
  ctx: BenchContext,
  sizes: { files: number; archives: number; filesPerArchive: number },
): Promise<IngestInputs> {
  const campaignFile = join(ctx.workDir, 'campaign.json');
  await writeFile(campaignFile, JSON.stringify(benchCampaign('bench-ingest'), null, 2));
  const filesDir = join(ctx.workDir, 'files');
  const archivesDir = join(ctx.workDir, 'archives');
  const archivePassword = ctx.dataKey.slice(0, 16);
  let t = performance.now();
  await writeRecipientFiles(filesDir, sizes.files);
  ctx.log(
    `  wrote ${sizes.files} files of ${MAX_PER_JOB} in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  if (sizes.archives > 0) {
    t = performance.now();
    await writeArchives(archivesDir, sizes.archives, sizes.filesPerArchive, archivePassword);
    ctx.log(
      `  packed ${sizes.archives} encrypted archives of ${sizes.filesPerArchive} files in ${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
  }
  return { campaignFile, filesDir, archivesDir, archivePassword, ...sizes };
}

/** One ingest (or baseline) child on a flushed Redis. */
export async function ingestOnce(
  ctx: BenchContext,
  role: 'ingest' | 'baseline',
  config: ChildConfig,
  options: { archivePassword?: string; cpuProfile?: string } = {},
): Promise<IngestRun> {
  await freshRedis(ctx);
  const before = await usedMemory(ctx.redis);
  const redisCpu0 = processCpuMs(ctx.server.pid) ?? 0;
  const run = await runNode(['--import', 'tsx', join(root, 'bench', 'lib', 'ingest-child.ts'), role], {
    ...baseEnv(ctx),
    BENCH_CHILD: JSON.stringify(config),
    ...(options.archivePassword ? { BENCH_ARCHIVE_PASSWORD: options.archivePassword } : {}),
    ...(options.cpuProfile ? { BENCH_CPU_PROFILE: options.cpuProfile } : {}),
    LOG_LEVEL: 'silent',
  });
  const redisCpuMs = (processCpuMs(ctx.server.pid) ?? 0) - redisCpu0;
  const line = /^BENCH_RESULT=(.+)$/m.exec(run.stdout);
  if (run.code !== 0 || !line) {
    throw new Error(`${role} child failed (exit ${run.code}): ${run.stderr.trim().slice(-800)}`);
  }
  const child = JSON.parse(line[1]!) as ChildResult;
  return { child, redisBytes: (await usedMemory(ctx.redis)) - before, redisCpuMs };
}

/** Loads BullMQ's and the ledger's scripts into Redis' script cache (FLUSHALL keeps it), so run 1 is not special. */
export async function warmUp(ctx: BenchContext, inputs: IngestInputs): Promise<void> {
  const config = { campaignFile: inputs.campaignFile, inputs: [inputs.filesDir], limitFiles: 4 };
  await ingestOnce(ctx, 'ingest', config);
  await ingestOnce(ctx, 'baseline', config);
}

/**
 * What running under tsx adds to a process's peak RSS, KiB: the same idle
 * program with and without the loader (production runs compiled JS).
 */
export async function tsxOverheadKiB(): Promise<number> {
  const program = 'setTimeout(() => process.stdout.write(String(process.resourceUsage().maxRSS)), 200)';
  const env = { NODE_OPTIONS: '' };
  const plain = await runNode(['-e', program], env);
  const tsx = await runNode(['--import', 'tsx', '-e', program], env);
  const a = Number(plain.stdout.trim());
  const b = Number(tsx.stdout.trim());
  return Number.isFinite(a) && Number.isFinite(b) ? Math.max(0, b - a) : 0;
}

const perSecond = (r: IngestRun) => r.child.recipients / (r.child.timedMs / 1000);
const mib = (kib: number) => kib / 1024;

/** Figures common to an ingest of N recipients (used by the ingest and the scale cases). */
export function ingestMetrics(
  caseName: string,
  runs: IngestRun[],
  baselines: IngestRun[],
  tsxKiB: number,
): Metric[] {
  const per = (f: (r: IngestRun) => number) => runs.map(f);
  const base = (name: string, f: (r: IngestRun) => number) =>
    baselines.length > 0 ? { baseline: { name, values: baselines.map(f) } } : {};
  return [
    {
      case: caseName,
      name: 'recipients/s',
      unit: 'read+parse+enqueue',
      values: per(perSecond),
      ...base('bare addBulk', perSecond),
      aim: { op: '>=', value: 250_000, text: '≥ 250,000' },
    },
    {
      case: caseName,
      name: 'peak RSS',
      unit: 'MiB, ingest process',
      values: per((r) => mib(r.child.maxRssKiB)),
      aim: { op: '<=', value: 300, text: '< 300 MiB' },
    },
    {
      case: caseName,
      name: 'peak RSS less the tsx loader',
      unit: 'MiB, as compiled JS would run',
      values: per((r) => mib(r.child.maxRssKiB - tsxKiB)),
      aim: { op: '<=', value: 300, text: '< 300 MiB' },
    },
    {
      case: caseName,
      name: 'RSS growth while ingesting',
      unit: 'MiB, peak minus before the first read',
      values: per((r) => mib(r.child.maxRssKiB - r.child.startRssKiB)),
    },
    {
      case: caseName,
      name: 'Redis memory',
      unit: 'bytes/queued recipient',
      values: per((r) => r.redisBytes / r.child.recipients),
      ...base('chunks inline in jobs', (r) => r.redisBytes / r.child.recipients),
      aim: { op: '<=', value: 50, text: '≤ 50' },
      decimals: 1,
    },
    {
      case: caseName,
      name: 'time, whole ingest',
      unit: 'ms',
      values: per((r) => r.child.timedMs),
      decimals: 0,
    },
    {
      case: caseName,
      name: 'CPU, ingest process',
      unit: 'µs/recipient',
      values: per((r) => ((r.child.cpuUserMs + r.child.cpuSystemMs) * 1000) / r.child.recipients),
      decimals: 2,
    },
    {
      case: caseName,
      name: 'CPU, redis-server',
      unit: 'µs/recipient',
      values: per((r) => (r.redisCpuMs * 1000) / r.child.recipients),
      ...base('bare addBulk', (r) => (r.redisCpuMs * 1000) / r.child.recipients),
      decimals: 2,
    },
  ];
}

/** Median phase times of some runs, as one line. */
export function phases(runs: IngestRun[]): string {
  const med = (f: (r: IngestRun) => number) => {
    const s = runs.map(f).sort((a, b) => a - b);
    return Math.round(s[Math.floor(s.length / 2)] ?? 0);
  };
  return `read ${med((r) => r.child.readMs)} ms, parse ${med((r) => r.child.parseMs)} ms, enqueueCampaign ${med((r) => r.child.writeMs)} ms`;
}

export interface IngestCaseResult extends CaseOutput {
  plain: IngestRun[];
  baseline: IngestRun[];
  /** What the tsx loader adds to peak RSS, KiB. */
  tsxKiB: number;
}

/** The ingest case: per run, plain files, the baseline and (when there are archives) the archives. */
export async function ingestCase(ctx: BenchContext, inputs: IngestInputs): Promise<IngestCaseResult> {
  const recipients = inputs.files * MAX_PER_JOB;
  const plain: IngestRun[] = [];
  const baseline: IngestRun[] = [];
  const archived: IngestRun[] = [];
  const config = { campaignFile: inputs.campaignFile, inputs: [inputs.filesDir] };
  for (let run = 1; run <= ctx.runs; run++) {
    const p = await ingestOnce(ctx, 'ingest', config);
    plain.push(p);
    const b = await ingestOnce(ctx, 'baseline', {
      ...config,
      jobsCache: join(ctx.workDir, 'naive-jobs.json'),
    });
    baseline.push(b);
    let line = `  run ${run}: ${Math.round(perSecond(p)).toLocaleString('en-US')}/s (baseline ${Math.round(perSecond(b)).toLocaleString('en-US')}/s)`;
    if (inputs.archives > 0) {
      const a = await ingestOnce(
        ctx,
        'ingest',
        { campaignFile: inputs.campaignFile, inputs: [inputs.archivesDir] },
        { archivePassword: inputs.archivePassword },
      );
      archived.push(a);
      line += `, archives ${Math.round(perSecond(a)).toLocaleString('en-US')}/s`;
    }
    ctx.log(line);
  }
  const label = `${(recipients / 1e6).toLocaleString('en-US')}M`;
  const tsxKiB = await tsxOverheadKiB();
  const metrics = ingestMetrics(`ingest ${label} files`, plain, baseline, tsxKiB);
  if (archived.length > 0) {
    const archiveMetrics = ingestMetrics(`ingest ${label} 7z`, archived, baseline, tsxKiB).filter(
      (m) => !m.name.startsWith('CPU, redis'),
    );
    // The archive path against plain files in the same run: what unpacking costs.
    archiveMetrics.splice(1, 0, {
      case: `ingest ${label} 7z`,
      name: 'recipients/s against plain files',
      unit: 'read+parse+enqueue',
      values: archived.map(perSecond),
      baseline: { name: 'plain files, same run', values: plain.map(perSecond) },
    });
    metrics.push(...archiveMetrics);
  }
  const notes = [
    {
      case: `ingest ${label} files`,
      text:
        `${recipients.toLocaleString('en-US')} synthetic recipients in ${inputs.files} files of ${MAX_PER_JOB} (written beforehand, not timed), ` +
        'enqueued by a child process doing what `npm run enqueue` does: readInputs → parseRecipientFile → enqueueCampaign ' +
        '(validation, dedupe, sealing, one MULTI, addBulk). Timed inside the child from the first read to enqueueCampaign returning ' +
        `(median ${phases(plain)}); peak RSS = the child's process.resourceUsage().maxRSS, which includes the tsx loader the checkout runs under ` +
        `(${(tsxKiB / 1024).toFixed(0)} MiB measured here on an idle program; the image runs compiled JS without it); ` +
        'Redis memory = INFO used_memory after minus before, on a flushed server. Baseline: a bare BullMQ addBulk of the same ' +
        `${inputs.files} jobs (same ids and options, batches of 1,000) with each sealed chunk inline in the job data (base64), ` +
        'in the same kind of child; only the addBulk is timed.',
    },
  ];
  if (archived.length > 0) {
    notes.push({
      case: `ingest ${label} 7z`,
      text:
        `The same recipients in ${inputs.archives} AES-256 7-Zip archives (encrypted headers) of ${inputs.filesPerArchive} files, ` +
        'read through readInputs: 7-Zip compiled to WebAssembly (7z-wasm) inside the ingest process, one instance for all ' +
        'the archives (it keeps the key derived from the password), per archive one list and one extract into its in-memory ' +
        `file system, with every check of readArchive (median ${phases(archived)}); no 7z binary. The ratio to the plain-file row ` +
        'of the same run is the figure to compare; the baseline is as above.',
    });
  }
  return { metrics, notes, plain, baseline, tsxKiB };
}

/**
 * One more ingest of the plain files with the V8 CPU profiler on over the
 * timed part: the top self-time functions of the ingest child, as a report section.
 */
export async function profileIngest(
  ctx: BenchContext,
  inputs: IngestInputs,
): Promise<{ title: string; body: string }> {
  const file = join(ctx.workDir, 'ingest.cpuprofile');
  const run = await ingestOnce(
    ctx,
    'ingest',
    { campaignFile: inputs.campaignFile, inputs: [inputs.filesDir] },
    { cpuProfile: file },
  );
  const times = selfTimes(await readProfile(file));
  return {
    title: 'Where the ingest child spends its time (V8 CPU profile)',
    body:
      `One extra ingest of ${run.child.recipients.toLocaleString('en-US')} recipients with the V8 CPU profiler (as \`node --cpu-prof\`, ` +
      `but started and stopped around the timed part only, sampling every 100 µs): ${Math.round(perSecond(run)).toLocaleString('en-US')}/s ` +
      `with the profiler on; ${phases([run])}. Self time by module, then by function; \`(idle)\` is waiting for Redis or the disk:\n\n` +
      `${moduleTable(times)}\n\n${selfTimeTable(times, 20)}`,
  };
}
