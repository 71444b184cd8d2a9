import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { type RedisTarget, type SentinelSet, sentinelClient } from './redis.js';

/**
 * Writes that must survive a failover. Replication is asynchronous: a primary
 * that dies can take with it writes it had already acknowledged, and the
 * replica the Sentinels promote never knew them. A write made `durable` is
 * followed by WAIT on the same connection, and counts as done only when a
 * replica holds it, or when no replica could take over (then no failover can
 * lose it: the primary is as safe as a single node). Otherwise it is written
 * again and waited for again, until it holds: every durable write must be
 * idempotent (the ledger's scripts are; see ledger.ts).
 *
 * One WAIT covers every write sent before it on its connection, so the call
 * loops of a worker share them: a write waits for the next WAIT, never more
 * than one is queued, and at most one is in flight.
 */

/** Why a write was not yet durable. */
export type NotDurable =
  /** WAIT timed out, and a replica that could be promoted does not hold the write. */
  | 'no-ack'
  /** The connection was lost between the write and its WAIT: a failover may have dropped it. */
  | 'reconnected';

export interface DurabilityEvents {
  /** A write was not durable and will be written again. */
  notDurable(reason: NotDurable, attempt: number): void;
  /** A write counted as durable on the primary alone: no replica could be promoted. */
  alone(): void;
  /** A Sentinel did not answer which replicas it could promote (its login, its ACL, or it is down). */
  unanswered?(err: unknown): void;
}

export interface Durability {
  /** Whether writes wait for a replica at all (false for a single node). */
  readonly waits: boolean;
  /**
   * Runs `write` until it is durable, and returns the last run's result:
   * once, when nothing is waited for. `write` must be idempotent.
   */
  durable<T>(write: () => Promise<T>): Promise<T>;
  /** The connection's epoch now: pass it to `confirm` after the writes to check. */
  epoch(): number;
  /**
   * Whether every write on the connection since `since` (an `epoch()`) is
   * durable: undefined when it is, else why not. One WAIT; no retry.
   */
  confirm(since: number): Promise<NotDurable | undefined>;
}

export interface DurabilityOptions {
  /** WAIT's timeout, ms. */
  timeoutMs: number;
  /** How many replicas could be promoted now (asks the Sentinels). */
  promotable(): Promise<number>;
  events?: DurabilityEvents;
  /** How long an answer of `promotable` is trusted, ms. Default 1000. */
  promotableTtlMs?: number;
  /** The wait before writing again, ms, by attempt (1, 2, …). Default 100 ms doubling to 2 s. */
  backoffMs?: (attempt: number) => number;
  /** Ends the retries (with the signal's reason). */
  signal?: AbortSignal;
  /** Clock in ms, for how long the Sentinels' answer is trusted. Default Date.now. */
  now?: () => number;
}

/** WAIT's timeout while no replica could be promoted: long enough for a replica that is back to answer. */
const ALONE_WAIT_MS = 20;

/** Nothing to wait for: a single node (its own persistence is all there is). */
export const noDurability: Durability = {
  waits: false,
  durable: (write) => write(),
  epoch: () => 0,
  confirm: async () => undefined,
};

/**
 * Durable writes on `redis`, the connection that makes them. Its 'close'
 * events mark an epoch: a WAIT answered after a reconnect says nothing of a
 * write sent before it.
 */
