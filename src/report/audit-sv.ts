import type { AuditAction, AuditEntry } from '../audit/audit-log.js';
import type { AuditValue } from '../audit/sanitise.js';
import { formatDateTime, formatInt, shortHash } from './format-sv.js';

/** The report's words for each audit action (the key is shown beside it). */
export const auditActionLabels: Record<AuditAction, string> = {
  approve: 'Meddelandet godkänt',
  enqueue: 'Mottagare inlästa',
  'unit.activate': 'Enheten aktiverad',
  'unit.deactivate': 'Enheten avaktiverad',
  pause: 'Pausat',
  resume: 'Återupptaget',
  cancel: 'Avbrutet',
  'auto-pause': 'Pausat av tjänsten',
  'test-send': 'Testutskick',
  'dlq.redrive': 'Misslyckade skickade igen',
  'dlq.discard': 'Misslyckade avskrivna',
  report: 'Rapport skapad',
  purge: 'Personuppgifter rensade',
  'retention-purge': 'Rensat efter lagringstiden',
  acl: 'Redis-användare för kampanjen',
};

export function auditActionLabel(action: string): string {
  return auditActionLabels[action as AuditAction] ?? action;
}

/** The most characters a details cell shows. */
const maxSummaryChars = 160;

const text = (v: AuditValue | undefined): string =>
  v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
const count = (v: AuditValue | undefined): string => (typeof v === 'number' ? formatInt(v) : '–');
const obj = (v: AuditValue | undefined): Record<string, AuditValue> =>
  v && typeof v === 'object' && !Array.isArray(v) ? v : {};

const enqueueStatus: Record<string, string> = {
  enqueued: 'köat',
  'nothing-new': 'inget nytt',
  'dry-run': 'provkörning, inget skrivet',
  rejected: 'stoppat: ogiltiga rader',
  refused: 'stoppat',
};

function enqueueSummary(d: Record<string, AuditValue>): string {
  const status = enqueueStatus[text(d.status)] ?? text(d.status);
  if (d.status === 'refused') return `${status}: ${text(d.reason)}`;
  const r = obj(d.recipients);
  return (
    `${status}; ${count(r.valid)} giltiga, ${count(r.invalid)} ogiltiga, ${count(r.duplicates)} dubbletter; ` +
    `${count(d.jobs)} jobb i ${count(d.fileCount)} filer${d.paused === true ? '; pausat för test' : ''}`
  );
}

function reportSummary(d: Record<string, AuditValue>): string {
  const files = Array.isArray(d.files) ? d.files.map(text).join(', ') : '';
  return `${files}; ${d.personalData === true ? 'med personnummer (csv)' : 'utan personnummer'}`;
}

const removed = (d: Record<string, AuditValue>) =>
  `${count(d.keysDeleted)} nycklar, ${count(d.jobsRemoved)} jobb och ${count(d.deadLettersRemoved)} dead letters borttagna`;

const summaries: Partial<Record<AuditAction, (d: Record<string, AuditValue>) => string>> = {
  approve: (d) =>
    `innehåll ${shortHash(text(d.contentSha256))}, godkänt ${formatDateTime(text(d.approvedAt))}`,
  enqueue: enqueueSummary,
  'unit.activate': (d) => `${text(d.hsaId)} ${text(d.name)}`,
  'unit.deactivate': (d) => text(d.hsaId),
  pause: (d) => `orsak: ${text(d.reason)}`,
  resume: (d) => `${count(d.promoted)} väntande jobb släppta`,
  cancel: (d) => `orsak: ${text(d.reason)}; ${count(d.cancelled)} mottagare avbrutna`,
  'auto-pause': (d) => `orsak: ${text(d.reason)}`,
  'test-send': (d) => `${count(d.count)} testmottagare`,
  'dlq.redrive': (d) => `${count(d.recipients)} mottagare i ${count(d.jobs)} jobb`,
  'dlq.discard': (d) => `${count(d.recipients)} mottagare`,
  report: reportSummary,
  purge: removed,
  'retention-purge': (d) => `efter ${count(d.retentionDays)} dagar; ${removed(d)}`,
  acl: (d) => `användare ${text(d.user)}`,
};

/** A short Swedish summary of an entry's details (at most 160 characters). */
export function auditDetailsSummary(entry: AuditEntry): string {
  const summary = summaries[entry.action];
  const full = summary
    ? summary(entry.details)
    : Object.entries(entry.details)
        .map(([k, v]) => `${k}: ${text(v)}`)
        .join(', ');
  const chars = [...full];
  return chars.length <= maxSummaryChars ? full : `${chars.slice(0, maxSummaryChars - 1).join('')}…`;
}
