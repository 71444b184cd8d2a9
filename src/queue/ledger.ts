import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

/**
 * The outcome ledger: one Redis string per chunk with an 8-byte record per
 * recipient slot, written with SETRANGE. Nothing is allocated at enqueue time
 * (SETRANGE pads with zeros), a whole chunk's state is one GET, and the
 * per-campaign outcome counts are kept in the same atomic step, so a slot is
 * counted once however often a worker retries.
 *
 * Record: state (1) | calls made (1) | reason id (2, big-endian) | unix seconds (4, big-endian).
 *
 * The reason id names the platform's resultText for an unreachable (INFO) or
 * rejected (ERROR) recipient, in a per-campaign dictionary (keys.reasons):
 * a handful of distinct texts, each stored once, so the report can group by
 * reason and the letter list can say why. 0: no reason; REASON_OVERFLOW:
 * more distinct texts than the dictionary keeps.
 */
export const RECORD_BYTES = 8;

export const finalOutcomes = [
  'delivered',
  'unreachable',
  'rejected',
  'failed',
  'uncertain',
  'cancelled',
] as const;
export type FinalOutcome = (typeof finalOutcomes)[number];
export type SlotState = 'pending' | 'inflight' | FinalOutcome;

const stateCodes: Record<SlotState, number> = {
  pending: 0,
  inflight: 1,
  delivered: 2,
  unreachable: 3,
  rejected: 4,
  failed: 5,
  uncertain: 6,
  cancelled: 7,
};
const codeStates = Object.fromEntries(Object.entries(stateCodes).map(([k, v]) => [v, k])) as Record<
  number,
  SlotState
>;

export function isFinal(state: SlotState): state is FinalOutcome {
  return state !== 'pending' && state !== 'inflight';
}

/** The reason id of a text beyond the dictionary's size. */
export const REASON_OVERFLOW = 65535;
/** Most distinct reason texts one campaign's dictionary keeps. */
export const MAX_REASONS = 1000;

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
      state: codeStates[buf[o]!] ?? 'pending',
      calls: buf[o + 1]!,
      reason: buf.readUInt16BE(o + 2),
      at: buf.readUInt32BE(o + 4),
    };
  }
  return out;
}

// Shared Lua: read the state byte of slot ARGV[1]; write a record.
const LUA_HELPERS = `
local function state_of(key, off)
  local b = redis.call('GETRANGE', key, off, off)
  if b == '' then return 0, 0 end
  local calls = redis.call('GETRANGE', key, off + 1, off + 1)
  return string.byte(b), (calls == '' and 0 or string.byte(calls))
end
local function record(state, calls, now, reason)
  reason = reason or 0
  return string.char(state, math.min(calls, 255), math.floor(reason / 256), reason % 256,
    math.floor(now / 16777216) % 256, math.floor(now / 65536) % 256, math.floor(now / 256) % 256, now % 256)
end
local names = {'delivered','unreachable','rejected','failed','uncertain','cancelled'}
-- The id of a reason text in the campaign's dictionary, added when new.
local function reason_id(reasons, text)
  if text == nil or text == '' then return 0 end
  local id = redis.call('HGET', reasons, 't:' .. text)
  if id then return tonumber(id) end
  if redis.call('HLEN', reasons) >= ${2 * MAX_REASONS + 1} then return ${REASON_OVERFLOW} end
  id = redis.call('HINCRBY', reasons, 'next', 1)
  redis.call('HSET', reasons, 't:' .. text, id, 'i:' .. id, text)
  return id
end
-- A final outcome for a slot that has none yet (counted once). 1 if recorded, 0 if it was final.
local function record_outcome(ledger, counts, reasons, slot, code, now, reason)
  local off = slot * ${RECORD_BYTES}
  local state, calls = state_of(ledger, off)
  if state >= 2 then return 0 end
  redis.call('SETRANGE', ledger, off, record(code, calls, now, reason_id(reasons, reason)))
  redis.call('HINCRBY', counts, names[code - 1], 1)
  return 1
end
-- See MARK_INFLIGHT for the codes.
local function mark_inflight(ledger, counts, lock, slot, token, now, resend)
  if token ~= '' then
    local holder = redis.call('GET', lock)
    if holder ~= token then return -1 end
  end
  local off = slot * ${RECORD_BYTES}
  local state, calls = state_of(ledger, off)
  if state >= 2 then return state end
  if state == 1 and resend ~= '1' then
    redis.call('SETRANGE', ledger, off, record(6, calls, now))
    redis.call('HINCRBY', counts, 'uncertain', 1)
    return 8
  end
  redis.call('SETRANGE', ledger, off, record(1, calls + 1, now))
  return state
end
`;

