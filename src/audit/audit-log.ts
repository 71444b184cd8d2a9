import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { campaignIdSchema } from '../campaign/schema.js';
import type { Keys } from '../queue/keys.js';
import { type AuditDetails, auditString, guardDetails } from './sanitise.js';

/**
 * The audit trail: who approved, enqueued, paused, exported and purged, and
 * when. One Redis stream (keys.auditLog(), outside the `utskick:*` keys the
 * roles' root permissions cover, so an ACL selector can grant writers XADD and
 * nothing else), one entry per action, never holding a personnummer, a
 * password or message text (src/audit/sanitise.ts). It outlives purge and has
 * its own retention (AUDIT_RETENTION_DAYS), applied only by `npm run audit -- --trim`.
 */

export const auditActions = [
  'approve',
  'enqueue',
  'unit.activate',
  'unit.deactivate',
  'pause',
  'resume',
  'cancel',
  'auto-pause',
  'test-send',
  'dlq.redrive',
  'dlq.discard',
  'report',
  'purge',
  'retention-purge',
  'acl',
] as const;
export type AuditAction = (typeof auditActions)[number];

export interface AuditEntry {
  /** When it was recorded, ISO 8601 (UTC). */
  at: string;
  /** Who: a person's name or login (`--by`), or `system:<worker>` for the service itself. */
  actor: string;
  action: AuditAction;
  /** '' when the action concerns no campaign (a unit). */
  campaignId: string;
  /** A small object of counts, names and reasons: never personal data. */
  details: AuditDetails;
}

export interface AuditInput {
  actor: string;
  action: AuditAction;
  campaignId?: string;
  details?: Record<string, unknown>;
}

/** What the service records of its own actions; the actor (`system:<worker>`) is bound by whoever wires it. */
export type SystemAuditInput = Omit<AuditInput, 'actor'>;

/** An entry that cannot be recorded as given (a programming error, or an empty actor). */
export class AuditError extends Error {
  readonly code = 'AUDIT';
}

export interface AuditLog {
  /** Stores one entry (guarded) and logs it as one pino line with `audit: true`; resolves with what was stored. */
  record(input: AuditInput): Promise<AuditEntry>;
  /** Entries in time order, optionally of one campaign and from `sinceMs` (Redis time of the entry) on. */
  read(filter?: { campaignId?: string; sinceMs?: number }): Promise<AuditEntry[]>;
  /** Removes entries older than `retentionDays` before `nowMs` (XTRIM MINID); resolves with how many. */
  trim(retentionDays: number, nowMs: number): Promise<number>;
  /**
   * Checks, changing nothing, that this connection's user may append: an XADD
   * with the id 0-0 is refused with NOPERM by the ACL, or else by the stream
   * itself (ids start above 0-0). Call it before a command's first change.
   */
  assertWritable(): Promise<void>;
}

export interface AuditLogDeps {
  redis: Redis;
  keys: Keys;
  /** Each entry is also written here at level info with `audit: true`. Default none. */
  logger?: Pick<Logger, 'info'>;
  now?: () => number;
}

const actionSet = new Set<string>(auditActions);
const PAGE = 1000;

function entryOf(input: AuditInput, nowMs: number): AuditEntry {
  if (!actionSet.has(input.action)) throw new AuditError(`unknown audit action ${String(input.action)}`);
  const campaignId = input.campaignId ?? '';
  if (campaignId !== '' && !campaignIdSchema.safeParse(campaignId).success)
    throw new AuditError('an audit entry names a campaign id that is not one');
  const actor = auditString(input.actor.trim());
  if (actor === '') throw new AuditError('an audit entry needs an actor');
  return {
    at: new Date(nowMs).toISOString(),
    actor,
    action: input.action,
    campaignId,
    details: guardDetails(input.details),
  };
}

function parseFields(fields: string[]): AuditEntry {
  const f: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
  let details: AuditDetails = {};
  try {
    const parsed = JSON.parse(f.details ?? '{}') as unknown;
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) details = parsed as AuditDetails;
  } catch {
    details = { unreadable: true };
  }
  return {
    at: f.at ?? '',
    actor: f.actor ?? '',
    action: (f.action ?? '') as AuditAction,
    campaignId: f.campaignId ?? '',
    details,
  };
}

export function createAuditLog(deps: AuditLogDeps): AuditLog {
  const { redis, keys, logger } = deps;
  const now = deps.now ?? Date.now;
  const key = keys.auditLog();
  return {
    async record(input) {
      const entry = entryOf(input, now());
      // The log line first: a second copy even if Redis fails now.
      logger?.info({ audit: true, ...entry }, `audit: ${entry.action}`);
      await redis.xadd(
        key,
        '*',
        'at',
        entry.at,
        'actor',
        entry.actor,
        'action',
        entry.action,
        'campaignId',
        entry.campaignId,
        'details',
        JSON.stringify(entry.details),
      );
      return entry;
    },

    async read(filter = {}) {
      const out: AuditEntry[] = [];
      let start = filter.sinceMs === undefined ? '-' : String(Math.max(0, Math.floor(filter.sinceMs)));
      for (;;) {
        const page = await redis.xrange(key, start, '+', 'COUNT', PAGE);
        for (const [, fields] of page) {
          const entry = parseFields(fields);
          if (filter.campaignId === undefined || entry.campaignId === filter.campaignId) out.push(entry);
        }
        if (page.length < PAGE) return out;
        start = `(${page[page.length - 1]![0]}`;
      }
    },

    async trim(retentionDays, nowMs) {
      if (!Number.isFinite(retentionDays) || retentionDays < 1)
        throw new AuditError('the audit retention must be at least one day');
      const minId = Math.floor(nowMs - retentionDays * 86_400_000);
      if (minId <= 0) return 0;
      return Number(await redis.xtrim(key, 'MINID', String(minId)));
    },

    async assertWritable() {
      try {
        await redis.xadd(key, '0-0', 'probe', '1');
      } catch (err) {
        if (/must be greater than 0-0/.test((err as Error).message)) return;
        throw err;
      }
      throw new AuditError('the audit probe was stored: the stream refused no id 0-0');
    },
  };
}
