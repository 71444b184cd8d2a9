import { type Job, Queue, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { JobLockLostError } from '../../src/dispatch/job-runner.js';
import { waitFor } from '../helpers/campaign.js';
import { connect, deletePrefix, uniquePrefix } from '../helpers/redis.js';

/**
 * What BullMQ does with the error a job handler throws when its lock is
 * another's: it must leave the job alone (no failure, no attempt used), so
 * the stalled-job check hands it to a worker again and none of its
 * recipients is lost.
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

describe('a job whose lock was lost', () => {
  it('is left alone by BullMQ, taken up again after the stalled check, and completes with no attempt used', async () => {
    const prefix = uniquePrefix('lock-lost');
    const redis = connect();
    cleanups.push(async () => {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    });
    const queue = new Queue('deliver', { connection: redis, prefix });
    cleanups.push(() => queue.close());
    const blocking = connect();
    cleanups.push(async () => blocking.disconnect());
    const calls: number[] = [];
    const events: string[] = [];
    const worker = new Worker(
      'deliver',
      async (job: Job) => {
        calls.push(job.attemptsMade);
        if (calls.length > 1) return 'done';
        // The lock expired while the job ran (as the ledger's mark would find).
        await redis.del(`${prefix}:deliver:${job.id}:lock`);
        throw new JobLockLostError();
      },
      { connection: blocking, prefix, lockDuration: 1000, stalledInterval: 100, maxStalledCount: 5 },
    );
    cleanups.push(() => worker.close());
    worker.on('failed', () => events.push('failed'));
    worker.on('error', (err) => events.push(`error ${err.message}`));

    const job = await queue.add('chunk', {}, { attempts: 3 });
    await waitFor(
      () => queue.getJobState(job.id!),
      (state) => state === 'completed',
      { what: 'the job taken up again and completed', timeoutMs: 10_000, intervalMs: 50 },
    );
    expect(calls).toEqual([0, 0]);
    expect(events).toEqual([]);
    expect((await queue.getJob(job.id!))?.attemptsMade).toBe(1);
  });

  it('is a WaitingError (leave the job alone), never an UnrecoverableError (fail it for good)', () => {
    const err = new JobLockLostError();
    expect(err).toBeInstanceOf(WaitingError);
    expect(err).not.toBeInstanceOf(UnrecoverableError);
    expect(err.name).toBe('JobLockLostError');
  });
});
