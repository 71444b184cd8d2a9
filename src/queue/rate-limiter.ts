import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';

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
  /** Redis key for a scope ('global', 'global-islands', 'campaign:<id>', 'epoch'), e.g. `keys.rate`. */
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

export const rateLimiterErrorCodes = ['INVALID_RATE', 'REDIS'] as const;
export type RateLimiterErrorCode = (typeof rateLimiterErrorCodes)[number];

export class RateLimiterError extends Error {
  readonly code: RateLimiterErrorCode;
  constructor(code: RateLimiterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RateLimiterError';
    this.code = code;
  }
  /** A Redis error is retried by the limiter itself; a bad rate never gets better. */
  get retryable(): boolean {
    return this.code === 'REDIS';
  }
}

/** Marker TTL: longer than any TAT key lives, so a missing marker means lost data (or a first use). */
const MARKER_TTL_MS = 3_600_000;
const MAX_BATCH_LIMIT = 1000;

/**
 * KEYS: marker, global TAT, global islands, campaign TAT (the global pair only
 * when ARGV[4] > 0, the campaign key only when ARGV[5] > 0).
 * ARGV: slots wanted, max ahead µs, marker ttl ms, global interval µs, campaign interval µs.
 * Returns {n, lost, now µs, offsets...}: n slots granted at now + offset µs
 * each; when n is 0, one offset: how long until asking again makes sense.
 * `lost` is 1 when the marker was missing.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local want = tonumber(ARGV[1])
local ahead = tonumber(ARGV[2])
local ig = tonumber(ARGV[4])
local ic = tonumber(ARGV[5])
local fmt = function(x) return string.format('%.0f', x) end
local floor = now
local lost = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  floor = now + ahead
  lost = 1
end
local gk, ik, ck
if ig > 0 then
  gk, ik = KEYS[2], KEYS[3]
  if ic > 0 then ck = KEYS[4] end
else
  ck = KEYS[2]
end

local F = floor
local islands = {}
if gk then
  local tat = tonumber(redis.call('GET', gk) or '0')
  if tat > F then F = tat end
  local raw = redis.call('ZRANGEBYSCORE', ik, '(' .. fmt(F - ig), '+inf')
  for i = 1, #raw do islands[i] = tonumber(raw[i]) end
end
local tc = floor
if ck then
  local v = tonumber(redis.call('GET', ck) or '0')
  if v > tc then tc = v end
end

local pos = 1
local added = {}
local offsets = {}
for k = 1, want do
  local c = floor
  if gk then
    -- islands right after the frontier leave no room before them: move the frontier past them
    while pos <= #islands and islands[pos] < F + ig do
      if islands[pos] + ig > F then F = islands[pos] + ig end
      pos = pos + 1
    end
    c = F
  end
  if ck and tc > c then c = tc end
  if gk and c > F then
    for i = pos, #islands do
      local x = islands[i]
      if x >= c + ig then break end
      if x > c - ig then c = x + ig end
    end
  end
  if c - now > ahead then
    if k == 1 then return {0, lost, now, math.ceil(c - now - ahead)} end
    break
  end
  offsets[k] = math.floor(c - now)
  if gk then
    if c < F + ig then
      F = c + ig
    else
      local at = #islands + 1
      for i = pos, #islands do
        if islands[i] > c then at = i break end
      end
      table.insert(islands, at, c)
      added[#added + 1] = c
    end
  end
  if ck then tc = c + ic end
end

local ttl = function(x) return math.max(1, math.ceil((x - now) / 1000)) + 1000 end
if gk then
  redis.call('SET', gk, fmt(F), 'PX', ttl(F))
  for i = 1, #added do redis.call('ZADD', ik, fmt(added[i]), fmt(added[i])) end
  redis.call('ZREMRANGEBYSCORE', ik, '-inf', '(' .. fmt(F - ig))
  redis.call('PEXPIRE', ik, ttl(now + ahead + ig))
end
if ck then redis.call('SET', ck, fmt(tc), 'PX', ttl(tc)) end
redis.call('SET', KEYS[1], '1', 'PX', tonumber(ARGV[3]))
local out = {#offsets, lost, now}
for i = 1, #offsets do out[i + 3] = offsets[i] end
return out
`;

type LimiterRedis = Redis & {
  utskickRateAcquire(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
};

/** Defines the limiter's script on a connection (idempotent). */
export function defineRateLimiterCommands(redis: Redis): void {
  if (typeof (redis as LimiterRedis).utskickRateAcquire === 'function') return;
  redis.defineCommand('utskickRateAcquire', { lua: ACQUIRE });
}

/** Keys of one limit combination, from `RateLimiterOptions.key`. */
export interface SlotKeys {
  marker: string;
  /** Present when there is a global rate. */
  global?: { tat: string; islands: string };
  /** Present when there is a campaign rate. */
  campaign?: string;
}

export interface SlotRequest {
  keys: SlotKeys;
  /** How many slots to take at most. */
  want: number;
  maxAheadUs: number;
  /** µs between global starts; 0 = no global limit. */
  globalUs: number;
  /** µs between this campaign's starts; 0 = no campaign limit. */
  campaignUs: number;
}

