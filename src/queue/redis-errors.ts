/**
 * What a Redis failure means for the person who configured the service: a
 * wrong setting (exit 2), a user whose ACL refuses the command (exit 2), or an
 * outage (exit 1, and the only one worth retrying). Every message names
 * REDIS_URL with its password masked (or REDIS_SENTINELS and the primary's
 * name), and holds no stack.
 */

export const redisErrorCodes = ['REDIS_CONFIG', 'REDIS_PERMISSION', 'REDIS_UNREACHABLE'] as const;
export type RedisErrorCode = (typeof redisErrorCodes)[number];

/** Redis cannot be used as configured, or cannot be reached now. */
export class RedisConnectionError extends Error {
  readonly code: RedisErrorCode;
  /** Only an outage is worth waiting for; a wrong setting stays wrong. */
  readonly retryable: boolean;
  constructor(code: RedisErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisConnectionError';
    this.code = code;
    this.retryable = code === 'REDIS_UNREACHABLE';
  }
}

/** Socket and DNS errors of a Redis that is down or not reachable from here. */
const unreachableCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
]);

interface ErrorLike {
  name?: string;
  code?: unknown;
  message?: string;
  command?: { name?: string };
}

const messageOf = (err: unknown): string => String((err as ErrorLike | undefined)?.message ?? err);

/** ioredis' own SELECT at connect failed: the database index is out of range, or the user may not select it. */
export function isSelectError(err: unknown): boolean {
  return (err as ErrorLike | undefined)?.command?.name === 'select';
}

/** The code a Redis-side or socket error (or its cause) maps to; undefined when it is not about the connection. */
export function classifyRedisError(err: unknown): RedisErrorCode | undefined {
  return classifyOne(telling(err));
}

/** The error itself, or the first cause in its chain that says what went wrong with the connection. */
function telling(err: unknown): unknown {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    if (classifyOne(e)) return e;
    e = e.cause;
  }
  return err;
}

