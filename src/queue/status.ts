import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createCampaignStore, type StoredCampaign } from './campaign-store.js';
import type { DeadLetterData, DeliverJobData } from './deliver-queue.js';
import { isCampaignJob, type Keys } from './keys.js';
import { createLedger, decodeLedger, type FinalOutcome, finalOutcomes, isFinal } from './ledger.js';

export type OutcomeCounts = Record<FinalOutcome | 'pending', number>;

export interface CampaignStatus {
  campaignId: string;
  title: string;
  state: string;
  stateReason?: string;
  stateBy?: string;
  recipients: StoredCampaign['recipients'];
  outcomes: OutcomeCounts;
  /** Recipients with a final outcome / valid recipients, 0..1. */
  progress: number;
  jobs: { waiting: number; active: number; delayed: number; failed: number; deadLettered: number };
  /** Messages per second over the last minute (from the ledger's times), and the time left at that pace. */
  currentRatePerSec?: number;
  etaSec?: number;
}

/** Counts of a campaign's jobs, by the campaign prefix of their ids. */
async function jobCounts(
  id: string,
  deliver: Queue<DeliverJobData>,
  deadLetters: Queue<DeadLetterData>,
): Promise<CampaignStatus['jobs']> {
  const count = async (q: Queue, types: Parameters<Queue['getRanges']>[0]) =>
    (await q.getRanges(types, 0, -1)).filter((jobId) => isCampaignJob(jobId, id)).length;
  const [waiting, active, delayed, failed, deadLettered] = await Promise.all([
    count(deliver, ['wait', 'prioritized']),
    count(deliver, ['active']),
    count(deliver, ['delayed']),
    count(deliver, ['failed']),
    count(deadLetters, ['wait', 'prioritized']),
  ]);
  return { waiting, active, delayed, failed, deadLettered };
}

/** Recipients given an outcome by a call at or after `sinceSec` (cancelled ones are not sent). */
async function settledSince(
  redis: Redis,
  keys: Keys,
  id: string,
  chunks: Map<string, number>,
  sinceSec: number,
) {
  const ids = [...chunks.keys()];
  let n = 0;
  for (let i = 0; i < ids.length; i += 500) {
    const pipeline = redis.pipeline();
    for (const chunkId of ids.slice(i, i + 500)) pipeline.getBuffer(keys.ledger(id, chunkId));
    const replies = (await pipeline.exec()) ?? [];
    replies.forEach(([err, buf], j) => {
      if (err) throw err;
      for (const r of decodeLedger((buf as Buffer | null) ?? null, chunks.get(ids[i + j]!) ?? 0)) {
        if (isFinal(r.state) && r.state !== 'cancelled' && r.at >= sinceSec) n++;
      }
    });
  }
  return n;
}

/** Outcome counts with `pending` = valid recipients without a final outcome. */
export function withPending(valid: number, counts: Record<FinalOutcome, number>): OutcomeCounts {
  const done = finalOutcomes.reduce((n, o) => n + counts[o], 0);
  return { ...counts, pending: Math.max(0, valid - done) };
}

export async function campaignStatus(
  deps: { redis: Redis; keys: Keys; deliver: Queue<DeliverJobData>; deadLetters: Queue<DeadLetterData> },
  id: string,
  nowMs = Date.now(),
): Promise<CampaignStatus> {
  const store = createCampaignStore(deps.redis, deps.keys);
  const ledger = createLedger(deps.redis, deps.keys);
  const c = await store.require(id);
  const counts = await ledger.counts(id);
  const outcomes = withPending(c.recipients.valid, counts);
  const done = c.recipients.valid - outcomes.pending;
  const status: CampaignStatus = {
    campaignId: id,
    title: c.definition.title,
    state: outcomes.pending === 0 && c.state === 'active' ? 'done' : c.state,
    ...(c.stateReason ? { stateReason: c.stateReason } : {}),
    ...(c.stateBy ? { stateBy: c.stateBy } : {}),
    recipients: c.recipients,
    outcomes,
    progress: c.recipients.valid === 0 ? 1 : done / c.recipients.valid,
    jobs: await jobCounts(id, deps.deliver, deps.deadLetters),
  };
  // While it runs: messages per second over the last minute, from the ledger's own times.
  if (outcomes.pending > 0 && c.state === 'active') {
    const sent = await settledSince(
      deps.redis,
      deps.keys,
      id,
      await store.chunks(id),
      Math.floor(nowMs / 1000) - 60,
    );
    status.currentRatePerSec = sent / 60;
    if (sent > 0) status.etaSec = Math.round(outcomes.pending / status.currentRatePerSec);
  }
  return status;
}
