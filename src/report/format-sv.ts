import type { ProblemCode } from '../recipients/personnummer.js';
import type { OutcomeCounts, ReportData } from './model.js';

/**
 * The Swedish words and number/time formats every report format shares, so the
 * markdown, the HTML page and the CSV legends say the same thing.
 */

export type OutcomeKey = keyof OutcomeCounts;

/** Display order: what went well first, what is still open last. */
export const outcomeOrder = [
  'delivered',
  'unreachable',
  'rejected',
  'failed',
  'uncertain',
  'cancelled',
  'pending',
] as const satisfies readonly OutcomeKey[];

export const outcomeLabels: Record<OutcomeKey, string> = {
  delivered: 'Levererade',
  unreachable: 'Ej möjliga mottagare',
  rejected: 'Avvisade',
  failed: 'Misslyckade',
  uncertain: 'Osäkra',
  cancelled: 'Avbrutna',
  pending: 'Ej klara',
};

/** One plain sentence per outcome for a reader who has never seen the system. */
export const outcomeExplanations: Record<OutcomeKey, string> = {
  delivered: 'Meddelandet finns i mottagarens inkorg i 1177.',
  unreachable:
    'Har inget konto i 1177, eller kontot är spärrat (plattformen svarade INFO). Kan behöva nås med brev.',
  rejected:
    'Plattformen tog inte emot meddelandet (svarade ERROR, ett logiskt fel). Skickas inte om automatiskt.',
  failed: 'Gick inte att skicka trots nya försök.',
  uncertain:
    'Oklart om meddelandet kom fram (ett avbrott mitt i anropet, eller ett svar som inte följde kontraktet). Kontrolleras manuellt innan det skickas igen.',
  cancelled: 'Skickades aldrig eftersom utskicket avbröts.',
  pending: 'Är ännu inte skickade.',
};

/** Okabe–Ito based: distinguishable with the common colour-vision deficiencies. */
export const outcomeColours: Record<OutcomeKey, string> = {
  delivered: '#009E73',
  unreachable: '#E69F00',
  rejected: '#CC79A7',
  failed: '#D55E00',
  uncertain: '#56B4E9',
  cancelled: '#6B6B6B',
  pending: '#C9D3DF',
};

export const problemLabels: Record<ProblemCode, string> = {
  FORMAT: 'Felaktigt format',
  CHECKSUM: 'Fel kontrollsiffra',
  DATE: 'Ogiltigt datum',
  FUTURE_DATE: 'Datum i framtiden',
  COORDINATION_NUMBER: 'Samordningsnummer (inte tillåtet i utskicket)',
  RESERVE_NUMBER: 'Reservnummer',
  DUPLICATE: 'Dubblett',
};

const stateLabels: Record<string, string> = {
  active: 'pågår',
  paused: 'pausat',
  cancelled: 'avbrutet',
  done: 'klart',
};

export function stateLabel(state: string): string {
  return stateLabels[state] ?? state;
}

export const timeZone = 'Europe/Stockholm';

