/**
 * Measuring helpers for `npm run bench`: summaries of repeated runs, a
 * process's CPU time from /proc, Redis memory, and the machine's description.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import type { Redis } from 'ioredis';
import { root } from '../../scripts/lib/processes.js';

export interface Summary {
  median: number;
  min: number;
  max: number;
}

export function summarise(values: readonly number[]): Summary {
  if (values.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]! };
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat times (getconf CLK_TCK; 100 when unknown). */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(out.stdout?.trim());
    clockTicks = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** User + system CPU time a process has used so far, ms (Linux /proc); undefined when unreadable. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / ticksPerSecond();
  } catch {
    return undefined;
  }
}

/** INFO memory's used_memory, bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const m = /^used_memory:(\d+)/m.exec(info);
  if (!m) throw new Error('INFO memory has no used_memory');
  return Number(m[1]);
}

/** Empties the server synchronously, so the next used_memory reading is the empty baseline. */
export async function flush(redis: Redis): Promise<void> {
  await redis.flushall('SYNC');
}

/** Sum of MEMORY USAGE over every key matching `pattern`, and how many keys. */
export async function memoryOfKeys(redis: Redis, pattern: string): Promise<{ bytes: number; keys: number }> {
  let cursor = '0';
  let bytes = 0;
  let keys = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (batch.length > 0) {
      const p = redis.pipeline();
      for (const k of batch) p.memory('USAGE', k, 'SAMPLES', 0);
      for (const [err, v] of (await p.exec()) ?? []) {
        if (err) throw err;
        bytes += Number(v ?? 0);
        keys++;
      }
    }
  } while (cursor !== '0');
  return { bytes, keys };
}

export interface Machine {
  date: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  redis: string;
  os: string;
  commit: string;
  /** 1-, 5- and 15-minute load averages when the bench started: other work on the machine skews every figure. */
  loadAtStart: number[];
  /** Share of all CPUs busy (with anything) over one second just before the bench started, %. */
  busyBeforeStartPct: number;
}

function cpuTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** How busy the CPUs are over `ms` (Linux /proc/stat), %; NaN when unknown. */
export async function cpuBusyPct(ms = 1000): Promise<number> {
  const a = cpuTicks();
  await sleep(ms);
  const b = cpuTicks();
  return b.total > a.total ? Math.round(((b.busy - a.busy) / (b.total - a.total)) * 100) : Number.NaN;
}

export async function describeMachine(redis: Redis): Promise<Machine> {
  const info = await redis.info('server');
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    redis: /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown',
    os: `${process.platform} ${release()}`,
    commit: git.status === 0 ? git.stdout.trim() : 'unknown',
    loadAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
    busyBeforeStartPct: await cpuBusyPct(),
  };
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
