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
  /** What the resident sees, for a stored (OK) message: the heading and the decoded msg (the DocBook document). */
  headerText?: string;
  msg?: string;
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
  /** Messages stored (answered OK). Without --dedupe every OK answer stores one, a resend included, as the platform does. */
  accepted: number;
  /** Requests repeating a known message identity (businessObjectId) for the same resident. */
  duplicates: number;
  /** Identities answered INFO (no account, or a locked one). */
  unreachable: number;
  /** Identities answered ERROR (a logical error). */
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

/** One validated call, as the store keeps it. */
export interface RecordedCall {
  /** businessObjectId; a call without one gets an identity of its own. */
  messageId: string | undefined;
  subjectOfCareId: string;
  verdict: Verdict;
  /** Answer a resend as before and store nothing (an experiment: the platform does not). */
  dedupe: boolean;
  nowMs: number;
  headerText?: string;
  msg?: string;
}

export interface Store {
  fault(kind: FaultKind): void;
  invalid(): void;
  request(): void;
  /** Records a validated call; returns the entry to answer from and whether it was a resend. */
  record(call: RecordedCall): { entry: ReceivedMessage; duplicate: boolean };
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
  let anonymous = 0;
  // A campaign sends one text to many residents: keep each distinct text once.
  let texts = new Map<string, string>();
  const intern = (t: string | undefined) => {
    if (t === undefined) return undefined;
    const known = texts.get(t);
    if (known !== undefined) return known;
    if (texts.size > 10_000) texts = new Map();
    texts.set(t, t);
    return t;
  };

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
    record(call) {
      const { subjectOfCareId, verdict, nowMs } = call;
      const messageId = call.messageId ?? `(none).${++anonymous}`;
      const existing = entries.get(messageId);
      if (existing) {
        stats.duplicates++;
        existing.count++;
        existing.lastAtMs = nowMs;
        if (existing.subjectOfCareId !== subjectOfCareId) stats.conflicts++;
        if (!call.dedupe) count(verdict, nowMs);
        return { entry: existing, duplicate: true };
      }
      const stored = verdict === 'ok';
      const headerText = stored ? intern(call.headerText) : undefined;
      const msg = stored ? intern(call.msg) : undefined;
      const entry: ReceivedMessage = {
        messageId,
        subjectOfCareId,
        masked: maskPersonnummer(subjectOfCareId),
        verdict,
        outcome: outcomeOfVerdict[verdict],
        ...(headerText !== undefined ? { headerText } : {}),
        ...(msg !== undefined ? { msg } : {}),
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
      texts = new Map();
      anonymous = 0;
    },
  };
}
