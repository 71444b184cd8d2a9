import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type ClientConfig, loadClientConfig } from '../../src/config/client.js';
import {
  createDeadLetterQueue,
  createDeliverQueue,
  type DeadLetterData,
  type DeliverJobData,
} from '../../src/queue/deliver-queue.js';
import { createKeys, type Keys } from '../../src/queue/keys.js';
import { createRedis, redactRedisUrl } from '../../src/queue/redis.js';

export interface CliContext {
  config: ClientConfig;
  redis: Redis;
  keys: Keys;
  deliver: Queue<DeliverJobData>;
  deadLetters: Queue<DeadLetterData>;
  close(): Promise<void>;
}

/** Connects a CLI to Redis from the environment; a Redis that does not answer is one clear error. */
export async function openContext(env: NodeJS.ProcessEnv): Promise<CliContext> {
  const config = loadClientConfig(env);
  const redis = createRedis(config.redisUrl, 'client', config.redisOptions);
  redis.on('error', () => {});
  try {
    await redis.ping();
  } catch (cause) {
    redis.disconnect();
    throw Object.assign(
      new Error(`Redis at ${redactRedisUrl(config.redisUrl)} does not answer (${(cause as Error).message})`),
      { code: 'REDIS' },
    );
  }
  const keys = createKeys(config.prefix);
  const deliver = createDeliverQueue(redis, keys);
  const deadLetters = createDeadLetterQueue(redis, keys);
  return {
    config,
    redis,
    keys,
    deliver,
    deadLetters,
    async close() {
      await deliver.close();
      await deadLetters.close();
      redis.disconnect();
    },
  };
}
