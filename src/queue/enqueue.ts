import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Campaign } from '../campaign/schema.js';
import { NumberSet } from '../recipients/number-set.js';
import { numberKey, type Plan, planChunks } from '../recipients/plan.js';
import type { ParsedFile, Problem } from '../recipients/read-file.js';
import {
  type CampaignLifecycle,
  CampaignStoreError,
  createCampaignRecord,
  registerResult,
} from './campaign-record.js';
import { createCampaignStore, type StoredFile } from './campaign-store.js';
import { iterateChunks, sealChunk } from './chunks.js';
import { type DeliverJobData, deliverJobOptions, type JobPolicy } from './deliver-queue.js';
import type { Keyring } from './keyring.js';
import { deliverJobId, type Keys, queueNames } from './keys.js';
import { createLedger, isFinal } from './ledger.js';
import { runScript } from './scripts.js';

type CampaignHead = { definition: string; lifecycle: CampaignLifecycle };

export class EnqueueError extends Error {
  readonly code: 'LOCKED' | 'DEFINITION_CHANGED' | 'CANCELLED' | 'PURGED' | 'INVALID_LINES';
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

export interface EnqueueInput {
  campaign: Campaign;
  parsed: readonly ParsedFile[];
  skipInvalid: boolean;
  dryRun: boolean;
  /** Store the campaign paused (e.g. for a test send first); `campaign resume` starts it. */
  paused?: boolean;
}

/**
 * Writes a validated campaign and its recipient files to Redis, all or nothing:
 * one MULTI holds the campaign record's part (campaign-record.ts), the sealed
 * chunks and the file registry (the commit point); the jobs are added after it
 * with deterministic ids, so a crash in between is healed by running the same
 * command again.
 */
export async function enqueueCampaign(deps: EnqueueDeps, input: EnqueueInput): Promise<EnqueueResult> {
  const { redis, keys } = deps;
  const id = input.campaign.id;
  const lockToken = randomBytes(12).toString('hex');
  const locked = await redis.set(keys.enqueueLock(id), lockToken, 'PX', 10 * 60_000, 'NX');
  if (locked !== 'OK') {
    throw new EnqueueError(
      'LOCKED',
      `another enqueue for campaign ${id} is running; wait for it and run again`,
    );
  }
  try {
    return await enqueueLocked(deps, input);
  } finally {
    await runScript(redis, 'releaseLock', [keys.enqueueLock(id)], [lockToken]);
  }
}

const definitionChanged = (id: string) =>
  new EnqueueError(
    'DEFINITION_CHANGED',
    `campaign ${id} is already stored with a different definition; a changed campaign needs a new id`,
  );

/** Refuses a campaign that cannot take more recipients: another definition, cancelled or purged. */
function checkEnqueueable(id: string, definition: string, head: CampaignHead | undefined): void {
  if (head && head.definition !== definition) throw definitionChanged(id);
  if (head?.lifecycle === 'cancelled')
    throw new EnqueueError('CANCELLED', `campaign ${id} is cancelled; nothing more can be enqueued for it`);
  if (head?.lifecycle === 'purged')
    throw new EnqueueError('PURGED', `campaign ${id} is purged; nothing more can be enqueued for it`);
}

async function enqueueLocked(deps: EnqueueDeps, input: EnqueueInput): Promise<EnqueueResult> {
  const { redis, keys, keyring, queue, jobPolicy } = deps;
  const id = input.campaign.id;
  const store = createCampaignStore(redis, keys);
  const definition = JSON.stringify(input.campaign);
  const head = await createCampaignRecord(redis, keys).head(id);
  checkEnqueueable(id, definition, head);

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

  const newFiles = plan.files.filter((f) => f.chunks.length > 0 || f.invalid > 0 || f.duplicates > 0);
  if (newFiles.length > 0 || !head) await commit(deps, input, definition, plan, newFiles);

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
}

function registerResultOf(reply: [Error | null, unknown] | undefined, id: string) {
  try {
    return registerResult(reply, id);
  } catch (err) {
    if (err instanceof CampaignStoreError && err.code === 'DEFINITION_CHANGED') throw definitionChanged(id);
    throw err;
  }
}

/**
 * The commit point: one MULTI with the record's part, the sealed chunks, the
 * file registry and the problems. A campaign cancelled or purged meanwhile
 * keeps its state; its new recipients are counted, and no job is added.
 */
async function commit(
  deps: EnqueueDeps,
  input: EnqueueInput,
  definition: string,
  plan: Plan,
  newFiles: Plan['files'],
): Promise<void> {
  const { redis, keys, keyring } = deps;
  const id = input.campaign.id;
  const at = (deps.now ?? (() => new Date()))().toISOString();
  const record = createCampaignRecord(redis, keys);
  const multi = redis.multi();
  const chunksAdded = newFiles.reduce((n, f) => n + f.chunks.length, 0);
  record.register(multi, id, {
    definition,
    at,
    paused: input.paused ?? false,
    recipients: plan.recipients,
    chunksAdded,
  });
  for (const file of newFiles) {
    for (const chunk of file.chunks) {
      multi.set(keys.chunk(id, chunk.chunkId), sealChunk(keyring, id, chunk.chunkId, chunk.numbers));
      multi.hset(keys.chunks(id), chunk.chunkId, chunk.numbers.length);
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
  for (let i = 0; i < plan.problems.length; i += 1000) {
    multi.rpush(keys.problems(id), ...plan.problems.slice(i, i + 1000).map((p) => JSON.stringify(p)));
  }
  const replies = await multi.exec();
  if (!replies) throw new Error(`the write for campaign ${id} was aborted`);
  const registered = registerResultOf(replies[0], id);
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
  if (registered.refused) checkEnqueueable(id, definition, { definition, lifecycle: registered.refused });
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
  for (const chunkId of chunkIds) pipeline.exists(keys.job(queueNames.deliver, deliverJobId(id, chunkId)));
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
