import { Redis, type RedisOptions } from 'ioredis';
import { classifyRedisError, explainRedisError, isSelectError } from './redis-errors.js';
import { type RedisTarget, redisTarget, type SentinelNode, type SentinelSet } from './redis-target.js';
import { defineScripts } from './scripts.js';

export {
  classifyRedisError,
  explainRedisError,
  RedisConnectionError,
  type RedisErrorCode,
  redactRedisUrl,
} from './redis-errors.js';

export {
  parseSentinelList,
  type RedisTarget,
  redisTarget,
  type SentinelNode,
  type SentinelSet,
  sentinelTarget,
} from './redis-target.js';

export type RedisRole = 'worker' | 'client';

/** A write sent to a node that has become a replica: reconnect (through the Sentinels) and send it again. */
const toPrimaryAgain = (err: Error) =>
  /^(READONLY\b|ERR WAIT cannot be used with replica)/.test(err.message) ? 2 : false;

/**
 * ioredis options for a role, from the target alone (never a URL string: ioredis
 * lets a URL's empty password win over the options'). Workers block and must
 * survive Redis restarts (maxRetriesPerRequest: null, as BullMQ requires); CLI
 * clients fail fast with a clear error instead of hanging on a Redis that is not there.
 */
export function redisOptionsFor(target: RedisTarget, role: RedisRole): RedisOptions {
  const login: RedisOptions = {
    db: target.db,
    ...(target.username ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  };
  const s = target.sentinel;
  const where: RedisOptions = s
    ? {
        ...login,
        sentinels: s.nodes.map((n) => ({ host: n.host, port: n.port })),
        name: s.master,
        role: 'master',
        ...(s.username ? { sentinelUsername: s.username } : {}),
        ...(s.password !== undefined ? { sentinelPassword: s.password } : {}),
        // No failoverDetector: with it, a +switch-master that arrives while the client
        // is already reconnecting ends the connection for good ("Connection is closed",
        // status end; seen in about half of the SIGKILL failovers of
        // test/queue/rate-limiter.failover.test.ts with ioredis 5.11). A killed primary
        // closes the socket, and on a planned failover the Sentinels disconnect the
        // old primary's clients; READONLY from a demoted node reconnects too.
        reconnectOnError: toPrimaryAgain,
      }
    : { ...login, host: target.host, port: target.port };
  if (role === 'worker') {
    return {
      ...where,
      maxRetriesPerRequest: null,
      enableReadyCheck: true,
      ...(s ? { sentinelRetryStrategy: (times: number) => Math.min(100 * times, 2000) } : {}),
    };
  }
  const giveUp = (times: number) => (times > 3 ? null : 200 * times);
  return {
    ...where,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    retryStrategy: giveUp,
    ...(s ? { sentinelRetryStrategy: giveUp } : {}),
  };
}

/** A short-lived connection to one Sentinel (for questions ioredis does not ask), failing fast. */
export function sentinelClient(set: SentinelSet, node: SentinelNode): Redis {
  return new Redis({
    host: node.host,
    port: node.port,
    ...(set.username ? { username: set.username } : {}),
    ...(set.password !== undefined ? { password: set.password } : {}),
    connectTimeout: 1000,
    commandTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableReadyCheck: false,
  });
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
  let everReady = false;
  redis.on('ready', () => {
    everReady = true;
  });
  redis.on('connect', () => {
    state.refused = undefined;
  });
  // A Sentinel that answers but knows no primary by that name is a wrong setting, not an outage.
  redis.on('sentinelError', (err: unknown) => {
    if (classifyRedisError(err) === 'REDIS_CONFIG') state.refused = err;
  });
  redis.on('error', (err: unknown) => {
    state.last = err;
    // Every Sentinel refused (no such primary, a wrong Sentinel login) before the first
    // connection: a setting, so end it as a failed SELECT is ended, instead of retrying for ever.
    const sentinelsRefused =
      !everReady &&
      /^All sentinels are unreachable/.test(String((err as Error)?.message)) &&
      classifyRedisError(err) === 'REDIS_CONFIG';
    if (!isSelectError(err) && !sentinelsRefused) return;
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
    // Through Sentinels every ledger write waits for a replica: a user refused WAIT is found now, before any write.
    if (target.sentinel) await redis.wait(0, 0);
  } catch (err) {
    throw explainRedisError(telling(err, state), target);
  }
  if (state?.refused) throw explainRedisError(state.refused, target);
}
