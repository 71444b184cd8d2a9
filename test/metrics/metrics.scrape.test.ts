import { resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMetrics, type JobCountSource } from '../../src/metrics/registry.js';
import { createMetricsServer, type MetricsServer } from '../../src/metrics/server.js';
import { type RunningPrometheus, startPrometheus } from '../helpers/prometheus.js';
import { describeWithTools, tools } from '../helpers/tools.js';

/** Fixed numbers in place of Redis: this test is about the scrape, not the queue. */
const source: JobCountSource = {
  async jobCounts() {
    return { deliver: { waiting: 7, active: 2 }, 'dead-letter': { waiting: 2 } };
  },
  async campaignProgress() {
    return [{ campaign: 'c1', total: 100, done: 40, pausedBySystem: false }];
  },
};

interface ApiRule {
  name: string;
  health: string;
  lastError?: string;
}
interface ApiAlert {
  labels: Record<string, string>;
  state: string;
}

describeWithTools('a real Prometheus scrapes the metrics server', [tools.prometheus], () => {
  let server: MetricsServer;
  let prom: RunningPrometheus;

  beforeAll(async () => {
    const metrics = createMetrics(source);
    metrics.messages.inc({ campaign: 'c1', outcome: 'delivered' }, 3);
    metrics.messages.inc({ campaign: 'c1', outcome: 'unreachable' }, 1);
    metrics.calls.inc({ result: 'delivered' }, 3);
    server = createMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      ready: async () => ({ ok: true, reasons: [] }),
    });
    const { port } = await server.start();
    prom = await startPrometheus({
      targets: [`127.0.0.1:${port}`],
      rulesFile: resolve(import.meta.dirname, '../../config/alerts.yml'),
    });
  });

  afterAll(async () => {
    await prom?.stop();
    await server?.stop();
  });

  it('stores utskick_messages_total with its labels and value', async () => {
    const samples = await prom.waitFor('utskick_messages_total', (s) => s.length >= 2);
    const byOutcome = Object.fromEntries(samples.map((s) => [s.metric.outcome, s.value[1]]));
    expect(byOutcome).toEqual({ delivered: '3', unreachable: '1' });
    expect(samples[0]?.metric).toMatchObject({ job: 'utskick-worker', campaign: 'c1' });
  });

  it('stores the queue gauges collected at scrape time', async () => {
    const [dlq] = await prom.waitFor(
      'utskick_queue_jobs{queue="dead-letter",state="waiting"}',
      (s) => s.length === 1,
    );
    expect(dlq?.value[1]).toBe('2');
    const [progress] = await prom.waitFor('utskick_campaign_done_recipients', (s) => s.length === 1);
    expect(progress?.value[1]).toBe('40');
  });

  it('evaluates config/alerts.yml on the scraped series without errors', async () => {
    const alerts = await prom.waitFor(
      'ALERTS{alertname="UtskickDeadLetterQueueNotEmpty"}',
      (s) => s.length > 0,
    );
    expect(alerts[0]?.metric).toMatchObject({
      alertstate: 'pending',
      queue: 'dead-letter',
      severity: 'warning',
    });

    const data = await prom.api<{ groups: { name: string; rules: ApiRule[] }[] }>('/api/v1/rules');
    const rules = data.groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThanOrEqual(9);
    const unhealthy = rules.filter((r) => r.health !== 'ok');
    expect(unhealthy, JSON.stringify(unhealthy)).toEqual([]);

    const active = await prom.api<{ alerts: ApiAlert[] }>('/api/v1/alerts');
    const names = active.alerts.map((a) => a.labels.alertname);
    expect(names).toContain('UtskickDeadLetterQueueNotEmpty');
    expect(names).not.toContain('UtskickNoWorkerUp');
    expect(names).not.toContain('UtskickCampaignPausedBySystem');
  });
});
