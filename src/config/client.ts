import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { JobPolicy } from '../queue/deliver-queue.js';
import { RedisConnectionError, type RedisTarget, redisTarget, sentinelTarget } from '../queue/redis.js';
import { ConfigError, type Env, intFromEnv, parseEnv, redisEnvSchema } from './env.js';

export const jobPolicyEnvSchema = z.object({
  /** BullMQ attempts per delivery job before its open recipients are dead-lettered. Default 5. */
  JOB_ATTEMPTS: intFromEnv(1, 100).default(5),
  /** First wait between job attempts in ms (exponential, with jitter). Default 30000. */
  JOB_BACKOFF_MS: intFromEnv(0, 3_600_000).default(30_000),
});

const clientEnvSchema = redisEnvSchema.extend(jobPolicyEnvSchema.shape).extend({
  /** A file holding the Redis password (compose secrets); never a literal on a command line. */
  REDIS_PASSWORD_FILE: z.string().optional(),
  /** `host:port,host:port,…`: find the primary through these Sentinels instead of REDIS_URL. */
  REDIS_SENTINELS: z.string().optional(),
  /** The name the Sentinels monitor the primary under. */
  REDIS_SENTINEL_MASTER: z.string().optional(),
  /** The Redis user on the data nodes in Sentinel mode (in single-node mode the user is in REDIS_URL). */
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_SENTINEL_USERNAME: z.string().min(1).optional(),
  /** A file holding the Sentinels' password, when they have one. */
  REDIS_SENTINEL_PASSWORD_FILE: z.string().optional(),
  /**
   * With Sentinels: how long one WAIT for a replica's acknowledgement lasts, ms.
   * At most 1500: a WAIT holds its connection, and /readyz pings on it within 2 s.
   */
  REDIS_WAIT_TIMEOUT_MS: intFromEnv(10, 1500).default(1000),
});

export interface ClientConfig {
  /** Where and as whom to connect (REDIS_URL with REDIS_PASSWORD_FILE): pass it to createRedis. */
  redis: RedisTarget;
  prefix: string;
  jobPolicy: JobPolicy;
  /** With Sentinels, the WAIT timeout of a write that must survive a failover (REDIS_WAIT_TIMEOUT_MS). */
  waitTimeoutMs: number;
  /** Settings that were read but do not apply (REDIS_URL beside REDIS_SENTINELS), for a warning at start. */
  notes: readonly string[];
  /** @deprecated REDIS_URL as given: use `redis` (createRedis(config.redis, role)). */
  redisUrl: string;
  /** @deprecated the password from REDIS_PASSWORD_FILE: use `redis`. */
  redisOptions: { password?: string };
}

/** The password in REDIS_PASSWORD_FILE (surrounding blanks and the final newline dropped). */
export function redisPasswordFrom(
  file: string | undefined,
  variable = 'REDIS_PASSWORD_FILE',
): { password?: string } {
  if (!file) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (cause) {
    throw new ConfigError(
      `${variable} names ${file}, which cannot be read (${(cause as NodeJS.ErrnoException).code})`,
    );
  }
  if (text === '') throw new ConfigError(`${variable} names ${file}, which is empty`);
  return { password: text };
}

const asConfigError = <T>(build: () => T): T => {
  try {
    return build();
  } catch (err) {
    if (err instanceof RedisConnectionError) throw new ConfigError(err.message);
    throw err;
  }
};

/**
 * REDIS_URL and REDIS_PASSWORD_FILE as one connection target; every problem
 * (a password in the URL, a user without a password file) is a ConfigError naming the variable.
 */
export function loadRedisTarget(url: string, passwordFile: string | undefined): RedisTarget {
  const { password } = redisPasswordFrom(passwordFile);
  return asConfigError(() => redisTarget(url, password));
}

type RedisEnv = z.infer<typeof clientEnvSchema>;

/**
 * A single node (REDIS_URL) or a primary found through Sentinels
 * (REDIS_SENTINELS with REDIS_SENTINEL_MASTER). With both set the Sentinels
 * win: the config's `notes` say REDIS_URL is ignored, and the commands show it.
 */
function loadTarget(c: RedisEnv, env: Env): RedisTarget {
  const sentinelOnly = ['REDIS_SENTINEL_MASTER', 'REDIS_USERNAME', 'REDIS_SENTINEL_USERNAME'] as const;
  if (!c.REDIS_SENTINELS) {
    const stray = [...sentinelOnly, 'REDIS_SENTINEL_PASSWORD_FILE'].find((v) => env[v]);
    if (stray) throw new ConfigError(`${stray} is set but REDIS_SENTINELS is not: set both, or neither`);
    return loadRedisTarget(c.REDIS_URL, c.REDIS_PASSWORD_FILE);
  }
  if (!c.REDIS_SENTINEL_MASTER)
    throw new ConfigError(
      'REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER is not: name the primary the Sentinels monitor',
    );
  const { password } = redisPasswordFrom(c.REDIS_PASSWORD_FILE);
  const sentinel = redisPasswordFrom(c.REDIS_SENTINEL_PASSWORD_FILE, 'REDIS_SENTINEL_PASSWORD_FILE');
  return asConfigError(() =>
    sentinelTarget({
      sentinels: c.REDIS_SENTINELS!,
      master: c.REDIS_SENTINEL_MASTER!,
      ...(c.REDIS_USERNAME ? { username: c.REDIS_USERNAME } : {}),
      ...(password !== undefined ? { password } : {}),
      ...(c.REDIS_SENTINEL_USERNAME ? { sentinelUsername: c.REDIS_SENTINEL_USERNAME } : {}),
      ...(sentinel.password !== undefined ? { sentinelPassword: sentinel.password } : {}),
    }),
  );
}

/** What every command that talks to Redis needs. */
export function loadClientConfig(env: Env): ClientConfig {
  const c = parseEnv(clientEnvSchema, env);
  const redis = loadTarget(c, env);
  return Object.freeze({
    redis,
    prefix: c.UTSKICK_PREFIX,
    jobPolicy: { attempts: c.JOB_ATTEMPTS, backoffMs: c.JOB_BACKOFF_MS },
    waitTimeoutMs: c.REDIS_WAIT_TIMEOUT_MS,
    notes:
      c.REDIS_SENTINELS && env.REDIS_URL
        ? ['REDIS_URL is ignored: REDIS_SENTINELS is set, so the primary is the one the Sentinels name']
        : [],
    redisUrl: c.REDIS_URL,
    redisOptions: redis.password === undefined ? {} : { password: redis.password },
  });
}
