import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';

/** The real Redis the suite runs against (see global-setup). */
export function redisUrl(): string {
  return inject('redisUrl');
}

/** A key prefix of its own for one test file or test: no colon, unique per run. */
export function uniquePrefix(name: string): string {
  return `t-${name.replace(/[^A-Za-z0-9_-]/g, '-')}-${randomBytes(4).toString('hex')}`;
}

export function connect(): Redis {
  return new Redis(redisUrl(), { maxRetriesPerRequest: null });
}

/**
 * The patterns of a prefix's keys: `<prefix>:*`, and the audit log's
 * `<prefix>-audit:*`, which lies outside it on purpose (src/queue/keys.ts).
 */
const patternsOf = (prefix: string) => [`${prefix}:*`, `${prefix}-audit:*`];

/** Every key of a prefix, the audit log included. */
async function keysOf(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const pattern of patternsOf(prefix)) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      out.push(...keys);
    } while (cursor !== '0');
  }
  return out;
}

/** Deletes every key under a prefix, the audit log included. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  const keys = await keysOf(redis, prefix);
  for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000));
}

/** Every key and value under a prefix (the audit log included) as text, for scans that look for personal data. */
export async function dumpPrefix(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const key of await keysOf(redis, prefix)) {
    out.push(key);
    const type = await redis.type(key);
    if (type === 'string') out.push((await redis.getBuffer(key))?.toString('latin1') ?? '');
    else if (type === 'hash') out.push(...Object.entries(await redis.hgetall(key)).flat());
    else if (type === 'list') out.push(...(await redis.lrange(key, 0, -1)));
    else if (type === 'set') out.push(...(await redis.smembers(key)));
    else if (type === 'zset') out.push(...(await redis.zrange(key, 0, -1)));
    else if (type === 'stream') out.push(JSON.stringify(await redis.xrange(key, '-', '+')));
  }
  return out;
}