export interface SlotReply {
  /** Redis' clock when the script ran, µs since the epoch. */
  nowUs: number;
  /** Granted slots, µs after `nowUs`, ascending. Empty when none could be taken. */
  offsetsUs: number[];
  /** When nothing was granted: µs until asking again makes sense. */
  retryUs: number;
  /** The marker was missing (first use, or Redis lost its data): the first slot is `maxAheadUs` out. */
  lost: boolean;
}

/** One script call: the seam under `acquire`, exported for tests of the schedule itself. */
export async function takeSlots(redis: Redis, request: SlotRequest): Promise<SlotReply> {
  defineRateLimiterCommands(redis);
  const { keys } = request;
  const list = [keys.marker];
  if (request.globalUs > 0) {
    if (!keys.global) throw new RateLimiterError('INVALID_RATE', 'a global rate needs global keys');
    list.push(keys.global.tat, keys.global.islands);
  }
  if (request.campaignUs > 0) {
    if (!keys.campaign) throw new RateLimiterError('INVALID_RATE', 'a campaign rate needs a campaign key');
    list.push(keys.campaign);
  }
  const reply = await (redis as LimiterRedis).utskickRateAcquire(
    list.length,
    ...list,
    request.want,
    request.maxAheadUs,
    MARKER_TTL_MS,
    request.globalUs,
    request.campaignUs,
  );
  const granted = reply[0] ?? 0;
  return {
    nowUs: reply[2] ?? 0,
    offsetsUs: granted > 0 ? reply.slice(3, 3 + granted) : [],
    retryUs: granted > 0 ? 0 : (reply[3] ?? 1000),
    lost: reply[1] === 1,
  };
}

interface Limits {
  id: string;
  keys: SlotKeys;
  globalUs: number;
  campaignUs: number;
  /** How late a start may be before it gives its slot up, ms. */
  lateMs: number;
}

interface Waiter {
  limits: Limits;
  startedAt: number;
  settled: boolean;
  resolve(grant: RateGrant): void;
  reject(reason: unknown): void;
  unwatch(): void;
}

interface Group {
  limits: Limits;
  queue: Waiter[];
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

/** Round trips that the Redis-to-local clock mapping draws on: the last ones within this many ms. */
const CLOCK_WINDOW_MS = 2000;
const CLOCK_SAMPLES = 64;

export function createRateLimiter(redis: Redis, options: RateLimiterOptions): RateLimiter {
  defineRateLimiterCommands(redis);
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => delay(ms));
  // The pump must never throw: a failing sleep or error hook would strand its waiters.
  const pause = (ms: number) => sleep(ms).catch(() => delay(ms));
  const maxAheadMs = options.maxAheadMs ?? 1000;
  const maxLateMs = options.maxLateMs ?? 25;
  const maxBatch = Math.min(Math.max(1, Math.floor(options.maxBatch ?? 100)), MAX_BATCH_LIMIT);
  const minBackoffMs = options.minBackoffMs ?? 50;
  const maxBackoffMs = options.maxBackoffMs ?? 1000;
  const aheadUs = Math.round(maxAheadMs * 1000);
  /** Live queues by limits id; a group is dropped when its queue runs empty. */
  const groups = new Map<string, Group>();
  /** Per recent round trip, the bounds it puts on (Redis ms - local ms): Redis ran the script between send and reply. */
  const clock: { low: number; high: number; at: number }[] = [];
  // One abort listener per signal, however many callers share it.
  const watchers = new WeakMap<AbortSignal, Set<() => void>>();

  function watch(signal: AbortSignal, onAbort: () => void): () => void {
    let set = watchers.get(signal);
    if (!set) {
      const fresh = new Set<() => void>();
      set = fresh;
      watchers.set(signal, fresh);
      signal.addEventListener(
        'abort',
        () => {
          watchers.delete(signal);
          for (const fn of fresh) fn();
        },
        { once: true },
      );
    }
    const s = set;
    s.add(onAbort);
    return () => s.delete(onAbort);
  }

  function settle(waiter: Waiter, fn: () => void): void {
    if (waiter.settled) return;
    waiter.settled = true;
    waiter.unwatch();
    fn();
  }

  /** Puts a waiter in its group's queue (at the front when it lost a slot) and keeps a pump running. */
  function enqueue(waiter: Waiter, front: boolean): void {
    let group = groups.get(waiter.limits.id);
    if (!group) {
      const fresh: Group = { limits: waiter.limits, queue: [] };
      group = fresh;
      groups.set(waiter.limits.id, fresh);
      // The pump starts after this waiter is queued (microtask), and stops when the queue is empty.
      queueMicrotask(() => void pump(fresh));
    }
    if (front) group.queue.unshift(waiter);
    else group.queue.push(waiter);
  }

  function dequeue(waiter: Waiter): void {
    const queue = groups.get(waiter.limits.id)?.queue;
    const at = queue ? queue.indexOf(waiter) : -1;
    if (at >= 0) queue?.splice(at, 1);
  }

