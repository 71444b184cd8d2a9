import { z } from 'zod';
import type { InboxClientOptions } from '../delivery/inbox-client.js';
import type { DispatchOptions } from '../dispatch/deliver-handler.js';
import type { Keyring } from '../queue/keyring.js';
import { type ClientConfig, loadClientConfig } from './client.js';
import { loadDeliveryConfig } from './delivery.js';
import { ConfigError, type Env, intFromEnv, loadKeyring, parseEnv } from './env.js';

const share = z.coerce.number().gt(0).lte(1);

/** The worker's own settings (besides Redis, the data key and the inbox). */
export const workerEnvSchema = z.object({
  /** Global AddMessage calls per second for ALL workers together; 0 = no limit. Default 50. */
  RATE_PER_SECOND: z.coerce.number().min(0).max(100_000).default(50),
  /** Jobs (chunks) one worker runs at once. Default 4. */
  WORKER_CONCURRENCY: intFromEnv(1, 256).default(4),
  /** Calls one job runs at once. Default 16. */
  CALLS_PER_JOB: intFromEnv(1, 250).default(16),
  CALL_RETRIES: intFromEnv(0, 20).default(3),
  CALL_BACKOFF_MS: intFromEnv(0, 60_000).default(200),
  CALL_BACKOFF_MAX_MS: intFromEnv(0, 600_000).default(10_000),
  MAX_RETRY_AFTER_WAITS: intFromEnv(0, 1000).default(10),
  ON_UNCERTAIN: z.enum(['resend', 'park']).default('park'),
  SHUTDOWN_GRACE_MS: intFromEnv(0, 600_000).default(30_000),
  METRICS_PORT: intFromEnv(0, 65_535).default(9464),
  METRICS_HOST: z.string().default('0.0.0.0'),
  /** BullMQ job lock, ms: a killed worker's job is picked up after about this long. Default 30000. */
  LOCK_DURATION_MS: intFromEnv(500, 600_000).default(30_000),
  STALLED_INTERVAL_MS: intFromEnv(100, 600_000).default(30_000),
  PAUSED_RECHECK_MS: intFromEnv(100, 600_000).default(5_000),
  CAMPAIGN_STATE_MAX_AGE_MS: intFromEnv(0, 10_000).default(250),
  AUTO_PAUSE_WINDOW: intFromEnv(10, 100_000).default(200),
  AUTO_PAUSE_THRESHOLD: share.default(0.5),
  /** Days after its last activity that a finished campaign's personal data is purged; 0 = never. Default 30. */
  RETENTION_DAYS: z.coerce.number().min(0).max(3650).default(30),
  /** Calls a fresh worker makes to a loopback server in its own process before its first job, to warm its code (src/dispatch/warm-up.ts); 0 = none. Default 400. */
  WARM_UP_CALLS: intFromEnv(0, 100_000).default(400),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface WorkerConfig {
  client: ClientConfig;
  keyring: Keyring;
  inbox: InboxClientOptions;
  dispatch: DispatchOptions;
  concurrency: number;
  shutdownGraceMs: number;
  metrics: { port: number; host: string };
  lockDurationMs: number;
  stalledIntervalMs: number;
  campaignStateMaxAgeMs: number;
  autoPause: { window: number; threshold: number };
  logLevel: string;
  retentionDays: number;
  warmUpCalls: number;
}

/** Reads and checks everything a worker needs; every bad variable is named in one ConfigError. */
export function loadWorkerConfig(env: Env): WorkerConfig {
  const errors: string[] = [];
  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch (err) {
      if (err instanceof ConfigError) errors.push(err.message.replace(/^invalid configuration: /, ''));
      else throw err;
      return undefined;
    }
  };
  const client = attempt(() => loadClientConfig(env));
  const keyring = attempt(() => loadKeyring(env));
  const inbox = attempt(() => loadDeliveryConfig(env));
  const w = attempt(() => parseEnv(workerEnvSchema, env));
  if (inbox && !inbox.sourceSystem) {
    // Campaigns notify residents by default, and AddMessage requires
    // sourceSystem when they do: a worker without it would fail every call.
    errors.push(
      'INBOX_SOURCE_SYSTEM: required: AddMessage needs sourceSystem (the HSA-id of this system) whenever a campaign notifies residents, which campaigns do by default',
    );
  }
  if (errors.length > 0 || !client || !keyring || !inbox || !w) {
    throw new ConfigError(`invalid configuration: ${errors.join('; ')}`);
  }
  return Object.freeze({
    client,
    keyring,
    inbox,
    dispatch: {
      ratePerSecond: w.RATE_PER_SECOND,
      callsPerJob: w.CALLS_PER_JOB,
      callRetries: w.CALL_RETRIES,
      callBackoffMs: w.CALL_BACKOFF_MS,
      callBackoffMaxMs: w.CALL_BACKOFF_MAX_MS,
      maxRetryAfterWaits: w.MAX_RETRY_AFTER_WAITS,
      onUncertain: w.ON_UNCERTAIN,
      pausedRecheckMs: w.PAUSED_RECHECK_MS,
    },
    concurrency: w.WORKER_CONCURRENCY,
    shutdownGraceMs: w.SHUTDOWN_GRACE_MS,
    metrics: { port: w.METRICS_PORT, host: w.METRICS_HOST },
    lockDurationMs: w.LOCK_DURATION_MS,
    stalledIntervalMs: w.STALLED_INTERVAL_MS,
    campaignStateMaxAgeMs: w.CAMPAIGN_STATE_MAX_AGE_MS,
    autoPause: { window: w.AUTO_PAUSE_WINDOW, threshold: w.AUTO_PAUSE_THRESHOLD },
    logLevel: w.LOG_LEVEL,
    retentionDays: w.RETENTION_DAYS,
    warmUpCalls: w.WARM_UP_CALLS,
  });
}
