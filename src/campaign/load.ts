import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { type ApprovalCheck, checkApproval } from './approval.js';
import { type Campaign, campaignSchema } from './schema.js';
import { resolveTemplate } from './template.js';

/** A campaign file that cannot be used; the message names the file and the field. */
export class CampaignError extends Error {
  readonly code = 'CAMPAIGN';
}

export function formatIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(top level)';
  return `${path}: ${issue.message}`;
}

/** Validates parsed JSON as a campaign; every problem names its field. */
export function parseCampaign(value: unknown, source: string): Campaign {
  const result = campaignSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map(formatIssue);
    throw new CampaignError(`${source}: ${issues.join('; ')}`);
  }
  return result.data;
}

export async function readCampaignJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new CampaignError(
      `${path}: cannot read the campaign file (${(cause as NodeJS.ErrnoException).code ?? cause})`,
      {
        cause,
      },
    );
  }
  const json = text.replace(/^\uFEFF/, '');
  try {
    return JSON.parse(json);
  } catch (cause) {
    // V8's message quotes the file's text: say where, never what (the path may name any file).
    throw new CampaignError(`${path}: not valid JSON${jsonErrorAt(json, cause as Error)}`, { cause });
  }
}

/** ` (line L, column C)` from a JSON.parse error's position, or nothing. */
function jsonErrorAt(text: string, err: Error): string {
  const position = /at position (\d+)/.exec(err.message)?.[1];
  if (position === undefined) return '';
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  return ` (line ${line}, column ${before.length - before.lastIndexOf('\n')})`;
}

/** Reads, renders a message template if it names one, and validates a campaign file. */
export async function loadCampaign(path: string): Promise<Campaign> {
  return parseCampaign(await resolveTemplate(await readCampaignJson(path), path), path);
}

/** Loads a campaign and refuses it unless it is approved for exactly its current text. */
export async function loadApprovedCampaign(path: string): Promise<Campaign> {
  const campaign = await loadCampaign(path);
  assertApproved(campaign, path);
  return campaign;
}

export function assertApproved(campaign: Campaign, source: string): void {
  const check: ApprovalCheck = checkApproval(campaign);
  if (!check.ok)
    throw new CampaignError(`${source}: campaign ${campaign.id} cannot be sent: ${check.reason}`);
}
