/**
 * Global rate limiter benchmark: our Redis GCRA limiter against bottleneck's
 * Redis clustering, with 2 worker processes sharing one private redis-server.
 *
 *   npm run bench:limiter -- [--seconds 30] [--rates 50,1000]
 *     [--limiters ours,bottleneck,bottleneck-reservoir] [--restart both|no|yes]
 *     [--procs 2] [--concurrency 50] [--out bench/results/limiter.md]
 *
 * Each child process runs `concurrency` loops that acquire and "start a call"
 * (record a timestamp; no HTTP) for the run's length; the parent collects the
 * timestamps and reports the mean rate and the worst one-second (sliding)
 * window against the configured rate. A restart run stops redis-server for 2 s
 * in the middle of the run. Everything is bounded in time: a child exits on its
 * own at the end, or by a hard timer, and the parent kills what is left.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Bottleneck from 'bottleneck';
import { Redis } from 'ioredis';
import { type PrivateRedis, startPrivateRedis } from '../scripts/lib/private-redis.js';
import { createKeys } from '../src/queue/keys.js';
import { createRateLimiter } from '../src/queue/rate-limiter.js';
import { createRedis } from '../src/queue/redis.js';

const limiterKinds = ['ours', 'bottleneck', 'bottleneck-reservoir'] as const;
type LimiterKind = (typeof limiterKinds)[number];

/** What the parent tells a child. */
interface ChildConfig {
  kind: LimiterKind;
  ratePerSecond: number;
  port: number;
  /** Key prefix (ours) or limiter id (bottleneck): the same in every child of a run. */
  id: string;
  concurrency: number;
  durationMs: number;
  /** Hard bound on the child's life, ms from its start. */
  hardLimitMs: number;
}

type ChildMessage =
  | { type: 'ready' }
  | {
      type: 'result';
      times: number[];
      callerErrors: number;
      internalErrors: number;
      droppedSlots: number;
      samples: string[];
    };

type ParentMessage = { type: 'start'; startAt: number };

const RESTART_DOWN_MS = 2000;
const HEARTBEAT_MS = 250;

/** Wall-clock ms with sub-ms precision, comparable across processes on one machine. */
const wallMs = () => performance.timeOrigin + performance.now();

function bottleneckOptions(kind: LimiterKind, rate: number, port: number, id: string) {
  const common = {
    datastore: 'ioredis',
    Redis,
    clientOptions: { host: '127.0.0.1', port },
    id,
    maxConcurrent: null,
  };
  if (kind === 'bottleneck') return { ...common, minTime: 1000 / rate };
  // The default Redis heartbeat (5 s) stalls an empty reservoir; 250 ms is the local datastore's.
  return {
    ...common,
    reservoir: rate,
    reservoirRefreshAmount: rate,
    reservoirRefreshInterval: 1000,
    heartbeatInterval: HEARTBEAT_MS,
  } as Bottleneck.ConstructorOptions;
}

// ---------------------------------------------------------------- child

