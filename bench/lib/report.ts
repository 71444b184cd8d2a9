/**
 * The results model of `npm run bench` and its renderings: a console table,
 * bench/results/latest.json and bench/results/latest.md.
 */
import { type Machine, type Summary, summarise } from './measure.js';

/** A bar from the issue a figure is held against. */
export interface Aim {
  /** `>=` / `<=`: the median against `value`; `abs<=`: |median| against `value`. */
  op: '>=' | '<=' | 'abs<=';
  value: number;
  /** How the aim reads in the table, e.g. "≥ 250,000/s". */
  text: string;
  /** What is held against `value`: the median (default) or the ratio to the baseline. */
  on?: 'median' | 'ratio';
}

/** One figure of one case, measured once per run. */
export interface Metric {
  case: string;
  name: string;
  unit: string;
  values: number[];
  /** What the figure is compared against in the same run (a measured baseline or a configured value). */
  baseline?: { name: string; values: number[] };
  aim?: Aim;
  /** Decimals to show. Default: chosen from the magnitude. */
  decimals?: number;
}

export interface CaseNote {
  case: string;
  text: string;
}

export interface BenchResults {
  command: string;
  mode: 'full' | 'quick';
  machine: Machine;
  durationS: number;
  /** Wall time of each case (input preparation included), s. */
  caseSeconds: Record<string, number>;
  /** Load averages when the bench ended. */
  loadAtEnd: number[];
  metrics: Metric[];
  notes: CaseNote[];
  /** Markdown sections added after the table (the projection, profiles). */
  sections: { title: string; body: string }[];
  /** Raw series by case, for latest.json only. */
  details: Record<string, unknown>;
}

export interface MetricRow {
  metric: Metric;
  summary: Summary;
  baseline?: Summary;
  ratio?: number;
  meets?: boolean;
}

export function rowOf(metric: Metric): MetricRow {
  const summary = summarise(metric.values);
  const baseline = metric.baseline ? summarise(metric.baseline.values) : undefined;
  const ratio = baseline && baseline.median !== 0 ? summary.median / baseline.median : undefined;
  let meets: boolean | undefined;
  if (metric.aim && (metric.aim.on !== 'ratio' || ratio !== undefined)) {
    const x = metric.aim.on === 'ratio' ? ratio! : summary.median;
    const v = metric.aim.op === 'abs<=' ? Math.abs(x) : x;
    meets = metric.aim.op === '>=' ? v >= metric.aim.value : v <= metric.aim.value;
  }
  return {
    metric,
    summary,
    ...(baseline ? { baseline } : {}),
    ...(ratio !== undefined ? { ratio } : {}),
    ...(meets !== undefined ? { meets } : {}),
  };
}

/** A number for a table: thousands separated with a thin comma, decimals by magnitude. */
export function fmt(value: number | undefined, decimals?: number): string {
  if (value === undefined || Number.isNaN(value)) return '–';
  const d = decimals ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return value.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

const HEADER = ['case', 'metric', 'median', 'min', 'max', 'baseline (median)', 'ratio', 'aim', 'meets'];

export function tableRows(metrics: readonly Metric[]): string[][] {
  return metrics.map((m) => {
    const r = rowOf(m);
    const d = m.decimals;
    return [
      m.case,
      `${m.name}${m.unit ? ` (${m.unit})` : ''}`,
      fmt(r.summary.median, d),
      fmt(r.summary.min, d),
      fmt(r.summary.max, d),
      m.baseline && r.baseline ? `${fmt(r.baseline.median, d)} ${m.baseline.name}` : '',
      r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}×`,
      m.aim?.text ?? '',
      r.meets === undefined ? '' : r.meets ? 'yes' : 'NO',
    ];
  });
}

export function markdownTable(header: readonly string[], rows: readonly string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, '\\|');
  const line = (cells: readonly string[]) => `| ${cells.map(esc).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A fixed-width table for the terminal. */
export function consoleTable(metrics: readonly Metric[]): string {
  const rows = [HEADER, ...tableRows(metrics)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r, j) =>
      r
        .map((c, i) => (j > 0 && i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function renderMarkdown(results: BenchResults): string {
  const m = results.machine;
  const out = [
    '# utskick benchmarks',
    '',
    `\`${results.command}\` (${results.mode} mode), ${m.date}, ${results.durationS.toFixed(0)} s in all (` +
      `${Object.entries(results.caseSeconds)
        .map(([c, s]) => `${c} ${s} s`)
        .join(', ')}).`,
    '',
    `Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB memory, ${m.os}; Node ${m.node}; ` +
      `redis-server ${m.redis} (a private one started by the bench, no persistence, flushed between runs); commit ${m.commit}.`,
    `Before the start the CPUs were ${m.busyBeforeStartPct}% busy with other work; load average (1/5/15 min) at the start ${m.loadAtStart.join(' / ')}, ` +
      `at the end ${results.loadAtEnd.join(' / ')}. Anything well above 0% busy or a load above ${m.nproc} means other work shared the CPUs and every figure is pessimistic.`,
    '',
    'Median, min and max over the runs of each case; the ratio is the median against the baseline measured in ' +
      'the same run on the same machine (or, for rate accuracy, the configured rate). Synthetic personnummer only.',
    '',
    markdownTable(HEADER, tableRows(results.metrics)),
    '',
  ];
  if (results.notes.length > 0) {
    out.push('## How each case was measured', '');
    for (const n of results.notes) out.push(`- **${n.case}**: ${n.text}`);
    out.push('');
  }
  for (const s of results.sections) out.push(`## ${s.title}`, '', s.body.trimEnd(), '');
  return out.join('\n');
}

export function renderJson(results: BenchResults): string {
  return `${JSON.stringify(
    {
      ...results,
      metrics: results.metrics.map((metric) => {
        const r = rowOf(metric);
        return {
          ...metric,
          summary: r.summary,
          ...(r.baseline ? { baselineSummary: r.baseline } : {}),
          ...(r.ratio !== undefined ? { ratio: r.ratio } : {}),
          ...(r.meets !== undefined ? { meets: r.meets } : {}),
        };
      }),
    },
    // Six significant digits: the figures are not more precise than that.
    (_key, value: unknown) =>
      typeof value === 'number' && !Number.isInteger(value) ? Number(value.toPrecision(6)) : value,
    2,
  )}\n`;
}
