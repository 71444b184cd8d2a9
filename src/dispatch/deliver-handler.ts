import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SystemAuditInput } from '../audit/audit-log.js';
import type { CampaignSender, InboxClient } from '../delivery/types.js';
import type { Metrics } from '../metrics/registry.js';
import type { CampaignStore } from '../queue/campaign-store.js';
import { ChunkMissingError, loadChunk } from '../queue/chunks.js';
import type { DeadLetterData, DeliverJobData } from '../queue/deliver-queue.js';
import type { Keyring } from '../queue/keyring.js';
import { type Keys, queueNames } from '../queue/keys.js';
import { type FinalOutcome, isFinal, type Ledger } from '../queue/ledger.js';
import type { RateLimiter, RateRequest } from '../queue/rate-limiter.js';
import type { FailureWatch } from './auto-pause.js';
import {
  createRecipientDriver,
  type DriverContext,
  type JobRun,
  type JobSummary,
  runCallLoops,
} from './call-loops.js';
import type { CallPermits } from './call-permits.js';
import type { CallRetryDeps, CallRetryOptions } from './call-retry.js';
import type { CampaignCache, CampaignView } from './campaign-cache.js';
import { type CampaignGate, createCampaignGate } from './campaign-gate.js';
import { type Counted, type JobScope, jobLedger, jobLimiter, jobSender } from './job-ports.js';
import { finishJob, type JobHandle, type JobRunnerDeps } from './job-runner.js';
import { messageSpecOf } from './message-spec.js';
import type { AttemptPorts } from './recipient-attempt.js';

export type { JobSummary } from './call-loops.js';

export interface DispatchOptions extends CallRetryOptions {
  /** Global calls per second across all workers; 0 = no limit. */
  ratePerSecond: number;
  /** Calls one job runs at once (default 16); in flight per worker = this × WORKER_CONCURRENCY. */
  callsPerJob: number;
  /** What to do with a recipient whose call may have landed (a crash or timeout mid-call). */
  onUncertain: 'resend' | 'park';
  /** How long a paused campaign's job waits before it looks again, ms (default 5000; resume promotes it at once). */
  pausedRecheckMs: number;
}

