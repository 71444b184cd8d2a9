import { createHash } from 'node:crypto';
import type { Campaign } from './schema.js';

/** SHA-256 of exactly the subject and body a communicator approved. */
export function contentSha256(message: { subject: string; body: string }): string {
  return createHash('sha256')
    .update(JSON.stringify([message.subject, message.body]))
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
  if (approval.contentSha256 !== contentSha256(campaign.message)) {
    return {
      ok: false,
      reason: `message.subject or message.body changed after ${approval.approvedBy} approved it at ${approval.approvedAt} (approval.contentSha256 no longer matches); have it approved again`,
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
