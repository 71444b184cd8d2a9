import { RedisConnectionError } from './redis-errors.js';

/**
 * Where and as whom to connect: one node (REDIS_URL) or a primary found
 * through Sentinels (REDIS_SENTINELS), with the passwords from their files.
 * Pure: checks and builds the target; redis.ts connects to it.
 */

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
