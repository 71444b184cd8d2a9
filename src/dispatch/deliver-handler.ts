import { DelayedError, type Job, type Queue, WaitingError } from 'bullmq';
import type { Redis } from 'ioredis';
import pRetry, { AbortError } from 'p-retry';
import type { Logger } from 'pino';
import type { SystemAuditInput } from '../audit/audit-log.js';
import { type CampaignSender, DeliveryError, type InboxClient } from '../delivery/types.js';
import type { Metrics } from '../metrics/registry.js';
import type { CampaignStore } from '../queue/campaign-store.js';
import { ChunkMissingError, loadChunk } from '../queue/chunks.js';
import type { DeadLetterData, DeliverJobData } from '../queue/deliver-queue.js';
import type { Keyring } from '../queue/keyring.js';
import { type Keys, queueNames } from '../queue/keys.js';
import { type Answered, type FinalOutcome, isFinal, type Ledger, type MarkResult } from '../queue/ledger.js';
import type { RateLimiter, RateRequest } from '../queue/rate-limiter.js';
import { maskPersonnummer } from '../recipients/personnummer.js';
import type { FailureWatch } from './auto-pause.js';
import type { CallPermits } from './call-permits.js';
import type { CampaignCache, CampaignView } from './campaign-cache.js';
import { messageSpecOf } from './message-spec.js';
import { createSendTimeCheck } from './window.js';

