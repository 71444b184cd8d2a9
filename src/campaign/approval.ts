import { createHash } from 'node:crypto';
import { type MessageSource, residentMessage } from './message.js';
import type { Campaign } from './schema.js';

/**
 * SHA-256 of exactly what the resident will see and the communicator
 * approved: heading, text, inbox-list title and signature (sender and unit).
 */
export function contentSha256(source: MessageSource): string {
  const m = residentMessage(source);
  return createHash('sha256')
    .update(JSON.stringify(['utskick-message-2', m.subject, m.body, m.inboxTitle ?? null, m.signature]))
    .digest('hex');
}

export type ApprovalCheck = { ok: true } | { ok: false; reason: string };

/** Why a campaign may not be sent, in words a case handler can act on. */
export function checkApproval(campaign: Campaign): ApprovalCheck {
  const { approval } = campaign;
  if (!approval) {
    return {
      ok: false,
      reason: 'it is not approved (no approval block; run npm run approve -- <file> --by "<name>")',
    };
  }
  if (approval.contentSha256 !== contentSha256(campaign)) {
    return {
      ok: false,
      reason: `the message (subject, body, inbox title, or the sender and unit in its signature) changed after ${approval.approvedBy} approved it at ${approval.approvedAt} (approval.contentSha256 no longer matches); have it approved again`,
    };
  }
  if (campaign.regionWide && !approval.platformApprovalRef) {
    return {
      ok: false,
      reason:
        'it is region-wide but approval.platformApprovalRef (the prior approval of the mailing) is missing',
    };
  }
  return { ok: true };
}