export function createDurability(redis: Redis, options: DurabilityOptions): Durability {
  const ttl = options.promotableTtlMs ?? 1000;
  const now = options.now ?? Date.now;
  const backoff = options.backoffMs ?? ((attempt: number) => Math.min(100 * 2 ** (attempt - 1), 2000));
  let epoch = 0;
  redis.on('close', () => {
    epoch++;
  });

  /**
   * The WAIT not yet sent (joined by every write that ends before it goes),
   * and the one in flight. A WAIT with `timeoutMs` while a replica could be
   * promoted; a short one while none could (it only notices a replica back).
   */
  const queued = new Map<number, Promise<number>>();
  let inFlight: Promise<unknown> = Promise.resolve();
  function nextWait(timeoutMs: number): Promise<number> {
    const waiting = queued.get(timeoutMs);
    if (waiting) return waiting;
    const mine = inFlight.then(() => {
      queued.delete(timeoutMs);
      return redis.wait(1, timeoutMs);
    });
    queued.set(timeoutMs, mine);
    inFlight = mine.catch(() => undefined);
    return mine;
  }

  /** The Sentinels' last answer, and the question under way (one at a time, shared). */
  let known: { promotable: number; at: number } | undefined;
  let asking: Promise<number> | undefined;
  function promotable(): Promise<number> {
    if (known && now() - known.at < ttl) return Promise.resolve(known.promotable);
    asking ??= options.promotable().then(
      (n) => {
        known = { promotable: n, at: now() };
        asking = undefined;
        return n;
      },
      (err: unknown) => {
        asking = undefined;
        throw err;
      },
    );
    return asking;
  }
  const alone = () => known !== undefined && known.promotable === 0 && now() - known.at < ttl;

  /** Whether the writes sent in `since` are durable; undefined when they are, else why not. */
  async function confirm(since: number): Promise<NotDurable | undefined> {
    // With no replica to promote, a full WAIT would only time out: a short one notices a replica back.
    const wasAlone = alone();
    const acked = await nextWait(wasAlone ? Math.min(ALONE_WAIT_MS, options.timeoutMs) : options.timeoutMs);
    if (epoch !== since) return 'reconnected';
    if (acked >= 1) {
      if (known?.promotable === 0) known = undefined;
      return undefined;
    }
    if (!wasAlone && (await promotable()) > 0) return 'no-ack';
    options.events?.alone();
    return epoch === since ? undefined : 'reconnected';
  }

  return {
    waits: true,
    epoch: () => epoch,
    confirm,
    async durable(write) {
      for (let attempt = 1; ; attempt++) {
        const since = epoch;
        const result = await write();
        const why = await confirm(since);
        if (why === undefined) return result;
        options.events?.notDurable(why, attempt);
        await delay(backoff(attempt), undefined, options.signal ? { signal: options.signal } : {});
      }
    },
  };
}

/**
 * How many replicas of the primary the Sentinels could promote now: the
 * largest count any Sentinel that answers reports, counting the replicas a
 * Sentinel would consider (not down, not disconnected). Unless a majority of
 * the Sentinels answers, the answer is 1: assume a replica could take over,
 * and keep waiting for it. `unanswered` hears why a Sentinel did not answer.
 */
export function sentinelPromotable(
  sentinel: SentinelSet,
  connect: (node: { host: string; port: number }) => Redis,
  unanswered?: (err: unknown) => void,
): () => Promise<number> {
  return async () => {
    const answers = await Promise.all(
      sentinel.nodes.map(async (node) => {
        const client = connect(node);
        client.on('error', () => {});
        try {
          const replicas = (await client.call('SENTINEL', 'REPLICAS', sentinel.master)) as string[][];
          return replicas.filter((fields) => promotable(fields)).length;
        } catch (err) {
          unanswered?.(err);
          return undefined;
        } finally {
          client.disconnect();
        }
      }),
    );
    const known = answers.filter((n): n is number => n !== undefined);
    // Only a majority of the Sentinels can fail over: a minority's "none" (cut off
    // with this worker and the old primary) must not let writes go on unreplicated.
    if (known.length * 2 <= sentinel.nodes.length) return 1;
    return Math.max(...known);
  };
}

/** A replica's fields as SENTINEL REPLICAS lists them: promotable unless down or disconnected. */
function promotable(fields: string[]): boolean {
  const i = fields.indexOf('flags');
  const flags = i >= 0 ? (fields[i + 1] ?? '') : '';
  return !/\b(s_down|o_down|disconnected)\b/.test(flags);
}

/**
 * The durability of writes on `redis` for a target: WAIT for a replica when
 * the primary is found through Sentinels, nothing for a single node.
 */
export function durabilityFor(
  target: RedisTarget,
  redis: Redis,
  options: Omit<DurabilityOptions, 'promotable'> & { promotable?: () => Promise<number> },
): Durability {
  const set = target.sentinel;
  if (!set) return noDurability;
  return createDurability(redis, {
    ...options,
    promotable:
      options.promotable ??
      sentinelPromotable(
        set,
        (node) => sentinelClient(set, node),
        (err) => options.events?.unanswered?.(err),
      ),
  });
}
