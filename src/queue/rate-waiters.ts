import type { RateGrant } from './rate-limiter.js';

/**
 * The callers of one process waiting for rate slots: callers of the same
 * limits share one queue, and one `take` at a time fetches slots for up to
 * `maxBatch` of them. A granted caller starts at its slot's local time, never
 * before; a start more than `lateMs` after it (a stalled event loop, a reply
 * read late) gives the slot up and queues again at the front, since late
 * starts bunch up and a bunch is a burst for the platform.
 */

/** A combination of limits: callers with the same `id` share a queue. */
export interface WaitLimits {
  id: string;
  /** How late a start may be before it gives its slot up, ms. */
  lateMs: number;
}

/** What one `take` got: local start times (ascending, at most `want`), or none and when to ask again. */
export type SlotBatch = { startsAt: number[] } | { retryAfterMs: number };

export interface WaitingRoomOptions<L extends WaitLimits> {
  /** Local monotonic clock, ms. */
  now: () => number;
  /** Waits; must not reject (the queue would strand its callers). */
  pause: (ms: number) => Promise<void>;
  /** Fetches up to `want` slots; a rejection is retried with a backoff. */
  take: (limits: L, want: number) => Promise<SlotBatch>;
  maxBatch: number;
  /** First backoff after a failed take, ms; doubles per failure up to `maxBackoffMs`. */
  minBackoffMs: number;
  maxBackoffMs: number;
  /** Hears of every failed take. */
  onTakeError?: (cause: unknown) => void;
  /** Hears of every slot given up for lateness (ms late). */
  onSlotDropped?: (lateMs: number) => void;
}

export interface WaitingRoom<L extends WaitLimits> {
  /** Resolves when the caller may start one call; `signal` ends the wait (rejecting with its reason). */
  wait(limits: L, startedAt: number, signal?: AbortSignal): Promise<RateGrant>;
}

interface Waiter<L> {
  limits: L;
  startedAt: number;
  settled: boolean;
  resolve(grant: RateGrant): void;
  reject(reason: unknown): void;
  unwatch(): void;
}

interface Group<L> {
  limits: L;
  queue: Waiter<L>[];
}

interface Room<L extends WaitLimits> {
  options: WaitingRoomOptions<L>;
  /** Live queues by limits id; a group is dropped when its queue runs empty. */
  groups: Map<string, Group<L>>;
  /** One abort listener per signal, however many callers share it. */
  watchers: WeakMap<AbortSignal, Set<() => void>>;
}

/** An observer must not break the schedule. */
function quietly(fn: () => void): void {
  try {
    fn();
  } catch {
    // ignored on purpose
  }
}

function watch<L extends WaitLimits>(room: Room<L>, signal: AbortSignal, onAbort: () => void): () => void {
  let set = room.watchers.get(signal);
  if (!set) {
    const fresh = new Set<() => void>();
    set = fresh;
    room.watchers.set(signal, fresh);
    signal.addEventListener(
      'abort',
      () => {
        room.watchers.delete(signal);
        for (const fn of fresh) fn();
      },
      { once: true },
    );
  }
  const s = set;
  s.add(onAbort);
  return () => s.delete(onAbort);
}

function settle<L>(waiter: Waiter<L>, fn: () => void): void {
  if (waiter.settled) return;
  waiter.settled = true;
  waiter.unwatch();
  fn();
}

/** Puts a waiter in its group's queue (at the front when it lost a slot) and keeps a pump running. */
function enqueue<L extends WaitLimits>(room: Room<L>, waiter: Waiter<L>, front: boolean): void {
  let group = room.groups.get(waiter.limits.id);
  if (!group) {
    const fresh: Group<L> = { limits: waiter.limits, queue: [] };
    group = fresh;
    room.groups.set(waiter.limits.id, fresh);
    // The pump starts after this waiter is queued (microtask), and stops when the queue is empty.
    queueMicrotask(() => void pump(room, fresh));
  }
  if (front) group.queue.unshift(waiter);
  else group.queue.push(waiter);
}

function dequeue<L extends WaitLimits>(room: Room<L>, waiter: Waiter<L>): void {
  const queue = room.groups.get(waiter.limits.id)?.queue;
  const at = queue ? queue.indexOf(waiter) : -1;
  if (at >= 0) queue?.splice(at, 1);
}

/** Starts a granted waiter at `startAt` (local time, never before its slot), or queues it again when too late. */
function grant<L extends WaitLimits>(room: Room<L>, waiter: Waiter<L>, startAt: number): void {
  const { now, pause, onSlotDropped } = room.options;
  const fire = () => {
    if (waiter.settled) return;
    const lateMs = now() - startAt;
    const tolerance = waiter.limits.lateMs;
    if (lateMs > tolerance) {
      enqueue(room, waiter, true);
      quietly(() => onSlotDropped?.(lateMs));
      return;
    }
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

async function pump<L extends WaitLimits>(room: Room<L>, group: Group<L>): Promise<void> {
  const { options } = room;
  const { limits, queue } = group;
  let failures = 0;
  try {
    while (queue.length > 0) {
      let batch: SlotBatch;
      try {
        batch = await options.take(limits, Math.min(queue.length, options.maxBatch));
        failures = 0;
      } catch (cause) {
        quietly(() => options.onTakeError?.(cause));
        await options.pause(Math.min(options.maxBackoffMs, options.minBackoffMs * 2 ** failures));
        failures = Math.min(failures + 1, 30);
        continue;
      }
      if ('retryAfterMs' in batch) {
        await options.pause(batch.retryAfterMs);
        continue;
      }
      const granted = queue.splice(0, batch.startsAt.length);
      for (const [i, waiter] of granted.entries()) grant(room, waiter, batch.startsAt[i]!);
    }
  } finally {
    // The loop only ends with an empty queue; nothing can run between its check and this.
    if (room.groups.get(limits.id) === group) room.groups.delete(limits.id);
  }
}

export function createWaitingRoom<L extends WaitLimits>(options: WaitingRoomOptions<L>): WaitingRoom<L> {
  const room: Room<L> = { options, groups: new Map(), watchers: new WeakMap() };
  return {
    wait(limits, startedAt, signal) {
      return new Promise<RateGrant>((resolve, reject) => {
        const waiter: Waiter<L> = { limits, startedAt, settled: false, resolve, reject, unwatch: () => {} };
        if (signal) {
          waiter.unwatch = watch(room, signal, () => {
            dequeue(room, waiter);
            settle(waiter, () => reject(signal.reason));
          });
        }
        enqueue(room, waiter, false);
      });
    },
  };
}
