import { type FinalOutcome, finalOutcomes, type SlotState } from '../../src/queue/ledger.js';
import type { ReceivedEntry } from './harness.js';

/**
 * The verdict on one chaos scenario: the ledger compared with what the
 * simulator received. Pure, so the checks themselves can be tested with
 * made-up ledgers that must fail them.
 */
export interface CheckInput {
  campaignId: string;
  /** Valid recipients of the campaign (its stored `valid` count). */
  valid: number;
  /** Every slot of every chunk: message identity (`campaign.chunk.slot`) → ledger state. */
  slots: Map<string, SlotState>;
  /** The campaign's outcome counter hash. */
  counts: Record<FinalOutcome, number>;
  /** GET /__received. */
  received: ReceivedEntry[];
  /** Whether parked (uncertain) slots are allowed: ON_UNCERTAIN=park. */
  parkMode: boolean;
  /** Most uncertain recipients allowed. */
  uncertainBound: number;
  /** Most recipients the simulator (which, like the platform, stores every resend) may hold twice. */
  duplicateBound: number;
  /** Delivery jobs still waiting, active, delayed or prioritized at the end. */
  jobsLeft: number;
  /** Simulator counters that must be zero: contract-invalid requests and id/recipient conflicts. */
  invalidRequests: number;
  conflicts: number;
  /** Requests repeating a known message identity (GET /__stats duplicates). */
  resends: number;
  /** The scenario promises no resend at all (graceful stops, or park mode). */
  expectNoResends: boolean;
}

export interface CheckResult {
  /** Valid recipients without a final outcome, plus ledger deliveries the simulator never accepted. */
  lost: number;
  /** Recipients (by keyed hash) the simulator accepted (stored) more than once: second, paid messages in an inbox. */
  acceptedTwice: number;
  uncertain: number;
  /** Of the uncertain, how many the simulator had in fact accepted. */
  uncertainLanded: number;
  /** Ledger `failed`: the recipients dead-lettered after the job's attempts. */
  deadLettered: number;
  delivered: number;
  unreachable: number;
  rejected: number;
  /** Distinct message identities the simulator answered OK. */
  simulatorAccepted: number;
  /** Ledger outcomes that disagree with the simulator (other than lost), and counter drift. */
  mismatched: number;
  jobsLeft: number;
  resends: number;
  /** One line per failed check; empty when the scenario passed. */
  problems: string[];
  ok: boolean;
}

const platformOutcomes = new Set<SlotState>(['delivered', 'unreachable', 'rejected']);

