import type { Redis } from 'ioredis';
import { type Durability, noDurability } from './durability.js';
import type { Keys } from './keys.js';
import { decodeLedger, readCounts, readReasons, type SlotRecord } from './ledger-read.js';
import { type FinalOutcome, markCodes, type SlotState, slotStates, stateCodes } from './script-codes.js';
import { defineScripts, runScript } from './scripts.js';

export { decodeLedger, isFinal, readCounts, readReasons, type SlotRecord } from './ledger-read.js';
/**
 * The outcome ledger: one Redis string per chunk with an 8-byte record per
 * recipient slot, written with SETRANGE. Nothing is allocated at enqueue time
 * (SETRANGE pads with zeros), a whole chunk's state is one GET, and the
 * per-campaign outcome counts are kept in the same atomic step, so a slot is
 * counted once however often a worker retries. The scripts are
 * src/queue/lua/ledger*.lua; the codes they share with this file are in
 * script-codes.ts.
 *
 * Record: state (1) | calls made (1) | reason id (2, big-endian) | unix seconds (4, big-endian).
 *
 * The reason id names the platform's resultText for an unreachable (INFO) or
 * rejected (ERROR) recipient, in a per-campaign dictionary (keys.reasons):
 * a handful of distinct texts, each stored once, so the report can group by
 * reason and the letter list can say why. 0: no reason; REASON_OVERFLOW:
 * more distinct texts than the dictionary keeps.
 */
export {
  type FinalOutcome,
  finalOutcomes,
  MAX_REASONS,
  REASON_OVERFLOW,
  RECORD_BYTES,
  type SlotState,
} from './script-codes.js';

/** An answered recipient: its slot, outcome and the platform's reason text (unreachable, rejected). */
export interface Answered {
  slot: number;
  outcome: FinalOutcome;
  reason?: string;
}

/**
 * What marking a slot in flight found: go (the slot is now in flight; `resend`
 * when it was in flight already, a crash mid-call), skip (it has a final
 * outcome), parked (it was in flight and resending is off: now `uncertain`),
 * lock-lost (the job no longer holds its lock: stop). The campaign's state is
 * not checked here (the job handler does that).
 */
export type MarkResult =
  | { kind: 'go'; resend: boolean }
  | { kind: 'skip'; state: FinalOutcome }
  | { kind: 'parked' }
  | { kind: 'lock-lost' };

/** How to mark: what to do with a slot found in flight, the time, and what the job knows of the slot. */
export interface MarkOptions {
  /** ON_UNCERTAIN=resend: a slot found in flight is sent again rather than parked. */
  resendUncertain: boolean;
  nowSec: number;
  /**
   * The slot's call count before this mark, as the job holding the chunk
   * knows it: a slot found in flight with one call more is this very mark,
   * written again after a failover, not a crash. Leave out when unknown.
   */
  expectCalls?: number;
}

export interface Ledger {
  read(campaignId: string, chunkId: string, slots: number): Promise<SlotRecord[]>;
  /** Marks a slot in flight if the job still holds its lock (token '' skips that check). */
  markInflight(
    campaignId: string,
    chunkId: string,
    slot: number,
    lock: { key: string; token: string },
    options: MarkOptions,
  ): Promise<MarkResult>;
  /**
   * `record` of one slot and `markInflight` of the next slot of the same chunk,
   * in one script call (what a call loop does between two recipients).
   */
  recordAndMark(
    campaignId: string,
    chunkId: string,
    answered: Answered,
    slot: number,
    lock: { key: string; token: string },
    options: MarkOptions,
  ): Promise<{ recorded: boolean; mark: MarkResult }>;
  /** Records a final outcome (with the platform's reason text, if any); false if the slot already had one. */
  record(
    campaignId: string,
    chunkId: string,
    slot: number,
    outcome: FinalOutcome,
    nowSec: number,
    reason?: string,
  ): Promise<boolean>;
  /** The campaign's reason dictionary: id -> text. */
  reasons(campaignId: string): Promise<Map<number, string>>;
  /** Finalises every slot of a chunk that is in one of `from` (e.g. pending → cancelled). */
  finaliseMany(
    campaignId: string,
    chunkId: string,
    slots: number,
    outcome: FinalOutcome,
    from: SlotState[],
    nowSec: number,
  ): Promise<number>;
  /**
   * An in-flight slot whose call surely did not reach the platform goes back
   * to pending. `callMade` false: the slot was marked but no call started (its
   * call count is taken back). Default true.
   */
  release(campaignId: string, chunkId: string, slot: number, callMade?: boolean): Promise<boolean>;
  /** Puts `outcome` slots back to pending, for a redrive. */
  reopen(campaignId: string, chunkId: string, slots: number[], outcome: FinalOutcome): Promise<number>;
  counts(campaignId: string): Promise<Record<FinalOutcome, number>>;
}

function markResult(res: number): MarkResult {
  if (res === markCodes.lockLost) return { kind: 'lock-lost' };
  if (res === markCodes.go) return { kind: 'go', resend: false };
  if (res === markCodes.goResend) return { kind: 'go', resend: true };
  if (res === markCodes.parked) return { kind: 'parked' };
  return { kind: 'skip', state: slotStates[res] as FinalOutcome };
}

/**
 * The ledger on `redis`. Every write goes through `durability` (durability.ts):
 * with Sentinels, a write is done only when a replica holds it, and is written
 * again when a failover may have lost it. So every write here is idempotent:
 * a recorded outcome is not recorded twice (and counted once), a mark given
 * `expectCalls` is not made twice, a release of a slot not in flight does nothing.
 */
