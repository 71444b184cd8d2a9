import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AuditLog } from '../../src/audit/audit-log.js';
import { type ClientConfig, loadClientConfig } from '../../src/config/client.js';
import {
  createDeliverQueue,
  type DeadLetterData,
  type DeliverJobData,
} from '../../src/queue/deliver-queue.js';
import { createKeys, type Keys, queueNames } from '../../src/queue/keys.js';
import { connectOrExplain, createRedis } from '../../src/queue/redis.js';
import { cliAuditLog, cliAuditLogger } from './audit.js';

export interface CliRedis {
  config: ClientConfig;
  redis: Redis;
  keys: Keys;
  /** The audit log on this connection (each entry also to AUDIT_LOG_FILE when set). */
  audit: AuditLog;
  close(): Promise<void>;
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
  const redis = createRedis(config.redis, 'client');
  try {
    await connectOrExplain(redis, config.redis);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return {
    config,
    redis,
    keys,
    audit: cliAuditLog(redis, keys, auditLogger),
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
