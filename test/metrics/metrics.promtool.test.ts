import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readYaml } from '../helpers/prometheus.js';
import { itWithTools, tools } from '../helpers/tools.js';

const configDir = resolve(import.meta.dirname, '../../config');

function promtool(args: string[], cwd = configDir): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 15_000 });
  if (r.error) throw new Error(`promtool could not run (${r.error.message}): apt-get install prometheus`);
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface TestFile {
  rule_files: string[];
  tests: {
    name: string;
    alert_rule_test?: { eval_time: string; alertname: string; exp_alerts: unknown[] | null }[];
  }[];
}

function alertRules(): Rule[] {
  const file = readYaml(join(configDir, 'alerts.yml')) as RuleFile;
  return file.groups.flatMap((g) => g.rules).filter((r) => r.alert);
}

describe('prometheus config and alert rules', () => {
  itWithTools(
    'promtool check config accepts config/prometheus.yml (and finds its rule file)',
    [tools.promtool],
    () => {
      const r = promtool(['check', 'config', 'prometheus.yml']);
      expect(r.output).toContain('SUCCESS');
      expect(r.status, r.output).toBe(0);
    },
  );

  itWithTools('promtool check config refuses the config when alerts.yml is missing', [tools.promtool], () => {
    const dir = mkdtempSync(join(tmpdir(), 'utskick-promcfg-'));
    try {
      copyFileSync(join(configDir, 'prometheus.yml'), join(dir, 'prometheus.yml'));
      const r = promtool(['check', 'config', 'prometheus.yml'], dir);
      expect(r.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  itWithTools('promtool check rules accepts config/alerts.yml', [tools.promtool], () => {
    const r = promtool(['check', 'rules', 'alerts.yml']);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status, r.output).toBe(0);
  });

  itWithTools('promtool test rules passes config/alerts.test.yml', [tools.promtool], () => {
    const r = promtool(['test', 'rules', 'alerts.test.yml']);
    expect(r.output).toContain('SUCCESS');
    expect(r.status, r.output).toBe(0);
  });

  itWithTools('promtool test rules fails when an alert no longer fires as tested', [tools.promtool], () => {
    const dir = mkdtempSync(join(tmpdir(), 'utskick-promtest-'));
    try {
      copyFileSync(join(configDir, 'alerts.test.yml'), join(dir, 'alerts.test.yml'));
      const file = readYaml(join(configDir, 'alerts.yml')) as RuleFile;
      for (const g of file.groups)
        for (const r of g.rules) if (r.alert === 'UtskickDeadLetterQueueNotEmpty') r.expr = 'vector(0) > 1';
      writeFileSync(join(dir, 'alerts.yml'), JSON.stringify(file));
      const r = promtool(['test', 'rules', 'alerts.test.yml'], dir);
      expect(r.status).not.toBe(0);
      expect(r.output).toContain('UtskickDeadLetterQueueNotEmpty');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every alert has a severity, summary, description and runbook', () => {
    const alerts = alertRules();
    expect(alerts.map((a) => a.alert)).toEqual(
      expect.arrayContaining([
        'UtskickNoWorkerUp',
        'UtskickDeadLetterQueueNotEmpty',
        'UtskickInboxErrorShareHigh',
        'UtskickQueueStalled',
        'UtskickCampaignPausedBySystem',
        'UtskickRateLimitedLong',
      ]),
    );
    for (const a of alerts) {
      expect(['critical', 'warning'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary?.length, a.alert).toBeGreaterThan(10);
      expect(a.annotations?.description?.length, a.alert).toBeGreaterThan(20);
      expect(a.annotations?.runbook, a.alert).toMatch(/Meaning:[\s\S]+What to do:/);
    }
  });

  it('alerts.test.yml has a firing and a non-firing case for every alert', () => {
    const tests = readYaml(join(configDir, 'alerts.test.yml')) as TestFile;
    expect(tests.rule_files).toEqual(['alerts.yml']);
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alertRules()) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${a.alert} needs a firing case`,
      ).toBe(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${a.alert} needs a non-firing case`,
      ).toBe(true);
    }
  });
});
