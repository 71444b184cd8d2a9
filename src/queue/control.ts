import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { CampaignStoreError, createCampaignRecord, type TransitionResult } from './campaign-record.js';
import { createCampaignStore } from './campaign-store.js';
import type { DeadLetterData, DeliverJobData } from './deliver-queue.js';
import { deliverJobOptions, type JobPolicy } from './deliver-queue.js';
import type { Keys } from './keys.js';
import { deliverJobId, isCampaignJob } from './keys.js';
import { createLedger } from './ledger.js';

export interface ControlDeps {
  redis: Redis;
  keys: Keys;
  deliver: Queue<DeliverJobData>;
  deadLetters: Queue<DeadLetterData>;
  jobPolicy: JobPolicy;
}

/** Moves a campaign's held (delayed) jobs to waiting so workers look at them now. */
async function promoteHeld(deps: ControlDeps, id: string): Promise<number> {
  const ids = (await deps.deliver.getRanges(['delayed'], 0, -1)).filter((j) => isCampaignJob(j, id));
  let n = 0;
  for (const jobId of ids) {
    const job = await deps.deliver.getJob(jobId);
    if (job && (await job.isDelayed())) {
      await job.promote().catch(() => {});
      n++;
    }
  }
  return n;
}

/**
 * Pauses an active campaign (one atomic step); pausing a paused one changes
 * nothing. Returns where it was.
 * @throws CampaignTransitionError when it is cancelled or purged (it stays so)
 */
export async function pauseCampaign(
  deps: ControlDeps,
  id: string,
  reason: string,
  by: string,
): Promise<TransitionResult> {
  return createCampaignRecord(deps.redis, deps.keys).pause(id, reason, by);
}

/**
 * Resumes a paused campaign; its held jobs are promoted so sending continues
 * at once, where it stopped. Resuming an active campaign changes nothing and
 * promotes nothing.
 * @throws CampaignTransitionError when it is cancelled or purged
 */
export async function resumeCampaign(
  deps: ControlDeps,
  id: string,
  by: string,
): Promise<TransitionResult & { promoted: number }> {
  const r = await createCampaignRecord(deps.redis, deps.keys).resume(id, by);
  return { ...r, promoted: r.changed ? await promoteHeld(deps, id) : 0 };
}

/**
 * Stops a campaign for good: every recipient not yet sent gets `cancelled`
 * (calls in flight finish and keep their outcome). Cancelling it again
 * changes no state but finishes the marking (after a crash half way).
 * @throws CampaignTransitionError when it is purged
 */
export async function cancelCampaign(
  deps: ControlDeps,
  id: string,
  reason: string,
  by: string,
): Promise<TransitionResult & { cancelled: number }> {
  const r = await createCampaignRecord(deps.redis, deps.keys).cancel(id, reason, by);
  const ledger = createLedger(deps.redis, deps.keys);
  const chunks = await createCampaignStore(deps.redis, deps.keys).chunks(id);
  const t = Math.floor(Date.now() / 1000);
  let cancelled = 0;
  for (const [chunkId, n] of chunks)
    cancelled += await ledger.finaliseMany(id, chunkId, n, 'cancelled', ['pending'], t);
  await promoteHeld(deps, id);
  return { ...r, cancelled };
}

export interface DeadLetterView extends DeadLetterData {
  id: string;
}

export async function listDeadLetters(deps: ControlDeps, campaignId?: string): Promise<DeadLetterView[]> {
  const jobs = await deps.deadLetters.getJobs(['wait', 'prioritized', 'delayed'], 0, -1, true);
  return jobs
    .filter((j) => j && (!campaignId || j.data.campaignId === campaignId))
    .map((j) => ({ id: j.id ?? '', ...(j.data as DeadLetterData) }));
}

/**
 * Puts a campaign's dead-lettered recipients back for another try: their
 * `failed` outcome is cleared and their chunk gets a new delivery job (a new
 * round id). Delivered and other settled recipients are not touched.
 */
export async function redriveDeadLetters(
  deps: ControlDeps,
  campaignId: string,
): Promise<{ jobs: number; recipients: number }> {
  const store = createCampaignStore(deps.redis, deps.keys);
  const record = createCampaignRecord(deps.redis, deps.keys);
  const campaign = await store.require(campaignId);
  const lifecycle = campaign.purgedAt ? 'purged' : campaign.state;
  if (lifecycle === 'purged' || lifecycle === 'cancelled')
    throw new CampaignStoreError(
      'BAD_STATE',
      `campaign ${campaignId} is ${lifecycle}; nothing can be redriven`,
    );
  const ledger = createLedger(deps.redis, deps.keys);
  const letters = await listDeadLetters(deps, campaignId);
  const chunks = await store.chunks(campaignId);
  let recipients = 0;
  let jobs = 0;
  for (const letter of letters) {
    recipients += await ledger.reopen(campaignId, letter.chunkId, letter.slots, 'failed');
    const round = await record.nextRound(campaignId, letter.chunkId);
    await deps.deliver.add(
      'deliver',
      { c: campaignId, k: letter.chunkId, n: chunks.get(letter.chunkId) ?? 0 },
      deliverJobOptions(deliverJobId(campaignId, letter.chunkId, round), deps.jobPolicy),
    );
    await deps.deadLetters.remove(letter.id);
    jobs++;
  }
  return { jobs, recipients };
}

/** Drops a campaign's dead letters without sending: those recipients keep `failed` (the report lists them). */
export async function discardDeadLetters(
  deps: ControlDeps,
  campaignId: string,
): Promise<{ letters: number; recipients: number }> {
  const letters = await listDeadLetters(deps, campaignId);
  for (const l of letters) await deps.deadLetters.remove(l.id);
  return { letters: letters.length, recipients: letters.reduce((n, l) => n + l.slots.length, 0) };
}
