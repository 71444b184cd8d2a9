/**
 * The projection for a national campaign, from figures measured in the same
 * bench run: Redis memory, ingest time and memory, delivery time at the
 * platform's rate, and workers needed.
 */
import { markdownTable } from './report.js';

export interface ProjectionInput {
  residents: number;
  /**
   * Largest measured ingest: size, bytes/queued recipient, µs/recipient, peak
   * RSS MiB (as compiled JS: less the tsx loader) and how much of it the
   * ingest itself added (peak minus before the first read).
   */
  ingest: {
    size: number;
    queuedBytes: number;
    microsPerRecipient: number;
    rssMiB: number;
    growthMiB: number;
  };
  /** Largest measured delivery: per recipient, and BullMQ bytes per job when every job is kept. */
  delivered?: { size: number; ledgerBytes: number; chunkBytes: number; bullmqBytesPerJob: number };
  /** Messages/s of one and of two workers with no limit and a simulator answering at once. */
  oneWorkerRate?: number;
  twoWorkerRate?: number;
  /** Recipients one worker works on at once (jobs × calls per job). */
  inFlightPerWorker: number;
  /** Calls one worker has on the wire at most: one per inbox connection. */
  connectionsPerWorker: number;
  /** Completed jobs BullMQ keeps (removeOnComplete count). */
  keptJobs: number;
  jobSize: number;
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const size = (bytes: number) =>
  bytes >= GiB ? `${(bytes / GiB).toFixed(2)} GiB` : `${(bytes / MiB).toFixed(0)} MiB`;
const hours = (s: number) => (s / 3600).toFixed(1);
const int = (n: number) => Math.round(n).toLocaleString('en-US');

export function projection(p: ProjectionInput): string {
  const n = p.residents;
  const jobs = Math.ceil(n / p.jobSize);
  const lines: string[] = [];
  lines.push(
    `For ${int(n)} residents (${int(jobs)} jobs of ${p.jobSize}), from this run's figures; every line scales a measured per-recipient cost linearly, which the scale rows above support.`,
    '',
  );

  const memRows: string[][] = [];
  const queued = p.ingest.queuedBytes * n;
  memRows.push([
    'all enqueued, nothing sent',
    size(queued),
    `${p.ingest.queuedBytes.toFixed(1)} bytes/recipient measured at ${int(p.ingest.size)}`,
  ]);
  if (p.delivered) {
    const d = p.delivered;
    const ledger = d.ledgerBytes * n;
    const after = (d.ledgerBytes + d.chunkBytes) * n + Math.min(jobs, p.keptJobs) * d.bullmqBytesPerJob;
    memRows.push([
      'all delivered (until the campaign is purged)',
      size(after),
      `ledger ${d.ledgerBytes.toFixed(1)} + sealed chunks ${d.chunkBytes.toFixed(1)} bytes/recipient (measured at ${int(d.size)}), ` +
        `plus ${int(Math.min(jobs, p.keptJobs))} kept completed jobs × ${int(d.bullmqBytesPerJob)} bytes`,
    ]);
    memRows.push([
      'peak, upper bound (everything queued plus a full ledger)',
      size(queued + ledger),
      'the ledger grows as jobs complete and their job data go',
    ]);
  }
  lines.push('**Redis memory**', '', markdownTable(['state', 'Redis memory', 'from'], memRows), '');

  const ingestS = (p.ingest.microsPerRecipient * n) / 1e6;
  const perMillion = (p.ingest.growthMiB / p.ingest.size) * 1e6;
  const projected = p.ingest.rssMiB - p.ingest.growthMiB + (p.ingest.growthMiB / p.ingest.size) * n;
  const rss =
    `${p.ingest.rssMiB.toFixed(0)} MiB at ${int(p.ingest.size)}, of which the ingest added ${p.ingest.growthMiB.toFixed(0)} MiB ` +
    `(${perMillion.toFixed(0)} MiB per million); the same growth per recipient gives about ${int(projected)} MiB for one enqueue of all ${int(n)}`;
  lines.push(
    '**Ingest**',
    '',
    `- One enqueue of all of them: about ${(ingestS / 60).toFixed(1)} min at the measured ${p.ingest.microsPerRecipient.toFixed(2)} µs/recipient; peak RSS (compiled JS, i.e. less the tsx loader) ${rss}.`,
    "- Enqueueing in parts (e.g. ten runs of one million) keeps each run near the 1M figure in time, but every later run reads the campaign's stored chunks back " +
      'to find duplicates across runs (one Set entry per earlier recipient), so its memory grows with what is already enqueued; not measured here.',
    '',
  );

  const rateRows = [50, 200, 1000].map((rate) => {
    const s = n / rate;
    return [`${rate}/s`, `${hours(s)} h`, `${(s / 86_400).toFixed(1)}`, `${(s / 36_000).toFixed(1)}`];
  });
  lines.push(
    "**Delivery time at the platform's rate** (the global limit is the bottleneck, not the workers)",
    '',
    markdownTable(
      ['global rate', 'sending time', 'days, sending around the clock', 'days in a 10-hour sending window'],
      rateRows,
    ),
    '',
  );

  if (p.oneWorkerRate) {
    const perWorker = p.oneWorkerRate;
    const workerRows = [50, 200, 1000].map((rate) => {
      const byCpu = Math.ceil(rate / (perWorker * 0.5));
      // Little's law: calls on the wire = rate x answer time.
      const onWire = (latencyMs: number) => Math.ceil((rate * latencyMs) / 1000);
      const workers = Math.max(2, byCpu);
      const perWorkerAt1s = Math.ceil(onWire(1000) / workers);
      return [
        `${rate}/s`,
        String(byCpu),
        String(onWire(200)),
        String(onWire(1000)),
        `${workers} × ${Math.max(p.connectionsPerWorker, perWorkerAt1s)}` +
          (perWorkerAt1s > p.inFlightPerWorker ? ' (and WORKER_CONCURRENCY × CALLS_PER_JOB ≥ that)' : ''),
      ];
    });
    lines.push(
      '**Workers needed**',
      '',
      `Measured: one worker ${int(perWorker)} messages/s${p.twoWorkerRate ? `, two ${int(p.twoWorkerRate)}/s` : ''} with no limit and a simulator that answers at once ` +
        `(on this machine, sharing its CPUs with Redis and the simulator). CPU is rarely what binds: a worker has at most INBOX_CONNECTIONS ` +
        `(${p.connectionsPerWorker}) calls on the wire and WORKER_CONCURRENCY × CALLS_PER_JOB (${p.inFlightPerWorker}) recipients at once, so against a platform ` +
        `that answers in L seconds it tops out near ${p.connectionsPerWorker}/L calls/s, and all workers together need rate × L calls on the wire. ` +
        'Sized with 50% CPU headroom and at least two workers for availability:',
      '',
      markdownTable(
        [
          'global rate',
          'workers by CPU (50% of measured)',
          'calls on the wire, 200 ms answers',
          'calls on the wire, 1 s answers',
          'workers × INBOX_CONNECTIONS for 1 s answers',
        ],
        workerRows,
      ),
      '',
    );
  }
  return lines.join('\n');
}