export interface DispatchDeps {
  redis: Redis;
  keys: Keys;
  keyring: Keyring;
  ledger: Ledger;
  store: CampaignStore;
  campaigns: CampaignCache;
  inbox: InboxClient;
  limiter: RateLimiter;
  /** At most one call per inbox connection on the wire (see call-permits.ts). */
  permits: CallPermits;
  failureWatch: FailureWatch;
  deadLetters: Queue<DeadLetterData>;
  metrics: Metrics;
  logger: Logger;
  /** Records the service's own actions (an automatic pause) in the audit log; must not throw. Default none. */
  audit?: (input: SystemAuditInput) => Promise<void>;
  /** Aborted when the worker shuts down: no new call starts after that. */
  shutdown: AbortSignal;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const defaultSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** A job's chunk, once the campaign and the chunk are known to exist. */
interface OpenChunk {
  view: CampaignView;
  numbers: string[];
  /** Slots without a final outcome. */
  open: number[];
  /** Each slot's call count when the job read the ledger. */
  calls: number[];
}

/**
 * The delivery job handler. A job is one sealed chunk of at most 250 recipients;
 * every recipient gets exactly one final outcome in the ledger, recorded the
 * moment it is known, so a retried or re-delivered job skips them. It knows the
 * delivery port, the ledger and the limiter, not the Worker: each recipient is
 * one attemptRecipient (recipient-attempt.ts) under the call retry policy
 * (call-retry.ts), and finishJob (job-runner.ts) turns the end into BullMQ's terms.
 */
export function createDeliverHandler(deps: DispatchDeps, options: DispatchOptions) {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const gate = createCampaignGate({ ...deps, now });
  const senderFor = senderCache(deps.inbox);
  const runnerDeps: JobRunnerDeps = { ...deps, now, pausedRecheckMs: options.pausedRecheckMs };

  function portsFor(chunk: OpenChunk, scope: JobScope, run: JobRun, counted: Counted): AttemptPorts {
    const { view } = chunk;
    const rate = view.definition.ratePerSecond;
    const request: RateRequest = {
      globalPerSecond: options.ratePerSecond,
      ...(rate ? { campaign: { id: scope.campaignId, perSecond: rate } } : {}),
    };
    return {
      ledger: jobLedger(deps.ledger, scope, counted, chunk.calls),
      limiter: jobLimiter(deps.limiter, request, deps.metrics),
      permits: deps.permits,
      sender: jobSender(senderFor(view), deps.metrics, () => run.summary.calls++),
      clock: { now },
      gate: { mustStop: () => gate.mustStop(scope.campaignId) },
      shutdown: deps.shutdown,
      onUncertain: options.onUncertain,
    };
  }

  function retryDeps(campaignId: string): CallRetryDeps {
    return {
      stopCampaign: (error) => gate.refused(campaignId, error),
      retrying(reason, waitMs) {
        deps.metrics.retries.inc({ campaign: campaignId, reason });
        if (waitMs !== undefined) deps.metrics.retryAfterWaitSeconds.inc(waitMs / 1000);
      },
      sleep,
      shutdown: deps.shutdown,
    };
  }

  return async function handle(job: Job<DeliverJobData>, token?: string): Promise<JobSummary> {
    const scope = scopeOf(deps.keys, job, token);
    const run = newRun(job.data);
    const log = deps.logger.child({
      job: job.id ?? '',
      campaign: scope.campaignId,
      attempt: job.attemptsMade + 1,
    });
    const chunk = await openChunk(deps, gate, scope, run, log);
    if (!chunk) return run.summary;
    const counted = countedFor(run, deps.metrics);
    const ports = portsFor(chunk, scope, run, counted);
    const retry = { options, deps: retryDeps(scope.campaignId) };
    const context: DriverContext = { scope, numbers: chunk.numbers, ports, gate, retry, run, counted, log };
    const taken = await runCallLoops(chunk.open, options.callsPerJob, run, createRecipientDriver(context));
    for (const slot of chunk.open.slice(taken)) run.unsettled.add(slot);
    if (run.summary.calls > 0) {
      await deps.store.noteActivity(scope.campaignId, new Date(now()));
    }
    return finishJob(runnerDeps, { job: handleOf(job, token), run, slots: chunk.numbers.length, log });
  };
}

/** One sender per campaign: its SOAP body template is built once. */
function senderCache(inbox: InboxClient): (view: CampaignView) => CampaignSender {
  const senders = new Map<string, CampaignSender>();
  return (view) => {
    const id = view.definition.id;
    let s = senders.get(id);
    if (!s) {
      s = inbox.forCampaign(messageSpecOf(view.definition));
      senders.set(id, s);
    }
    return s;
  };
}

function scopeOf(keys: Keys, job: Job<DeliverJobData>, token: string | undefined): JobScope {
  const lock = { key: keys.jobLock(queueNames.deliver, job.id ?? ''), token: token ?? '' };
  return { campaignId: job.data.c, chunkId: job.data.k, lock };
}

function newRun({ c: campaignId, k: chunkId, n }: DeliverJobData): JobRun {
  const summary: JobSummary = { campaignId, chunkId, recipients: n, calls: 0, outcomes: {}, deadLettered: 0 };
  return { summary, stop: undefined, lastError: '', unsettled: new Set() };
}

function countedFor(run: JobRun, metrics: Metrics): Counted {
  const { campaignId } = run.summary;
  return (outcome: FinalOutcome, recorded: boolean) => {
    if (!recorded) return;
    metrics.messages.inc({ campaign: campaignId, outcome });
    run.summary.outcomes[outcome] = (run.summary.outcomes[outcome] ?? 0) + 1;
  };
}

/**
 * Whether the job may start (a stop found now is the job's stop), and its
 * chunk and open slots; undefined when the campaign or the chunk is gone
 * (purged): the job is dropped.
 */
async function openChunk(
  deps: DispatchDeps,
  gate: CampaignGate,
  { campaignId, chunkId }: JobScope,
  run: JobRun,
  log: Logger,
): Promise<OpenChunk | undefined> {
  run.stop = await gate.mustStop(campaignId);
  const view = await deps.campaigns.get(campaignId);
  if (run.stop?.kind === 'gone' || !view) {
    log.warn('campaign not found (purged?); job dropped');
    return undefined;
  }
  let numbers: string[];
  try {
    numbers = await loadChunk(deps.redis, deps.keys, deps.keyring, campaignId, chunkId);
  } catch (err) {
    if (!(err instanceof ChunkMissingError)) throw err;
    log.warn('chunk gone (campaign purged); job dropped');
    return undefined;
  }
  const slots = await deps.ledger.read(campaignId, chunkId, numbers.length);
  const open = slots.flatMap((s, i) => (isFinal(s.state) ? [] : [i]));
  log.info({ recipients: numbers.length, open: open.length }, 'job started');
  return { view, numbers, open, calls: slots.map((s) => s.calls) };
}

function handleOf(job: Job<DeliverJobData>, token: string | undefined): JobHandle {
  return {
    id: job.id ?? '',
    attempt: job.attemptsMade + 1,
    attempts: job.opts.attempts ?? 1,
    moveToDelayed: (timestampMs) => job.moveToDelayed(timestampMs, token),
    moveToWait: async () => {
      await job.moveToWait(token);
    },
  };
}