export function checkScenario(input: CheckInput): CheckResult {
  const problems: string[] = [];
  const byId = new Map(input.received.map((e) => [e.messageId, e]));
  const stateCount = Object.fromEntries(
    [...finalOutcomes, 'pending', 'inflight'].map((s) => [s, 0]),
  ) as Record<SlotState, number>;

  let deliveredNotAccepted = 0;
  let acceptedNotRecorded = 0;
  let outcomeDisagrees = 0;
  let uncertainLanded = 0;
  for (const [id, state] of input.slots) {
    stateCount[state]++;
    const got = byId.get(id);
    if (state === 'delivered' && got?.outcome !== 'delivered') deliveredNotAccepted++;
    else if (platformOutcomes.has(state) && state !== 'delivered' && got?.outcome !== state)
      outcomeDisagrees++;
    if (got?.outcome === 'delivered' && state !== 'delivered') {
      if (state === 'uncertain' && input.parkMode) uncertainLanded++;
      else acceptedNotRecorded++;
    }
  }
  const open = stateCount.pending + stateCount.inflight;
  const unknownIds = input.received.filter((e) => !input.slots.has(e.messageId)).length;

  // Accepted twice: by recipient, so a resend under another identity counts too.
  const acceptedBySubject = new Map<string, number>();
  for (const e of input.received) {
    if (e.outcome !== 'delivered') continue;
    const times = e.count;
    acceptedBySubject.set(e.subjectHash, (acceptedBySubject.get(e.subjectHash) ?? 0) + times);
  }
  const acceptedTwice = [...acceptedBySubject.values()].filter((n) => n > 1).length;
  const simulatorAccepted = input.received.filter((e) => e.outcome === 'delivered').length;

  const lost = open + deliveredNotAccepted;
  if (input.slots.size !== input.valid)
    problems.push(`the ledger has ${input.slots.size} slots for ${input.valid} valid recipients`);
  if (open > 0)
    problems.push(`${open} recipients without a final outcome (${stateCount.inflight} in flight)`);
  if (deliveredNotAccepted > 0)
    problems.push(`${deliveredNotAccepted} recorded as delivered but never accepted by the simulator`);
  if (acceptedTwice > input.duplicateBound)
    problems.push(
      `${acceptedTwice} recipients accepted more than once, above the bound of ${input.duplicateBound}`,
    );
  if (input.expectNoResends && input.resends > 0)
    problems.push(`${input.resends} resends reached the simulator where none were expected`);

  let mismatched =
    acceptedNotRecorded + outcomeDisagrees + unknownIds + input.invalidRequests + input.conflicts;
  if (acceptedNotRecorded > 0)
    problems.push(`${acceptedNotRecorded} accepted by the simulator but not recorded as delivered`);
  if (outcomeDisagrees > 0)
    problems.push(`${outcomeDisagrees} unreachable/rejected in the ledger but not so answered`);
  if (unknownIds > 0) problems.push(`${unknownIds} message identities the ledger does not know`);
  if (input.invalidRequests > 0)
    problems.push(`${input.invalidRequests} requests failed contract validation`);
  if (input.conflicts > 0) problems.push(`${input.conflicts} identities resent with another recipient`);
  for (const o of finalOutcomes) {
    if (input.counts[o] !== stateCount[o]) {
      mismatched++;
      problems.push(`outcome counter ${o}=${input.counts[o]} but ${stateCount[o]} slots are ${o}`);
    }
  }
  // Cross-check on the totals: the simulator's accepted identities are the ledger's deliveries
  // (when parking, plus at most the uncertain ones, whose call may have landed).
  const uncertain = stateCount.uncertain;
  const maxAccepted = stateCount.delivered + (input.parkMode ? uncertain : 0);
  if (simulatorAccepted < stateCount.delivered || simulatorAccepted > maxAccepted)
    problems.push(
      `simulator accepted ${simulatorAccepted} identities, ledger delivered ${stateCount.delivered}${input.parkMode ? ` (+ ${uncertain} uncertain)` : ''}`,
    );

  if (uncertain > input.uncertainBound)
    problems.push(`${uncertain} uncertain, above the bound of ${input.uncertainBound}`);
  if (input.jobsLeft > 0) problems.push(`${input.jobsLeft} delivery jobs left waiting, active or delayed`);
  if (stateCount.failed > 0) problems.push(`${stateCount.failed} recipients dead-lettered`);
  if (stateCount.cancelled > 0) problems.push(`${stateCount.cancelled} recipients cancelled`);

  return {
    lost,
    acceptedTwice,
    uncertain,
    uncertainLanded,
    deadLettered: stateCount.failed,
    delivered: stateCount.delivered,
    unreachable: stateCount.unreachable,
    rejected: stateCount.rejected,
    simulatorAccepted,
    mismatched,
    jobsLeft: input.jobsLeft,
    resends: input.resends,
    problems,
    ok: problems.length === 0,
  };
}

/** The result when the harness failed before anything could be read: everyone counts as lost. */
export function nothingChecked(recipients: number): CheckResult {
  return {
    lost: recipients,
    acceptedTwice: 0,
    uncertain: 0,
    uncertainLanded: 0,
    deadLettered: 0,
    delivered: 0,
    unreachable: 0,
    rejected: 0,
    simulatorAccepted: 0,
    mismatched: 0,
    jobsLeft: 0,
    resends: 0,
    problems: [],
    ok: false,
  };
}
