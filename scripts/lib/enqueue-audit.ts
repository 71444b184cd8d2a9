import { basename } from 'node:path';
import type { AuditLog } from '../../src/audit/audit-log.js';
import type { Campaign } from '../../src/campaign/schema.js';
import type { EnqueueResult } from '../../src/queue/enqueue.js';

/** The most files an enqueue entry names (a big delivery has thousands; the count is always there). */
const maxFilesNamed = 50;

/** How the run was asked for (`--dry-run`, `--paused`, `--skip-invalid`). */
export interface EnqueueFlags {
  dryRun: boolean;
  paused: boolean;
  skipInvalid: boolean;
}

/** Approvals may be recorded a little before their approvedAt (another machine's clock). */
const clockSlackMs = 86_400_000;

/**
 * Records the approval of the campaign file's message the first time an
 * enqueue sees that contentSha256 for the campaign: approve runs on the
 * communicator's machine without Redis, so this is where it enters the log,
 * with the approver as actor. Looks only at entries since the approval.
 */
async function recordApprovalOnce(audit: AuditLog, campaign: Campaign, nowMs: number): Promise<void> {
  const approval = campaign.approval;
  if (!approval) return;
  const approvedMs = Date.parse(approval.approvedAt);
  const sinceMs = Math.max(0, Math.min(Number.isFinite(approvedMs) ? approvedMs : 0, nowMs) - clockSlackMs);
  const seen = (await audit.read({ campaignId: campaign.id, sinceMs })).some(
    (e) => e.action === 'approve' && e.details.contentSha256 === approval.contentSha256,
  );
  if (seen) return;
  await audit.record({
    actor: approval.approvedBy,
    action: 'approve',
    campaignId: campaign.id,
    details: {
      contentSha256: approval.contentSha256,
      approvedAt: approval.approvedAt,
      ...(approval.platformApprovalRef ? { platformApprovalRef: approval.platformApprovalRef } : {}),
    },
  });
}

/** What an enqueue entry says of a run: counts, file base names (made printable by the log) and hashes, never a value. */
export function enqueueDetails(r: EnqueueResult, flags: EnqueueFlags): Record<string, unknown> {
  const problemCodes: Record<string, number> = {};
  for (const p of r.problems) problemCodes[p.code] = (problemCodes[p.code] ?? 0) + 1;
  return {
    status: r.status,
    ...flags,
    recipients: r.recipients,
    jobs: r.jobs,
    enqueued: r.enqueued,
    alreadyEnqueued: r.alreadyEnqueued,
    restored: r.restored,
    problemCodes,
    fileCount: r.files.length,
    files: r.files.slice(0, maxFilesNamed).map((f) => ({
      name: basename(f.name),
      sha256: f.sha256,
      valid: f.valid,
      invalid: f.invalid,
      duplicates: f.duplicates,
      jobs: f.jobs,
      status: f.status,
    })),
  };
}

/**
 * Records one enqueue run (preceded by the approval the first time): a run
 * that enqueued, found nothing new, was a dry run, or was rejected for its
 * lines; or one refused (`refused`, with the error's code and message).
 */
export async function recordEnqueue(
  audit: AuditLog,
  actor: string,
  campaign: Campaign,
  details: Record<string, unknown>,
  nowMs = Date.now(),
): Promise<void> {
  await recordApprovalOnce(audit, campaign, nowMs);
  await audit.record({ actor, action: 'enqueue', campaignId: campaign.id, details });
}

/** The details of a run refused after Redis answered (unit not active, locked, changed, cancelled). */
export function refusedDetails(err: Error & { code?: string }, flags: EnqueueFlags): Record<string, unknown> {
  return { status: 'refused', ...flags, code: err.code ?? 'ERROR', reason: err.message };
}
