import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { JobPolicy } from '../queue/deliver-queue.js';
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
  redisUrl: string;
  /** Extra ioredis options (the password from REDIS_PASSWORD_FILE). */
  redisOptions: { password?: string; username?: string };
  prefix: string;
  jobPolicy: JobPolicy;
}

export function redisPasswordFrom(file: string | undefined): { password?: string } {
  if (!file) return {};
  try {
    return { password: readFileSync(file, 'utf8').trim() };
  } catch (cause) {
    throw new ConfigError(
      `REDIS_PASSWORD_FILE names ${file}, which cannot be read (${(cause as NodeJS.ErrnoException).code})`,
    );
  }
}

/** What every command that talks to Redis needs. */
export function loadClientConfig(env: Env): ClientConfig {
  const c = parseEnv(clientEnvSchema, env);
  return Object.freeze({
    redisUrl: c.REDIS_URL,
    redisOptions: redisPasswordFrom(c.REDIS_PASSWORD_FILE),
    prefix: c.UTSKICK_PREFIX,
    jobPolicy: { attempts: c.JOB_ATTEMPTS, backoffMs: c.JOB_BACKOFF_MS },
  });
}
