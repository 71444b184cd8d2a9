import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { RateLimiterError } from './rate-limiter-error.js';
import { type SlotKeys, slotKeys, takeSlots } from './rate-slots.js';
import { createWaitingRoom, type SlotBatch } from './rate-waiters.js';
import { createRedisClock } from './redis-clock.js';

/**
 * A rate limit shared by every worker process: GCRA ("theoretical arrival
 * time") kept in Redis, with Redis `TIME` as the one clock. Each start gets a
 * slot; the slots of one limit are at least 1/rate apart, so any one-second
 * window holds at most rate + 1 starts and there is never a burst.
 *
 * Invariants the script keeps:
 * - A slot is never handed out more than `maxAheadMs` after Redis' now, so a
 *   granted slot is at most `maxAheadMs` in the future.
 * - When Redis lost its data (restart without persistence, flush) the marker key
 *   is gone: the first slot after that is now + `maxAheadMs`, after every slot
 *   that may still be pending in some process. No burst after a restart.
 *   All processes sharing the keys must use the same `maxAheadMs`.
 * - A failover loses what the promoted replica had not received (replication
 *   is asynchronous), and an older schedule would hand out again slots still
 *   pending. The marker holds the writing primary's replication id, so a node
 *   promoted since it started that finds another id holds the same way. A
 *   restart changes the id but keeps its data's verdict (with AOF: no hold).
 * - The global limit is a frontier (TAT) plus "islands": single global slots
 *   taken ahead of the frontier by a request whose campaign rate binds. Without
 *   islands such a request would push the global TAT to its own later slot and
 *   leave the global time before it unused by other campaigns. Every two global
 *   slots, frontier or island, are at least one global interval apart.
 *
 * In the process: callers waiting for the same limits share one queue and one
 * script call at a time (up to `maxBatch` slots per call). A slot's local start
 * is mapped from the reply's arrival, so it is never early; a start more than
 * late gives its slot up (see `maxLateMs`). "Too late" is `maxLateMs`, or less
 * at low rates: at most k whole intervals of each limit in force, with
 * k = max(1, floor(rate x maxLateMs / 1000)). So late starts add at most k
 * starts to any window of a limit (rate + 1 at 50/s, rate + 25 at 1000/s),
 * even when an event loop stalls.
 * Use a connection that survives restarts (`createRedis(url, 'worker')`). The
 * keys of one request must share a Redis Cluster hash slot if one is ever used.
 *
 * The parts: rate-slots.ts (the script, lua/rateAcquire.lua), redis-clock.ts
 * (Redis time to local time), rate-waiters.ts (the queue of waiting callers);
 * this file checks requests and wires them.
 */

/** What one start needs: the global rate and, optionally, a campaign's own rate. */
export interface RateRequest {
  /** Calls per second for all processes together; 0 = no global limit. */
  globalPerSecond: number;
  /** A campaign's own limit, applied as well (the lower rate wins); perSecond 0 = none. */
  campaign?: { id: string; perSecond: number };
}

export interface RateGrant {
  /** How long the caller waited for its slot, in local milliseconds. */
  waitedMs: number;
  /**
   * Whether a call starting now is still within the slot's lateness
   * tolerance. A caller with work between `acquire` and the call (a Redis
   * round trip) asks again just before the call, and takes a new slot when
   * this says false, so a stall in between cannot bunch calls either.
   */
  onTime(): boolean;
}

const alwaysOnTime = () => true;

export interface RateLimiter {
  /**
   * Resolves when the caller may start ONE call. Redis errors are retried with
   * a backoff until Redis answers; only `signal` ends the wait early (rejecting
   * with its reason). Rejects with RateLimiterError 'INVALID_RATE' for a bad request.
   */
  acquire(request: RateRequest, signal?: AbortSignal): Promise<RateGrant>;
}

export interface RateLimiterOptions {
  /** Redis key for a scope (`rateScopes` in keys.ts), e.g. `keys.rate`. */
  key: (scope: string) => string;
  /** Local monotonic clock in milliseconds. Default `performance.now()`. */
  now?: () => number;
  /** Waits a number of milliseconds. Default a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** How far ahead (ms of Redis time) a slot may be handed out; the same in every process. Default 1000. */
  maxAheadMs?: number;
  /**
   * A start more than this many ms after its slot (a stalled event loop) gives
   * the slot up and waits for a new one, so late starts never bunch up.
   * Lowered per limit to whole intervals (see above). Default 25.
   */
  maxLateMs?: number;
  /** Most slots one script call takes for callers waiting in this process. Default 100. */
  maxBatch?: number;
  /** First backoff after a Redis error, ms; doubles per failure up to `maxBackoffMs`. Default 50. */
  minBackoffMs?: number;
  /** Longest backoff after Redis errors, ms. Default 1000. */
  maxBackoffMs?: number;
  /** Called for every Redis error the limiter retries through (for logs or metrics). Default none. */
  onRedisError?: (error: RateLimiterError) => void;
  /** Called when a start gave its slot up for being more than `maxLateMs` late (ms late). Default none. */
  onSlotDropped?: (lateMs: number) => void;
}

