/**
 * The numbers the Lua scripts (src/queue/lua/*.lua) and TypeScript share,
 * defined once: `luaConstants` turns them into the header that scripts.ts
 * prepends to every script, so a Lua file names `STATE_DELIVERED` and never 2.
 */

/** Bytes per ledger record: state (1) | calls (1) | reason id (2, BE) | unix seconds (4, BE). */
export const RECORD_BYTES = 8;

/** The final outcomes of a ledger slot, in code order (delivered is FIRST_FINAL). */
export const finalOutcomes = [
  'delivered',
  'unreachable',
  'rejected',
  'failed',
  'uncertain',
  'cancelled',
] as const;
export type FinalOutcome = (typeof finalOutcomes)[number];

/** A ledger slot's states in code order: a state's code is its index (pending 0 ... cancelled 7). */
export const slotStates = ['pending', 'inflight', ...finalOutcomes] as const;
export type SlotState = (typeof slotStates)[number];

/** The code of the first final state: codes from here on are final outcomes. */
export const FIRST_FINAL = slotStates.indexOf('delivered');

export const stateCodes = Object.fromEntries(slotStates.map((s, i) => [s, i])) as Record<SlotState, number>;

/**
 * What marking a slot in flight returns. Besides these, a slot already final
 * returns its own state code (FIRST_FINAL..7): skip it.
 */
export const markCodes = {
  /** The job no longer holds its lock. */
  lockLost: -1,
  /** Go ahead: the slot was pending and is now in flight. */
  go: 0,
  /** Go ahead: the slot was in flight already (a resend after a crash). */
  goResend: 1,
  /** The slot was in flight and resending is off: it is now `uncertain`. */
  parked: 8,
} as const;

/** The reason id of a text beyond the dictionary's size. */
export const REASON_OVERFLOW = 65535;
/** Most distinct reason texts one campaign's dictionary keeps. */
export const MAX_REASONS = 1000;

/** What a campaign state transition script returns first (then the lifecycle it found). */
export const transitionCodes = {
  changed: 1,
  /** Already where the transition leads: nothing written. */
  unchanged: 0,
  /** No campaign with that id. */
  unknown: -1,
  /** Not allowed from where the campaign is: nothing written. */
  refused: -2,
} as const;

const upper = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();

/** The Lua header: every shared constant as a `local`. */
export function luaConstants(): string {
  const lines = ['-- Generated from src/queue/script-codes.ts; do not edit in a .lua file.'];
  const local = (name: string, value: number) => {
    lines.push(`local ${name} = ${value}`);
  };
  local('RECORD_BYTES', RECORD_BYTES);
  for (const s of slotStates) local(`STATE_${upper(s)}`, stateCodes[s]);
  local('FIRST_FINAL', FIRST_FINAL);
  const names = finalOutcomes.map((o) => `[${stateCodes[o]}] = '${o}'`).join(', ');
  lines.push(`local OUTCOME_NAMES = {${names}}`);
  for (const [k, v] of Object.entries(markCodes)) local(`MARK_${upper(k)}`, v);
  local('REASON_OVERFLOW', REASON_OVERFLOW);
  local('MAX_REASONS', MAX_REASONS);
  for (const [k, v] of Object.entries(transitionCodes)) local(`TRANSITION_${upper(k)}`, v);
  return `${lines.join('\n')}\n`;
}

// A mark result must never be mistaken for a final state's code.
if (Object.values(markCodes).some((c) => c >= FIRST_FINAL && c < slotStates.length))
  throw new Error('script-codes: a mark code collides with a final state code');
