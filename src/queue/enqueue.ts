import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Campaign } from '../campaign/schema.js';
import { NumberSet } from '../recipients/number-set.js';
import { numberKey, type Plan, planChunks } from '../recipients/plan.js';
import type { ParsedFile, Problem } from '../recipients/read-file.js';
import { createCampaignStore, type StoredFile } from './campaign-store.js';
import { iterateChunks, sealChunk } from './chunks.js';
import { type DeliverJobData, deliverJobOptions, type JobPolicy } from './deliver-queue.js';
import type { Keyring } from './keyring.js';
import { deliverJobId, type Keys, queueNames } from './keys.js';
import { createLedger, isFinal } from './ledger.js';

export class EnqueueError extends Error {
  readonly code: 'LOCKED' | 'DEFINITION_CHANGED' | 'CANCELLED' | 'INVALID_LINES';
  constructor(code: EnqueueError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

export interface EnqueueResult {
  campaignId: string;
  status: 'enqueued' | 'nothing-new' | 'dry-run' | 'rejected';
  recipients: { total: number; valid: number; invalid: number; duplicates: number };
  jobs: number;
  enqueued: number;
  alreadyEnqueued: number;
  /** Jobs of earlier runs that had gone missing (a crash between commit and add) and were added again. */
  restored: number;
  files: {
    name: string;
    sha256: string;
    valid: number;
    invalid: number;
    duplicates: number;
    jobs: number;
    status: 'new' | 'already-enqueued';
  }[];
  problems: Problem[];
  warnings: string[];
}

export interface EnqueueDeps {
  redis: Redis;
  keys: Keys;
  keyring: Keyring;
  queue: Queue<DeliverJobData>;
  jobPolicy: JobPolicy;
  now?: () => Date;
}

const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * Writes a validated campaign and its recipient files to Redis, all or nothing:
 * one MULTI holds the definition, the sealed chunks and the file registry (the
 * commit point); the jobs are added after it with deterministic ids, so a crash
 * in between is healed by running the same command again.
 */
export async function enqueueCampaign(
  deps: EnqueueDeps,
  input: {
    campaign: Campaign;
    parsed: readonly ParsedFile[];
    skipInvalid: boolean;
    dryRun: boolean;
    /** Store the campaign paused (e.g. for a test send first); `campaign resume` starts it. */
    paused?: boolean;
  },
): Promise<EnqueueResult> {
  const { redis, keys, keyring, queue, jobPolicy } = deps;
  const now = deps.now ?? (() => new Date());
  const { campaign } = input;
  const id = campaign.id;
  const store = createCampaignStore(redis, keys);
  const definition = JSON.stringify(campaign);

  const lockToken = randomBytes(12).toString('hex');
  const locked = await redis.set(keys.enqueueLock(id), lockToken, 'PX', 10 * 60_000, 'NX');
  if (locked !== 'OK') {
    throw new EnqueueError(
      'LOCKED',
      `another enqueue for campaign ${id} is running; wait for it and run again`,
    );
  }
  try {
    const existing = await redis.hmget(keys.campaign(id), 'definition', 'state');
    if (existing[0] !== null && existing[0] !== definition) {
      throw new EnqueueError(
        'DEFINITION_CHANGED',
        `campaign ${id} is already stored with a different definition; a changed campaign needs a new id`,
      );
    }
    if (existing[1] === 'cancelled') {
      throw new EnqueueError('CANCELLED', `campaign ${id} is cancelled; nothing more can be enqueued for it`);
    }

    const storedFiles = await store.files(id);
    const expected = input.parsed.reduce((n, f) => n + f.numbers.length, 0);
    const known = {
      numbers: new NumberSet(expected),
      files: new Map(storedFiles.map((f) => [f.sha256, f.name])),
    };
    const storedChunks = [...(await store.chunks(id)).keys()];
    for await (const chunk of iterateChunks(redis, keys, keyring, id, storedChunks)) {
      for (const n of chunk.numbers) known.numbers.add(numberKey(n));
    }
    const plan = planChunks(id, input.parsed, known);
    const result = summarise(id, plan, storedFiles);
    const invalid = plan.problems.some((p) => p.code !== 'DUPLICATE');
    if (invalid && !input.skipInvalid) return { ...result, status: 'rejected' };
    if (input.dryRun) return { ...result, status: 'dry-run' };

    const at = now().toISOString();
    const newFiles = plan.files.filter((f) => f.chunks.length > 0 || f.invalid > 0 || f.duplicates > 0);
    if (newFiles.length > 0 || existing[0] === null) {
      const multi = redis.multi();
      if (existing[0] === null) {
        multi.hset(keys.campaign(id), 'definition', definition, 'state', 'active', 'createdAt', at);
        multi.sadd(keys.campaigns(), id);
      }
      if (input.paused) {
        multi.hset(
          keys.campaign(id),
          'state',
          'paused',
          'stateReason',
          'enqueued paused',
          'stateBy',
          'enqueue',
          'stateAt',
          at,
        );
      }
      let chunkCount = 0;
      for (const file of newFiles) {
        for (const chunk of file.chunks) {
          multi.set(keys.chunk(id, chunk.chunkId), sealChunk(keyring, id, chunk.chunkId, chunk.numbers));
          multi.hset(keys.chunks(id), chunk.chunkId, chunk.numbers.length);
          chunkCount++;
        }
        const stored: StoredFile = {
          name: file.name,
          sha256: file.sha256,
          lines: file.lines,
          valid: file.valid,
          invalid: file.invalid,
          duplicates: file.duplicates,
          chunks: file.chunks.map((c) => c.chunkId),
          enqueuedAt: at,
        };
        multi.hset(keys.files(id), file.sha256, JSON.stringify(stored));
      }
      multi.hincrby(keys.campaign(id), 'total', plan.recipients.total);
      multi.hincrby(keys.campaign(id), 'valid', plan.recipients.valid);
      multi.hincrby(keys.campaign(id), 'invalid', plan.recipients.invalid);
      multi.hincrby(keys.campaign(id), 'duplicates', plan.recipients.duplicates);
      multi.hincrby(keys.campaign(id), 'chunkCount', chunkCount);
      for (let i = 0; i < plan.problems.length; i += 1000) {
        multi.rpush(keys.problems(id), ...plan.problems.slice(i, i + 1000).map((p) => JSON.stringify(p)));
      }
      const replies = await multi.exec();
      const failed = replies?.find(([err]) => err);
      if (!replies || failed) throw failed?.[0] ?? new Error(`the write for campaign ${id} was aborted`);
    }

    const jobs = plan.files.flatMap((f) =>
      f.chunks.map((c) => ({
        name: 'deliver',
        data: { c: id, k: c.chunkId, n: c.numbers.length },
        opts: deliverJobOptions(deliverJobId(id, c.chunkId), jobPolicy),
      })),
    );
    for (let i = 0; i < jobs.length; i += 1000) await queue.addBulk(jobs.slice(i, i + 1000));
    const restored = await restoreMissingJobs(deps, id, plan, storedFiles);
    return {
      ...result,
      status: jobs.length > 0 || restored > 0 ? 'enqueued' : 'nothing-new',
      enqueued: jobs.length + restored,
      restored,
    };
  } finally {
    await redis.eval(RELEASE_LOCK, 1, keys.enqueueLock(id), lockToken);
  }
}

function summarise(id: string, plan: Plan, storedFiles: StoredFile[]): EnqueueResult {
  const bySha = new Map(storedFiles.map((f) => [f.sha256, f]));
  const newJobs = plan.files.reduce((n, f) => n + f.chunks.length, 0);
  const already = plan.alreadyEnqueued.map((a) => {
    const stored = bySha.get(a.sha256);
    return {
      name: a.name,
      sha256: a.sha256,
      valid: stored?.valid ?? 0,
      invalid: stored?.invalid ?? 0,
      duplicates: stored?.duplicates ?? 0,
      jobs: stored?.chunks.length ?? 0,
      status: 'already-enqueued' as const,
    };
  });
  const alreadyJobs = already.reduce((n, f) => n + f.jobs, 0);
  const warnings = [...plan.warnings];
  for (const a of plan.alreadyEnqueued) {
    warnings.push(
      a.sameAs === a.name
        ? `${a.name}: already enqueued for campaign ${id}; nothing new added`
        : `${a.name}: same content as ${a.sameAs}, already in campaign ${id}; skipped`,
    );
  }
  return {
    campaignId: id,
    status: 'enqueued',
    recipients: plan.recipients,
    jobs: newJobs + alreadyJobs,
    enqueued: 0,
    alreadyEnqueued: alreadyJobs,
    restored: 0,
    files: [
      ...plan.files.map((f) => ({
        name: f.name,
        sha256: f.sha256,
        valid: f.valid,
        invalid: f.invalid,
        duplicates: f.duplicates,
        jobs: f.chunks.length,
        status: 'new' as const,
      })),
      ...already,
    ],
    problems: plan.problems,
    warnings,
  };
}

/**
 * For files registered by an earlier run, adds back any job that is gone from
 * the queue while its chunk still has recipients without an outcome.
 */
async function restoreMissingJobs(
  deps: EnqueueDeps,
  id: string,
  plan: Plan,
  storedFiles: StoredFile[],
): Promise<number> {
  const { redis, keys, queue, jobPolicy } = deps;
  const wanted = new Set(plan.alreadyEnqueued.map((a) => a.sha256));
  const chunkIds = storedFiles.filter((f) => wanted.has(f.sha256)).flatMap((f) => f.chunks);
  if (chunkIds.length === 0) return 0;
  const sizes = await createCampaignStore(redis, keys).chunks(id);
  const ledger = createLedger(redis, keys);
  const pipeline = redis.pipeline();
  for (const chunkId of chunkIds)
    pipeline.exists(`${keys.prefix}:${queueNames.deliver}:${deliverJobId(id, chunkId)}`);
  const exists = (await pipeline.exec()) ?? [];
  let restored = 0;
  for (let i = 0; i < chunkIds.length; i++) {
    if (exists[i]?.[1] === 1) continue;
    const chunkId = chunkIds[i]!;
    const n = sizes.get(chunkId) ?? 0;
    const slots = await ledger.read(id, chunkId, n);
    if (slots.every((s) => isFinal(s.state))) continue;
    await queue.add(
      'deliver',
      { c: id, k: chunkId, n },
      deliverJobOptions(deliverJobId(id, chunkId), jobPolicy),
    );
    restored++;
  }
  return restored;
}
