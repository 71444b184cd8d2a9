import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { CampaignStoreError, createCampaignStore } from './campaign-store.js';
import type { DeadLetterData, DeliverJobData } from './deliver-queue.js';
import { deliverJobOptions, type JobPolicy } from './deliver-queue.js';
import type { Keys } from './keys.js';
import { deliverJobId } from './keys.js';
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
  const ids = (await deps.deliver.getRanges(['delayed'], 0, -1)).filter((j) => j.startsWith(`${id}.`));
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

export async function pauseCampaign(
  deps: ControlDeps,
  id: string,
  reason: string,
  by: string,
): Promise<string> {
  const store = createCampaignStore(deps.redis, deps.keys);
  const prev = await store.setState(id, 'paused', reason, by);
  if (prev === 'cancelled') {
    await store.setState(id, 'cancelled', 'cancelled before', by);
    throw new CampaignStoreError('BAD_STATE', `campaign ${id} is cancelled; it cannot be paused`);
  }
  return prev;
}

/** Resumes a paused campaign; its held jobs are promoted so sending continues at once, where it stopped. */
export async function resumeCampaign(
  deps: ControlDeps,
  id: string,
  by: string,
): Promise<{ promoted: number }> {
  const store = createCampaignStore(deps.redis, deps.keys);
  const current = await store.state(id);
  if (!current) throw new CampaignStoreError('UNKNOWN_CAMPAIGN', `no campaign with id ${id}`);
  if (current.state === 'cancelled')
    throw new CampaignStoreError('BAD_STATE', `campaign ${id} is cancelled; it cannot be resumed`);
  await store.setState(id, 'active', `resumed by ${by}`, by);
  return { promoted: await promoteHeld(deps, id) };
}

/**
 * Stops a campaign for good: every recipient not yet sent gets `cancelled`
 * (calls in flight finish and keep their outcome).
 */
export async function cancelCampaign(
  deps: ControlDeps,
  id: string,
  reason: string,
  by: string,
): Promise<{ cancelled: number }> {
  const store = createCampaignStore(deps.redis, deps.keys);
  await store.setState(id, 'cancelled', reason, by);
  const ledger = createLedger(deps.redis, deps.keys);
  const chunks = await store.chunks(id);
  const t = Math.floor(Date.now() / 1000);
  let cancelled = 0;
  for (const [chunkId, n] of chunks)
    cancelled += await ledger.finaliseMany(id, chunkId, n, 'cancelled', ['pending'], t);
  await promoteHeld(deps, id);
  return { cancelled };
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
  const campaign = await store.require(campaignId);
  if (campaign.state === 'cancelled')
    throw new CampaignStoreError('BAD_STATE', `campaign ${campaignId} is cancelled`);
  const ledger = createLedger(deps.redis, deps.keys);
  const letters = await listDeadLetters(deps, campaignId);
  const chunks = await store.chunks(campaignId);
  let recipients = 0;
  let jobs = 0;
  for (const letter of letters) {
    recipients += await ledger.reopen(campaignId, letter.chunkId, letter.slots, 'failed');
    const round = Number(
      await deps.redis.hincrby(deps.keys.campaign(campaignId), `round:${letter.chunkId}`, 1),
    );
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
