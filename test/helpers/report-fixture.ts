import { createHash } from 'node:crypto';
import type { FinalOutcome } from '../../src/queue/ledger.js';
import { maskPersonnummer } from '../../src/recipients/personnummer.js';
import type { OutcomeCounts, RecipientRow, ReportData, TimelinePoint } from '../../src/report/model.js';
import { syntheticPnr } from './personnummer.js';

/** 2026-03-02 09:00:00 Europe/Stockholm (CET), unix seconds. */
export const fixtureStartSec = 1_772_438_400;

const finalKeys: FinalOutcome[] = [
  'delivered',
  'unreachable',
  'rejected',
  'failed',
  'uncertain',
  'cancelled',
];

/** A deterministic 32-bit generator so fixtures never change between runs. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Spreads the settled outcomes over `durationSec` in `bucketSec` buckets: a ramp
 * at the start and a dip in the middle (as when the platform answers 429), so a
 * chart has something to show. Sums per outcome equal `outcomes`.
 */
export function makeTimeline(
  outcomes: OutcomeCounts,
  startSec = fixtureStartSec,
  durationSec = 600,
  bucketSec = 10,
): TimelinePoint[] {
  const buckets = Math.max(1, Math.ceil(durationSec / bucketSec));
  const weights = Array.from({ length: buckets }, (_, b) => {
    const ramp = Math.min(1, (b + 1) / 4);
    const dip = b >= buckets * 0.45 && b < buckets * 0.55 ? 0.3 : 1;
    return ramp * dip * (0.85 + 0.3 * Math.abs(Math.sin(b * 1.7)));
  });
  const weightSum = weights.reduce((a, b) => a + b, 0);
  const settled: FinalOutcome[] = [];
  for (const key of finalKeys) for (let i = 0; i < outcomes[key]; i++) settled.push(key);
  const rand = lcg(42);
  for (let i = settled.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [settled[i], settled[j]] = [settled[j]!, settled[i]!];
  }
  const points: TimelinePoint[] = weights.map((_, b) => ({
    t: startSec + b * bucketSec,
    counts: { delivered: 0, unreachable: 0, rejected: 0, failed: 0, uncertain: 0, cancelled: 0 },
  }));
  let cumulative = 0;
  let next = 0;
  weights.forEach((w, b) => {
    cumulative += w;
    const until = b === buckets - 1 ? settled.length : Math.round((cumulative / weightSum) * settled.length);
    for (; next < until; next++) points[b]!.counts[settled[next]!]++;
  });
  return points.filter((p) => finalKeys.some((k) => p.counts[k] > 0));
}

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

/** The audit entries of the fixture campaign: approved, enqueued, paused and resumed, (finished:) reported. */
export function fixtureAuditLog(complete = true): ReportData['auditLog'] {
  const campaignId = 'influensa-2026-vc-gottsunda';
  const at = (sec: number) => new Date((fixtureStartSec + sec) * 1000).toISOString();
  return [
    {
      at: at(-400),
      actor: 'Karin Berg',
      action: 'approve',
      campaignId,
      details: { contentSha256: sha('fixture message body'), approvedAt: '2026-02-27T14:12:00+01:00' },
    },
    {
      at: at(-400),
      actor: 'Erik Holm',
      action: 'enqueue',
      campaignId,
      details: {
        status: 'enqueued',
        dryRun: false,
        paused: false,
        skipInvalid: true,
        recipients: { total: 1012, valid: 1000, invalid: 8, duplicates: 4 },
        jobs: 5,
        fileCount: 2,
        files: [
          { name: 'lista-vc-gottsunda.csv', sha256: sha('file one') },
          { name: 'lista-vc-sävja.txt', sha256: sha('file two') },
        ],
      },
    },
    {
      at: at(290),
      actor: 'Drift Olsson',
      action: 'pause',
      campaignId,
      details: { reason: 'kontroll av svarstexter', previous: 'active' },
    },
    { at: at(320), actor: 'Drift Olsson', action: 'resume', campaignId, details: { promoted: 2 } },
    ...(complete
      ? [
          {
            at: at(700),
            actor: 'Erik Holm',
            action: 'report' as const,
            campaignId,
            details: {
              files: ['report.json', 'report.md', 'report.html', 'recipients.csv'],
              personalData: true,
            },
          },
        ]
      : []),
  ];
}

