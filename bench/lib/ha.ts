/**
 * Case `ha` of `npm run bench`: what Sentinel mode costs. One real worker
 * process (defaults, no rate limit) against the simulator answering at once,
 * on (a) the bench's single private redis-server (REDIS_URL, as the dispatch
 * case runs) and (b) a private Sentinel topology (primary + 1 replica + 3
 * Sentinels, the same persistence as the single server: none), alternating
 * (a), (b) in every run. In Sentinel mode every ledger write is followed by
 * WAIT 1 on its connection (src/queue/durability.ts), shared by the worker's
 * call loops; the case counts those WAITs per message on the primary.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { type PrivateSentinels, startPrivateSentinels } from '../../scripts/lib/private-sentinel.js';
import { workerEnvSchema } from '../../src/config/worker.js';
import { type BenchContext, type CaseOutput, freshRedis } from './context.js';
import { rawRun } from './dispatch.js';
import { benchCampaign, enqueueSynthetic } from './fixtures.js';
import { type SimulatorProcess, startSimulator, startWorkers } from './fleet.js';
import { processCpuMs, sleep } from './measure.js';
import type { Metric } from './report.js';

/** Sentinel must keep at least this share of the single node's messages/s (median against median). */
export const haRateAim = 0.8;
/** Sentinel may cost at most this multiple of the single node's worker CPU per message. */
export const haWorkerCpuAim = 1.3;

const workerDefaults = workerEnvSchema.parse({});
const warmUpMs = 1500;

type Topology = 'single' | 'sentinel';

interface HaRun {
  rate: number;
  workerUs: number;
  /** The primary's CPU per message (the single server in (a)). */
  primaryUs: number;
  /** Sentinel topology only: the replica's and the three Sentinels' CPU per message. */
  replicaUs?: number;
  sentinelsUs?: number;
  /** WAIT commands the primary ran per message (cmdstat_wait). */
  waitsPerMessage: number;
  /** Commands the primary ran per message (total_commands_processed). */
  commandsPerMessage: number;
  /** Ledger writes the worker found not durable and wrote again, and writes taken on the primary alone. */
  notDurable: number;
  unreplicated: number;
  /** Worker log lines at warn level or above, and the first few of them. */
  warnings: number;
  firstWarnings: string[];
  /** The campaign ran out before the window closed (the figure is then too low). */
  exhausted: boolean;
}

/** Where one topology's worker connects, and the processes to read CPU and INFO from. */
interface Target {
  topology: Topology;
  ctx: BenchContext;
  workerEnv: Record<string, string | undefined>;
  otherPids: { replica?: number; sentinels?: (number | undefined)[] };
}

const infoField = (info: string, pattern: RegExp) => Number(pattern.exec(info)?.[1] ?? 0);

async function primaryCounts(redis: Redis): Promise<{ waits: number; commands: number }> {
  const [commandstats, stats] = await Promise.all([redis.info('commandstats'), redis.info('stats')]);
  return {
    waits: infoField(commandstats, /^cmdstat_wait:calls=(\d+)/m),
    commands: infoField(stats, /^total_commands_processed:(\d+)/m),
  };
}

/** Lines of a pino log at warn (40) or above. */
async function warnLines(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => {
    const level = /"level":(\d+)/.exec(line);
    return level ? Number(level[1]) >= 40 : /error/i.test(line);
  });
}

