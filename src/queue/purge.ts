import type { Redis } from 'ioredis';
import { CampaignStoreError, createCampaignStore } from './campaign-store.js';
import type { ControlDeps } from './control.js';
import { listDeadLetters } from './control.js';
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

/**
 * Removes every trace of a campaign's personal data from Redis: the sealed
 * chunks, the ledger, the problems list (masked values still show birth
 * dates), the file registry, its jobs in any state and its dead letters. What
 * stays is the definition (no resident data) and the counts, marked purged.
 */
export async function purgeCampaign(
  deps: ControlDeps,
  id: string,
  options: { force?: boolean; by: string; nowMs?: number },
): Promise<PurgeResult> {
  const { redis, keys } = deps;
  const store = createCampaignStore(redis, keys);
  const campaign = await store.require(id);
  const counts = await createLedger(redis, keys).counts(id);
  const done = finalOutcomes.reduce((n, o) => n + counts[o], 0);
  const unfinished = done < campaign.recipients.valid && campaign.state !== 'cancelled';
  if (!options.force) {
    if (unfinished) {
      throw new CampaignStoreError(
        'BAD_STATE',
        `campaign ${id} still has ${campaign.recipients.valid - done} recipients without an outcome; cancel it first, or use --force`,
      );
    }
    const reported = await redis.hget(keys.campaign(id), 'reportWrittenAt');
    if (!reported) {
      throw new CampaignStoreError(
        'BAD_STATE',
        `no report has been written for campaign ${id}; run npm run report -- --campaign ${id} first, or use --force`,
      );
    }
  }
  let jobsRemoved = 0;
  const jobIds = (
    await deps.deliver.getRanges(['wait', 'prioritized', 'delayed', 'active', 'completed', 'failed'], 0, -1)
  ).filter((j) => j.startsWith(`${id}.`));
  for (const jobId of jobIds) {
    const job = await deps.deliver.getJob(jobId);
    if (!job) continue;
    // An active job is locked by a worker; it will find its chunk gone and stop.
    await job.remove().then(
      () => jobsRemoved++,
      async () => {
        await redis.unlink(`${keys.prefix}:deliver:${jobId}`);
      },
    );
  }
  const letters = await listDeadLetters(deps, id);
  for (const l of letters) await deps.deadLetters.remove(l.id);
  let keysDeleted = 0;
  keysDeleted += await deleteByPattern(redis, `${keys.campaign(id)}:chunk:*`);
  keysDeleted += await deleteByPattern(redis, `${keys.campaign(id)}:ledger:*`);
  keysDeleted += await redis.unlink(
    keys.problems(id),
    keys.reasons(id),
    keys.files(id),
    keys.chunks(id),
    keys.rate(`campaign:${id}`),
  );
  const fields = (await redis.hkeys(keys.campaign(id))).filter((f) => f.startsWith('round:'));
  if (fields.length > 0) await redis.hdel(keys.campaign(id), ...fields);
  await redis.hset(
    keys.campaign(id),
    'purgedAt',
    new Date(options.nowMs ?? Date.now()).toISOString(),
    'purgedBy',
    options.by,
    ...(unfinished
      ? ['state', 'cancelled', 'stateReason', 'purged before it finished', 'stateBy', options.by]
      : []),
  );
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
    const [purgedAt, lastActivityAt, createdAt] = await deps.redis.hmget(
      deps.keys.campaign(id),
      'purgedAt',
      'lastActivityAt',
      'createdAt',
    );
    if (purgedAt) continue;
    const last = Date.parse(lastActivityAt ?? createdAt ?? '');
    if (!Number.isFinite(last) || nowMs - last < retentionDays * 86_400_000) continue;
    const c = await store.require(id);
    const counts = await createLedger(deps.redis, deps.keys).counts(id);
    const done = finalOutcomes.reduce((n, o) => n + counts[o], 0);
    if (done < c.recipients.valid && c.state !== 'cancelled') continue;
    const result = await purgeCampaign(deps, id, { force: true, by: 'retention', nowMs });
    out.push(result);
    await onPurged(result);
  }
  return out;
}
