import type { Redis } from 'ioredis';
import type { PrivateRedis } from '../../scripts/lib/private-redis.js';
import { createKeys } from '../../src/queue/keys.js';
import { activateUnit } from '../../src/queue/units.js';
import { benchPrefix, benchUnit } from './fixtures.js';
import { flush } from './measure.js';
import type { CaseNote, Metric } from './report.js';

/** What every bench case gets: the private Redis, a data key, a scratch directory and the run settings. */
export interface BenchContext {
  server: PrivateRedis;
  /** An admin connection to `server` (INFO, FLUSHALL, stats). */
  redis: Redis;
  /** This run's data key, base64; passed to children in their environment only. */
  dataKey: string;
  /** Scratch directory (synthetic files, archives, logs); removed at the end. */
  workDir: string;
  quick: boolean;
  runs: number;
  /** Progress for the person running the bench (stderr). */
  log(line: string): void;
}

/** The environment an enqueue child or a worker needs to reach the bench's Redis with its key. */
export function baseEnv(ctx: BenchContext): Record<string, string> {
  return {
    REDIS_URL: ctx.server.url,
    UTSKICK_PREFIX: benchPrefix,
    UTSKICK_DATA_KEY: ctx.dataKey,
    // A child must not inherit a profiler or loader flag from the person's shell.
    NODE_OPTIONS: '',
  };
}

/** Empties Redis and activates the bench unit: the state every run starts from. */
export async function freshRedis(ctx: BenchContext): Promise<void> {
  await flush(ctx.redis);
  await activateUnit(ctx.redis, createKeys(benchPrefix), {
    ...benchUnit,
    activatedAt: new Date().toISOString(),
  });
}

/** What a case hands back: its figures, how they were measured, and optional report sections. */
export interface CaseOutput {
  metrics: Metric[];
  notes: CaseNote[];
  sections?: { title: string; body: string }[];
  /** Raw series for latest.json (not rendered in the table). */
  details?: Record<string, unknown>;
}