async function haRun(
  target: Target,
  sim: SimulatorProcess,
  run: number,
  recipients: number,
  windowMs: number,
): Promise<HaRun> {
  const { ctx } = target;
  await freshRedis(ctx);
  await sim.reset();
  await enqueueSynthetic({
    redisUrl: ctx.server.url,
    dataKey: ctx.dataKey,
    campaign: benchCampaign(`bench-ha-${target.topology}-${run}`),
    recipients,
  });
  const name = `ha-${target.topology}-${run}`;
  const workers = await startWorkers(ctx, name, 1, sim.url, 0, { env: target.workerEnv });
  let result: Omit<HaRun, 'warnings' | 'firstWarnings'>;
  try {
    const deadline = Date.now() + 30_000;
    while ((await sim.stats()).requests === 0) {
      if (Date.now() > deadline) throw new Error(`the ${target.topology} worker sent nothing within 30 s`);
      await sleep(50);
    }
    await sleep(warmUpMs);
    const cpu = (pid: number | undefined) => processCpuMs(pid) ?? 0;
    const sample = async () => {
      const counts = await primaryCounts(ctx.redis);
      return {
        t: performance.now(),
        requests: (await sim.stats()).requests,
        worker: workers.cpuMs(),
        primary: cpu(ctx.server.pid),
        replica: cpu(target.otherPids.replica),
        sentinels: (target.otherPids.sentinels ?? []).reduce<number>((sum, pid) => sum + cpu(pid), 0),
        ...counts,
      };
    };
    const a = await sample();
    await sleep(windowMs);
    const b = await sample();
    const n = Math.max(1, b.requests - a.requests);
    const perMessageUs = (ms: number) => (ms * 1000) / n;
    const sentinel = target.topology === 'sentinel';
    result = {
      rate: (n / (b.t - a.t)) * 1000,
      workerUs: perMessageUs(b.worker - a.worker),
      primaryUs: perMessageUs(b.primary - a.primary),
      ...(sentinel
        ? {
            replicaUs: perMessageUs(b.replica - a.replica),
            sentinelsUs: perMessageUs(b.sentinels - a.sentinels),
          }
        : {}),
      waitsPerMessage: (b.waits - a.waits) / n,
      commandsPerMessage: (b.commands - a.commands) / n,
      notDurable: await workers.counter('utskick_redis_writes_not_durable_total'),
      unreplicated: await workers.counter('utskick_redis_writes_unreplicated_total'),
      exhausted: b.requests >= recipients,
    };
  } finally {
    await workers.stop();
  }
  const warnings = await warnLines(join(ctx.workDir, `${name}-worker-1.log`));
  return { ...result, warnings: warnings.length, firstWarnings: warnings.slice(0, 3) };
}

/** The single server's context for (a); the Sentinel primary's, and the worker's Sentinel settings, for (b). */
function targets(ctx: BenchContext, ha: PrivateSentinels, primaryAdmin: Redis): Record<Topology, Target> {
  // Nothing from the person's shell may pick another Redis or login for the workers.
  const unset = {
    REDIS_PASSWORD_FILE: undefined,
    REDIS_USERNAME: undefined,
    REDIS_SENTINEL_USERNAME: undefined,
    REDIS_SENTINEL_PASSWORD_FILE: undefined,
    REDIS_WAIT_TIMEOUT_MS: undefined,
  };
  return {
    single: {
      topology: 'single',
      ctx,
      workerEnv: { ...unset, REDIS_SENTINELS: undefined, REDIS_SENTINEL_MASTER: undefined },
      otherPids: {},
    },
    sentinel: {
      topology: 'sentinel',
      ctx: { ...ctx, server: ha.primary, redis: primaryAdmin },
      workerEnv: {
        ...unset,
        REDIS_URL: undefined,
        REDIS_SENTINELS: ha.sentinelsEnv,
        REDIS_SENTINEL_MASTER: ha.masterName,
      },
      otherPids: { replica: ha.replicas[0]?.pid, sentinels: ha.sentinelNodes.map((s) => s.pid) },
    },
  };
}