type Overrides = Partial<Omit<ReportData, 'campaign'>> & { campaign?: Partial<ReportData['campaign']> };

/**
 * A realistic finished campaign: 1 012 lines in two files, 1 000 valid
 * recipients, outcomes that add up, ten minutes of 10 s buckets, and a few
 * masked problems. Pass `outcomes` to get a matching timeline and recipients.
 */
export function makeReportData(overrides: Overrides = {}): ReportData {
  const outcomes: OutcomeCounts = overrides.outcomes ?? {
    delivered: 895,
    unreachable: 91,
    rejected: 7,
    failed: 4,
    uncertain: 3,
    cancelled: 0,
    pending: 0,
  };
  const valid = Object.values(outcomes).reduce((a, b) => a + b, 0);
  const settled = valid - outcomes.pending;
  const durationSec = 600;
  const timeline = makeTimeline(outcomes, fixtureStartSec, durationSec, 10);
  const peakPerBucket = Math.max(0, ...timeline.map((p) => finalKeys.reduce((a, k) => a + p.counts[k], 0)));
  const complete = outcomes.pending === 0;
  const badChecksum = syntheticPnr(501).slice(0, 11) + ((Number(syntheticPnr(501).slice(11)) + 1) % 10);
  const problems: ReportData['problems'] = [
    { file: 'lista-vc-gottsunda.csv', line: 17, code: 'CHECKSUM', value: maskPersonnummer(badChecksum) },
    { file: 'lista-vc-gottsunda.csv', line: 42, code: 'FORMAT', value: maskPersonnummer('19850x17-12') },
    { file: 'lista-vc-gottsunda.csv', line: 99, code: 'DATE', value: maskPersonnummer('19851317-1234') },
    {
      file: 'lista-vc-gottsunda.csv',
      line: 230,
      code: 'DUPLICATE',
      value: maskPersonnummer(syntheticPnr(12)),
    },
    {
      file: 'lista-vc-gottsunda.csv',
      line: 388,
      code: 'DUPLICATE',
      value: maskPersonnummer(syntheticPnr(77)),
    },
    { file: 'lista-vc-sävja.txt', line: 3, code: 'FUTURE_DATE', value: maskPersonnummer('20991231-1239') },
    {
      file: 'lista-vc-sävja.txt',
      line: 58,
      code: 'RESERVE_NUMBER',
      value: maskPersonnummer('19850317-T123'),
    },
    { file: 'lista-vc-sävja.txt', line: 101, code: 'CHECKSUM', value: maskPersonnummer(badChecksum) },
  ];
  const base: ReportData = {
    generatedAt: new Date((fixtureStartSec + durationSec + 120) * 1000).toISOString(),
    campaignId: 'influensa-2026-vc-gottsunda',
    campaign: {
      title: 'Erbjudande om vaccination mot influensa',
      targetGroup: 'Listade patienter 65 år och äldre vid Vårdcentralen Gottsunda och Vårdcentralen Sävja',
      orderer: { name: 'Anna Lindqvist', email: 'anna.lindqvist@example.se', phone: '018-611 00 00' },
      sender: { name: 'Karin Berg', title: 'Verksamhetschef', organisation: 'Region Uppsala' },
      unit: { hsaId: 'SE2321000032-1003', name: 'Vårdcentralen Gottsunda' },
      caseHandler: { name: 'Erik Holm' },
      subject: 'Välkommen att vaccinera dig mot influensa',
      regionWide: false,
      approval: {
        approvedBy: 'Karin Berg',
        approvedAt: '2026-02-27T14:12:00+01:00',
        contentSha256: sha('fixture message body'),
      },
      unreachable: 'letter',
      ...overrides.campaign,
    },
    state: complete ? 'done' : 'active',
    complete,
    files: [
      {
        name: 'lista-vc-gottsunda.csv',
        sha256: sha('file one'),
        valid: 600,
        invalid: 3,
        duplicates: 2,
        jobs: 3,
        enqueuedAt: '2026-03-02T08:55:10+01:00',
      },
      {
        name: 'lista-vc-sävja.txt',
        sha256: sha('file two'),
        valid: Math.max(0, valid - 600),
        invalid: 5,
        duplicates: 2,
        jobs: 2,
        enqueuedAt: '2026-03-02T08:56:40+01:00',
      },
    ],
    recipients: { total: valid + 8 + 4, valid, invalid: 8, duplicates: 4 },
    outcomes,
    timing: {
      startedAt: new Date(fixtureStartSec * 1000).toISOString(),
      ...(complete ? { finishedAt: new Date((fixtureStartSec + durationSec) * 1000).toISOString() } : {}),
      durationSec,
      averageRatePerSec: settled / durationSec,
      peakRatePerSec: peakPerBucket / 10,
    },
    message: {
      subject: 'Välkommen att vaccinera dig mot influensa',
      inboxTitle: 'Vaccination',
      body: 'Du som är 65 år eller äldre erbjuds vaccination mot influensa.\n\n## Så bokar du\n\nBoka tid på [1177.se](https://www.1177.se) eller ring oss.\n\n- Telefon: 018-611 00 00\n- Öppet: vardagar 8–16',
      signature: 'Karin Berg, Verksamhetschef, Region Uppsala – Vårdcentralen Gottsunda',
    },
    reasons: [
      ...(outcomes.unreachable > 0
        ? [
            {
              outcome: 'unreachable' as const,
              text: 'Invånaren har inget konto i 1177.',
              count: Math.ceil(outcomes.unreachable * 0.75),
            },
            {
              outcome: 'unreachable' as const,
              text: 'Invånarens konto i 1177 är spärrat.',
              count: outcomes.unreachable - Math.ceil(outcomes.unreachable * 0.75),
            },
          ].filter((r) => r.count > 0)
        : []),
      ...(outcomes.rejected > 0
        ? [
            {
              outcome: 'rejected' as const,
              text: 'Mottagaren saknas i folkbokföringen.',
              count: outcomes.rejected,
            },
          ]
        : []),
    ],
    retries: 37,
    deadLetters: outcomes.failed,
    timeline: { bucketSec: 10, points: timeline, source: 'ledger' },
    latency: { p50Ms: 84, p95Ms: 310, p99Ms: 1240, source: 'prometheus' },
    problems,
    open: complete
      ? [
          `${outcomes.uncertain} mottagare har osäkert utfall och behöver kontrolleras manuellt.`,
          `${outcomes.unreachable} mottagare ska få brev.`,
        ]
      : [`${outcomes.pending} mottagare väntar på att skickas.`],
    auditLog: fixtureAuditLog(complete),
  };
  const { campaign: _campaign, ...rest } = overrides;
  return { ...base, ...rest };
}