function classifyOne(err: unknown): RedisErrorCode | undefined {
  if (err instanceof RedisConnectionError) return err.code;
  const e = (err ?? {}) as ErrorLike;
  const message = messageOf(err);
  if (
    isSelectError(err) ||
    /\b(WRONGPASS|NOAUTH)\b|DB index is out of range|invalid reply: null|No such master with that name/.test(
      message,
    )
  )
    return 'REDIS_CONFIG';
  if (/\bNOPERM\b|No permissions to access|can't run this command/.test(message)) return 'REDIS_PERMISSION';
  if (typeof e.code === 'string' && unreachableCodes.has(e.code)) return 'REDIS_UNREACHABLE';
  if (e.name === 'MaxRetriesPerRequestError') return 'REDIS_UNREACHABLE';
  if (/Connection is closed|Stream isn't writeable|^LOADING\b|^All sentinels are unreachable/.test(message))
    return 'REDIS_UNREACHABLE';
  return undefined;
}

/**
 * Whether `err` was raised by the Redis client (a Redis reply, or ioredis
 * giving up on a command) and is about the connection, login or permissions:
 * never an error of another client whose cause is a socket error (an HTTP
 * call to Prometheus or the inbox), which must not be blamed on REDIS_URL.
 */
export function isRedisClientFailure(err: unknown): boolean {
  if (err instanceof RedisConnectionError) return true;
  const e = err as ErrorLike | undefined;
  const fromClient =
    e?.name === 'ReplyError' ||
    e?.name === 'MaxRetriesPerRequestError' ||
    /^(Connection is closed|Stream isn't writeable)/.test(messageOf(err));
  return fromClient && classifyOne(err) !== undefined;
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

/**
 * Where a connection goes, for messages: REDIS_URL as given, or a target
 * (loadClientConfig's `config.redis`) that says where it came from
 * (REDIS_URL, or REDIS_SENTINELS with the primary's name).
 */
export type RedisPlace =
  | string
  | {
      readonly url: string;
      readonly where?: string;
      readonly username?: string;
      readonly db?: number;
      readonly sentinel?: unknown;
    };

interface Described {
  where: string;
  user: string;
  db: string;
  /** How to name the user and its password, for a refused login. */
  login: string;
}

/** Who and where, for messages: never throws. */
function describe(place: RedisPlace): Described {
  if (typeof place !== 'string' && place.sentinel !== undefined && place.where !== undefined) {
    return {
      where: place.where,
      user: place.username ?? 'default',
      db: String(place.db ?? 0),
      login: 'REDIS_USERNAME and the password in REDIS_PASSWORD_FILE',
    };
  }
  const url = typeof place === 'string' ? place : place.url;
  let user = 'default';
  let db = '0';
  try {
    const u = new URL(url);
    if (u.username) user = decodeURIComponent(u.username);
    if (u.pathname.length > 1) db = u.pathname.slice(1);
  } catch {
    // the message names the URL as unparseable
  }
  return {
    where: `REDIS_URL ${redactRedisUrl(url)}`,
    user,
    db,
    login: 'the user in REDIS_URL and the password in REDIS_PASSWORD_FILE',
  };
}

/** The first line of a Redis reply, short: Redis' own words (they hold no secret). */
const replyText = (err: unknown) => messageOf(err).split('\n')[0]!.slice(0, 200);

function configMessage(err: unknown, place: RedisPlace): string {
  const { where, user, db, login } = describe(place);
  const reply = replyText(err);
  const primary = /invalid reply: null|No such master with that name/.test(reply);
  if (primary) return `${where}: no Sentinel knows a primary by that name (check REDIS_SENTINEL_MASTER)`;
  if (/sentinel/i.test(reply) && /\b(NOAUTH|WRONGPASS)\b/.test(reply))
    return `${where}: a Sentinel refused the login: check REDIS_SENTINEL_USERNAME and the password in REDIS_SENTINEL_PASSWORD_FILE`;
  if (isSelectError(err) || /DB index/.test(reply))
    return `${where}: database ${db} cannot be used (${reply})`;
  if (/\bNOAUTH\b/.test(reply)) {
    return `${where}: Redis requires a login (NOAUTH): set ${login}`;
  }
  return `${where}: Redis refused the login of user ${user} (WRONGPASS): check ${login}`;
}

/** The socket's reason (ECONNREFUSED, ENOTFOUND, …) in the error or its causes, if there is one. */
export function socketCode(err: unknown): string | undefined {
  const code = (telling(err) as ErrorLike | undefined)?.code;
  return typeof code === 'string' && unreachableCodes.has(code) ? code : undefined;
}

function unreachableMessage(err: unknown, place: RedisPlace): string {
  const sentinels = /All sentinels are unreachable/.test(messageOf(err));
  const why = socketCode(err) ?? (sentinels ? 'no Sentinel answers' : 'connection lost');
  return `${describe(place).where}: Redis cannot be reached (${why})`;
}

/**
 * One line for a Redis failure, naming REDIS_URL (password masked) and the
 * reason; `err` is returned as is when it is already explained. An error that
 * is not about the connection counts as an outage only when it came from the
 * connection (the caller knows); otherwise use classifyRedisError first.
 */
export function explainRedisError(err: unknown, place: RedisPlace): RedisConnectionError {
  if (err instanceof RedisConnectionError) return err;
  const cause = telling(err);
  const code = classifyOne(cause) ?? 'REDIS_UNREACHABLE';
  if (code === 'REDIS_CONFIG')
    return new RedisConnectionError(code, configMessage(cause, place), { cause: err });
  if (code === 'REDIS_PERMISSION') {
    const { where, user } = describe(place);
    return new RedisConnectionError(
      code,
      `${where}: user ${user} may not do what this command needs (${replyText(cause)}); run it as the Redis user of its role`,
      { cause: err },
    );
  }
  return new RedisConnectionError(code, unreachableMessage(cause, place), { cause: err });
}
