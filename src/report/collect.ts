import type { Redis } from 'ioredis';
import { createAuditLog } from '../audit/audit-log.js';
import { residentMessage } from '../campaign/message.js';
import { createCampaignStore, type StoredCampaign, type StoredFile } from '../queue/campaign-store.js';
import { iterateChunks } from '../queue/chunks.js';
import type { Keyring } from '../queue/keyring.js';
import type { Keys } from '../queue/keys.js';
import { decodeLedger, type FinalOutcome, finalOutcomes, isFinal, readReasons } from '../queue/ledger.js';
import type { OutcomeCounts, ReasonCount, RecipientRow, ReportData, TimelinePoint } from './model.js';
import type { PrometheusSeries } from './prometheus.js';

export class ReportError extends Error {
  readonly code = 'REPORT';
}

export interface CollectDeps {
  redis: Redis;
  keys: Keys;
  /** Dead-lettered recipients of the campaign (from the dead-letter queue). */
  deadLetters: (campaignId: string) => Promise<number>;
  /** Send-rate and latency series from Prometheus, when PROMETHEUS_URL is set. */
  prometheus?: PrometheusSeries;
  now?: () => number;
}

/** Reads every chunk's ledger, batched; yields chunk id with its decoded slots. */
async function* ledgers(redis: Redis, keys: Keys, id: string, chunks: Map<string, number>, batch = 500) {
  const ids = [...chunks.keys()].sort();
  for (let i = 0; i < ids.length; i += batch) {
    const part = ids.slice(i, i + batch);
    const pipeline = redis.pipeline();
    for (const chunkId of part) pipeline.getBuffer(keys.ledger(id, chunkId));
    const replies = (await pipeline.exec()) ?? [];
    for (let j = 0; j < part.length; j++) {
      const [err, buf] = replies[j] ?? [];
      if (err) throw err;
      yield {
        chunkId: part[j]!,
        slots: decodeLedger((buf as Buffer | null) ?? null, chunks.get(part[j]!) ?? 0),
      };
    }
  }
}

/** The reason text of a ledger reason id. */
function reasonText(dictionary: Map<number, string>, id: number): string {
  return (id === 0 ? undefined : dictionary.get(id)) ?? '(ingen text)';
}

function niceBucket(durationSec: number): number {
  const target = durationSec / 60;
  for (const b of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400])
    if (b >= target) return b;
  return 86400;
}

const zero = (): Record<FinalOutcome, number> =>
  Object.fromEntries(finalOutcomes.map((o) => [o, 0])) as Record<FinalOutcome, number>;

/** What one pass over a campaign's ledgers counts. */
interface LedgerTally {
  counts: Record<FinalOutcome, number>;
  byReason: Map<string, ReasonCount>;
  /** Recipients without a final outcome yet. */
  pending: number;
  retries: number;
  /** First and last second (Unix) a sent outcome was recorded; first is +Infinity when none was. */
  first: number;
  last: number;
  /** Sent outcomes per second (Unix). */
  perSecond: Map<number, Record<FinalOutcome, number>>;
}

async function tallyLedgers(
  redis: Redis,
  keys: Keys,
  campaignId: string,
  chunks: Map<string, number>,
): Promise<LedgerTally> {
  const counts = zero();
  const byReason = new Map<string, ReasonCount>();
  const dictionary = await readReasons(redis, keys, campaignId);
  let pending = 0;
  let retries = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  const perSecond = new Map<number, Record<FinalOutcome, number>>();
  for await (const { slots } of ledgers(redis, keys, campaignId, chunks)) {
    for (const s of slots) {
      if (s.calls > 1) retries += s.calls - 1;
      if (!isFinal(s.state)) {
        pending++;
        continue;
      }
      counts[s.state]++;
      if (s.state === 'unreachable' || s.state === 'rejected') {
        const text = reasonText(dictionary, s.reason);
        const key = `${s.state}\u0000${text}`;
        const entry = byReason.get(key) ?? { outcome: s.state, text, count: 0 };
        entry.count++;
        byReason.set(key, entry);
      }
      if (s.at > 0 && s.state !== 'cancelled') {
        first = Math.min(first, s.at);
        last = Math.max(last, s.at);
        let sec = perSecond.get(s.at);
        if (!sec) {
          sec = zero();
          perSecond.set(s.at, sec);
        }
        sec[s.state]++;
      }
    }
  }
  return { counts, byReason, pending, retries, first, last, perSecond };
}

/** The most outcomes recorded in any one second. */
function peakPerSecond(perSecond: Map<number, Record<FinalOutcome, number>>): number {
  let peak = 0;
  for (const sec of perSecond.values())
    peak = Math.max(
      peak,
      finalOutcomes.reduce((n, o) => n + sec[o], 0),
    );
  return peak;
}

/** The per-second counts summed into buckets of bucketSec, in time order. */
function ledgerTimeline(
  perSecond: Map<number, Record<FinalOutcome, number>>,
  bucketSec: number,
): TimelinePoint[] {
  const buckets = new Map<number, TimelinePoint>();
  for (const [t, sec] of perSecond) {
    const start = t - (t % bucketSec);
    let p = buckets.get(start);
    if (!p) {
      p = { t: start, counts: zero() };
      buckets.set(start, p);
    }
    for (const o of finalOutcomes) p.counts[o] += sec[o];
  }
  return [...buckets.values()].sort((a, b) => a.t - b.t);
}

