import type { Redis } from 'ioredis';
import { CampaignStoreError, createCampaignRecord, type StoredCampaign } from './campaign-record.js';
import { createCampaignStore } from './campaign-store.js';
import type { ControlDeps } from './control.js';
import { listDeadLetters } from './control.js';
import { isCampaignJob, queueNames, rateScopes } from './keys.js';
import { createLedger, finalOutcomes } from './ledger.js';

export interface PurgeResult {
  campaignId: string;
  keysDeleted: number;
  jobsRemoved: number;
  deadLettersRemoved: number;
}

async function deleteByPattern(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) n += await redis.unlink(...keys);
  } while (cursor !== '0');
  return n;
}

/** Whether a campaign still has recipients without an outcome (a cancelled one counts as finished). */
async function unfinished(deps: ControlDeps, id: string, campaign: StoredCampaign): Promise<number> {
  if (campaign.state === 'cancelled') return 0;
  const counts = await createLedger(deps.redis, deps.keys).counts(id);
  return Math.max(0, campaign.recipients.valid - finalOutcomes.reduce((n, o) => n + counts[o], 0));
}

/** Removes a campaign's jobs in any state; an active one (locked by a worker) loses its hash. */
async function removeJobs(deps: ControlDeps, id: string): Promise<number> {
  let removed = 0;
  const states = ['wait', 'prioritized', 'delayed', 'active', 'completed', 'failed'] as const;
  const jobIds = (await deps.deliver.getRanges([...states], 0, -1)).filter((j) => isCampaignJob(j, id));
  for (const jobId of jobIds) {
    const job = await deps.deliver.getJob(jobId);
    if (!job) continue;
    // An active job is locked by a worker; it will find its chunk gone and stop.
    await job.remove().then(
      () => removed++,
      async () => {
        await deps.redis.unlink(deps.keys.job(queueNames.deliver, jobId));
      },
    );
  }
  return removed;
}

/** Deletes a campaign's personal data keys; returns how many there were. */
async function deleteData(deps: ControlDeps, id: string): Promise<number> {
  const { redis, keys } = deps;
  let n = await deleteByPattern(redis, keys.chunkPattern(id));
  n += await deleteByPattern(redis, keys.ledgerPattern(id));
  n += await redis.unlink(
    keys.problems(id),
    keys.reasons(id),
    keys.files(id),
    keys.chunks(id),
    keys.rate(rateScopes.campaign(id)),
  );
  return n;
}

/**
 * Removes every trace of a campaign's personal data from Redis: the sealed
 * chunks, the ledger, the problems list (masked values still show birth
 * dates), the file registry, its jobs in any state and its dead letters. What
 * stays is the record (definition, no resident data) and the counts, marked
 * purged (campaign-record.ts: one atomic step, last, so a purge that stopped
 * half way can run again). Without `force` it needs a finished (or cancelled)
 * campaign with a report written.
 */
export async function purgeCampaign(
  deps: ControlDeps,
  id: string,
  options: { force?: boolean; by: string; nowMs?: number },
): Promise<PurgeResult> {
  const campaign = await createCampaignStore(deps.redis, deps.keys).require(id);
  const left = await unfinished(deps, id, campaign);
  if (!options.force) {
    if (left > 0) {
      throw new CampaignStoreError(
        'BAD_STATE',
        `campaign ${id} still has ${left} recipients without an outcome; cancel it first, or use --force`,
      );
    }
    if (!campaign.reportWrittenAt) {
      throw new CampaignStoreError(
        'BAD_STATE',
        `no report has been written for campaign ${id}; run npm run report -- --campaign ${id} first, or use --force`,
      );
    }
  }
  const jobsRemoved = await removeJobs(deps, id);
  const letters = await listDeadLetters(deps, id);
  for (const l of letters) await deps.deadLetters.remove(l.id);
  const keysDeleted = await deleteData(deps, id);
  await createCampaignRecord(deps.redis, deps.keys).purge(id, {
    by: options.by,
    at: new Date(options.nowMs ?? Date.now()),
    unfinished: left > 0,
  });
  return { campaignId: id, keysDeleted, jobsRemoved, deadLettersRemoved: letters.length };
}

/**
 * Purges campaigns that finished (no recipient pending, or cancelled) and saw
 * no activity for `retentionDays`. `onPurged` hears of each one as soon as it
 * is purged (the audit entry), so a failure later in the sweep loses none.
 */
export async function purgeExpired(
  deps: ControlDeps,
  retentionDays: number,
  nowMs = Date.now(),
  onPurged: (result: PurgeResult) => Promise<void> = async () => {},
): Promise<PurgeResult[]> {
  const store = createCampaignStore(deps.redis, deps.keys);
  const out: PurgeResult[] = [];
  for (const id of await store.list()) {
    const c = await store.get(id);
    if (!c || c.purgedAt) continue;
    const last = Date.parse(c.lastActivityAt ?? c.createdAt);
    if (!Number.isFinite(last) || nowMs - last < retentionDays * 86_400_000) continue;
    if ((await unfinished(deps, id, c)) > 0) continue;
    const result = await purgeCampaign(deps, id, { force: true, by: 'retention', nowMs });
    out.push(result);
    await onPurged(result);
  }
  return out;
}