async function runChild(config: ChildConfig): Promise<void> {
  const hard = setTimeout(() => process.exit(3), config.hardLimitMs);
  hard.unref();
  const times: number[] = [];
  const samples = new Set<string>();
  let callerErrors = 0;
  let internalErrors = 0;
  let droppedSlots = 0;
  const note = (e: unknown) => {
    if (samples.size < 5) samples.add(String((e as Error)?.message ?? e).slice(0, 160));
  };

  const controller = new AbortController();
  let acquireAndStart: () => Promise<void>;
  let close: () => Promise<void>;
  if (config.kind === 'ours') {
    const redis = createRedis(`redis://127.0.0.1:${config.port}`, 'worker');
    redis.on('error', () => {});
    const limiter = createRateLimiter(redis, {
      key: createKeys(config.id).rate,
      onRedisError: (e) => {
        internalErrors++;
        note(e);
      },
      onSlotDropped: () => {
        droppedSlots++;
      },
    });
    acquireAndStart = async () => {
      await limiter.acquire({ globalPerSecond: config.ratePerSecond }, controller.signal);
      times.push(wallMs());
    };
    close = async () => redis.disconnect();
  } else {
    const limiter = new Bottleneck(
      bottleneckOptions(
        config.kind,
        config.ratePerSecond,
        config.port,
        config.id,
      ) as Bottleneck.ConstructorOptions,
    );
    limiter.on('error', (e) => {
      internalErrors++;
      note(e);
    });
    await limiter.ready();
    acquireAndStart = () =>
      limiter.schedule(async () => {
        times.push(wallMs());
      });
    close = async () => {
      await Promise.race([limiter.disconnect(false), delay(1000)]);
    };
  }

  const start = await new Promise<number>((done) => {
    process.on('message', (m: ParentMessage) => {
      if (m.type === 'start') done(m.startAt);
    });
    process.send?.({ type: 'ready' } satisfies ChildMessage);
  });
  await delay(Math.max(0, start - wallMs()));
  const endAt = start + config.durationMs;
  const ended = delay(Math.max(0, endAt - wallMs())).then(() => 'ended' as const);

  await Promise.all(
    Array.from({ length: config.concurrency }, async () => {
      while (wallMs() < endAt) {
        try {
          if ((await Promise.race([acquireAndStart(), ended])) === 'ended') break;
        } catch (e) {
          if (controller.signal.aborted) break;
          callerErrors++;
          note(e);
          await delay(10);
        }
      }
    }),
  );
  controller.abort(new Error('run over'));
  const result: ChildMessage = {
    type: 'result',
    times,
    callerErrors,
    internalErrors,
    droppedSlots,
    samples: [...samples],
  };
  await new Promise<void>((done) => process.send?.(result, () => done()) ?? done());
  await close().catch(() => {});
  process.exit(0);
}

// ---------------------------------------------------------------- parent

interface RunResult {
  kind: LimiterKind;
  rate: number;
  restart: boolean;
  starts: number;
  meanPerSecond: number;
  worstWindow: number;
  afterRestartPerSecond: number | undefined;
  callerErrors: number;
  internalErrors: number;
  droppedSlots: number;
  samples: string[];
  childFailures: string[];
}

