import type { CallOutcome } from '../delivery/types.js';
import { maskPersonnummer } from '../recipients/personnummer.js';
import { outcomeOfVerdict, type Verdict } from './verdict.js';

/**
 * What the simulator received, in memory only: one entry per message
 * identity, and the counters /__stats reports.
 */

export interface ReceivedMessage {
  /** The message identity (businessObjectId). */
  messageId: string;
  /** Kept in this process's memory only, for tests comparing with a ledger; never served over HTTP. */
  subjectOfCareId: string;
  /** `19121212-****`. */
  masked: string;
  verdict: Verdict;
  outcome: CallOutcome;
  /** Set when answered OK. */
  caseId?: string;
  firstAtMs: number;
  lastAtMs: number;
  /** Requests carrying this identity (1 = no resend). */
  count: number;
}

export const faultKinds = ['unavailable', 'rateLimited', 'timeouts', 'unauthorized'] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface SimulatorStats {
  /** Every POST to the endpoint. */
  requests: number;
  /** Distinct message identities answered OK (without dedupe: every OK answer). */
  accepted: number;
  /** Requests repeating a known message identity. */
  duplicates: number;
  /** Distinct identities answered not-active / login-blocked. */
  unreachable: number;
  /** Distinct identities answered IllegalArgument. */
  rejected: number;
  /** Injected faults (503, 429, 403, held sockets), the sum of the four below. */
  faults: number;
  unavailable: number;
  rateLimited: number;
  timeouts: number;
  unauthorized: number;
  /** Requests that failed contract validation. */
  invalid: number;
  /** Resends whose identity came with a different subjectOfCareId: a sender bug. */
  conflicts: number;
  /** Accepted per unix second. */
  histogram: Record<string, number>;
}

export interface Store {
  fault(kind: FaultKind): void;
  invalid(): void;
  request(): void;
  /** Records a validated call; returns the entry to answer from and whether it was a resend. */
  record(
    messageId: string,
    subjectOfCareId: string,
    verdict: Verdict,
    dedupe: boolean,
    nowMs: number,
  ): { entry: ReceivedMessage; duplicate: boolean };
  stats(): SimulatorStats;
  received(): ReceivedMessage[];
  reset(): void;
}

function emptyStats(): SimulatorStats {
  return {
    requests: 0,
    accepted: 0,
    duplicates: 0,
    unreachable: 0,
    rejected: 0,
    faults: 0,
    unavailable: 0,
    rateLimited: 0,
    timeouts: 0,
    unauthorized: 0,
    invalid: 0,
    conflicts: 0,
    histogram: {},
  };
}

export function createStore(): Store {
  let stats = emptyStats();
  let entries = new Map<string, ReceivedMessage>();
  let caseCounter = 0;

  function count(verdict: Verdict, nowMs: number): void {
    const outcome = outcomeOfVerdict[verdict];
    if (outcome === 'delivered') {
      stats.accepted++;
      const second = String(Math.floor(nowMs / 1000));
      stats.histogram[second] = (stats.histogram[second] ?? 0) + 1;
    } else if (outcome === 'unreachable') stats.unreachable++;
    else stats.rejected++;
  }

  return {
    request: () => {
      stats.requests++;
    },
    invalid: () => {
      stats.invalid++;
    },
    fault(kind) {
      stats.faults++;
      stats[kind]++;
    },
    record(messageId, subjectOfCareId, verdict, dedupe, nowMs) {
      const existing = entries.get(messageId);
      if (existing) {
        stats.duplicates++;
        existing.count++;
        existing.lastAtMs = nowMs;
        if (existing.subjectOfCareId !== subjectOfCareId) stats.conflicts++;
        if (!dedupe) count(verdict, nowMs);
        return { entry: existing, duplicate: true };
      }
      const entry: ReceivedMessage = {
        messageId,
        subjectOfCareId,
        masked: maskPersonnummer(subjectOfCareId),
        verdict,
        outcome: outcomeOfVerdict[verdict],
        ...(verdict === 'ok' ? { caseId: `case-${++caseCounter}` } : {}),
        firstAtMs: nowMs,
        lastAtMs: nowMs,
        count: 1,
      };
      entries.set(messageId, entry);
      count(verdict, nowMs);
      return { entry, duplicate: false };
    },
    stats: () => ({ ...stats, histogram: { ...stats.histogram } }),
    received: () => [...entries.values()].map((e) => ({ ...e })),
    reset() {
      stats = emptyStats();
      entries = new Map();
      caseCounter = 0;
    },
  };
}
