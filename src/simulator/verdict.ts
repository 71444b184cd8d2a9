import { createHash, createHmac } from 'node:crypto';
import type { CallOutcome } from '../delivery/types.js';

/**
 * What the simulated platform answers for a personnummer: decided by a keyed
 * hash of the number, so the same number always gets the same answer (across
 * resends, restarts and processes) while the shares hold over many numbers.
 */
export const verdicts = ['ok', 'no-account', 'locked', 'logical-error'] as const;
export type Verdict = (typeof verdicts)[number];

/** As the published producer answers: OK, INFO (no account or a locked one), ERROR (a logical error). */
export const outcomeOfVerdict: Record<Verdict, Exclude<CallOutcome, 'uncertain'>> = {
  ok: 'delivered',
  'no-account': 'unreachable',
  locked: 'unreachable',
  'logical-error': 'rejected',
};

/** HMAC-SHA256(seed, pnr) as a number in [0,1). */
export function hashShare(seed: string, subjectOfCareId: string): number {
  const digest = createHmac('sha256', seed).update(subjectOfCareId).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** A short keyed hash of a number: stored instead of it where a value must be kept. */
export function hashId(seed: string, subjectOfCareId: string): string {
  return createHmac('sha256', `${seed}:id`).update(subjectOfCareId).digest('hex').slice(0, 16);
}

export interface VerdictShares {
  unreachableShare: number;
  loginBlockedShare: number;
  rejectedShare: number;
}

export function verdictFor(seed: string, subjectOfCareId: string, shares: VerdictShares): Verdict {
  const u = hashShare(seed, subjectOfCareId);
  if (u < shares.unreachableShare) {
    return u < shares.unreachableShare * shares.loginBlockedShare ? 'locked' : 'no-account';
  }
  if (u < shares.unreachableShare + shares.rejectedShare) return 'logical-error';
  return 'ok';
}

/** mulberry32, seeded from a string: the fault dice, reproducible per seed. */
export function seededRandom(seed: string): () => number {
  let state = createHash('sha256').update(`${seed}:faults`).digest().readUInt32BE(0);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
