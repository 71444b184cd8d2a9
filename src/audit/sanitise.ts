/**
 * The guard every audit entry passes before it is stored or logged: no
 * personnummer, password or message text may reach the audit trail, which
 * outlives the campaign's purge by years.
 *
 * - Every string is made printable (control, bidirectional and line-separator
 *   characters as `\x1b`/`\u202e` escapes), cut to `maxStringChars`, and every
 *   run of 6 or more digits (with a following `-`, `+` or blank and four more
 *   digits, as in a personnummer) is masked with `*`. Two shapes are kept as
 *   they are: a whole string that is a SHA-256 in hex, and the ten-digit
 *   organisation number right after `SE` in an HSA-id (SE2321000032-1003).
 * - Keys that name secrets or personal data (`password`, `pnr`, `body`,
 *   `numbers`…) are omitted; their names are listed in `omitted`.
 * - The object stays small: at most `maxKeys` keys per object, `maxItems`
 *   items per array and `maxDepth` levels; anything else (functions,
 *   undefined, non-finite numbers) is dropped.
 */

import { printableName } from '../recipients/printable.js';

export type AuditValue = string | number | boolean | null | AuditValue[] | { [key: string]: AuditValue };
export type AuditDetails = { [key: string]: AuditValue };

export const auditLimits = {
  maxStringChars: 200,
  maxKeys: 30,
  maxItems: 50,
  maxDepth: 4,
} as const;

/** Key names whose values are never stored: secrets, personal data, message text. */
const sensitiveKey =
  /pass(word|phrase)?|secret|token|credential|pnr|personnummer|samordningsnummer|subjectofcare|ssn|^body$|^msg$|^message$|^text$|^numbers?$|^recipientlist$/i;

const keyShape = /^[A-Za-z][A-Za-z0-9_.-]{0,39}$/;

const sha256Hex = /^[0-9a-f]{64}$/i;
/** The organisation number of an HSA-id (SE2321000032-1003): ten digits after SE, a dash, a short suffix. Not personal. */
const hsaOrgNumber = /^\d{10}(?:-\d{4})?$/;

/**
 * Every run of 6 or more digits masked with `*` (a personnummer's date and,
 * when it follows with `-`, `+` or a blank, its last four digits too).
 */
export function maskDigitRunsAudit(value: string): string {
  return value.replace(/(?<!\d)\d{6,}(?:[-+ ]\d{4}(?!\d))?/g, (m, offset: number) =>
    value.slice(offset - 2, offset) === 'SE' && hsaOrgNumber.test(m) && value[offset + 10] === '-'
      ? m
      : m.replace(/\d/g, '*'),
  );
}

function cut(value: string, max: number): string {
  const chars = [...value];
  return chars.length <= max ? value : `${chars.slice(0, max - 1).join('')}…`;
}

/** One string as the audit trail may hold it: printable, masked, at most `maxStringChars`. */
export function auditString(value: string): string {
  if (sha256Hex.test(value)) return value.toLowerCase();
  return cut(printableName(maskDigitRunsAudit(value)), auditLimits.maxStringChars);
}

export function isSensitiveKey(key: string): boolean {
  return sensitiveKey.test(key);
}

function guardValue(value: unknown, depth: number, omitted: Set<string>): AuditValue | undefined {
  if (value === null) return null;
  if (typeof value === 'string') return auditString(value);
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (depth >= auditLimits.maxDepth) return undefined;
  if (Array.isArray(value)) {
    const items = value.slice(0, auditLimits.maxItems).map((v) => guardValue(v, depth + 1, omitted));
    return items.filter((v): v is AuditValue => v !== undefined);
  }
  if (typeof value === 'object') return guardObject(value as Record<string, unknown>, depth + 1, omitted);
  return undefined;
}

function guardObject(
  value: Record<string, unknown>,
  depth: number,
  omitted: Set<string>,
): { [key: string]: AuditValue } {
  const out: { [key: string]: AuditValue } = {};
  let kept = 0;
  for (const [key, v] of Object.entries(value)) {
    if (!keyShape.test(key) || isSensitiveKey(key)) {
      omitted.add(keyShape.test(key) ? key : auditString(key).slice(0, 40));
      continue;
    }
    if (kept >= auditLimits.maxKeys) break;
    const guarded = guardValue(v, depth, omitted);
    if (guarded === undefined) continue;
    out[key] = guarded;
    kept++;
  }
  return out;
}

/**
 * The details of an entry as they may be stored (see the module comment);
 * `omitted` names the keys that were left out for what they name.
 */
export function guardDetails(details: Record<string, unknown> | undefined): AuditDetails {
  const omitted = new Set<string>();
  const out = guardObject(details ?? {}, 0, omitted);
  if (omitted.size > 0) out.omitted = [...omitted].sort();
  return out;
}
