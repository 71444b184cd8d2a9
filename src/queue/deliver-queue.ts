import { type JobsOptions, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { queueNames } from './keys.js';

/** A delivery job: a reference to one sealed chunk. No personal data in job data. */
export interface DeliverJobData {
  /** campaign id */
  c: string;
  /** chunk id */
  k: string;
  /** recipients in the chunk */
  n: number;
}

/** A dead letter: the chunk's slots still without an outcome when a job gave up. */
export interface DeadLetterData {
  campaignId: string;
  chunkId: string;
  slots: number[];
  sourceJobId: string;
  attempts: number;
  lastError: string;
  deadLetteredAt: string;
}

export interface JobPolicy {
  /** BullMQ attempts per job (default 5). */
  attempts: number;
  /** First backoff between job attempts in ms, doubled each time (default 30000). */
  backoffMs: number;
}

export const defaultJobPolicy: JobPolicy = { attempts: 5, backoffMs: 30_000 };

export function deliverJobOptions(jobId: string, policy: JobPolicy): JobsOptions {
  return {
    jobId,
    attempts: policy.attempts,
    backoff: { type: 'exponential', delay: policy.backoffMs, jitter: 0.2 },
    removeOnComplete: { count: 10_000 },
    removeOnFail: { count: 10_000 },
  };
}

/**
 * @param options.skipMetasUpdate do not write the queue's meta key on creation
 *   (a rejected or dry enqueue must leave nothing behind).
 */
export function createDeliverQueue(
  connection: Redis,
  keys: Keys,
  options: { skipMetasUpdate?: boolean } = {},
): Queue<DeliverJobData> {
  return new Queue<DeliverJobData>(queueNames.deliver, { connection, prefix: keys.prefix, ...options });
}

export function createDeadLetterQueue(connection: Redis, keys: Keys): Queue<DeadLetterData> {
  return new Queue<DeadLetterData>(queueNames.deadLetter, { connection, prefix: keys.prefix });
}
