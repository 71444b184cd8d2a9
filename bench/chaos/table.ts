import type { ScenarioReport } from './run.js';
import type { ChaosSettings } from './scenarios.js';

/** The chaos run's summary: a fixed-width table for people, and the JSON the test reads. */
export interface ChaosSummary {
  variant: ChaosSettings['variant'];
  ok: boolean;
  startedAt: string;
  /** The whole run, ms. */
  durationMs: number;
  settings: ChaosSettings & { appendfsync: 'always' };
  scenarios: ScenarioReport[];
}

const columns: { head: string; value: (r: ScenarioReport) => string }[] = [
  { head: 'scenario', value: (r) => r.name },
  { head: 'recipients', value: (r) => String(r.recipients) },
  { head: 'lost', value: (r) => String(r.lost) },
  { head: 'accepted twice', value: (r) => `${r.acceptedTwice} (≤${r.duplicateBound})` },
  {
    head: 'uncertain',
    value: (r) => `${r.uncertain}${r.uncertainBound > 0 ? ` (≤${r.uncertainBound})` : ''}`,
  },
  { head: 'dead-lettered', value: (r) => String(r.deadLettered) },
  { head: 'duration', value: (r) => `${(r.durationMs / 1000).toFixed(1)} s` },
  { head: 'delivered', value: (r) => String(r.delivered) },
  { head: 'sim accepted', value: (r) => String(r.simulatorAccepted) },
  { head: 'resends', value: (r) => String(r.resends) },
  { head: 'kills', value: (r) => String(r.kills) },
  { head: 'redis crashes', value: (r) => String(r.redisCrashes) },
  { head: 'mismatched', value: (r) => String(r.mismatched) },
  { head: 'result', value: (r) => (r.ok ? 'ok' : 'FAIL') },
];

const numeric = new Set([
  'recipients',
  'lost',
  'accepted twice',
  'dead-lettered',
  'delivered',
  'sim accepted',
  'resends',
  'kills',
  'mismatched',
  'duration',
]);

export function renderTable(reports: ScenarioReport[]): string {
  const rows = reports.map((r) => columns.map((c) => c.value(r)));
  const widths = columns.map((c, i) => Math.max(c.head.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (numeric.has(columns[i]!.head) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(columns.map((c) => c.head)), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  for (const r of reports) {
    for (const p of r.problems) out.push(`  ${r.name}: ${p}`);
    for (const w of r.warnings) out.push(`  ${r.name}: warning: ${w}`);
  }
  return out.join('\n');
}

/** Exit 1 when any scenario lost, doubled, mismatched or parked too many: the whole run fails. */
export function summaryOk(reports: ScenarioReport[]): boolean {
  return reports.length > 0 && reports.every((r) => r.ok);
}
