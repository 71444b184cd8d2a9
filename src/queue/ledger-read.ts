import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import {
  type FinalOutcome,
  finalOutcomes,
  MAX_REASONS,
  REASON_OVERFLOW,
  RECORD_BYTES,
  type SlotState,
  slotStates,
} from './script-codes.js';

/**
 * Reading the ledger (ledger.ts writes it): a chunk's 8-byte records, a
 * campaign's reason dictionary and its outcome counts.
 */

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
export async function readCounts(
  redis: Redis,
  keys: Keys,
  campaignId: string,
): Promise<Record<FinalOutcome, number>> {
  const raw = await redis.hgetall(keys.outcomes(campaignId));
  const out = {} as Record<FinalOutcome, number>;
  for (const o of finalOutcomes) out[o] = Number(raw[o] ?? 0);
  return out;
}