const integerFormat = new Intl.NumberFormat('sv-SE', { maximumFractionDigits: 0 });
const decimalFormat = new Intl.NumberFormat('sv-SE', { maximumFractionDigits: 1 });
const percentFormat = new Intl.NumberFormat('sv-SE', { style: 'percent', maximumFractionDigits: 1 });
const dateTimeFormat = new Intl.DateTimeFormat('sv-SE', {
  timeZone,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

const offsetFormat = new Intl.DateTimeFormat('en-US', {
  timeZone,
  hourCycle: 'h23',
  year: 'numeric',
  month: 'numeric',
  day: 'numeric',
  hour: 'numeric',
  minute: 'numeric',
  second: 'numeric',
});

/** Seconds Stockholm is ahead of UTC at unix time `t`. */
export function stockholmOffsetSec(t: number): number {
  const parts = offsetFormat.formatToParts(t * 1000);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const local = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  return Math.round(local / 1000 - Math.floor(t));
}

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/**
 * A fast `formatDateTime` for row files (a million calls): the zone offset is
 * looked up once per UTC hour, which is exact because Stockholm's offset only
 * changes on whole UTC hours.
 */
export function createLocalTimeFormatter(): (iso: string | undefined) => string {
  const offsets = new Map<number, number>();
  let lastIso = '';
  let lastText = '';
  return (iso) => {
    if (iso === undefined || iso === '') return '';
    if (iso === lastIso) return lastText;
    const ms = Date.parse(iso);
    if (Number.isNaN(ms)) return iso;
    const hour = Math.floor(ms / 3_600_000);
    let offsetSec = offsets.get(hour);
    if (offsetSec === undefined) {
      if (offsets.size >= 4096) offsets.clear();
      offsetSec = stockholmOffsetSec(Math.floor(ms / 1000));
      offsets.set(hour, offsetSec);
    }
    const d = new Date(ms + offsetSec * 1000);
    lastIso = iso;
    lastText =
      `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
      `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
    return lastText;
  };
}

/** `1 234` (sv-SE groups with a no-break space). */
export function formatInt(n: number): string {
  return integerFormat.format(n);
}

/** `12,5` */
export function formatDecimal(n: number): string {
  return decimalFormat.format(n);
}

/** `81,2 %`; a share of nothing is shown as a dash. */
export function formatShare(part: number, whole: number): string {
  return whole > 0 ? percentFormat.format(part / whole) : '–';
}

/** `2026-03-02 14:05:07` in Swedish local time; an unparseable value is returned as given. */
export function formatDateTime(iso: string | undefined): string {
  if (iso === undefined || iso === '') return '–';
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : dateTimeFormat.format(ms);
}

/** `1 tim 3 min 5 s`. */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '–';
  let s = Math.max(0, Math.round(seconds));
  const days = Math.floor(s / 86_400);
  s -= days * 86_400;
  const hours = Math.floor(s / 3600);
  s -= hours * 3600;
  const minutes = Math.floor(s / 60);
  s -= minutes * 60;
  const parts: string[] = [];
  if (days > 0) parts.push(`${days} d`);
  if (hours > 0) parts.push(`${hours} tim`);
  if (minutes > 0) parts.push(`${minutes} min`);
  if (s > 0 || parts.length === 0) parts.push(`${s} s`);
  return parts.join(' ');
}

export function formatRate(perSec: number | undefined): string {
  return perSec === undefined || !Number.isFinite(perSec) ? '–' : `${formatDecimal(perSec)} meddelanden/s`;
}

export function shortHash(sha256: string): string {
  return sha256.slice(0, 12);
}

export function totalOutcomes(outcomes: OutcomeCounts): number {
  let sum = 0;
  for (const key of outcomeOrder) sum += outcomes[key];
  return sum;
}

/**
 * Problem values arrive masked from the collector; this keeps a report safe if
 * one ever does not: any run that looks like a full personnummer loses its
 * serial and check digit.
 */
export function maskDigitRuns(value: string): string {
  return value.replace(/(?<!\d)(\d{6}(?:\d{2})?)[-+]?\d{4}(?!\d)/g, '$1-****');
}

/** The sentence that opens the report while something is still not settled. */
export function incompleteNotice(data: ReportData): string | undefined {
  if (data.complete) return undefined;
  const left = data.outcomes.pending;
  return (
    `Utskicket är inte klart (status: ${stateLabel(data.state)}${data.stateReason ? `, ${data.stateReason}` : ''}). ` +
    `${formatInt(left)} av ${formatInt(data.recipients.valid)} mottagare har ännu inget slutligt utfall. ` +
    'Siffrorna nedan gäller när rapporten skapades och kan ändras.'
  );
}

/** One labelled line of the report; `code` marks a value shown in a fixed-width font (ids, hashes). */
export interface Fact {
  label: string;
  value: string;
  code?: boolean;
}

/** The plain-language summary: a few sentences, same in every format. */
export function summarySentences(data: ReportData): string[] {
  const o = data.outcomes;
  const whole = totalOutcomes(o);
  const n = (v: number) => `${formatInt(v)} (${formatShare(v, whole)})`;
  const out: string[] = [];
  out.push(
    `Mottagarfilerna innehöll ${formatInt(data.recipients.total)} rader: ${formatInt(data.recipients.valid)} giltiga mottagare, ` +
      `${formatInt(data.recipients.invalid)} ogiltiga och ${formatInt(data.recipients.duplicates)} dubbletter.`,
  );
  out.push(`${n(o.delivered)} av ${formatInt(whole)} mottagare har fått meddelandet i sin inkorg i 1177.`);
  if (o.unreachable > 0) {
    out.push(
      `${n(o.unreachable)} kunde inte nås i 1177 (inget konto i 1177, eller kontot spärrat)` +
        (data.campaign.unreachable === 'letter'
          ? ' och ska få brev enligt beställningen.'
          : '. Enligt beställningen skickas inget brev till dem.'),
    );
  }
  const notSent = o.rejected + o.failed;
  if (notSent > 0) out.push(`${n(notSent)} kunde inte skickas (avvisade eller misslyckade).`);
  if (o.uncertain > 0) out.push(`${n(o.uncertain)} är osäkra och behöver kontrolleras manuellt.`);
  if (o.cancelled > 0) out.push(`${n(o.cancelled)} skickades inte eftersom utskicket avbröts.`);
  if (o.pending > 0) out.push(`${n(o.pending)} är ännu inte klara.`);
  return out;
}

export function aboutFacts(data: ReportData): Fact[] {
  const c = data.campaign;
  const contact = [c.orderer.email, c.orderer.phone].filter((v): v is string => !!v).join(', ');
  const facts: Fact[] = [
    { label: 'Beställare', value: contact ? `${c.orderer.name} (${contact})` : c.orderer.name },
    { label: 'Avsändare', value: `${c.sender.name}, ${c.sender.title}, ${c.sender.organisation}` },
    { label: 'Vårdenhet', value: c.unit.name },
    { label: 'Vårdenhetens HSA-id', value: c.unit.hsaId, code: true },
    { label: 'Handläggare', value: c.caseHandler.name },
    { label: 'Ärendets rubrik', value: c.subject },
    { label: 'Målgrupp', value: c.targetGroup },
    { label: 'Regionövergripande utskick', value: c.regionWide ? 'Ja' : 'Nej' },
    {
      label: 'Ej möjliga mottagare',
      value: c.unreachable === 'letter' ? 'Får brev (brevlista skapas)' : 'Inget brev',
    },
    { label: 'Godkänt av', value: c.approval.approvedBy },
    { label: 'Godkänt', value: formatDateTime(c.approval.approvedAt) },
    { label: 'Innehållets kontrollsumma (SHA-256)', value: c.approval.contentSha256, code: true },
  ];
  if (c.approval.platformApprovalRef !== undefined) {
    facts.push({ label: 'Plattformens godkännande (referens)', value: c.approval.platformApprovalRef });
  }
  facts.push({ label: 'Kampanj-id', value: data.campaignId, code: true });
  return facts;
}

export function timingFacts(data: ReportData): Fact[] {
  const t = data.timing;
  const facts: Fact[] = [
    { label: 'Start', value: formatDateTime(t.startedAt) },
    { label: 'Slut', value: t.finishedAt ? formatDateTime(t.finishedAt) : 'Inte klart' },
    { label: 'Tid', value: formatDuration(t.durationSec) },
    { label: 'Genomsnittlig takt', value: formatRate(t.averageRatePerSec) },
    { label: 'Högsta takt', value: formatRate(t.peakRatePerSec) },
    { label: 'Omförsök (anrop utöver det första)', value: formatInt(data.retries) },
    { label: 'Jobb som lagts åt sidan (dead letters)', value: formatInt(data.deadLetters) },
  ];
  if (data.latency) {
    const l = data.latency;
    facts.push({
      label: 'Svarstid från 1177 (median / 95 % / 99 %)',
      value: `${formatInt(l.p50Ms)} / ${formatInt(l.p95Ms)} / ${formatInt(l.p99Ms)} ms`,
    });
  }
  return facts;
}

/** Problems per code, most common first. */
export function problemCounts(data: ReportData): { code: ProblemCode; count: number }[] {
  const counts = new Map<ProblemCode, number>();
  for (const p of data.problems) counts.set(p.code, (counts.get(p.code) ?? 0) + 1);
  return [...counts].map(([code, count]) => ({ code, count })).sort((a, b) => b.count - a.count);
}

/** Reports list at most this many problem lines; report.json keeps them all. */
export const maxProblemLines = 500;

export const privacyNote =
  'Rapporten innehåller inga personnummer. Listan över mottagare med personnummer finns i en separat fil som bara ägaren kan läsa.';