/** The outcome the default row generator gives recipient `i`. */
export function defaultRowOutcome(i: number): RecipientRow['outcome'] {
  if (i % 10 === 3) return 'unreachable';
  if (i % 50 === 7) return 'failed';
  if (i % 100 === 9) return 'uncertain';
  if (i % 200 === 11) return 'pending';
  if (i % 250 === 13) return 'inflight';
  return 'delivered';
}

export interface MakeRowsOptions {
  campaignId?: string;
  outcomeOf?: (i: number) => RecipientRow['outcome'];
}

/** `n` recipient rows with synthetic personnummer, streamed (never an n-element array). */
export async function* makeRows(n: number, options: MakeRowsOptions = {}): AsyncGenerator<RecipientRow> {
  const campaignId = options.campaignId ?? 'influensa-2026-vc-gottsunda';
  const outcomeOf = options.outcomeOf ?? defaultRowOutcome;
  for (let i = 0; i < n; i++) {
    const outcome = outcomeOf(i);
    const settled = outcome !== 'pending' && outcome !== 'inflight';
    yield {
      pnr: syntheticPnr(i),
      outcome,
      ...(settled ? { at: new Date((fixtureStartSec + Math.floor(i / 2)) * 1000).toISOString() } : {}),
      messageId: `${campaignId}-${i.toString(36).padStart(6, '0')}`,
    };
  }
}
