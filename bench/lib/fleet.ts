/**
 * The moving parts of the delivery cases as real child processes, as the demo
 * wires them: the 1177 simulator (scripts/simulator.ts) and delivery workers
 * (workers/deliver.ts), with their CPU time read from /proc. Both run as
 * compiled JavaScript from dist/ (npm run build), as the container runs them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { compiledEntry, root, spawnEntry, stopProcess, waitForLine } from '../../scripts/lib/processes.js';
import type { SimulatorStats } from '../../src/simulator/store.js';
import { type BenchContext, baseEnv } from './context.js';
import { benchLogicalAddress, benchSourceSystem } from './fixtures.js';
import { processCpuMs } from './measure.js';

export interface SimulatorProcess {
  url: string;
  child: ChildProcess;
  stats(): Promise<SimulatorStats>;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** The simulator answering at once, everything accepted. */
export async function startSimulator(ctx: BenchContext, name: string): Promise<SimulatorProcess> {
  const child = spawnEntry('scripts/simulator.ts', ['--port', '0'], baseEnv(ctx), {
    compiled: true,
    logFile: join(ctx.workDir, `${name}-simulator.log`),
  });
  const url = (await waitForLine(child, /^INBOX_URL=(\S+)/))[1]!;
  const admin = (path: string) => new URL(path, url).toString();
  return {
    url,
    child,
    async stats() {
      const res = await request(admin('/__stats'));
      return (await res.body.json()) as SimulatorStats;
    },
    async reset() {
      const res = await request(admin('/__reset'), { method: 'POST' });
      await res.body.text();
    },
    async stop() {
      await stopProcess(child, 'SIGTERM', 5000);
    },
  };
}

export interface Workers {
  children: ChildProcess[];
  /** Each worker's /metrics port. */
  metricsPorts: number[];
  /** The sum of one counter over every worker's /metrics (0 when absent); `labels` e.g. 'stage="call"'. */
  counter(name: string, labels?: string): Promise<number>;
  /** Summed CPU time of every worker process so far, ms. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/**
 * `count` worker processes with the production defaults (WORKER_CONCURRENCY 4
 * × CALLS_PER_JOB 16 calls in flight, INBOX_CONNECTIONS 16) and the given
 * global rate (0 = no limit); resolves once every one has logged "worker started".
 * `options.env` is laid over the bench's environment last (undefined unsets a
 * variable), e.g. REDIS_SENTINELS in place of REDIS_URL. Default nothing.
 */
export async function startWorkers(
  ctx: BenchContext,
  name: string,
  count: number,
  inboxUrl: string,
  ratePerSecond: number,
  options: { cpuProfDir?: string; env?: Record<string, string | undefined> } = {},
): Promise<Workers> {
  const env: Record<string, string | undefined> = {
    ...baseEnv(ctx),
    INBOX_URL: inboxUrl,
    INBOX_ALLOW_INSECURE: 'true',
    INBOX_LOGICAL_ADDRESS: benchLogicalAddress,
    INBOX_SOURCE_SYSTEM: benchSourceSystem,
    RATE_PER_SECOND: String(ratePerSecond),
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    SHUTDOWN_GRACE_MS: '3000',
    LOG_LEVEL: 'info',
    ...options.env,
  };
  const children = Array.from({ length: count }, (_, i) => {
    const logFile = join(ctx.workDir, `${name}-worker-${i + 1}.log`);
    return options.cpuProfDir
      ? spawnProfiled('workers/deliver.ts', env, logFile, options.cpuProfDir)
      : spawnEntry('workers/deliver.ts', [], env, { logFile, compiled: true });
  });
  const stop = async () => {
    await Promise.all(children.map((c) => stopProcess(c, 'SIGTERM', 8000)));
  };
  let metricsPorts: number[];
  try {
    const started = await Promise.all(
      children.map((c) => waitForLine(c, /"metricsPort":(\d+).*worker started/, 60_000)),
    );
    metricsPorts = started.map((m) => Number(m[1]));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    children,
    metricsPorts,
    async counter(name, labels) {
      let sum = 0;
      for (const port of metricsPorts) {
        const res = await request(`http://127.0.0.1:${port}/metrics`);
        const text = await res.body.text();
        for (const line of text.split('\n')) {
          const match = labels
            ? line.startsWith(`${name}{`) && line.includes(labels)
            : line.startsWith(`${name} `) || line.startsWith(`${name}{`);
          if (match) sum += Number(line.split(' ').pop());
        }
      }
      return sum;
    },
    cpuMs: () => children.reduce((sum, c) => sum + (processCpuMs(c.pid) ?? 0), 0),
    stop,
  };
}

/**
 * An entry point under `node --cpu-prof` (a profile for its whole life, written
 * into `dir` when it exits), its output drained into `logFile`.
 */
function spawnProfiled(
  entry: string,
  env: Record<string, string | undefined>,
  logFile: string,
  dir: string,
): ChildProcess {
  const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, compiledEntry(entry)], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });
  child.once('exit', () => log.end());
  // Never outlive the bench.
  process.once('exit', () => child.kill('SIGKILL'));
  return child;
}

/** Accepted calls per full unix second from the simulator's histogram, between `fromSec` and `toSec` inclusive (zeros filled in). */
export function secondsOf(histogram: Record<string, number>, fromSec: number, toSec: number): number[] {
  const out: number[] = [];
  for (let s = fromSec; s <= toSec; s++) out.push(histogram[String(s)] ?? 0);
  return out;
}
