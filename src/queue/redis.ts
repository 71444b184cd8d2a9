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

/** A Sentinel to ask where the primary is. */
export interface SentinelNode {
  readonly host: string;
  readonly port: number;
}

/** REDIS_SENTINELS and its companions: the primary is whichever node these Sentinels name. */
export interface SentinelSet {
  /** REDIS_SENTINEL_MASTER: the name the Sentinels monitor the primary under. */
  readonly master: string;
  readonly nodes: readonly SentinelNode[];
  /** REDIS_SENTINEL_USERNAME, when the Sentinels have users. */
  readonly username?: string;
  /** From REDIS_SENTINEL_PASSWORD_FILE. Not enumerable, like the target's password. */
  readonly password?: string;
}

/**
 * Where and as whom to connect: REDIS_URL parsed, with the password from
 * REDIS_PASSWORD_FILE. Built by `redisTarget`; the URL never holds a password.
 */
export interface RedisTarget {
  /** REDIS_URL as given (no password: a URL with one is refused); for Sentinels, a description of them. */
  readonly url: string;
  /** For messages: `REDIS_URL redis://…`, or `REDIS_SENTINELS h:p,… (primary NAME)`. */
  readonly where: string;
  /** Present when the primary is found through Sentinels (host and port are then unused). */
  readonly sentinel?: SentinelSet;
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
    where: `REDIS_URL ${url}`,
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

const hidden = <T extends object>(o: T, key: string, value: string | undefined): T => {
  if (value !== undefined) Object.defineProperty(o, key, { value, enumerable: false });
  return o;
};

/** `host:port,host:port` (REDIS_SENTINELS) as nodes; port 26379 when left out. */
export function parseSentinelList(list: string): SentinelNode[] {
  const entries = list
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (entries.length === 0) throw refuse('REDIS_SENTINELS names no Sentinel: give host:port,host:port,…');
  return entries.map((entry) => {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(entry);
    const port = m?.[2] === undefined ? 26379 : Number(m[2]);
    if (!m || port < 1 || port > 65535)
      throw refuse(`REDIS_SENTINELS: '${entry}' is not host:port (such as sentinel-1:26379)`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

/**
 * The target of a primary found through Sentinels (REDIS_SENTINELS,
 * REDIS_SENTINEL_MASTER), logged in to as `username` with `password` on the
 * data nodes and as `sentinelUsername`/`sentinelPassword` on the Sentinels.
 * @throws RedisConnectionError REDIS_CONFIG naming the variable
 */
export function sentinelTarget(options: {
  sentinels: string;
  master: string;
  username?: string;
  password?: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
}): RedisTarget {
  const nodes = parseSentinelList(options.sentinels);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.master))
    throw refuse('REDIS_SENTINEL_MASTER must be the name the Sentinels monitor, such as utskick');
  if (options.username && options.password === undefined) {
    throw refuse(
      `REDIS_USERNAME names user ${options.username} but REDIS_PASSWORD_FILE is not set: put its password there`,
    );
  }
  if (options.sentinelUsername && options.sentinelPassword === undefined) {
    throw refuse(
      `REDIS_SENTINEL_USERNAME names user ${options.sentinelUsername} but REDIS_SENTINEL_PASSWORD_FILE is not set`,
    );
  }
  const list = nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',');
  const sentinel: SentinelSet = hidden(
    {
      master: options.master,
      nodes: Object.freeze(nodes),
      ...(options.sentinelUsername ? { username: options.sentinelUsername } : {}),
    },
    'password',
    options.sentinelPassword,
  );
  const target: RedisTarget = hidden(
    {
      url: `redis-sentinel://${list}/${options.master}`,
      where: `REDIS_SENTINELS ${list} (primary ${options.master})`,
      host: nodes[0]!.host,
      port: nodes[0]!.port,
      db: 0,
      tls: false,
      sentinel: Object.freeze(sentinel),
      ...(options.username ? { username: options.username } : {}),
    },
    'password',
    options.password,
  );
  return Object.freeze(target);
}

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
