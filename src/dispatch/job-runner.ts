import { DelayedError, type JobsOptions, WaitingError } from 'bullmq';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics/registry.js';
import type { DeadLetterData } from '../queue/deliver-queue.js';
import { isFinal, type Ledger } from '../queue/ledger.js';
import type { JobRun, JobSummary } from './call-loops.js';
import { closeCancelled, deadLetter } from './job-closing.js';
import type { Stop } from './recipient-attempt.js';

/**
 * How a delivery job ends, in BullMQ's terms: completed (every recipient has
 * an outcome, or the campaign is gone or cancelled), DelayedError (paused, or
 * outside the sending window), WaitingError (the worker is shutting down), a
 * plain error for a retry with backoff (recipients left open), and at the
 * last attempt the open recipients dead-lettered and the job completed.
 * Never UnrecoverableError: a job failed for good would strand its open
 * recipients with neither an outcome nor a dead letter.
 */

/**
 * The job's lock is another's (the job stalled and another worker took it,
 * or the lock expired). A WaitingError, so BullMQ leaves the job alone as it
 * does for a job the processor moved itself: the lock's holder, or the
 * stalled-job check, decides what happens to it next. Not UnrecoverableError:
 * that fails the job for good, should the move ever be let through. Not a
 * plain Error: that asks for a retry, which BullMQ's own lock check refuses
 * (a "Missing lock" worker error).
 */
export class JobLockLostError extends WaitingError {
  constructor() {
    super('job lock lost (another worker has it)');
  }
}

/** Recipients without an outcome after this attempt: BullMQ retries the job (with backoff). */
export class RecipientsOpenError extends Error {}

/** The BullMQ job as the runner needs it; the processor's lock token is bound in. */
export interface JobHandle {
  id: string;
  /** This attempt, counting from 1. */
  attempt: number;
  attempts: number;
  moveToDelayed(timestampMs: number): Promise<void>;
  moveToWait(): Promise<void>;
}

export interface JobRunnerDeps {
  ledger: Pick<Ledger, 'read' | 'finaliseMany'>;
  deadLetters: { add(name: string, data: DeadLetterData, opts: JobsOptions): Promise<unknown> };
  metrics: Pick<Metrics, 'messages' | 'jobsProcessed' | 'deadLettered'>;
  /** The clock of sending windows and ledger times (BullMQ schedules on the real one). */
  now: () => number;
  /** How long a paused campaign's job waits before it looks again, ms. */
  pausedRecheckMs: number;
}

export interface JobEnd {
  job: JobHandle;
  run: JobRun;
  /** Slots in the job's chunk. */
  slots: number;
  log: Logger;
}

export function finishJob(deps: JobRunnerDeps, end: JobEnd): Promise<JobSummary> {
  return end.run.stop ? stopJob(deps, end, end.run.stop) : settleJob(deps, end);
}

async function stopJob(deps: JobRunnerDeps, end: JobEnd, stop: Stop): Promise<JobSummary> {
  const { job, run, log } = end;
  const processed = (result: string) => deps.metrics.jobsProcessed.inc({ result });
  switch (stop.kind) {
    case 'cancelled':
      return closeCancelled(deps, end);
    case 'paused':
    case 'window': {
      const until = stop.kind === 'window' ? stop.until : deps.now() + deps.pausedRecheckMs;
      // `now` may be an injected clock; BullMQ schedules on the real one.
      await job.moveToDelayed(Date.now() + Math.max(0, until - deps.now()));
      processed('delayed');
      log.info({ reason: stop.kind, until: new Date(until).toISOString() }, 'job held');
      throw new DelayedError();
    }
    case 'shutdown':
      await job.moveToWait();
      processed('shutdown');
      log.info({ open: run.unsettled.size }, 'worker shutting down; job handed back');
      throw new WaitingError();
    case 'lock-lost':
      processed('lock_lost');
      log.warn('job lock lost (another worker has it); stopped');
      throw new JobLockLostError();
    case 'gone':
      return run.summary;
  }
}

/** Every recipient with an outcome: completed. Some open: a retry, or at the last attempt the dead letters. */
async function settleJob(deps: JobRunnerDeps, end: JobEnd): Promise<JobSummary> {
  const { job, run, log } = end;
  const { campaignId, chunkId } = run.summary;
  const after = await deps.ledger.read(campaignId, chunkId, end.slots);
  const open = after.flatMap((s, i) => (isFinal(s.state) ? [] : [i]));
  if (open.length === 0) {
    deps.metrics.jobsProcessed.inc({ result: 'completed' });
    log.info({ calls: run.summary.calls, outcomes: run.summary.outcomes }, 'job completed');
    return run.summary;
  }
  if (job.attempt < job.attempts) {
    deps.metrics.jobsProcessed.inc({ result: 'retry' });
    log.warn(
      { open: open.length, lastError: run.lastError },
      'recipients left after call retries; job will retry',
    );
    throw new RecipientsOpenError(
      `${open.length} recipients without an outcome; last error ${run.lastError}`,
    );
  }
  return deadLetter(deps, end, open);
}
