import { Redis, type RedisOptions } from 'ioredis';
import {
  classifyRedisError,
  explainRedisError,
  isSelectError,
  RedisConnectionError,
} from './redis-errors.js';
import { defineScripts } from './scripts.js';

export {
  classifyRedisError,
  explainRedisError,
  RedisConnectionError,
  type RedisErrorCode,
  redactRedisUrl,
} from './redis-errors.js';

export type RedisRole = 'worker' | 'client';

/**
 * Where and as whom to connect: REDIS_URL parsed, with the password from
 * REDIS_PASSWORD_FILE. Built by `redisTarget`; the URL never holds a password.
 */
export interface RedisTarget {
  /** REDIS_URL as given (no password: a URL with one is refused). */
  readonly url: string;
  readonly host: string;
  /** Default 6379. */
  readonly port: number;
  /** The database index, from the URL's path. Default 0. */
  readonly db: number;
  /** rediss:// */
  readonly tls: boolean;
  readonly username?: string;
  /** From REDIS_PASSWORD_FILE. Not enumerable, so a logged or serialised target never shows it. */
  readonly password?: string;
}

const refuse = (message: string) => new RedisConnectionError('REDIS_CONFIG', message);

function parseUrl(url: string): URL {
  try {
    return new URL(url);
  } catch {
    throw refuse('REDIS_URL is not a URL such as redis://host:6379');
  }
}

/**
 * Checks REDIS_URL and joins it with the password from REDIS_PASSWORD_FILE.
 * A password in the URL is refused (passwords never go in URLs or on command
 * lines), and so is a named user without a password: ioredis would otherwise
 * log in with an empty one and retry WRONGPASS for ever.
 * @throws RedisConnectionError REDIS_CONFIG naming REDIS_URL
 */
export function redisTarget(url: string, password?: string): RedisTarget {
  const u = parseUrl(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw refuse('REDIS_URL must start with redis:// or rediss://');
  if (u.password) throw refuse('REDIS_URL holds a password: put the password in REDIS_PASSWORD_FILE');
  if (u.search || u.hash) throw refuse('REDIS_URL takes no query or fragment (?… or #…)');
  if (!u.hostname) throw refuse('REDIS_URL names no host');
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,9}$/.test(path))
    throw refuse('REDIS_URL: the database after the host must be a number such as /0');
  const username = u.username ? decodeURIComponent(u.username) : undefined;
  if (username && password === undefined) {
    throw refuse(
      `REDIS_URL names user ${username} but REDIS_PASSWORD_FILE is not set: put its password there`,
    );
  }
  const target: RedisTarget = {
    url,
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    db: path === '' ? 0 : Number(path),
    tls: u.protocol === 'rediss:',
    ...(username ? { username } : {}),
  };
  if (password !== undefined)
    Object.defineProperty(target, 'password', { value: password, enumerable: false });
  return Object.freeze(target);
}

/**
 * ioredis options for a role, from the target alone (never a URL string: ioredis
 * lets a URL's empty password win over the options'). Workers block and must
 * survive Redis restarts (maxRetriesPerRequest: null, as BullMQ requires); CLI
 * clients fail fast with a clear error instead of hanging on a Redis that is not there.
 */
export function redisOptionsFor(target: RedisTarget, role: RedisRole): RedisOptions {
  const where: RedisOptions = {
    host: target.host,
    port: target.port,
    db: target.db,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  };
  return role === 'worker'
    ? { ...where, maxRetriesPerRequest: null, enableReadyCheck: true }
    : {
        ...where,
        maxRetriesPerRequest: 1,
        connectTimeout: 3000,
        retryStrategy: (times) => (times > 3 ? null : 200 * times),
      };
}

/** The last errors a connection saw, for connectOrExplain. */
interface Seen {
  last?: unknown;
  /** A wrong setting seen since the latest connect (a failed SELECT). */
  refused?: unknown;
}
const seen = new WeakMap<Redis, Seen>();

/**
 * Records what a connection reports, so no error goes unhandled (ioredis would
 * print a stack) and connectOrExplain can name the cause. A failed SELECT ends
 * the connection: ioredis would go on in database 0, the wrong data.
 */
function watch(redis: Redis): void {
  const state: Seen = {};
  seen.set(redis, state);
  redis.on('connect', () => {
    state.refused = undefined;
  });
  redis.on('error', (err: unknown) => {
    state.last = err;
    if (!isSelectError(err)) return;
    state.refused = err;
    redis.disconnect();
  });
}

/**
 * The one way this service opens a Redis connection, with the service's Lua
 * commands defined on it (scripts.ts). `target` comes from
 * loadClientConfig (`config.redis`); a bare URL is accepted for tools without
 * a password, with `extra.password` as the password.
 * @param extra more ioredis options (never host, user or password: they come from the target)
 */
export function createRedis(target: RedisTarget | string, role: RedisRole, extra: RedisOptions = {}): Redis {
  const { password, username: _ignored, host: _host, port: _port, db: _db, ...rest } = extra;
  const resolved = typeof target === 'string' ? redisTarget(target, password) : target;
  const redis = new Redis({ ...redisOptionsFor(resolved, role), ...rest });
  watch(redis);
  defineScripts(redis);
  return redis;
}

/** The error that says most: a wrong setting over an outage, the socket's reason over a retry count. */
function telling(thrown: unknown, state: Seen | undefined): unknown {
  if (classifyRedisError(thrown) === 'REDIS_CONFIG' || classifyRedisError(thrown) === 'REDIS_PERMISSION')
    return thrown;
  return state?.refused ?? state?.last ?? thrown;
}

/**
 * Waits until `redis` answers as configured, or throws one RedisConnectionError
 * naming REDIS_URL: REDIS_CONFIG (refused login, database out of range),
 * REDIS_PERMISSION, or REDIS_UNREACHABLE. A client connection gives up after
 * its few retries; a worker connection waits through an outage and fails only
 * on a wrong setting.
 */
export async function connectOrExplain(redis: Redis, target: RedisTarget): Promise<void> {
  const state = seen.get(redis);
  try {
    await redis.ping();
  } catch (err) {
    throw explainRedisError(telling(err, state), target.url);
  }
  if (state?.refused) throw explainRedisError(state.refused, target.url);
}
