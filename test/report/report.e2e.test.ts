import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEntry } from '../../scripts/lib/processes.js';
import type { DeliveryWorker } from '../../src/dispatch/runtime.js';
import { createKeys } from '../../src/queue/keys.js';
import { createLedger, finalOutcomes } from '../../src/queue/ledger.js';
import { collectReport } from '../../src/report/collect.js';
import { createPrometheusSeries } from '../../src/report/prometheus.js';
import { enqueueNumbers, makeCampaign, startWorker, tempDir, testEnv, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type RunningPrometheus, startPrometheus } from '../helpers/prometheus.js';
import { connect, deletePrefix, uniquePrefix } from '../helpers/redis.js';
import { type StartedSimulator, startSimulator } from '../helpers/simulator.js';
import { hasTool, itWithTools, tools } from '../helpers/tools.js';

/**
 * A scripted campaign through a real worker; Prometheus scrapes that worker.
 * Then: its metrics match the ledger, and the report (CLI and collector, with
 * and without Prometheus) adds up in every format.
 */
const prefix = uniquePrefix('report');
const redis = connect();
const campaign = makeCampaign({ unreachable: 'letter' });
const numbers = syntheticList(400, 20_000);
let sim: StartedSimulator;
let worker: DeliveryWorker;
let prometheus: RunningPrometheus | undefined;
/** Prometheus is optional here: without it the report is checked from the ledger alone. */
const withPrometheus = hasTool(tools.prometheus) || process.env.CI === 'true';
let env: Record<string, string>;
const outDir = tempDir('report-out');

beforeAll(async () => {
  sim = await startSimulator({ unreachableShare: 0.1, rejectedShare: 0.05, latencyMs: 2 });
  env = testEnv(prefix, sim.url, { RATE_PER_SECOND: '100' });
  worker = await startWorker(env);
  // Prometheus scrapes the worker during the whole campaign (every second, about 4 s of sending).
  if (withPrometheus) {
    prometheus = await startPrometheus({ targets: [`127.0.0.1:${worker.metricsPort}`] });
    await prometheus.waitFor('up{job="utskick-worker"}', (s) => s[0]?.value[1] === '1', 20_000);
  }
  await enqueueNumbers(prefix, campaign, [numbers.slice(0, 250), numbers.slice(250)]);
  const ledger = createLedger(redis, createKeys(prefix));
  await waitFor(
    () => ledger.counts(campaign.id),
    (c) => finalOutcomes.reduce((n, o) => n + c[o], 0) === numbers.length,
    { what: 'the campaign to finish', timeoutMs: 30_000 },
  );
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await worker?.stop(2000);
  await sim?.stop();
  await deletePrefix(redis, prefix);
  redis.disconnect();
  await rm(outDir, { recursive: true, force: true });
});

describe('metrics and the follow-up report after a real campaign', () => {
  itWithTools('the worker metrics Prometheus scraped match the ledger', [tools.prometheus], async () => {
    if (!prometheus) throw new Error('prometheus did not start');
    const ledger = await createLedger(redis, createKeys(prefix)).counts(campaign.id);
    const samples = await prometheus.waitFor(
      `sum by (outcome) (utskick_messages_total{campaign="${campaign.id}"})`,
      (s) => s.reduce((n, x) => n + Number(x.value[1]), 0) === numbers.length,
      25_000,
    );
    for (const s of samples) {
      expect(Number(s.value[1])).toBe(ledger[s.metric.outcome as keyof typeof ledger]);
    }
    expect(samples.find((s) => s.metric.outcome === 'delivered')?.value[1]).toBe(
      String(sim.stats().accepted),
    );
  });

  it('writes every format, and the numbers add up to the valid recipients', async () => {
    const r = await runEntry('scripts/report.ts', ['--campaign', campaign.id, '--out', outDir], env);
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(await readFile(join(outDir, 'report.json'), 'utf8'));
    expect(json.campaignId).toBe(campaign.id);
    expect(json.recipients.valid).toBe(numbers.length);
    const sum = Object.values(json.outcomes as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(sum).toBe(numbers.length);
    expect(json.outcomes.pending).toBe(0);
    expect(json.outcomes.delivered).toBe(sim.stats().accepted);
    expect(json.complete).toBe(true);
    const md = await readFile(join(outDir, 'report.md'), 'utf8');
    expect(md).toContain(campaign.unit.hsaId);
    const html = await readFile(join(outDir, 'report.html'), 'utf8');
    for (const o of ['delivered', 'unreachable', 'rejected'] as const) {
      expect(html).toContain(`data-outcome="${o}" data-count="${json.outcomes[o]}"`);
    }
    // The personal-data files: owner-only, one row per recipient, letters only for the unreachable.
    const csv = await readFile(join(outDir, 'recipients.csv'), 'utf8');
    expect(csv.split('\n').filter((l) => /^\d{8}-\d{4};/.test(l))).toHaveLength(numbers.length);
    expect((await stat(join(outDir, 'recipients.csv'))).mode & 0o777).toBe(0o600);
    const letters = await readFile(join(outDir, 'brev-mottagare.csv'), 'utf8');
    expect(letters.split('\n').filter((l) => /^\d{8}-\d{4};/.test(l))).toHaveLength(
      json.outcomes.unreachable,
    );
    expect((await stat(join(outDir, 'journal.csv'))).mode & 0o777).toBe(0o600);
    // Summaries carry no personnummer.
    for (const text of [JSON.stringify(json), md, html])
      for (const n of numbers) expect(text.includes(n)).toBe(false);
  });

  itWithTools(
    'takes the rate curve and latency percentiles from Prometheus when PROMETHEUS_URL is set',
    [tools.prometheus],
    async () => {
      if (!prometheus) throw new Error('prometheus did not start');
      const keys = createKeys(prefix);
      const data = await collectReport(
        { redis, keys, deadLetters: async () => 0, prometheus: createPrometheusSeries(prometheus.url) },
        campaign.id,
      );
      expect(data.timeline.source).toBe('prometheus');
      expect(data.latency?.source).toBe('prometheus');
      expect(data.latency!.p95Ms).toBeGreaterThan(0);
      // Counts still come from the ledger.
      const sum = Object.values(data.outcomes).reduce((a, b) => a + b, 0);
      expect(sum).toBe(numbers.length);
    },
  );

  it('refuses an unknown campaign with one clear line', async () => {
    const r = await runEntry(
      'scripts/report.ts',
      ['--campaign', 'finns-inte', '--out', join(outDir, 'x')],
      env,
    );
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('no campaign with id finns-inte');
  });
});
