import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import {
  type FinalOutcome,
  finalOutcomes,
  MAX_REASONS,
  markCodes,
  REASON_OVERFLOW,
  RECORD_BYTES,
  type SlotState,
  slotStates,
  stateCodes,
} from './script-codes.js';
import { defineScripts, runScript } from './scripts.js';

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

export function isFinal(state: SlotState): state is FinalOutcome {
  return state !== 'pending' && state !== 'inflight';
}

export interface SlotRecord {
  state: SlotState;
  calls: number;
  /** Reason id (see keys.reasons); 0 when none. */
  reason: number;
  /** Unix seconds of the last change; 0 when never touched. */
  at: number;
}

export function decodeLedger(buf: Buffer | null, slots: number): SlotRecord[] {
  const out: SlotRecord[] = new Array(slots);
  for (let i = 0; i < slots; i++) {
    const o = i * RECORD_BYTES;
    if (!buf || o + RECORD_BYTES > buf.length) {
      out[i] = { state: 'pending', calls: 0, reason: 0, at: 0 };
      continue;
    }
    out[i] = {
      state: slotStates[buf[o]!] ?? 'pending',
      calls: buf[o + 1]!,
      reason: buf.readUInt16BE(o + 2),
      at: buf.readUInt32BE(o + 4),
    };
  }
  return out;
}

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

export interface Ledger {
  read(campaignId: string, chunkId: string, slots: number): Promise<SlotRecord[]>;
  /** Marks a slot in flight if the job still holds its lock (token '' skips that check). */
  markInflight(
    campaignId: string,
    chunkId: string,
    slot: number,
    lock: { key: string; token: string },
    options: { resendUncertain: boolean; nowSec: number },
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
    options: { resendUncertain: boolean; nowSec: number },
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

/** A campaign's reason dictionary, id -> text (REASON_OVERFLOW reads as "other reasons"). */
export async function readReasons(
  redis: Redis,
  keys: Keys,
  campaignId: string,
): Promise<Map<number, string>> {
  const raw = await redis.hgetall(keys.reasons(campaignId));
  const out = new Map<number, string>();
  for (const [field, text] of Object.entries(raw)) {
    if (field.startsWith('i:')) out.set(Number(field.slice(2)), text);
  }
  out.set(REASON_OVERFLOW, `övriga orsaker (fler än ${MAX_REASONS} olika texter)`);
  return out;
}

/** A campaign's outcome counts. */
async function readCounts(
  redis: Redis,
  keys: Keys,
  campaignId: string,
): Promise<Record<FinalOutcome, number>> {
  const raw = await redis.hgetall(keys.outcomes(campaignId));
  const out = {} as Record<FinalOutcome, number>;
  for (const o of finalOutcomes) out[o] = Number(raw[o] ?? 0);
  return out;
}

export function createLedger(redis: Redis, keys: Keys): Ledger {
  defineScripts(redis);
  const lockArgs = (lock: { token: string }, options: { resendUncertain: boolean }) =>
    [lock.token, options.resendUncertain ? '1' : '0'] as const;
  return {
    async read(campaignId, chunkId, slots) {
      return decodeLedger(await redis.getBuffer(keys.ledger(campaignId, chunkId)), slots);
    },
    async markInflight(campaignId, chunkId, slot, lock, options) {
      const [token, resend] = lockArgs(lock, options);
      const res = await runScript<number>(
        redis,
        'ledgerMarkInflight',
        [keys.ledger(campaignId, chunkId), keys.outcomes(campaignId), lock.key],
        [slot, token, options.nowSec, resend],
      );
      return markResult(res);
    },
    async recordAndMark(campaignId, chunkId, answered, slot, lock, options) {
      const [token, resend] = lockArgs(lock, options);
      const [recorded, mark] = await runScript<[number, number]>(
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
        ],
      );
      return { recorded: recorded === 1, mark: markResult(mark) };
    },
    async record(campaignId, chunkId, slot, outcome, nowSec, reason) {
      const res = await runScript<number>(
        redis,
        'ledgerRecordOutcome',
        [keys.ledger(campaignId, chunkId), keys.outcomes(campaignId), keys.reasons(campaignId)],
        [slot, stateCodes[outcome], nowSec, reason ?? ''],
      );
      return res === 1;
    },
    async reasons(campaignId) {
      return readReasons(redis, keys, campaignId);
    },
    async finaliseMany(campaignId, chunkId, slots, outcome, from, nowSec) {
      return runScript<number>(
        redis,
        'ledgerFinaliseMany',
        [keys.ledger(campaignId, chunkId), keys.outcomes(campaignId)],
        [slots, stateCodes[outcome], nowSec, ...from.map((s) => stateCodes[s])],
      );
    },
    async release(campaignId, chunkId, slot, callMade = true) {
      const res = await runScript<number>(
        redis,
        'ledgerRelease',
        [keys.ledger(campaignId, chunkId)],
        [slot, callMade ? '1' : '0'],
      );
      return res === 1;
    },
    async reopen(campaignId, chunkId, slots, outcome) {
      if (slots.length === 0) return 0;
      return runScript<number>(
        redis,
        'ledgerReopen',
        [keys.ledger(campaignId, chunkId), keys.outcomes(campaignId)],
        [stateCodes[outcome], ...slots],
      );
    },
    counts: (campaignId) => readCounts(redis, keys, campaignId),
  };
}