  /**
   * Starts a granted waiter at `startAt` (local time, never before its Redis
   * slot). A start that would come more than `maxLateMs` after its slot (a
   * stalled event loop, a reply read late) gives the slot up and queues again:
   * late starts bunch up, and a bunch is a burst for the platform.
   */
  function grant(waiter: Waiter, startAt: number): void {
    const fire = () => {
      if (waiter.settled) return;
      const lateMs = now() - startAt;
      if (lateMs > waiter.limits.lateMs) {
        enqueue(waiter, true);
        try {
          options.onSlotDropped?.(lateMs);
        } catch {
          // an observer must not break the schedule
        }
        return;
      }
      const tolerance = waiter.limits.lateMs;
      settle(waiter, () =>
        waiter.resolve({
          waitedMs: Math.max(0, now() - waiter.startedAt),
          onTime: () => now() - startAt <= tolerance,
        }),
      );
    };
    const waitMs = startAt - now();
    if (waitMs <= 0) fire();
    else pause(waitMs).then(fire);
  }

  /**
   * Redis ms minus local ms, as low as the recent round trips allow: mapping a
   * Redis time with it gives the latest local time it can be, so never early.
   * The tightest recent reply sets it, so one reply read late (a stalled event
   * loop) shows up as lateness instead of shifting its slots. Samples that
   * disagree with newer ones (a clock step, another Redis host) are dropped.
   */
  function redisMinusLocal(redisMs: number, sentAt: number, receivedAt: number): number {
    clock.push({ low: redisMs - receivedAt, high: redisMs - sentAt, at: receivedAt });
    while (clock.length > CLOCK_SAMPLES || (clock[0] && clock[0].at < receivedAt - CLOCK_WINDOW_MS))
      clock.shift();
    let low = Number.NEGATIVE_INFINITY;
    let high = Number.POSITIVE_INFINITY;
    for (let i = clock.length - 1; i >= 0; i--) {
      const sample = clock[i]!;
      if (Math.max(low, sample.low) > Math.min(high, sample.high)) {
        clock.splice(0, i + 1);
        break;
      }
      low = Math.max(low, sample.low);
      high = Math.min(high, sample.high);
    }
    return low;
  }

  async function pump(group: Group): Promise<void> {
    const { limits, queue } = group;
    let failures = 0;
    try {
      while (queue.length > 0) {
        const want = Math.min(queue.length, maxBatch);
        const sentAt = now();
        let reply: SlotReply;
        try {
          reply = await takeSlots(redis, {
            keys: limits.keys,
            want,
            maxAheadUs: aheadUs,
            globalUs: limits.globalUs,
            campaignUs: limits.campaignUs,
          });
          failures = 0;
        } catch (cause) {
          try {
            options.onRedisError?.(
              new RateLimiterError('REDIS', `rate limiter could not reach Redis: ${String(cause)}`, {
                cause,
              }),
            );
          } catch {
            // a failing hook must not stop the pump
          }
          await pause(Math.min(maxBackoffMs, minBackoffMs * 2 ** failures));
          failures = Math.min(failures + 1, 30);
          continue;
        }
        const receivedAt = now();
        const offsetMs = redisMinusLocal(reply.nowUs / 1000, sentAt, receivedAt);
        const offsets = reply.offsetsUs;
        if (offsets.length === 0) {
          await pause(Math.max(1, reply.retryUs / 1000));
          continue;
        }
        const batch = queue.splice(0, offsets.length);
        for (const [i, waiter] of batch.entries()) {
          grant(waiter, (reply.nowUs + (offsets[i] ?? 0)) / 1000 - offsetMs);
        }
      }
    } finally {
      // The loop only ends with an empty queue; nothing can run between its check and this.
      if (groups.get(limits.id) === group) groups.delete(limits.id);
    }
  }

  function limitsFor(request: RateRequest): Limits | undefined {
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
    const id = `${globalUs}|${campaignUs > 0 ? campaign?.id : ''}|${campaignUs}`;
    const existing = groups.get(id);
    if (existing) return existing.limits;
    const keys: SlotKeys = { marker: options.key('epoch') };
    if (globalUs > 0) keys.global = { tat: options.key('global'), islands: options.key('global-islands') };
    if (campaignUs > 0) keys.campaign = options.key(`campaign:${campaign?.id}`);
    return { id, keys, globalUs, campaignUs, lateMs: lateToleranceMs(maxLateMs, [globalUs, campaignUs]) };
  }

  return {
    acquire(request, signal) {
      const startedAt = now();
      if (signal?.aborted) return Promise.reject(signal.reason);
      let limits: Limits | undefined;
      try {
        limits = limitsFor(request);
      } catch (error) {
        return Promise.reject(error);
      }
      if (!limits) return Promise.resolve({ waitedMs: 0, onTime: alwaysOnTime });
      const l = limits;
      return new Promise<RateGrant>((resolve, reject) => {
        const waiter: Waiter = { limits: l, startedAt, settled: false, resolve, reject, unwatch: () => {} };
        if (signal) {
          waiter.unwatch = watch(signal, () => {
            dequeue(waiter);
            settle(waiter, () => reject(signal.reason));
          });
        }
        enqueue(waiter, false);
      });
    },
  };
}
