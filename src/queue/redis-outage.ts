import { classifyRedisError, explainRedisError, type RedisPlace, socketCode } from './redis-errors.js';

/** The two levels the outage log writes (a pino logger fits). */
export interface OutageLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

export interface OutageLog {
  /**
   * Takes an error from any of a process's Redis connections. A connection
   * problem (outage, refused login) is logged when it starts and then at most
   * once per interval while it lasts; returns false for any other error, which
   * the caller logs itself.
   */
  error(err: unknown): boolean;
  /** A connection is ready: logs the end of an outage, if there was one. */
  ready(): void;
  /** Why Redis cannot be used now (for /readyz), or undefined. */
  problem(): string | undefined;
}

export interface OutageLogOptions {
  /** Least time between two lines about the same outage, ms. Default 60000. */
  intervalMs?: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
}

/**
 * One line when Redis goes away, one a minute while it stays away, one when it
 * is back: instead of one line per connection per reconnect attempt.
 */
export function createOutageLog(
  url: RedisPlace,
  logger: OutageLogger,
  options: OutageLogOptions = {},
): OutageLog {
  const intervalMs = options.intervalMs ?? 60_000;
  const now = options.now ?? Date.now;
  let since: number | undefined;
  let reason: string | undefined;
  let loggedAt = 0;
  let suppressed = 0;
  return {
    error(err) {
      const code = classifyRedisError(err);
      if (code !== 'REDIS_UNREACHABLE' && code !== 'REDIS_CONFIG') return false;
      // Keep the most telling reason: a socket's code over a command's "connection is closed".
      if (reason === undefined || code === 'REDIS_CONFIG' || socketCode(err))
        reason = explainRedisError(err, url).message;
      const t = now();
      if (since === undefined) {
        since = t;
        loggedAt = t;
        suppressed = 0;
        logger.warn({ code, reason }, 'redis unavailable');
      } else if (t - loggedAt >= intervalMs) {
        logger.warn(
          { code, reason, downForSec: Math.round((t - since) / 1000), errorsSinceLastLine: suppressed },
          'redis still unavailable',
        );
        loggedAt = t;
        suppressed = 0;
      } else {
        suppressed++;
      }
      return true;
    },
    ready() {
      if (since === undefined) return;
      logger.info({ downForSec: Math.round((now() - since) / 1000) }, 'redis available again');
      since = undefined;
      reason = undefined;
    },
    problem: () => reason,
  };
}
