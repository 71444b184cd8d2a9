import { setTimeout as delay } from 'node:timers/promises';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AuditLog } from '../../src/audit/audit-log.js';
import { type ClientConfig, loadClientConfig } from '../../src/config/client.js';
import {
  createDeliverQueue,
  type DeadLetterData,
  type DeliverJobData,
} from '../../src/queue/deliver-queue.js';
import { type Durability, durabilityFor } from '../../src/queue/durability.js';
import { createKeys, type Keys, queueNames } from '../../src/queue/keys.js';
import { connectOrExplain, createRedis, RedisConnectionError } from '../../src/queue/redis.js';
import { cliAuditLog, cliAuditLogger } from './audit.js';

export interface CliRedis {
  config: ClientConfig;
  redis: Redis;
  keys: Keys;
  /** The audit log on this connection (each entry also to AUDIT_LOG_FILE when set). */
  audit: AuditLog;
  /** With Sentinels, WAIT for a replica (durability.ts); nothing for a single node. */
  durability: Durability;
  /**
   * Returns once a replica holds every write made on this connection since
   * `since` (durability.epoch() before the first of them), or no replica
   * could take over. Throws RedisConnectionError REDIS_UNREACHABLE (exit 1)
   * naming `what` when none confirms within a deadline, or the connection was
   * lost before one could: the command is then to be run again.
   */
  confirmWrites(since: number, what: string): Promise<void>;
  close(): Promise<void>;
}

/** How long a command waits for a replica to confirm its writes before it gives up. */
const CONFIRM_DEADLINE_MS = 30_000;

async function confirmWrites(
  durability: Durability,
  config: ClientConfig,
  since: number,
  what: string,
): Promise<void> {
  if (!durability.waits) return;
  const end = Date.now() + CONFIRM_DEADLINE_MS;
  const where = config.redis.where;
  for (let attempt = 1; ; attempt++) {
    const why = await durability.confirm(since);
    if (why === undefined) return;
    if (why === 'reconnected') {
      throw new RedisConnectionError(
        'REDIS_UNREACHABLE',
        `${where}: the connection to the primary was lost before a replica held ${what}; a failover may have dropped it: run the same command again (it writes only what is missing)`,
      );
    }
    if (Date.now() >= end) {
      throw new RedisConnectionError(
        'REDIS_UNREACHABLE',
        `${where}: no replica confirmed ${what} within ${CONFIRM_DEADLINE_MS / 1000} s; it is on the primary only, and a failover now could lose it: run the same command again once the replica is back`,
      );
    }
    await delay(Math.min(200 * attempt, 2000));
  }
}

export interface CliContext extends CliRedis {
  deliver: Queue<DeliverJobData>;
  deadLetters: Queue<DeadLetterData>;
}

/**
 * Connects a CLI to Redis from the environment (REDIS_URL, REDIS_PASSWORD_FILE)
 * and checks that it answers as configured. A wrong setting or an outage is one
 * RedisConnectionError naming REDIS_URL (runCli: exit 2 for REDIS_CONFIG, 1 for
 * REDIS_UNREACHABLE); nothing has been written then.
 */
export async function openRedis(env: NodeJS.ProcessEnv): Promise<CliRedis> {
  const config = loadClientConfig(env);
  // A bad AUDIT_LOG_FILE is a setting (exit 2) found before connecting.
  const auditLogger = cliAuditLogger(env);
  const keys = createKeys(config.prefix);
  for (const note of config.notes) process.stderr.write(`note: ${note}\n`);
  const redis = createRedis(config.redis, 'client');
  try {
    await connectOrExplain(redis, config.redis);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  let saidAlone = false;
  const durability = durabilityFor(config.redis, redis, {
    timeoutMs: config.waitTimeoutMs,
    events: {
      notDurable: () => {},
      alone() {
        if (saidAlone) return;
        saidAlone = true;
        process.stderr.write(
          `note: ${config.redis.where}: no replica could take over from the primary, so this command's writes are on the primary alone (as on a single node)\n`,
        );
      },
    },
  });
  return {
    config,
    redis,
    keys,
    audit: cliAuditLog(redis, keys, auditLogger),
    durability,
    confirmWrites: (since, what) => confirmWrites(durability, config, since, what),
    async close() {
      redis.disconnect();
    },
  };
}

/**
 * The queues a CLI uses, opened only once Redis answers. They never write the
 * queues' meta keys (the workers do): so the case handler's user, which may
 * only read dead letters, can run status and report. Their errors surface as
 * the commands' own rejections; the listener only keeps BullMQ from printing a stack.
 */
function cliQueues(redis: Redis, keys: Keys) {
  const deliver = createDeliverQueue(redis, keys, { skipMetasUpdate: true });
  const deadLetters = new Queue<DeadLetterData>(queueNames.deadLetter, {
    connection: redis,
    prefix: keys.prefix,
    skipMetasUpdate: true,
  });
  for (const q of [deliver, deadLetters]) q.on('error', () => {});
  return { deliver, deadLetters };
}

/** openRedis plus the deliver and dead-letter queues. */
export async function openContext(env: NodeJS.ProcessEnv): Promise<CliContext> {
  const base = await openRedis(env);
  const { deliver, deadLetters } = cliQueues(base.redis, base.keys);
  return {
    ...base,
    deliver,
    deadLetters,
    async close() {
      await deliver.close();
      await deadLetters.close();
      await base.close();
    },
  };
}
