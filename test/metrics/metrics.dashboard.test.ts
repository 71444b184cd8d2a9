import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics, type JobCountSource } from '../../src/metrics/registry.js';

/** Grafana's import placeholder for the data source, literally. */
const dsUid = ['$', '{DS_PROMETHEUS}'].join('');

const dashboardPath = resolve(import.meta.dirname, '../../config/grafana-dashboard.json');

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  __inputs: { name: string; type: string; pluginId: string }[];
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; query: string | { query: string }; datasource?: { uid: string } }[] };
}

const keywords = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'atan2',
  'inf',
  'nan',
]);

/**
 * Metric names a PromQL expression selects. Strings, label matchers, ranges,
 * grouping clauses and template variables are removed first; what is left that
 * looks like an identifier and is not a function call or keyword is a metric.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names: string[] = [];
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = stripped.slice((m.index ?? 0) + m[0].length).trimStart();
    if (after.startsWith('(')) continue;
    if (keywords.has(m[0].toLowerCase())) continue;
    names.push(m[0]);
  }
  return names;
}

const fixedSource: JobCountSource = {
  async jobCounts() {
    return {};
  },
  async campaignProgress() {
    return [];
  },
};

async function knownMetricNames(): Promise<Set<string>> {
  const metrics = createMetrics(fixedSource);
  const known = new Set<string>();
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    known.add(m.name);
    if (String(m.type) === 'histogram' || String(m.type) === 'summary') {
      for (const suffix of ['_bucket', '_sum', '_count']) known.add(`${m.name}${suffix}`);
    }
  }
  // Prometheus' own per-target series: whether the scrape of a worker worked.
  known.add('up');
  return known;
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

const dashboard = JSON.parse(readFileSync(dashboardPath, 'utf8')) as Dashboard;
const panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');

describe('grafana dashboard', () => {
  it('the PromQL parser finds metric names and skips functions, labels and keywords', () => {
    expect(
      metricNames(
        'histogram_quantile(0.95, sum by (le) (rate(utskick_x_bucket{result=~"a|b"}[$__rate_interval]))) / on() group_left sum(up{job="w"}) and bool foo:bar',
      ),
    ).toEqual(['utskick_x_bucket', 'up', 'foo:bar']);
  });

  it('is an importable dashboard with a DS_PROMETHEUS input', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(41);
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }),
    ]);
    const ids = allPanels(dashboard.panels).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: dsUid });
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe(dsUid);
    }
  });

  it('has the panels operations asked for', () => {
    const titles = panels.map((p) => p.title.toLowerCase());
    for (const wanted of [
      'messages per second by outcome',
      'campaign progress',
      'calls per second by result',
      'latency p50 / p95 / p99',
      '429',
      'retry-after',
      'rate limiter wait',
      'queue jobs by state',
      'in-flight calls',
      'dead-lettered',
      'auto-pauses',
    ]) {
      expect(
        titles.some((t) => t.includes(wanted)),
        `a panel titled like "${wanted}"`,
      ).toBe(true);
    }
    const latency = panels.find((p) => p.title.includes('call latency'));
    const exprs = latency?.targets?.map((t) => t.expr).join('\n') ?? '';
    for (const q of ['0.5', '0.95', '0.99'])
      expect(exprs).toContain(
        `histogram_quantile(${q}, sum by (le) (rate(utskick_inbox_call_duration_seconds_bucket`,
      );
  });

  it('every query only names metrics the registry exports', async () => {
    const known = await knownMetricNames();
    expect(known).toContain('utskick_inbox_call_duration_seconds_bucket');
    expect(known).toContain('utskick_campaign_paused_by_system');
    const used = new Set<string>();
    for (const p of panels) {
      const names = (p.targets ?? []).flatMap((t) => metricNames(t.expr));
      expect(names.length, `${p.title} selects no metric`).toBeGreaterThan(0);
      for (const name of names) {
        expect(known.has(name), `${p.title}: ${name} is not a metric the worker exports`).toBe(true);
        used.add(name);
      }
    }
    for (const v of dashboard.templating.list) {
      const query = typeof v.query === 'string' ? v.query : v.query.query;
      // label_values(<series selector>, <label>): only the selector names a metric.
      const names = metricNames(query.replace(/^label_values\((.*),\s*\w+\)$/, '$1'));
      expect(names.length, v.name).toBeGreaterThan(0);
      for (const name of names) expect(known.has(name), `variable ${v.name}: ${name}`).toBe(true);
    }
    for (const name of [
      'utskick_messages_total',
      'utskick_inbox_calls_total',
      'utskick_inbox_call_duration_seconds_bucket',
      'utskick_retry_after_wait_seconds_total',
      'utskick_rate_limiter_wait_seconds_bucket',
      'utskick_queue_jobs',
      'utskick_inbox_inflight_calls',
      'utskick_dead_lettered_recipients_total',
      'utskick_campaign_auto_pauses_total',
      'utskick_campaign_recipients',
      'utskick_campaign_done_recipients',
    ]) {
      expect(used, `a panel shows ${name}`).toContain(name);
    }
  });
});