/** The most timestamps in any window [t, t + windowMs) that starts at a timestamp. */
export function worstWindow(sorted: number[], windowMs: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (j < i) j = i;
    while (j < sorted.length && sorted[j]! < sorted[i]! + windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

async function prepare(kind: LimiterKind, rate: number, port: number, id: string): Promise<void> {
  if (kind === 'ours') {
    // A fresh keyspace holds its first slot maxAheadMs out (see rate-limiter.ts): pay that before the run.
    const redis = createRedis(`redis://127.0.0.1:${port}`, 'worker');
    try {
      await createRateLimiter(redis, { key: createKeys(id).rate }).acquire({ globalPerSecond: rate });
    } finally {
      redis.disconnect();
    }
    return;
  }
  const limiter = new Bottleneck({
    ...(bottleneckOptions(kind, rate, port, id) as Bottleneck.ConstructorOptions),
    clearDatastore: true,
  });
  await limiter.ready();
  await limiter.disconnect(false);
}

async function runOnce(
  server: PrivateRedis,
  kind: LimiterKind,
  rate: number,
  restart: boolean,
  opts: { seconds: number; procs: number; concurrency: number },
): Promise<RunResult> {
  if (!server.running) await server.start();
  const id = `bench-${kind}-${rate}-${randomBytes(3).toString('hex')}`;
  await prepare(kind, rate, server.port, id);

  const durationMs = opts.seconds * 1000;
  const config: ChildConfig = {
    kind,
    ratePerSecond: rate,
    port: server.port,
    id,
    concurrency: opts.concurrency,
    durationMs,
    hardLimitMs: durationMs + 45_000,
  };
  const self = fileURLToPath(import.meta.url);
  const children: ChildProcess[] = [];
  const results: Extract<ChildMessage, { type: 'result' }>[] = [];
  const childFailures: string[] = [];
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  const watchdog = setTimeout(killAll, durationMs + 60_000);
  try {
    const readies: Promise<void>[] = [];
    const exits: Promise<void>[] = [];
    for (let i = 0; i < opts.procs; i++) {
      const child = fork(self, ['--role', 'child', '--config', JSON.stringify(config)], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      readies.push(
        new Promise((ok, fail) => {
          child.on('message', (m: ChildMessage) => {
            if (m.type === 'ready') ok();
            else results.push(m);
          });
          child.once('exit', (code) => fail(new Error(`child exited before ready (code ${code})`)));
        }),
      );
      exits.push(
        new Promise((done) =>
          child.once('exit', (code, signal) => {
            if (code !== 0) childFailures.push(`child ${i} exit ${code ?? signal}`);
            done();
          }),
        ),
      );
    }
    await Promise.race([
      Promise.all(readies),
      delay(30_000).then(() => {
        throw new Error('children not ready within 30 s');
      }),
    ]);
    const startAt = wallMs() + 300;
    for (const c of children) c.send({ type: 'start', startAt } satisfies ParentMessage);

    let upAt: number | undefined;
    if (restart) {
      await delay(Math.max(0, startAt + durationMs / 2 - RESTART_DOWN_MS / 2 - wallMs()));
      await server.stop();
      await delay(RESTART_DOWN_MS);
      await server.start();
      upAt = wallMs();
    }
    await Promise.all(exits);

    const endAt = startAt + durationMs;
    const all = results
      .flatMap((r) => r.times)
      .filter((t) => t >= startAt && t < endAt)
      .sort((a, b) => a - b);
    let afterRestartPerSecond: number | undefined;
    if (upAt !== undefined) {
      const from = upAt + 3000;
      const n = all.filter((t) => t >= from).length;
      afterRestartPerSecond = endAt > from ? n / ((endAt - from) / 1000) : undefined;
    }
    return {
      kind,
      rate,
      restart,
      starts: all.length,
      meanPerSecond: all.length / opts.seconds,
      worstWindow: worstWindow(all, 1000),
      afterRestartPerSecond,
      callerErrors: results.reduce((s, r) => s + r.callerErrors, 0),
      internalErrors: results.reduce((s, r) => s + r.internalErrors, 0),
      droppedSlots: results.reduce((s, r) => s + r.droppedSlots, 0),
      samples: [...new Set(results.flatMap((r) => r.samples))].slice(0, 4),
      childFailures,
    };
  } finally {
    clearTimeout(watchdog);
    killAll();
  }
}

const pct = (value: number, base: number) => {
  const p = ((value - base) / base) * 100;
  return `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`;
};

function row(r: RunResult): string[] {
  const meanErr = ((r.meanPerSecond - r.rate) / r.rate) * 100;
  const over = ((r.worstWindow - r.rate) / r.rate) * 100;
  const recovered =
    r.afterRestartPerSecond === undefined ? '–' : r.afterRestartPerSecond >= 0.9 * r.rate ? 'yes' : 'no';
  // Bars: mean within 2% (no-restart runs), no window > 5% over, no error reaching the caller, recovery.
  const meets =
    over <= 5 &&
    r.callerErrors === 0 &&
    r.childFailures.length === 0 &&
    (r.restart ? recovered === 'yes' : Math.abs(meanErr) <= 2);
  return [
    r.kind,
    String(r.rate),
    r.restart ? 'yes' : 'no',
    String(r.starts),
    r.meanPerSecond.toFixed(1),
    pct(r.meanPerSecond, r.rate),
    String(r.worstWindow),
    pct(r.worstWindow, r.rate),
    String(r.callerErrors),
    String(r.internalErrors),
    r.afterRestartPerSecond === undefined ? '–' : r.afterRestartPerSecond.toFixed(1),
    recovered,
    meets ? 'yes' : 'NO',
  ];
}

const HEADER = [
  'limiter',
  'rate/s',
  'restart',
  'starts',
  'mean/s',
  'mean vs rate',
  'worst 1-s window',
  'window vs rate',
  'caller errors',
  'internal errors',
  'rate after restart /s',
  'recovered',
  'meets bars',
];

function markdownTable(rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(HEADER), line(HEADER.map(() => '---')), ...rows.map(line)].join('\n');
}

async function runParent(values: Record<string, string | undefined>): Promise<void> {
  const seconds = Number(values.seconds ?? 30);
  const procs = Number(values.procs ?? 2);
  const concurrency = Number(values.concurrency ?? 50);
  const rates = (values.rates ?? '50,1000').split(',').map(Number);
  const kinds = (values.limiters ?? limiterKinds.join(',')).split(',') as LimiterKind[];
  const restartMode = values.restart ?? 'both';
  const out = resolve(values.out ?? 'bench/results/limiter.md');
  for (const k of kinds) if (!limiterKinds.includes(k)) throw new Error(`unknown limiter ${k}`);
  if (![seconds, procs, concurrency, ...rates].every((n) => Number.isFinite(n) && n > 0))
    throw new Error('--seconds, --procs, --concurrency and --rates must be positive numbers');
  if (seconds < 8 && restartMode !== 'no') throw new Error('a restart run needs --seconds 8 or more');
  const restarts = restartMode === 'both' ? [false, true] : [restartMode === 'yes'];

  const server = await startPrivateRedis();
  const stop = () => {
    void server.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const version = await (async () => {
    const r = new Redis(server.url);
    try {
      return /redis_version:(\S+)/.exec(await r.info('server'))?.[1] ?? '?';
    } finally {
      r.disconnect();
    }
  })();

  const loadBefore = loadavg()[0]!.toFixed(1);
  const results: RunResult[] = [];
  try {
    for (const rate of rates) {
      for (const kind of kinds) {
        for (const restart of restarts) {
          process.stderr.write(
            `${kind} at ${rate}/s${restart ? ' with a Redis restart' : ''} for ${seconds} s ... `,
          );
          const r = await runOnce(server, kind, rate, restart, { seconds, procs, concurrency });
          results.push(r);
          process.stderr.write(`${r.meanPerSecond.toFixed(1)}/s, worst window ${r.worstWindow}\n`);
        }
      }
    }
  } finally {
    await server.close();
  }

  const table = markdownTable(results.map(row));
  const notes = results
    .filter((r) => r.samples.length > 0 || r.childFailures.length > 0 || r.droppedSlots > 0)
    .map((r) => {
      const dropped = r.droppedSlots > 0 ? [`${r.droppedSlots} late slots given up (maxLateMs)`] : [];
      return `- ${r.kind} ${r.rate}/s${r.restart ? ' restart' : ''}: ${[...r.childFailures, ...dropped, ...r.samples].join('; ')}`;
    });
  const doc = [
    '# Global rate limiter: ours vs bottleneck clustering',
    '',
    `Run ${new Date().toISOString()} with \`npm run bench:limiter -- --seconds ${seconds}\`: ` +
      `${procs} processes x ${concurrency} loops, a private redis-server ${version}, ${cpus().length} CPUs, ` +
      `load average ${loadBefore} before and ${loadavg()[0]!.toFixed(1)} after (other work shares this machine).`,
    `A loop acquires, then records a timestamp ("starts a call", no HTTP). Mean = starts / ${seconds} s; ` +
      'worst window = most starts in any sliding one-second window. A restart run stops redis-server for ' +
      `${RESTART_DOWN_MS / 1000} s mid-run (its mean includes the outage); "rate after restart" counts from 3 s after ` +
      'Redis is back to the end; recovered = that rate >= 90% of the configured one.',
    'Bars (delivery acceptance): mean within 2%, no window more than 5% over, no error reaching the caller, ' +
      'recovery after a restart. Load on the machine lowers the mean of ours (late slots are given up rather ' +
      'than bunched) and of bottleneck alike.',
    '',
    'Configurations: ours = `createRateLimiter` (GCRA in one Lua script, maxAheadMs 1000); ' +
      "bottleneck = `datastore: 'ioredis', id, minTime: 1000/rate, maxConcurrent: null` (clearDatastore once, " +
      'before the run); bottleneck-reservoir = the same with `reservoir = reservoirRefreshAmount = rate, ' +
      `reservoirRefreshInterval: 1000, heartbeatInterval: ${HEARTBEAT_MS}\` (the Redis default heartbeat, 5 s, stalls the reservoir).`,
    '',
    table,
    '',
    ...(notes.length > 0 ? ['Errors seen (samples):', '', ...notes, ''] : []),
  ].join('\n');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, doc);
  process.stdout.write(`${table}\n\nwritten to ${out}\n`);
}

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    config: { type: 'string' },
    seconds: { type: 'string' },
    rates: { type: 'string' },
    limiters: { type: 'string' },
    restart: { type: 'string' },
    procs: { type: 'string' },
    concurrency: { type: 'string' },
    out: { type: 'string' },
  },
});

if (values.role === 'child') {
  await runChild(JSON.parse(values.config ?? '{}') as ChildConfig);
} else {
  try {
    await runParent(values);
  } catch (error) {
    process.stderr.write(`bench-limiter: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