/** What is still open: recipients without an outcome, dead letters, uncertain ones. */
function openItems(pending: number, deadLetters: number, uncertain: number): string[] {
  const open: string[] = [];
  if (pending > 0)
    open.push(`${pending} mottagare har ännu inget slutligt utfall (utskicket pågår eller är pausat).`);
  if (deadLetters > 0)
    open.push(`${deadLetters} mottagare ligger i kön för misslyckade (dead letters) och kan skickas om.`);
  if (uncertain > 0) open.push(`${uncertain} mottagare är osäkra och behöver kontrolleras manuellt.`);
  return open;
}

function campaignSummary(d: StoredCampaign['definition']): ReportData['campaign'] {
  const approval = d.approval!;
  return {
    title: d.title,
    targetGroup: d.targetGroup,
    orderer: d.orderer,
    sender: d.sender,
    unit: d.unit,
    caseHandler: d.caseHandler,
    subject: d.message.subject,
    regionWide: d.regionWide,
    approval: {
      approvedBy: approval.approvedBy,
      approvedAt: approval.approvedAt,
      contentSha256: approval.contentSha256,
      ...(approval.platformApprovalRef ? { platformApprovalRef: approval.platformApprovalRef } : {}),
    },
    unreachable: d.unreachable,
  };
}

function fileSummaries(files: StoredFile[]): ReportData['files'] {
  return files.map((f) => ({
    name: f.name,
    sha256: f.sha256,
    valid: f.valid,
    invalid: f.invalid,
    duplicates: f.duplicates,
    jobs: f.chunks.length,
    enqueuedAt: f.enqueuedAt,
  }));
}

/**
 * Builds the follow-up report's figures. Counts come from the ledger's slot
 * records (one per valid recipient), so they add up to the valid recipients
 * by construction; Prometheus only adds the rate curve and latency percentiles.
 */
export async function collectReport(deps: CollectDeps, campaignId: string): Promise<ReportData> {
  const { redis, keys } = deps;
  const store = createCampaignStore(redis, keys);
  const stored = await store.get(campaignId);
  if (!stored)
    throw new ReportError(`no campaign with id ${campaignId} in Redis (check the id, or it was purged)`);
  const [files, problems, chunks, auditLog] = await Promise.all([
    store.files(campaignId),
    store.problems(campaignId),
    store.chunks(campaignId),
    createAuditLog({ redis, keys }).read({ campaignId }),
  ]);

  const { counts, byReason, pending, retries, first, last, perSecond } = await tallyLedgers(
    redis,
    keys,
    campaignId,
    chunks,
  );
  const outcomes: OutcomeCounts = { ...counts, pending };
  const sent = finalOutcomes.reduce((n, o) => n + (o === 'cancelled' ? 0 : counts[o]), 0);
  const started = Number.isFinite(first);
  const durationSec = started ? last - first + 1 : undefined;
  const peak = peakPerSecond(perSecond);

  const bucketSec = niceBucket(durationSec ?? 60);
  let timeline: ReportData['timeline'] = {
    bucketSec,
    points: ledgerTimeline(perSecond, bucketSec),
    source: 'ledger',
  };
  let latency: ReportData['latency'];
  if (deps.prometheus && started) {
    const fromProm = await deps.prometheus.fetch(campaignId, first, last + 1, bucketSec);
    if (fromProm.points.length > 0) timeline = { bucketSec, points: fromProm.points, source: 'prometheus' };
    latency = fromProm.latency;
  }

  const deadLetters = await deps.deadLetters(campaignId);
  const complete = pending === 0;
  const state = stored.state === 'active' && complete ? 'done' : stored.state;
  const open = openItems(pending, deadLetters, counts.uncertain);
  const d = stored.definition;
  return {
    generatedAt: new Date(deps.now?.() ?? Date.now()).toISOString(),
    campaignId,
    campaign: campaignSummary(d),
    state,
    ...(stored.stateReason && state !== 'active' && state !== 'done'
      ? { stateReason: stored.stateReason }
      : {}),
    complete,
    files: fileSummaries(files),
    recipients: stored.recipients,
    outcomes,
    timing: started
      ? {
          startedAt: new Date(first * 1000).toISOString(),
          ...(complete ? { finishedAt: new Date(last * 1000).toISOString() } : {}),
          durationSec,
          averageRatePerSec: durationSec ? sent / durationSec : 0,
          peakRatePerSec: peak,
        }
      : {},
    message: residentMessage(d),
    reasons: [...byReason.values()].sort((a, b) => b.count - a.count || a.text.localeCompare(b.text, 'sv')),
    retries,
    deadLetters,
    timeline,
    ...(latency ? { latency } : {}),
    problems,
    open,
    auditLog,
  };
}

/** Every recipient with its outcome, streamed chunk by chunk (decrypted in memory only). */
export async function* recipientRows(
  redis: Redis,
  keys: Keys,
  keyring: Keyring,
  campaignId: string,
): AsyncGenerator<RecipientRow> {
  const chunks = await createCampaignStore(redis, keys).chunks(campaignId);
  const dictionary = await readReasons(redis, keys, campaignId);
  const ids = [...chunks.keys()].sort();
  for await (const { chunkId, numbers } of iterateChunks(redis, keys, keyring, campaignId, ids)) {
    const slots = decodeLedger(await redis.getBuffer(keys.ledger(campaignId, chunkId)), numbers.length);
    for (let i = 0; i < numbers.length; i++) {
      const s = slots[i]!;
      yield {
        pnr: numbers[i]!,
        outcome: s.state,
        ...(s.at > 0 ? { at: new Date(s.at * 1000).toISOString() } : {}),
        messageId: `${campaignId}.${chunkId}.${i}`,
        ...(s.state === 'unreachable' || s.state === 'rejected'
          ? { reason: reasonText(dictionary, s.reason) }
          : {}),
      };
    }
  }
}
