import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { JobPolicy } from '../queue/deliver-queue.js';
import { RedisConnectionError, type RedisTarget, redisTarget } from '../queue/redis.js';
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
});

export interface ClientConfig {
  /** Where and as whom to connect (REDIS_URL with REDIS_PASSWORD_FILE): pass it to createRedis. */
  redis: RedisTarget;
  prefix: string;
  jobPolicy: JobPolicy;
  /** @deprecated REDIS_URL as given: use `redis` (createRedis(config.redis, role)). */
  redisUrl: string;
  /** @deprecated the password from REDIS_PASSWORD_FILE: use `redis`. */
  redisOptions: { password?: string };
}

/** The password in REDIS_PASSWORD_FILE (surrounding blanks and the final newline dropped). */
export function redisPasswordFrom(file: string | undefined): { password?: string } {
  if (!file) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (cause) {
    throw new ConfigError(
      `REDIS_PASSWORD_FILE names ${file}, which cannot be read (${(cause as NodeJS.ErrnoException).code})`,
    );
  }
  if (text === '') throw new ConfigError(`REDIS_PASSWORD_FILE names ${file}, which is empty`);
  return { password: text };
}

/**
 * REDIS_URL and REDIS_PASSWORD_FILE as one connection target; every problem
 * (a password in the URL, a user without a password file) is a ConfigError naming the variable.
 */
export function loadRedisTarget(url: string, passwordFile: string | undefined): RedisTarget {
  const { password } = redisPasswordFrom(passwordFile);
  try {
    return redisTarget(url, password);
  } catch (err) {
    if (err instanceof RedisConnectionError) throw new ConfigError(err.message);
    throw err;
  }
}

/** What every command that talks to Redis needs. */
export function loadClientConfig(env: Env): ClientConfig {
  const c = parseEnv(clientEnvSchema, env);
  const redis = loadRedisTarget(c.REDIS_URL, c.REDIS_PASSWORD_FILE);
  return Object.freeze({
    redis,
    prefix: c.UTSKICK_PREFIX,
    jobPolicy: { attempts: c.JOB_ATTEMPTS, backoffMs: c.JOB_BACKOFF_MS },
    redisUrl: c.REDIS_URL,
    redisOptions: redis.password === undefined ? {} : { password: redis.password },
  });
}