export async function haCase(ctx: BenchContext): Promise<CaseOutput> {
  const windowMs = ctx.quick ? 2500 : 4000;
  const startedAt = performance.now();
  // The same persistence as the bench's single server (startPrivateRedis() with no options): none.
  const ha = await startPrivateSentinels({ replicas: 1, aof: false });
  const topologyS = (performance.now() - startedAt) / 1000;
  const primaryAdmin = new Redis(ha.primary.url, { maxRetriesPerRequest: 1 });
  const runs: Record<Topology, HaRun[]> = { single: [], sentinel: [] };
  let roleAtEnd = 'unknown';
  let rawRate = 0;
  let sim: SimulatorProcess | undefined;
  try {
    sim = await startSimulator(ctx, 'ha');
    const byTopology = targets(ctx, ha, primaryAdmin);
    // The simulator warm (JIT) before the first measured run, as in the dispatch case; its raw
    // rate sizes the first campaign. Then enough recipients to outlast warm-up and window at
    // well above the fastest rate seen so far.
    rawRate = (await rawRun(sim, 1000)).rate;
    let rateGuess = Math.max(2000, rawRate * 1.5);
    for (let run = 1; run <= ctx.runs; run++) {
      const line: string[] = [];
      for (const topology of ['single', 'sentinel'] as const) {
        const seconds = (warmUpMs + windowMs + 3000) / 1000;
        const recipients = Math.min(400_000, Math.ceil((rateGuess * seconds) / 250) * 250);
        const r = await haRun(byTopology[topology], sim, run, recipients, windowMs);
        runs[topology].push(r);
        rateGuess = Math.max(rateGuess, r.rate * 1.5);
        line.push(
          `${topology} ${Math.round(r.rate)}/s ${Math.round(r.workerUs)} µs worker CPU/message` +
            (topology === 'sentinel' ? ` ${r.waitsPerMessage.toFixed(3)} WAIT/message` : '') +
            (r.exhausted ? ' (ran out)' : '') +
            (r.warnings > 0 ? ` (${r.warnings} warning(s) in the worker log)` : ''),
        );
      }
      const [a, b] = [runs.single.at(-1)!, runs.sentinel.at(-1)!];
      line.push(
        `ratio ${(b.rate / a.rate).toFixed(2)}× calls/s, ${(b.workerUs / a.workerUs).toFixed(2)}× CPU`,
      );
      ctx.log(`  run ${run}: ${line.join(', ')}`);
    }
    const role = (await primaryAdmin.call('ROLE')) as unknown[];
    roleAtEnd = String(role[0]);
  } finally {
    await sim?.stop();
    primaryAdmin.disconnect();
    await ha.close();
  }
  for (const r of runs.sentinel.concat(runs.single)) {
    for (const w of r.firstWarnings) ctx.log(`  ha worker log: ${w.slice(0, 300)}`);
  }

  const single = (f: (r: HaRun) => number) => ({
    baseline: { name: 'single node', values: runs.single.map(f) },
  });
  const s = runs.sentinel;
  const metrics: Metric[] = [
    {
      case: 'ha single node',
      name: 'messages/s',
      unit: '1 worker, no rate limit',
      values: runs.single.map((r) => r.rate),
    },
    {
      case: 'ha single node',
      name: 'CPU, worker process',
      unit: 'µs/message',
      values: runs.single.map((r) => r.workerUs),
    },
    {
      case: 'ha single node',
      name: 'CPU, redis-server',
      unit: 'µs/message',
      values: runs.single.map((r) => r.primaryUs),
    },
    {
      case: 'ha single node',
      name: 'Redis commands',
      unit: 'per message',
      values: runs.single.map((r) => r.commandsPerMessage),
    },
    {
      case: 'ha Sentinel',
      name: 'messages/s',
      unit: '1 worker, no rate limit',
      values: s.map((r) => r.rate),
      ...single((r) => r.rate),
      aim: { op: '>=', value: haRateAim, text: `≥ ${haRateAim}× single`, on: 'ratio' },
    },
    {
      case: 'ha Sentinel',
      name: 'CPU, worker process',
      unit: 'µs/message',
      values: s.map((r) => r.workerUs),
      ...single((r) => r.workerUs),
      aim: { op: '<=', value: haWorkerCpuAim, text: `≤ ${haWorkerCpuAim}× single`, on: 'ratio' },
    },
    {
      case: 'ha Sentinel',
      name: 'CPU, primary redis-server',
      unit: 'µs/message',
      values: s.map((r) => r.primaryUs),
      ...single((r) => r.primaryUs),
    },
    { case: 'ha Sentinel', name: 'CPU, replica', unit: 'µs/message', values: s.map((r) => r.replicaUs ?? 0) },
    {
      case: 'ha Sentinel',
      name: 'CPU, 3 Sentinels together',
      unit: 'µs/message',
      values: s.map((r) => r.sentinelsUs ?? 0),
      decimals: 2,
    },
    {
      case: 'ha Sentinel',
      name: 'Redis commands',
      unit: 'per message, primary',
      values: s.map((r) => r.commandsPerMessage),
      ...single((r) => r.commandsPerMessage),
    },
    {
      case: 'ha Sentinel',
      name: 'WAITs',
      unit: 'per message, primary cmdstat_wait',
      values: s.map((r) => r.waitsPerMessage),
      decimals: 3,
    },
  ];

  const all = [...runs.single, ...s];
  const exhausted = all.filter((r) => r.exhausted).length;
  const notDurable = s.reduce((sum, r) => sum + r.notDurable, 0);
  const unreplicated = s.reduce((sum, r) => sum + r.unreplicated, 0);
  const warnings = all.reduce((sum, r) => sum + r.warnings, 0);
  const ledgerWrites = 2;
  const waitsMedian =
    [...s.map((r) => r.waitsPerMessage)].sort((x, y) => x - y)[Math.floor(s.length / 2)] ?? 0;
  return {
    metrics,
    notes: [
      {
        case: 'ha',
        text:
          `One real worker process (workers/deliver.ts, defaults: ${workerDefaults.WORKER_CONCURRENCY} jobs × ${workerDefaults.CALLS_PER_JOB} calls in flight; RATE_PER_SECOND=0) ` +
          'and the simulator answering at once, both compiled (dist/), as in the dispatch case, against (a) the single private redis-server of the bench (REDIS_URL) and ' +
          '(b) a private Sentinel topology started for this case (scripts/lib/private-sentinel.ts: primary + 1 replica + 3 Sentinels on 127.0.0.1, ' +
          `started in ${topologyS.toFixed(1)} s, not timed), its data nodes with the same persistence as the single server (none: no AOF, no RDB saves). ` +
          'The worker finds the primary through the Sentinels (REDIS_SENTINELS, REDIS_SENTINEL_MASTER; REDIS_URL unset; REDIS_WAIT_TIMEOUT_MS default), ' +
          `so every ledger write (the in-flight mark before a call, the outcome after it) is followed by WAIT 1 on its connection, shared by the worker's call loops. ` +
          `Before the first run, raw undici calls warm the simulator for 1.5 s (${Math.round(rawRate)}/s; not a baseline here). ` +
          `Every run measures (a) then (b), each on a flushed Redis with a fresh campaign; after the first answer and ${warmUpMs / 1000} s of warm-up, ` +
          `messages = simulator requests over a ${windowMs / 1000} s window, CPU = utime+stime from /proc/<pid>/stat over the same window, per message; ` +
          'WAITs and commands = deltas of INFO commandstats cmdstat_wait calls and INFO stats total_commands_processed on the primary over the window (the two INFO reads included), per message. ' +
          `Ratios are Sentinel median over single-node median of the same run set. Aims: ≥ ${haRateAim}× the single node's messages/s and ≤ ${haWorkerCpuAim}× its worker CPU per message. ` +
          `Why these: with ${workerDefaults.WORKER_CONCURRENCY * workerDefaults.CALLS_PER_JOB} calls in flight, ${ledgerWrites} ledger writes per message and the WAITs shared ` +
          '(at most one in flight, one queued), a message waits for at most a few localhost replica round trips more, and the worker sends a fraction of a WAIT per message, ' +
          'so the throughput cost should stay within a fifth and the worker CPU within a third; the replica and the Sentinels share the same CPUs, which the single node does not pay for. ' +
          `Median WAITs per message ${waitsMedian.toFixed(3)} (${ledgerWrites} would be one WAIT per write: the batching is the difference). ` +
          `During the Sentinel runs the worker counted ${notDurable} write(s) not durable (written again) and ${unreplicated} taken on the primary alone; ` +
          `the node started as primary was still ${roleAtEnd === 'master' ? 'the primary' : `answering ROLE ${roleAtEnd}`} at the end. ` +
          `${warnings} worker log line(s) at warn level or above over all ha runs.` +
          (exhausted > 0
            ? ` WARNING: in ${exhausted} run(s) the campaign ran out inside the window; that rate is too low.`
            : ''),
      },
    ],
    details: {
      ha: {
        windowMs,
        topologyStartS: topologyS,
        rawWarmUpRate: rawRate,
        runs: runs.single.map((a, i) => ({ single: a, sentinel: s[i] })),
      },
    },
  };
}
