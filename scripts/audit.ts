/**
 * The audit log: who approved, enqueued, paused, exported and purged, and when.
 *
 *   npm run audit -- [--campaign ID] [--since ISO-TIME] [--json]
 *   npm run audit -- --trim        (as Redis user utskick-audit-retention: drop entries older than AUDIT_RETENTION_DAYS)
 *
 * Entries in time order, one line each (every value printable); --json prints
 * an array of {at, actor, action, campaignId, details}. A campaign with no
 * entries that does not exist either: exit 1. Bad arguments: exit 2.
 */
import type { AuditEntry } from '../src/audit/audit-log.js';
import { loadAuditConfig } from '../src/config/audit.js';
import { printableName } from '../src/recipients/printable.js';
import { campaignIdArg, exitCodes, parseCliArgs, runCli, UsageError } from './lib/cli.js';
import { openRedis } from './lib/context.js';

const usage = 'usage: npm run audit -- [--campaign ID] [--since ISO-TIME] [--json] | --trim';

/** An ISO 8601 date (2026-03-01) or date and time (2026-03-01T08:00:00Z, with an offset or Z). */
const isoTime = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** --since as milliseconds, or a UsageError (the value is not echoed: it may be anything). */
function sinceArg(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (!isoTime.test(value) || !Number.isFinite(ms))
    throw new UsageError('--since: not an ISO time such as 2026-03-01 or 2026-03-01T08:00:00Z');
  return ms;
}

/** JSON with the C1, bidirectional and line-separator characters JSON.stringify leaves raw escaped too. */
function printableJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** One entry as one printable line: time, actor, action, campaign, details. */
function line(e: AuditEntry): string {
  const cells = [e.at, e.actor, e.action, e.campaignId || '-', JSON.stringify(e.details)];
  return cells.map((c) => printableName(c)).join('  ');
}

async function trim(): Promise<number> {
  const { retentionDays } = loadAuditConfig(process.env);
  const { audit, close } = await openRedis(process.env);
  try {
    const nowMs = Date.now();
    const removed = await audit.trim(retentionDays, nowMs);
    const before = new Date(nowMs - retentionDays * 86_400_000).toISOString();
    process.stdout.write(
      `audit log: entries older than ${before} removed: ${removed} (AUDIT_RETENTION_DAYS ${retentionDays})\n`,
    );
    return exitCodes.ok;
  } finally {
    await close();
  }
}

await runCli('audit', async () => {
  const { values } = parseCliArgs({
    options: {
      campaign: { type: 'string' },
      since: { type: 'string' },
      json: { type: 'boolean', default: false },
      trim: { type: 'boolean', default: false },
    },
  });
  if (values.trim) {
    if (values.campaign !== undefined || values.since !== undefined || values.json)
      throw new UsageError(`--trim takes no other option\n${usage}`);
    return trim();
  }
  const campaignId = values.campaign === undefined ? undefined : campaignIdArg(values.campaign, '--campaign');
  const sinceMs = sinceArg(values.since);
  const { redis, keys, audit, close } = await openRedis(process.env);
  try {
    const entries = await audit.read({
      ...(campaignId !== undefined ? { campaignId } : {}),
      ...(sinceMs !== undefined ? { sinceMs } : {}),
    });
    if (
      campaignId !== undefined &&
      entries.length === 0 &&
      !(await redis.exists(keys.campaign(campaignId)))
    ) {
      process.stderr.write(`audit: no audit entries and no campaign with id ${campaignId}\n`);
      if (values.json) process.stdout.write('[]\n');
      return exitCodes.failed;
    }
    if (values.json) process.stdout.write(`${printableJson(entries)}\n`);
    else if (entries.length === 0) process.stdout.write('no audit entries\n');
    else process.stdout.write(`${entries.map(line).join('\n')}\n`);
    return exitCodes.ok;
  } finally {
    await close();
  }
});