/**
 * KEYS: ledger, outcome counts, job lock. ARGV: slot, lock token, now, resend (1|0).
 * Returns: -1 lock lost; -2 campaign not sendable is checked elsewhere;
 * 0 go ahead (slot now inflight); 1 go ahead, it was inflight before (a resend);
 * 2..7 already final (skip); 8 parked as uncertain now.
 */
const MARK_INFLIGHT = `${LUA_HELPERS}
return mark_inflight(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), ARGV[4])
`;

/** KEYS: ledger, counts, reasons. ARGV: slot, final state code, now, reason text ('' for none). Returns 1 if recorded, 0 if it was final already. */
const RECORD_OUTCOME = `${LUA_HELPERS}
return record_outcome(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4])
`;

/**
 * One call where a call loop goes from one recipient to the next: records the
 * outcome of the slot just answered, then marks the next one in flight (after
 * the lock check, which the record does not need: an outcome is a fact).
 * KEYS: ledger, counts, job lock, reasons. ARGV: answered slot, its code, now, next slot, lock token, resend, reason.
 * Returns {recorded 1|0, mark code as MARK_INFLIGHT}.
 */
const RECORD_AND_MARK = `${LUA_HELPERS}
local now = tonumber(ARGV[3])
local recorded = record_outcome(KEYS[1], KEYS[2], KEYS[4], tonumber(ARGV[1]), tonumber(ARGV[2]), now, ARGV[7])
return {recorded, mark_inflight(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[4]), ARGV[5], now, ARGV[6])}
`;

/**
 * Finalises every slot of a chunk that is in one of the given states.
 * KEYS: ledger, counts. ARGV: slots, target code, now, then the state codes to replace.
 * Returns how many slots changed.
 */
const FINALISE_MANY = `${LUA_HELPERS}
local n = tonumber(ARGV[1])
local code = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local from = {}
for i = 4, #ARGV do from[tonumber(ARGV[i])] = true end
local changed = 0
for slot = 0, n - 1 do
  local off = slot * ${RECORD_BYTES}
  local state, calls = state_of(KEYS[1], off)
  if from[state] then
    redis.call('SETRANGE', KEYS[1], off, record(code, calls, now))
    changed = changed + 1
  end
end
if changed > 0 then redis.call('HINCRBY', KEYS[2], names[code - 1], changed) end
return changed
`;

/**
 * Puts slots in a given final state back to pending (a dead-letter redrive).
 * KEYS: ledger, counts. ARGV: from code, then slots. Returns how many changed.
 */
const REOPEN = `${LUA_HELPERS}
local from = tonumber(ARGV[1])
local changed = 0
for i = 2, #ARGV do
  local off = tonumber(ARGV[i]) * ${RECORD_BYTES}
  local state, calls = state_of(KEYS[1], off)
  if state == from then
    redis.call('SETRANGE', KEYS[1], off, string.char(0, calls, 0, 0, 0, 0, 0, 0))
    changed = changed + 1
  end
end
if changed > 0 then redis.call('HINCRBY', KEYS[2], names[from - 1], -changed) end
return changed
`;

/**
 * KEYS: ledger. ARGV: slot, call made (1|0). An in-flight slot whose call
 * surely did not land goes back to pending; when no call was made at all, the
 * call its mark counted is taken back.
 */
const RELEASE = `${LUA_HELPERS}
local off = tonumber(ARGV[1]) * ${RECORD_BYTES}
local state, calls = state_of(KEYS[1], off)
if state ~= 1 then return 0 end
-- Marked in flight but no call made (a stop during the rate wait): the mark's count goes too.
if ARGV[2] == '0' and calls > 0 then calls = calls - 1 end
redis.call('SETRANGE', KEYS[1], off, string.char(0, calls, 0, 0, 0, 0, 0, 0))
return 1
`;

type LedgerRedis = Redis & {
  utskickRelease(ledger: string, slot: number, callMade: string): Promise<number>;
  utskickMarkInflight(
    ledger: string,
    counts: string,
    lock: string,
    ...args: (string | number)[]
  ): Promise<number>;
  utskickRecordOutcome(
    ledger: string,
    counts: string,
    reasons: string,
    ...args: (string | number)[]
  ): Promise<number>;
  utskickRecordAndMark(
    ledger: string,
    counts: string,
    lock: string,
    reasons: string,
    ...args: (string | number)[]
  ): Promise<[number, number]>;
  utskickFinaliseMany(ledger: string, counts: string, ...args: (string | number)[]): Promise<number>;
  utskickReopen(ledger: string, counts: string, ...args: (string | number)[]): Promise<number>;
};

