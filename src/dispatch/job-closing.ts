import type { DeadLetterData } from '../queue/deliver-queue.js';
import type { JobSummary } from './call-loops.js';
import type { JobEnd, JobRunnerDeps } from './job-runner.js';

/** The two ways a job closes its chunk's open recipients in the ledger itself: cancelled, and dead-lettered. */

/** The campaign was cancelled: the recipients never called are cancelled, those in flight uncertain. */
export async function closeCancelled(deps: JobRunnerDeps, { run, slots, log }: JobEnd): Promise<JobSummary> {
  const { campaignId, chunkId } = run.summary;
  const t = Math.floor(deps.now() / 1000);
  const cancelled = await deps.ledger.finaliseMany(campaignId, chunkId, slots, 'cancelled', ['pending'], t);
  const uncertain = await deps.ledger.finaliseMany(campaignId, chunkId, slots, 'uncertain', ['inflight'], t);
  if (cancelled) deps.metrics.messages.inc({ campaign: campaignId, outcome: 'cancelled' }, cancelled);
  if (uncertain) deps.metrics.messages.inc({ campaign: campaignId, outcome: 'uncertain' }, uncertain);
  deps.metrics.jobsProcessed.inc({ result: 'cancelled' });
  log.info({ cancelled, uncertain }, 'campaign cancelled; job closed');
  return run.summary;
}

/**
 * Attempts exhausted: the open recipients go to the dead-letter queue (which
 * remembers the source job, its attempts and the last error) and are failed
 * in the ledger; the job completes.
 */
export async function deadLetter(deps: JobRunnerDeps, end: JobEnd, open: number[]): Promise<JobSummary> {
  const { job, run, log } = end;
  const { campaignId, chunkId } = run.summary;
  const data: DeadLetterData = {
    campaignId,
    chunkId,
    slots: open,
    sourceJobId: job.id,
    attempts: job.attempt,
    lastError: run.lastError,
    deadLetteredAt: new Date(deps.now()).toISOString(),
  };
  await deps.deadLetters.add('dead-letter', data, {
    jobId: `${job.id}.dl${job.attempt}`,
    removeOnComplete: true,
    removeOnFail: false,
  });
  const t = Math.floor(deps.now() / 1000);
  const from = ['pending', 'inflight'] as const;
  const marked = await deps.ledger.finaliseMany(campaignId, chunkId, end.slots, 'failed', [...from], t);
  if (marked) deps.metrics.messages.inc({ campaign: campaignId, outcome: 'failed' }, marked);
  deps.metrics.deadLettered.inc({ campaign: campaignId }, open.length);
  deps.metrics.jobsProcessed.inc({ result: 'dead_lettered' });
  run.summary.deadLettered = open.length;
  log.error(
    { deadLettered: open.length, lastError: run.lastError },
    'attempts exhausted; open recipients dead-lettered',
  );
  return run.summary;
}
