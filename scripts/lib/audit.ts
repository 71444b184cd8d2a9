import { userInfo } from 'node:os';
import type { Redis } from 'ioredis';
import pino, { type Logger } from 'pino';
import { type AuditLog, createAuditLog } from '../../src/audit/audit-log.js';
import { loadAuditConfig } from '../../src/config/audit.js';
import { loadClientConfig } from '../../src/config/client.js';
import { ConfigError } from '../../src/config/env.js';
import { createKeys, type Keys } from '../../src/queue/keys.js';
import { connectOrExplain, createRedis } from '../../src/queue/redis.js';
import { UsageError } from './cli.js';

/** The longest `--by` accepted. */
export const maxActorChars = 200;

/** The OS login of whoever runs the command; `uid:<n>` where the user has no name (a container). */
export function osUserName(): string {
  try {
    const name = userInfo().username.trim();
    if (name) return name;
  } catch {
    // A uid without a passwd entry (the image's USER 1000): fall through.
  }
  return process.env.USER?.trim() || `uid:${process.getuid?.() ?? 'unknown'}`;
}

/**
 * Who does what a command changes: `--by NAME`, or the OS user name. Checked:
 * non-empty, at most 200 characters, and printable (no control, bidirectional
 * or line-separator character: the name goes into the audit log and onto terminals).
 * @throws UsageError (exit 2)
 */
export function actorArg(value: string | undefined): string {
  const actor = (value ?? osUserName()).trim();
  if (actor === '') throw new UsageError('--by: a name is required (who does this)');
  if ([...actor].length > maxActorChars) throw new UsageError(`--by: at most ${maxActorChars} characters`);
  if (/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(actor))
    throw new UsageError('--by: control or formatting characters are not allowed');
  return actor;
}

/**
 * The pino logger the CLIs write audit lines to: the file AUDIT_LOG_FILE names
 * (synchronously, so a line is out before the process exits), or none. Never
 * a person's terminal by default: CLI output stays one line per error.
 */
export function cliAuditLogger(env: NodeJS.ProcessEnv): Logger | undefined {
  const { logFile } = loadAuditConfig(env);
  if (!logFile) return undefined;
  try {
    return pino(
      { base: { service: 'utskick-cli', pid: process.pid } },
      pino.destination({ dest: logFile, sync: true, append: true, mkdir: false }),
    );
  } catch (cause) {
    throw new ConfigError(
      `AUDIT_LOG_FILE names ${logFile}, which cannot be opened for appending (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/** The audit log on a CLI's connection, its lines to `logger` (cliAuditLogger). */
export function cliAuditLog(redis: Redis, keys: Keys, logger: Logger | undefined): AuditLog {
  return createAuditLog({ redis, keys, ...(logger ? { logger } : {}) });
}

/**
 * For a command that otherwise needs no Redis (`campaign acl`): an audit log
 * on a connection that must answer within `timeoutMs`, without retries, or a
 * one-line reason why not. The caller closes `redis`.
 */
export async function openAuditBestEffort(
  env: NodeJS.ProcessEnv,
  timeoutMs = 1500,
): Promise<{ audit: AuditLog; redis: Redis } | { notRecorded: string }> {
  if (!env.REDIS_URL) return { notRecorded: 'REDIS_URL is not set' };
  let redis: Redis | undefined;
  try {
    const config = loadClientConfig(env);
    const logger = cliAuditLogger(env);
    redis = createRedis(config.redis, 'client', {
      connectTimeout: timeoutMs,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
    });
    const answered = connectOrExplain(redis, config.redis);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    await Promise.race([answered, late]).finally(() => clearTimeout(timer));
    const keys = createKeys(config.prefix);
    return { audit: cliAuditLog(redis, keys, logger), redis };
  } catch (err) {
    redis?.disconnect();
    return { notRecorded: (err as Error).message.split('\n')[0] ?? 'Redis not reachable' };
  }
}
