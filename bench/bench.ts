/**
 * The benchmark suite (not part of npm test):
 *
 *   npm run bench [-- --runs 3] [--quick] [--cases ingest,dispatch,ha,rate,scale]
 *                 [--rate-seconds 30] [--rate-runs 1] [--profile] [--out bench/results]
 *
 * Every case runs against a private redis-server started here (no
 * persistence, flushed between runs), so the figures do not depend on a
 * shared Redis; the ha case adds a private Sentinel topology of its own.
 * Prints a table (median, min, max over the runs, and the ratio to a
 * baseline measured in the same run) and writes it as latest.json and
 * latest.md; a run of the ha case alone writes ha-latest.json and
 * ha-latest.md instead, so it leaves the other cases' results in place.
 * Defaults fit a 2-core machine in about 6-7 minutes: 3 runs of ingest,
 * dispatch, ha and scale, one 30 s run of each rate combination.
 * --quick is a smoke run (1 run, smaller sizes, 6 s rate runs; about 1-2 minutes).
 * --profile adds one more ingest under the V8 CPU profiler and one more
 * one-worker dispatch run under `node --cpu-prof`, and puts their top
 * self-time modules and functions in the report.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { Redis } from 'ioredis';
import { exitCodes, parseCliArgs, runCli, UsageError } from '../scripts/lib/cli.js';
import { startPrivateRedis } from '../scripts/lib/private-redis.js';
import { root } from '../scripts/lib/processes.js';
import { MAX_PER_JOB } from '../src/recipients/plan.js';
import type { BenchContext, CaseOutput } from './lib/context.js';
import {
  connectionsPerWorker,
  type DispatchCaseResult,
  dispatchCase,
  inFlightPerWorker,
  profileDispatch,
} from './lib/dispatch.js';
import { freshDataKey } from './lib/fixtures.js';
import { haCase } from './lib/ha.js';
import {
  type IngestCaseResult,
  type IngestInputs,
  type IngestRun,
  ingestCase,
  prepareIngestInputs,
  profileIngest,
  tsxOverheadKiB,
  warmUp,
} from './lib/ingest.js';
import { describeMachine, summarise } from './lib/measure.js';
import { type ProjectionInput, projection } from './lib/projection.js';
import { rateCase, rateCombinations } from './lib/rate.js';
import { type BenchResults, consoleTable, renderJson, renderMarkdown } from './lib/report.js';
import { type ScaleCaseResult, scaleCase } from './lib/scale.js';

const caseNames = ['ingest', 'dispatch', 'ha', 'rate', 'scale'] as const;
type CaseName = (typeof caseNames)[number];

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} takes a positive integer, not "${raw}"`);
  return n;
}

function projectionInput(
  scale: ScaleCaseResult,
  dispatch: DispatchCaseResult | undefined,
  tsxKiB: number,
): ProjectionInput {
  const rss = (r: IngestRun) => (r.child.maxRssKiB - tsxKiB) / 1024;
  const sizes = [...scale.ingest.keys()].sort((a, b) => a - b);
  const largest = sizes.at(-1)!;
  const med = (runs: IngestRun[], f: (r: IngestRun) => number) => summarise(runs.map(f)).median;
  const runs = scale.ingest.get(largest)!;
  const delivered = scale.delivered.at(-1);
  return {
    residents: 10_000_000,
    ingest: {
      size: largest,
      queuedBytes: med(runs, (r) => r.redisBytes / r.child.recipients),
      microsPerRecipient: med(runs, (r) => (r.child.timedMs * 1000) / r.child.recipients),
      rssMiB: med(runs, rss),
      growthMiB: med(runs, (r) => (r.child.maxRssKiB - r.child.startRssKiB) / 1024),
    },
    ...(delivered
      ? {
          delivered: {
            size: delivered.recipients,
            ledgerBytes: delivered.ledgerBytes,
            chunkBytes: delivered.chunkBytes,
            bullmqBytesPerJob: delivered.bullmqBytes * MAX_PER_JOB,
          },
        }
      : {}),
    ...(dispatch ? { oneWorkerRate: dispatch.oneWorkerRate, twoWorkerRate: dispatch.twoWorkerRate } : {}),
    inFlightPerWorker,
    connectionsPerWorker,
    keptJobs: 10_000,
    jobSize: MAX_PER_JOB,
  };
}

await runCli('bench', async () => {
  const { values } = parseCliArgs({
    options: {
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      cases: { type: 'string', default: caseNames.join(',') },
      'rate-seconds': { type: 'string' },
      'rate-runs': { type: 'string' },
      profile: { type: 'boolean', default: false },
      out: { type: 'string', default: 'bench/results' },
    },
  });
  const quick = values.quick;
  const runs = positiveInt('runs', values.runs, quick ? 1 : 3);
  const cases = values.cases.split(',').map((c) => c.trim()) as CaseName[];
  for (const c of cases) {
    if (!caseNames.includes(c)) throw new UsageError(`--cases: unknown case ${c} (${caseNames.join(', ')})`);
  }
  const out = resolve(root, values.out);
  const started = performance.now();
  const log = (line: string) => process.stderr.write(`${line}\n`);

  if (cases.some((c) => c !== 'ingest')) {
    // Workers and the simulator run as the container runs them: compiled JavaScript from dist/.
    log('bench: npm run build (workers and simulator run from dist/, as in the container)');
    execFileSync(
      process.execPath,
      [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: root,
        stdio: 'inherit',
      },
    );
    // As `npm run build` does: the Lua scripts are files the compiled code loads.
    cpSync(join(root, 'src', 'queue', 'lua'), join(root, 'dist', 'src', 'queue', 'lua'), { recursive: true });
  }
  const workDir = await mkdtemp(join(tmpdir(), 'utskick-bench-'));
  const server = await startPrivateRedis();
  const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  const stop = () => {
    rmSync(workDir, { recursive: true, force: true });
    void server.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const ctx: BenchContext = { server, redis, dataKey: freshDataKey(), workDir, quick, runs, log };
    const machine = await describeMachine(redis);
    log(
      `bench: ${quick ? 'quick' : 'full'} mode, ${runs} runs, cases ${cases.join(', ')}; private redis-server ${machine.redis} at ${server.url}`,
    );
    if (machine.busyBeforeStartPct > 20 || (machine.loadAtStart[0] ?? 0) > machine.nproc) {
      log(
        `bench: warning: the CPUs were ${machine.busyBeforeStartPct}% busy before the start (load average ${machine.loadAtStart[0]} on ${machine.nproc} CPUs); other work is running and every figure will be pessimistic`,
      );
    }
    const outputs: CaseOutput[] = [];
    const caseSeconds: Record<string, number> = {};
    let mark = performance.now();
    const done = (name: string) => {
      const now = performance.now();
      caseSeconds[name] = Math.round((now - mark) / 1000);
      mark = now;
      log(`${name}: done in ${caseSeconds[name]} s`);
    };

    let inputs: IngestInputs | undefined;
    let ingest: IngestCaseResult | undefined;
    if (cases.includes('ingest') || cases.includes('scale')) {
      log('ingest: preparing inputs (not timed)');
      inputs = await prepareIngestInputs(ctx, {
        files: quick ? 400 : 4000,
        archives: cases.includes('ingest') ? (quick ? 4 : 40) : 0,
        filesPerArchive: 100,
      });
      await warmUp(ctx, inputs);
    }
    if (cases.includes('ingest') && inputs) {
      log('ingest: running');
      ingest = await ingestCase(ctx, inputs);
      outputs.push(ingest);
      if (values.profile) {
        log('ingest: one more run under the CPU profiler');
        outputs.push({ metrics: [], notes: [], sections: [await profileIngest(ctx, inputs)] });
      }
      done('ingest');
    }

    let dispatch: DispatchCaseResult | undefined;
    if (cases.includes('dispatch')) {
      log('dispatch: running');
      dispatch = await dispatchCase(ctx);
      outputs.push(dispatch);
      if (values.profile) {
        log('dispatch: one more one-worker run under the CPU profiler');
        outputs.push({ metrics: [], notes: [], sections: [await profileDispatch(ctx)] });
      }
      done('dispatch');
    }

    if (cases.includes('ha')) {
      log('ha: single node against Sentinel (primary + 1 replica + 3 Sentinels)');
      outputs.push(await haCase(ctx));
      done('ha');
    }

    if (cases.includes('rate')) {
      const seconds = positiveInt('rate-seconds', values['rate-seconds'], quick ? 6 : 30);
      const rateRuns = positiveInt('rate-runs', values['rate-runs'], 1);
      log(`rate: ${rateCombinations.length} combinations × ${seconds} s × ${rateRuns} run(s)`);
      outputs.push(await rateCase(ctx, { seconds, runs: rateRuns }));
      done('rate');
    }

    if (cases.includes('scale') && inputs) {
      log('scale: running');
      const known = new Map<number, IngestRun[]>();
      if (ingest) known.set(inputs.files * MAX_PER_JOB, ingest.plain);
      const scale = await scaleCase(ctx, inputs, known, {
        ingestSizes: quick ? [10_000, 100_000] : [10_000, 100_000, 1_000_000],
        deliverSizes: quick ? [10_000] : [10_000, 100_000],
      });
      outputs.push(scale);
      outputs.push({
        metrics: [],
        notes: [],
        sections: [
          {
            title: 'Projection: a national campaign of 10 million residents',
            body: projection(projectionInput(scale, dispatch, ingest?.tsxKiB ?? (await tsxOverheadKiB()))),
          },
        ],
      });
      done('scale');
    }

    const results: BenchResults = {
      command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      mode: quick ? 'quick' : 'full',
      machine,
      durationS: (performance.now() - started) / 1000,
      caseSeconds,
      loadAtEnd: loadavg().map((l) => Math.round(l * 100) / 100),
      metrics: outputs.flatMap((o) => o.metrics),
      notes: outputs.flatMap((o) => o.notes),
      sections: outputs.flatMap((o) => o.sections ?? []),
      details: Object.assign({}, ...outputs.map((o) => o.details ?? {})),
    };
    // latest.* holds a whole run; the ha case alone gets files of its own, so it drops nothing there.
    const base = cases.length === 1 && cases[0] === 'ha' ? 'ha-latest' : 'latest';
    await mkdir(out, { recursive: true });
    await writeFile(join(out, `${base}.json`), renderJson(results));
    await writeFile(join(out, `${base}.md`), renderMarkdown(results));
    process.stdout.write(`${consoleTable(results.metrics)}\n\n`);
    process.stdout.write(
      `written to ${relative(process.cwd(), join(out, `${base}.md`))} and ${base}.json in ${results.durationS.toFixed(0)} s\n`,
    );
    return exitCodes.ok;
  } finally {
    redis.disconnect();
    await server.close();
    await rm(workDir, { recursive: true, force: true });
  }
});