export function createLedger(redis: Redis, keys: Keys, durability: Durability = noDurability): Ledger {
  defineScripts(redis);
  const lockArgs = (lock: { token: string }, options: MarkOptions) =>
    [lock.token, options.resendUncertain ? '1' : '0', options.expectCalls ?? ''] as const;
  /** Runs an idempotent script until durable; `merge` folds each run's answer into one. */
  async function durably<T>(run: () => Promise<T>, merge: (a: T, b: T) => T): Promise<T> {
    let merged: T | undefined;
    const last = await durability.durable(async () => {
      const got = await run();
      merged = merged === undefined ? got : merge(merged, got);
      return got;
    });
    return merged ?? last;
  }
  /**
   * A mark's answers over its runs: the last one says what the slot is now,
   * except that a mark that parked the slot stays "parked" when a later run
   * finds it uncertain (its own doing), so the park is counted and logged once.
   */
  const markMerge = (a: number, b: number) => (a === markCodes.parked && b === stateCodes.uncertain ? a : b);
  const isGo = (code: number) => code === markCodes.go || code === markCodes.goResend;
  /**
   * A mark that went in and then, written again after a failover, found the
   * job's lock gone (its renewal lost with the old primary): the job stops
   * without calling, so the slot is taken back, but only while it still holds
   * this mark's call count (never another worker's resend).
   */
  async function undoMark(campaignId: string, chunkId: string, slot: number, options: MarkOptions) {
    if (options.expectCalls === undefined) return;
    await durably(
      () =>
        runScript<number>(
          redis,
          'ledgerRelease',
          [keys.ledger(campaignId, chunkId)],
          [slot, '0', options.expectCalls! + 1],
        ),
      any,
    );
  }
  /** Done if any run did it: a run after a lost write does it, one after a kept write finds it done. */
  const any = (a: number, b: number) => Math.max(a, b);
  return {
    async read(campaignId, chunkId, slots) {
      return decodeLedger(await redis.getBuffer(keys.ledger(campaignId, chunkId)), slots);
    },
    async markInflight(campaignId, chunkId, slot, lock, options) {
      const [token, resend, expect] = lockArgs(lock, options);
      let wentIn = false;
      const res = await durably(async () => {
        const code = await runScript<number>(
          redis,
          'ledgerMarkInflight',
          [keys.ledger(campaignId, chunkId), keys.outcomes(campaignId), lock.key],
          [slot, token, options.nowSec, resend, expect],
        );
        wentIn ||= isGo(code);
        return code;
      }, markMerge);
      if (wentIn && res === markCodes.lockLost) await undoMark(campaignId, chunkId, slot, options);
      return markResult(res);
    },
    async recordAndMark(campaignId, chunkId, answered, slot, lock, options) {
      const [token, resend, expect] = lockArgs(lock, options);
      let wentIn = false;
      const [recorded, mark] = await durably(
        async () => {
          const both = await runScript<[number, number]>(
            redis,
            'ledgerRecordAndMark',
            [keys.ledger(campaignId, chunkId), keys.outcomes(campaignId), lock.key, keys.reasons(campaignId)],
            [
              answered.slot,
              stateCodes[answered.outcome],
              options.nowSec,
              slot,
              token,
              resend,
              answered.reason ?? '',
              expect,
            ],
          );
          wentIn ||= isGo(both[1]);
          return both;
        },
        (a, b) => [any(a[0], b[0]), markMerge(a[1], b[1])],
      );
      if (wentIn && mark === markCodes.lockLost) await undoMark(campaignId, chunkId, slot, options);
      return { recorded: recorded === 1, mark: markResult(mark) };
    },
    async record(campaignId, chunkId, slot, outcome, nowSec, reason) {
      const res = await durably(
        () =>
          runScript<number>(
            redis,
            'ledgerRecordOutcome',
            [keys.ledger(campaignId, chunkId), keys.outcomes(campaignId), keys.reasons(campaignId)],
            [slot, stateCodes[outcome], nowSec, reason ?? ''],
          ),
        any,
      );
      return res === 1;
    },
    async reasons(campaignId) {
      return readReasons(redis, keys, campaignId);
    },
    async finaliseMany(campaignId, chunkId, slots, outcome, from, nowSec) {
      return durably(
        () =>
          runScript<number>(
            redis,
            'ledgerFinaliseMany',
            [keys.ledger(campaignId, chunkId), keys.outcomes(campaignId)],
            [slots, stateCodes[outcome], nowSec, ...from.map((s) => stateCodes[s])],
          ),
        any,
      );
    },
    async release(campaignId, chunkId, slot, callMade = true) {
      const res = await durably(
        () =>
          runScript<number>(
            redis,
            'ledgerRelease',
            [keys.ledger(campaignId, chunkId)],
            [slot, callMade ? '1' : '0'],
          ),
        any,
      );
      return res === 1;
    },
    async reopen(campaignId, chunkId, slots, outcome) {
      if (slots.length === 0) return 0;
      return durably(
        () =>
          runScript<number>(
            redis,
            'ledgerReopen',
            [keys.ledger(campaignId, chunkId), keys.outcomes(campaignId)],
            [stateCodes[outcome], ...slots],
          ),
        any,
      );
    },
    counts: (campaignId) => readCounts(redis, keys, campaignId),
  };
}