/** An answered recipient: its slot, outcome and the platform's reason text (unreachable, rejected). */
export interface Answered {
  slot: number;
  outcome: FinalOutcome;
  reason?: string;
}

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
  if (res === -1) return { kind: 'lock-lost' };
  if (res === 0) return { kind: 'go', resend: false };
  if (res === 1) return { kind: 'go', resend: true };
  if (res === 8) return { kind: 'parked' };
  return { kind: 'skip', state: codeStates[res] as FinalOutcome };
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

export function defineLedgerCommands(redis: Redis): void {
  const r = redis as LedgerRedis;
  if (typeof r.utskickMarkInflight === 'function') return;
  redis.defineCommand('utskickMarkInflight', { numberOfKeys: 3, lua: MARK_INFLIGHT });
  redis.defineCommand('utskickRecordOutcome', { numberOfKeys: 3, lua: RECORD_OUTCOME });
  redis.defineCommand('utskickRecordAndMark', { numberOfKeys: 4, lua: RECORD_AND_MARK });
  redis.defineCommand('utskickFinaliseMany', { numberOfKeys: 2, lua: FINALISE_MANY });
  redis.defineCommand('utskickReopen', { numberOfKeys: 2, lua: REOPEN });
  redis.defineCommand('utskickRelease', { numberOfKeys: 1, lua: RELEASE });
}

export function createLedger(redis: Redis, keys: Keys): Ledger {
  defineLedgerCommands(redis);
  const r = redis as LedgerRedis;
  return {
    async read(campaignId, chunkId, slots) {
      return decodeLedger(await redis.getBuffer(keys.ledger(campaignId, chunkId)), slots);
    },
    async markInflight(campaignId, chunkId, slot, lock, options) {
      const res = await r.utskickMarkInflight(
        keys.ledger(campaignId, chunkId),
        keys.outcomes(campaignId),
        lock.key,
        slot,
        lock.token,
        options.nowSec,
        options.resendUncertain ? '1' : '0',
      );
      return markResult(res);
    },
    async recordAndMark(campaignId, chunkId, answered, slot, lock, options) {
      const [recorded, mark] = await r.utskickRecordAndMark(
        keys.ledger(campaignId, chunkId),
        keys.outcomes(campaignId),
        lock.key,
        keys.reasons(campaignId),
        answered.slot,
        stateCodes[answered.outcome],
        options.nowSec,
        slot,
        lock.token,
        options.resendUncertain ? '1' : '0',
        answered.reason ?? '',
      );
      return { recorded: recorded === 1, mark: markResult(mark) };
    },
    async record(campaignId, chunkId, slot, outcome, nowSec, reason) {
      const res = await r.utskickRecordOutcome(
        keys.ledger(campaignId, chunkId),
        keys.outcomes(campaignId),
        keys.reasons(campaignId),
        slot,
        stateCodes[outcome],
        nowSec,
        reason ?? '',
      );
      return res === 1;
    },
    async reasons(campaignId) {
      return readReasons(redis, keys, campaignId);
    },
    async finaliseMany(campaignId, chunkId, slots, outcome, from, nowSec) {
      return r.utskickFinaliseMany(
        keys.ledger(campaignId, chunkId),
        keys.outcomes(campaignId),
        slots,
        stateCodes[outcome],
        nowSec,
        ...from.map((s) => stateCodes[s]),
      );
    },
    async release(campaignId, chunkId, slot, callMade = true) {
      return (await r.utskickRelease(keys.ledger(campaignId, chunkId), slot, callMade ? '1' : '0')) === 1;
    },
    async reopen(campaignId, chunkId, slots, outcome) {
      if (slots.length === 0) return 0;
      return r.utskickReopen(
        keys.ledger(campaignId, chunkId),
        keys.outcomes(campaignId),
        stateCodes[outcome],
        ...slots,
      );
    },
    async counts(campaignId) {
      const raw = await redis.hgetall(keys.outcomes(campaignId));
      const out = {} as Record<FinalOutcome, number>;
      for (const o of finalOutcomes) out[o] = Number(raw[o] ?? 0);
      return out;
    },
  };
}
