import { Redis, type RedisOptions } from 'ioredis';

export type RedisRole = 'worker' | 'client';

/**
 * Opens a Redis connection for a role. Workers block and must survive Redis
 * restarts (maxRetriesPerRequest: null, as BullMQ requires); CLI clients should
 * fail fast with a clear error instead of hanging on a Redis that is not there.
 */
export function createRedis(url: string, role: RedisRole, extra: RedisOptions = {}): Redis {
  const options: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true, ...extra }
      : {
          maxRetriesPerRequest: 1,
          connectTimeout: 3000,
          retryStrategy: (times) => (times > 3 ? null : 200 * times),
          ...extra,
        };
  return new Redis(url, options);
}

/** The URL without a password, for log lines and error messages. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}
