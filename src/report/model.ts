import type { AuditEntry } from '../audit/audit-log.js';
import type { ResidentMessage } from '../campaign/message.js';
import type { FinalOutcome } from '../queue/ledger.js';
import type { ProblemCode } from '../recipients/personnummer.js';

/**
 * Everything the follow-up report shows, collected from the ledger (and
 * Prometheus where configured). Renderers only format it; the counts come from
 * the ledger and add up: sum(outcomes) === recipients.valid.
 */
export type OutcomeCounts = Record<FinalOutcome | 'pending', number>;

export interface ReportFile {
  name: string;
  sha256: string;
  valid: number;
  invalid: number;
  duplicates: number;
  jobs: number;
  enqueuedAt: string;
}

export interface TimelinePoint {
  /** Start of the bucket, unix seconds. */
  t: number;
  counts: Record<FinalOutcome, number>;
}

export interface ReportData {
  generatedAt: string;
  campaignId: string;
  campaign: {
    title: string;
    targetGroup: string;
    orderer: { name: string; email?: string; phone?: string };
    sender: { name: string; title: string; organisation: string };
    unit: { hsaId: string; name: string };
    caseHandler: { name: string };
    subject: string;
    regionWide: boolean;
    approval: { approvedBy: string; approvedAt: string; contentSha256: string; platformApprovalRef?: string };
    unreachable: 'letter' | 'none';
  };
  /** active, paused, cancelled, done. `complete` is true when nothing is pending. */
  state: string;
  stateReason?: string;
  complete: boolean;
  files: ReportFile[];
  recipients: { total: number; valid: number; invalid: number; duplicates: number };
  outcomes: OutcomeCounts;
  timing: {
    startedAt?: string;
    finishedAt?: string;
    durationSec?: number;
    averageRatePerSec?: number;
    peakRatePerSec?: number;
  };
  /** What the residents were sent (heading, text, inbox title, signature): shown as a card. */
  message: ResidentMessage;
  /**
   * The platform's reasons for the unreachable (INFO) and rejected (ERROR)
   * recipients, as it worded them in resultText (masked), most frequent first.
   */
  reasons: ReasonCount[];
  /** Calls beyond the first per recipient (from the ledger's call counts). */
  retries: number;
  deadLetters: number;
  timeline: { bucketSec: number; points: TimelinePoint[]; source: 'ledger' | 'prometheus' };
  latency?: { p50Ms: number; p95Ms: number; p99Ms: number; source: 'prometheus' };
  problems: { file: string; line: number; code: ProblemCode; value: string }[];
  /** Plain sentences on what is still open (pending recipients, dead letters, uncertain ones). */
  open: string[];
  /** The campaign's audit entries in time order (who approved, enqueued, paused, exported…): "Händelselogg". */
  auditLog: AuditEntry[];
}

export interface ReasonCount {
  outcome: 'unreachable' | 'rejected';
  /** The platform's resultText; "(ingen text)" when it gave none. */
  text: string;
  count: number;
}

/** One recipient's row: only in the owner-only CSV, the letter list and the journal export. */
export interface RecipientRow {
  pnr: string;
  outcome: FinalOutcome | 'pending' | 'inflight';
  at?: string;
  messageId: string;
  /** The platform's reason (resultText) for an unreachable or rejected recipient. */
  reason?: string;
}