export {
  RateLimiterError,
  type RateLimiterErrorCode,
  rateLimiterErrorCodes,
} from './rate-limiter-error.js';
export { type SlotKeys, type SlotReply, type SlotRequest, takeSlots } from './rate-slots.js';

const MAX_BATCH_LIMIT = 1000;

interface Limits {
  id: string;
  keys: SlotKeys;
  globalUs: number;
  campaignUs: number;
  /** How late a start may be before it gives its slot up, ms. */
  lateMs: number;
}

function checkRate(value: number, name: string): void {
  if (!Number.isFinite(value) || value < 0)
    throw new RateLimiterError('INVALID_RATE', `${name} must be a finite number >= 0 (got ${value})`);
}

/** Whole µs per start, rounded up so the rate is never exceeded. */
const intervalUs = (perSecond: number) => (perSecond > 0 ? Math.ceil(1e6 / perSecond) : 0);

/**
 * How late a start may be, ms: `maxLateMs`, but no more than k whole intervals
 * of each limit, k = max(1, floor(maxLateMs / interval)). A start that late
 * lets at most k extra starts of that limit into a window: at 50/s (20 ms
 * apart, k = 1) one, where 25 ms would let in two.
 */
export function lateToleranceMs(maxLateMs: number, intervalsUs: number[]): number {
  let tolerance = maxLateMs;
  for (const us of intervalsUs) {
    if (us <= 0) continue;
    const k = Math.max(1, Math.floor((maxLateMs * 1000) / us));
    tolerance = Math.min(tolerance, (k * us) / 1000);
  }
  return tolerance;
}

/** The limits of a request; undefined when it has none. Throws RateLimiterError INVALID_RATE. */
function limitsFor(request: RateRequest, options: RateLimiterOptions, maxLateMs: number): Limits | undefined {
  checkRate(request.globalPerSecond, 'globalPerSecond');
  const campaign = request.campaign;
  if (campaign) {
    checkRate(campaign.perSecond, 'campaign.perSecond');
    if (campaign.id.length === 0 || campaign.id.includes(':'))
      throw new RateLimiterError('INVALID_RATE', 'campaign.id must be non-empty and hold no colon');
  }
  const globalUs = intervalUs(request.globalPerSecond);
  const campaignUs = campaign ? intervalUs(campaign.perSecond) : 0;
  if (globalUs === 0 && campaignUs === 0) return undefined;
  const campaignId = campaignUs > 0 ? campaign?.id : undefined;
  return {
    id: `${globalUs}|${campaignId ?? ''}|${campaignUs}`,
    keys: slotKeys(options.key, globalUs > 0, campaignId),
    globalUs,
    campaignUs,
    lateMs: lateToleranceMs(maxLateMs, [globalUs, campaignUs]),
  };
}

/** Takes slots for one queue and maps them to local start times. */
function slotTaker(redis: Redis, now: () => number, maxAheadMs: number) {
  const clock = createRedisClock();
  const maxAheadUs = Math.round(maxAheadMs * 1000);
  return async (limits: Limits, want: number): Promise<SlotBatch> => {
    const sentAt = now();
    const { keys, globalUs, campaignUs } = limits;
    const reply = await takeSlots(redis, { keys, want, maxAheadUs, globalUs, campaignUs });
    const offsetMs = clock.redisMinusLocal(reply.nowUs / 1000, sentAt, now());
    if (reply.offsetsUs.length === 0) return { retryAfterMs: Math.max(1, reply.retryUs / 1000) };
    return { startsAt: reply.offsetsUs.map((us) => (reply.nowUs + us) / 1000 - offsetMs) };
  };
}

export function createRateLimiter(redis: Redis, options: RateLimiterOptions): RateLimiter {
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  const maxLateMs = options.maxLateMs ?? 25;
  const room = createWaitingRoom<Limits>({
    now,
    // The pump must never throw: a failing sleep would strand its waiters.
    pause: (ms) => sleep(ms).catch(() => delay(ms)),
    take: slotTaker(redis, now, options.maxAheadMs ?? 1000),
    maxBatch: Math.min(Math.max(1, Math.floor(options.maxBatch ?? 100)), MAX_BATCH_LIMIT),
    minBackoffMs: options.minBackoffMs ?? 50,
    maxBackoffMs: options.maxBackoffMs ?? 1000,
    onTakeError: (cause) =>
      options.onRedisError?.(
        new RateLimiterError('REDIS', `rate limiter could not reach Redis: ${String(cause)}`, { cause }),
      ),
    ...(options.onSlotDropped ? { onSlotDropped: options.onSlotDropped } : {}),
  });
  return {
    acquire(request, signal) {
      const startedAt = now();
      if (signal?.aborted) return Promise.reject(signal.reason);
      let limits: Limits | undefined;
      try {
        limits = limitsFor(request, options, maxLateMs);
      } catch (error) {
        return Promise.reject(error);
      }
      if (!limits) return Promise.resolve({ waitedMs: 0, onTime: alwaysOnTime });
      return room.wait(limits, startedAt, signal);
    },
  };
}