export interface DispatchOptions {
  /** Global calls per second across all workers; 0 = no limit. */
  ratePerSecond: number;
  /** Calls one job runs at once (default 16); in flight per worker = this × WORKER_CONCURRENCY. */
  callsPerJob: number;
  /** Retries of one call after a transient error (default 3). */
  callRetries: number;
  /** First backoff between call retries, ms (default 200), doubled, capped at callBackoffMaxMs. */
  callBackoffMs: number;
  callBackoffMaxMs: number;
  /** Waits for Retry-After per call before it counts as failed (default 10). */
  maxRetryAfterWaits: number;
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

export interface JobSummary {
  campaignId: string;
  chunkId: string;
  recipients: number;
  calls: number;
  outcomes: Partial<Record<FinalOutcome, number>>;
  deadLettered: number;
}

/** One of a job's call loops: the last answered recipient, until the next ledger call records it. */
interface CallLoop {
  answered?: Answered;
}

type Stop =
  | { kind: 'paused' }
  | { kind: 'cancelled' }
  | { kind: 'window'; until: number }
  | { kind: 'lock-lost' }
  | { kind: 'shutdown' }
  | { kind: 'gone' };

/** Codes after which a call may have reached the platform. */
const ambiguousCodes = new Set([
  'TIMEOUT',
  'ECONNRESET',
  'UND_ERR_SOCKET',
  'EPIPE',
  'UND_ERR_CLOSED',
  // A gateway in front of the inbox may have forwarded the call before it failed.
  'HTTP_502',
  'HTTP_504',
]);

const noop = () => {};

/** Why a campaign stops: the platform refused us (401/403), or TLS failed (often its certificate, refused by us). */
function stopReason(error: DeliveryError): string {
  if (error.httpStatus === 401 || error.httpStatus === 403) {
    return `the platform refused this system (HTTP ${error.httpStatus}, unauthorised): check the client certificate and that it is authorised for this service`;
  }
  return `the TLS connection to the platform failed (${error.code}): its certificate was refused, or it refused ours; check INBOX_TLS_CA_FILE and the client certificate`;
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

/**
 * The delivery job handler. A job is one sealed chunk of at most 250 recipients;
 * every recipient gets exactly one final outcome in the ledger, recorded the
 * moment it is known, so a retried or re-delivered job skips them. It knows the
 * delivery port, the ledger and the limiter, not the Worker.
 */
export function createDeliverHandler(deps: DispatchDeps, options: DispatchOptions) {
  const { ledger, metrics, logger, keys } = deps;
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const senders = new Map<string, CampaignSender>();
  const sendTime = createSendTimeCheck();

  function senderFor(view: CampaignView): CampaignSender {
    const id = view.definition.id;
    let s = senders.get(id);
    if (!s) {
      s = deps.inbox.forCampaign(messageSpecOf(view.definition));
      senders.set(id, s);
    }
    return s;
  }

  async function pauseBySystem(campaignId: string, reason: string, kind: string): Promise<void> {
    // Many calls in flight may see the same refusal: only the first one pauses (atomically in Redis).
    deps.failureWatch.reset(campaignId);
    deps.campaigns.invalidate(campaignId);
    if (!(await deps.store.pauseIfActive(campaignId, reason, 'system'))) return;
    metrics.autoPauses.inc({ campaign: campaignId, reason: kind });
    logger.error({ campaign: campaignId, reason, kind }, 'campaign paused by the service');
    await deps.audit?.({ action: 'auto-pause', campaignId, details: { reason, kind } });
  }

  /** Why this job must stop taking recipients now, if it must. */
  async function mustStop(campaignId: string): Promise<Stop | undefined> {
    if (deps.shutdown.aborted) return { kind: 'shutdown' };
    const view = await deps.campaigns.get(campaignId);
    if (!view) return { kind: 'gone' };
    if (view.state === 'cancelled') return { kind: 'cancelled' };
    if (view.state === 'paused') {
      // After a resume, judge the calls made since, not the ones before the pause.
      deps.failureWatch.reset(campaignId);
      return { kind: 'paused' };
    }
    if (!view.unitActive) {
      await pauseBySystem(
        campaignId,
        `sending unit ${view.definition.unit.hsaId} is not active`,
        'unit_inactive',
      );
      return { kind: 'paused' };
    }
    const until = sendTime(view.definition, now());
    if (until !== undefined) return { kind: 'window', until };
    return undefined;
  }

  return async function handle(job: Job<DeliverJobData>, token?: string): Promise<JobSummary> {
    const { c: campaignId, k: chunkId, n } = job.data;
    const jobId = job.id ?? '';
    const lock = { key: keys.jobLock(queueNames.deliver, jobId), token: token ?? '' };
    const summary: JobSummary = {
      campaignId,
      chunkId,
      recipients: n,
      calls: 0,
      outcomes: {},
      deadLettered: 0,
    };
    const log = logger.child({ job: jobId, campaign: campaignId, attempt: job.attemptsMade + 1 });

    let stop: Stop | undefined = await mustStop(campaignId);
    const view = await deps.campaigns.get(campaignId);
    if (stop?.kind === 'gone' || !view) {
      log.warn('campaign not found (purged?); job dropped');
      return summary;
    }
    let numbers: string[];
    try {
      numbers = await loadChunk(deps.redis, keys, deps.keyring, campaignId, chunkId);
    } catch (err) {
      if (!(err instanceof ChunkMissingError)) throw err;
      log.warn('chunk gone (campaign purged); job dropped');
      return summary;
    }
    const slots = await ledger.read(campaignId, chunkId, numbers.length);
    const open = slots.flatMap((s, i) => (isFinal(s.state) ? [] : [i]));
    log.info({ recipients: numbers.length, open: open.length }, 'job started');
    const sender = senderFor(view);
    const campaignRate = view.definition.ratePerSecond;
    const rateRequest: RateRequest = {
      globalPerSecond: options.ratePerSecond,
      ...(campaignRate ? { campaign: { id: campaignId, perSecond: campaignRate } } : {}),
    };
    let lastError = '';
    const unsettled = new Set<number>();

    const counted = (outcome: FinalOutcome, recorded: boolean) => {
      if (!recorded) return;
      metrics.messages.inc({ campaign: campaignId, outcome });
      summary.outcomes[outcome] = (summary.outcomes[outcome] ?? 0) + 1;
    };
    const settle = async ({ slot, outcome, reason }: Answered) => {
      counted(
        outcome,
        await ledger.record(campaignId, chunkId, slot, outcome, Math.floor(now() / 1000), reason),
      );
    };
    const markOptions = () => ({
      resendUncertain: options.onUncertain === 'resend',
      nowSec: Math.floor(now() / 1000),
    });

    /**
     * One recipient, with call retries; sets `stop` when the job must take no
     * more. The outcome of an answered call is left in `loop.answered`: the
     * loop's next mark records it in the same script call (one Redis call per
     * recipient, not two), or the loop records it when it ends.
     */
    const deliverOne = async (slot: number, loop: CallLoop): Promise<void> => {
      const pnr = numbers[slot]!;
      const messageId = `${campaignId}.${chunkId}.${slot}`;
      let rateLimitedWaits = 0;
      try {
        await pRetry(
          async () => {
            const held = await mustStop(campaignId);
            if (held) {
              stop ??= held;
              throw new AbortError('stopped');
            }
            // The lock check and the mark come before the wait for a rate
            // slot, so that nothing but cached checks stands between the
            // slot and the call: a Redis round trip after the slot made
            // calls late (and given up) whenever a worker was busy.
            const answered = loop.answered;
            let mark: MarkResult;
            if (answered) {
              loop.answered = undefined;
              const both = await ledger.recordAndMark(
                campaignId,
                chunkId,
                answered,
                slot,
                lock,
                markOptions(),
              );
              counted(answered.outcome, both.recorded);
              mark = both.mark;
            } else {
              mark = await ledger.markInflight(campaignId, chunkId, slot, lock, markOptions());
            }
            if (mark.kind === 'lock-lost') {
              stop ??= { kind: 'lock-lost' };
              throw new AbortError('lock lost');
            }
            if (mark.kind === 'skip') return;
            if (mark.kind === 'parked') {
              metrics.messages.inc({ campaign: campaignId, outcome: 'uncertain' });
              summary.outcomes.uncertain = (summary.outcomes.uncertain ?? 0) + 1;
              log.warn(
                { slot, recipient: maskPersonnummer(pnr) },
                'call may have landed before a crash; parked as uncertain',
              );
              return;
            }
            let releasePermit = noop;
            try {
              for (;;) {
                const grant = await deps.limiter.acquire(rateRequest, deps.shutdown);
                metrics.limiterWaitSeconds.observe(grant.waitedMs / 1000);
                const why = await mustStop(campaignId);
                if (why) {
                  stop ??= why;
                  throw new AbortError('stopped');
                }
                // A free connection (undici never queues a call), then the
                // slot once more: if waiting for the connection outlasted its
                // tolerance, take a new slot rather than send late, where late
                // calls bunch.
                const release = await deps.permits.take();
                if (grant.onTime()) {
                  releasePermit = release;
                  break;
                }
                release();
                metrics.limiterSlotsDropped.inc({ stage: 'call' });
              }
            } catch (err) {
              // No call was made: the recipient goes back to pending, its mark uncounted.
              await ledger.release(campaignId, chunkId, slot, false);
              throw err;
            }
            summary.calls++;
            metrics.inflight.inc();
            try {
              const result = await sender.send({ subjectOfCareId: pnr, messageId }).finally(releasePermit);
              metrics.calls.inc({ result: result.outcome });
              metrics.callDuration.observe({ result: result.outcome }, result.latencyMs / 1000);
              loop.answered = {
                slot,
                outcome: result.outcome,
                ...(result.reason !== undefined ? { reason: result.reason } : {}),
              };
              if (result.outcome === 'uncertain') {
                log.error(
                  { slot, recipient: maskPersonnummer(pnr), detail: result.detail },
                  'the platform answered against the contract; the message may be stored, so the recipient is kept uncertain',
                );
              }
              const reason = deps.failureWatch.observe(campaignId, result.outcome === 'rejected');
              if (reason) await pauseBySystem(campaignId, reason, 'rejected_share');
            } catch (err) {
              if (!(err instanceof DeliveryError)) throw err;
              const result =
                err.kind === 'rate-limited'
                  ? 'rate_limited'
                  : err.kind === 'stop-campaign'
                    ? 'stop_campaign'
                    : 'transient_error';
              metrics.calls.inc({ result });
              lastError = `${err.code}: ${err.message}`;
              if (ambiguousCodes.has(err.code) && options.onUncertain === 'park') {
                await settle({ slot, outcome: 'uncertain' });
                log.warn(
                  { slot, recipient: maskPersonnummer(pnr), code: err.code },
                  'call may have landed; parked as uncertain',
                );
                return;
              }
              if (!ambiguousCodes.has(err.code)) await ledger.release(campaignId, chunkId, slot);
              throw err;
            } finally {
              metrics.inflight.dec();
            }
          },
          {
            retries: options.callRetries,
            minTimeout: options.callBackoffMs,
            maxTimeout: options.callBackoffMaxMs,
            factor: 2,
            randomize: true,
            signal: deps.shutdown,
            shouldConsumeRetry: ({ error }) =>
              !(error instanceof DeliveryError && error.kind === 'rate-limited'),
            shouldRetry: ({ error }) => {
              if (!(error instanceof DeliveryError)) return false;
              if (error.kind === 'stop-campaign') return false;
              if (error.kind === 'rate-limited') return rateLimitedWaits < options.maxRetryAfterWaits;
              return true;
            },
            onFailedAttempt: async ({ error, retriesLeft }) => {
              if (!(error instanceof DeliveryError)) return;
              if (error.kind === 'stop-campaign') {
                await pauseBySystem(campaignId, stopReason(error), 'unauthorized');
                stop ??= { kind: 'paused' };
                return;
              }
              if (error.kind === 'rate-limited') {
                rateLimitedWaits++;
                const waitMs = error.retryAfterMs ?? 1000;
                metrics.retries.inc({ campaign: campaignId, reason: 'retry_after' });
                metrics.retryAfterWaitSeconds.inc(waitMs / 1000);
                await sleep(waitMs, deps.shutdown);
              } else if (retriesLeft > 0) {
                metrics.retries.inc({ campaign: campaignId, reason: error.code });
              }
            },
          },
        );
      } catch (err) {
        // p-retry rethrows the error inside an AbortError, and the shutdown signal's reason when aborted.
        if (deps.shutdown.aborted) stop ??= { kind: 'shutdown' };
        if (stop || err instanceof DeliveryError) {
          unsettled.add(slot);
          return;
        }
        throw err;
      }
    };

    // A small pool: at most callsPerJob recipients of this job in flight.
    let next = 0;
    const workers = Array.from({ length: Math.min(options.callsPerJob, open.length) }, async () => {
      const loop: CallLoop = {};
      try {
        while (next < open.length && !stop) {
          const slot = open[next++]!;
          await deliverOne(slot, loop);
        }
      } finally {
        if (loop.answered) await settle(loop.answered);
      }
    });
    await Promise.all(workers);
    for (let i = next; i < open.length; i++) unsettled.add(open[i]!);
    if (summary.calls > 0) {
      await deps.redis.hset(keys.campaign(campaignId), 'lastActivityAt', new Date(now()).toISOString());
    }

    if (stop) {
      switch (stop.kind) {
        case 'cancelled': {
          const t = Math.floor(now() / 1000);
          const cancelled = await ledger.finaliseMany(
            campaignId,
            chunkId,
            numbers.length,
            'cancelled',
            ['pending'],
            t,
          );
          const uncertain = await ledger.finaliseMany(
            campaignId,
            chunkId,
            numbers.length,
            'uncertain',
            ['inflight'],
            t,
          );
          if (cancelled) metrics.messages.inc({ campaign: campaignId, outcome: 'cancelled' }, cancelled);
          if (uncertain) metrics.messages.inc({ campaign: campaignId, outcome: 'uncertain' }, uncertain);
          metrics.jobsProcessed.inc({ result: 'cancelled' });
          log.info({ cancelled, uncertain }, 'campaign cancelled; job closed');
          return summary;
        }
        case 'paused':
        case 'window': {
          const until = stop.kind === 'window' ? stop.until : now() + options.pausedRecheckMs;
          // `now` may be an injected clock; BullMQ schedules on the real one.
          await job.moveToDelayed(Date.now() + Math.max(0, until - now()), token);
          metrics.jobsProcessed.inc({ result: 'delayed' });
          log.info({ reason: stop.kind, until: new Date(until).toISOString() }, 'job held');
          throw new DelayedError();
        }
        case 'shutdown': {
          await job.moveToWait(token);
          metrics.jobsProcessed.inc({ result: 'shutdown' });
          log.info({ open: unsettled.size }, 'worker shutting down; job handed back');
          throw new WaitingError();
        }
        case 'lock-lost': {
          metrics.jobsProcessed.inc({ result: 'lock_lost' });
          log.warn('job lock lost (another worker has it); stopped');
          throw new Error('job lock lost');
        }
        default:
          return summary;
      }
    }

    const after = await ledger.read(campaignId, chunkId, numbers.length);
    const failed = after.flatMap((s, i) => (isFinal(s.state) ? [] : [i]));
    if (failed.length === 0) {
      metrics.jobsProcessed.inc({ result: 'completed' });
      log.info({ calls: summary.calls, outcomes: summary.outcomes }, 'job completed');
      return summary;
    }
    const attempts = job.opts.attempts ?? 1;
    if (job.attemptsMade + 1 < attempts) {
      metrics.jobsProcessed.inc({ result: 'retry' });
      log.warn({ open: failed.length, lastError }, 'recipients left after call retries; job will retry');
      throw new Error(`${failed.length} recipients without an outcome; last error ${lastError}`);
    }
    await deps.deadLetters.add(
      'dead-letter',
      {
        campaignId,
        chunkId,
        slots: failed,
        sourceJobId: jobId,
        attempts: job.attemptsMade + 1,
        lastError,
        deadLetteredAt: new Date(now()).toISOString(),
      },
      { jobId: `${jobId}.dl${job.attemptsMade + 1}`, removeOnComplete: true, removeOnFail: false },
    );
    const t = Math.floor(now() / 1000);
    const marked = await ledger.finaliseMany(
      campaignId,
      chunkId,
      numbers.length,
      'failed',
      ['pending', 'inflight'],
      t,
    );
    if (marked) metrics.messages.inc({ campaign: campaignId, outcome: 'failed' }, marked);
    metrics.deadLettered.inc({ campaign: campaignId }, failed.length);
    metrics.jobsProcessed.inc({ result: 'dead_lettered' });
    summary.deadLettered = failed.length;
    log.error(
      { deadLettered: failed.length, lastError },
      'attempts exhausted; open recipients dead-lettered',
    );
    return summary;
  };
}
