import type { FinalOutcome } from '../queue/ledger.js';
import {
  formatInt,
  formatShare,
  type OutcomeKey,
  outcomeColours,
  outcomeLabels,
  outcomeOrder,
  stockholmOffsetSec,
  timeZone,
  totalOutcomes,
} from './format-sv.js';
import type { OutcomeCounts, ReportData } from './model.js';

/**
 * Inline SVG charts for the HTML report: plain markup, no script, no external
 * font or stylesheet, so the page reads the same offline and on paper.
 */

/** Escapes text for HTML and SVG, in element content and in quoted attributes. */
export function escapeXml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const finalOrder = outcomeOrder.filter((k): k is FinalOutcome => k !== 'pending');

/** One drawn column of the timeline: several ledger buckets merged when there are many. */
export interface TimelineColumn {
  /** Unix seconds, inclusive. */
  start: number;
  /** Unix seconds, exclusive. */
  end: number;
  counts: Record<FinalOutcome, number>;
  total: number;
}

export interface TimelineChart {
  svg: string;
  columns: TimelineColumn[];
  /** Seconds per drawn column. */
  columnSec: number;
}

export interface TimelineChartOptions {
  /** Most columns drawn; buckets are merged to stay under it. Default 120. */
  maxColumns?: number;
  /** Element id of the `<svg>`. Default `timeline-chart`. */
  id?: string;
}

const zeroCounts = (): Record<FinalOutcome, number> => ({
  delivered: 0,
  unreachable: 0,
  rejected: 0,
  failed: 0,
  uncertain: 0,
  cancelled: 0,
});

const columnSteps = [
  1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
];

/** Merges ledger buckets into at most `maxColumns` equal columns, gaps filled with zeros. */
export function timelineColumns(
  timeline: ReportData['timeline'],
  maxColumns = 120,
): { columns: TimelineColumn[]; columnSec: number } {
  const bucketSec = Math.max(1, timeline.bucketSec);
  if (timeline.points.length === 0) return { columns: [], columnSec: bucketSec };
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const p of timeline.points) {
    if (p.t < first) first = p.t;
    if (p.t > last) last = p.t;
  }
  const span = last + bucketSec - first;
  const needed = span / Math.max(1, maxColumns);
  // A round width (10 s, 1 min, 5 min, ...) that is a whole number of buckets.
  const columnSec =
    needed <= bucketSec
      ? bucketSec
      : (columnSteps.find((s) => s >= needed && s % bucketSec === 0) ??
        bucketSec * Math.ceil(needed / bucketSec));
  const origin = Math.floor(first / columnSec) * columnSec;
  const count = Math.floor((last - origin) / columnSec) + 1;
  const columns: TimelineColumn[] = Array.from({ length: count }, (_, i) => ({
    start: origin + i * columnSec,
    end: origin + (i + 1) * columnSec,
    counts: zeroCounts(),
    total: 0,
  }));
  for (const p of timeline.points) {
    const col = columns[Math.floor((p.t - origin) / columnSec)]!;
    for (const key of finalOrder) {
      const v = p.counts[key] ?? 0;
      col.counts[key] += v;
      col.total += v;
    }
  }
  return { columns, columnSec };
}

/** A step of 1, 2 or 5 times a power of ten giving about `ticks` ticks up to `max`. */
export function niceStep(max: number, ticks = 5): number {
  if (max <= 0) return 1;
  const raw = max / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const m = raw / pow;
  const step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
  return Math.max(1, step);
}

const timeSteps = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400];

const clockFormat = new Intl.DateTimeFormat('sv-SE', { timeZone, hour: '2-digit', minute: '2-digit' });
const clockSecondsFormat = new Intl.DateTimeFormat('sv-SE', {
  timeZone,
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
const dayFormat = new Intl.DateTimeFormat('sv-SE', { timeZone, day: 'numeric', month: 'short' });

/** Local clock labels for the time axis: at most about `maxTicks`, on round local times. */
export function timeTicks(startSec: number, endSec: number, maxTicks = 8): { t: number; label: string }[] {
  const span = Math.max(1, endSec - startSec);
  const step = timeSteps.find((s) => span / s <= maxTicks) ?? Math.ceil(span / maxTicks / 86_400) * 86_400;
  const offset = stockholmOffsetSec(startSec);
  const firstTick = Math.ceil((startSec + offset) / step) * step - offset;
  const withDate = span > 20 * 3600;
  const out: { t: number; label: string }[] = [];
  let lastDay = '';
  for (let t = firstTick; t <= endSec; t += step) {
    const ms = t * 1000;
    let label = step < 60 ? clockSecondsFormat.format(ms) : clockFormat.format(ms);
    if (withDate) {
      const day = dayFormat.format(ms);
      if (day !== lastDay) label = `${day} ${label}`;
      lastDay = day;
    }
    out.push({ t, label });
  }
  return out;
}

export function formatSeconds(sec: number): string {
  if (sec % 3600 === 0) return sec === 3600 ? 'timme' : `${sec / 3600} tim`;
  if (sec % 60 === 0) return sec === 60 ? 'minut' : `${sec / 60} min`;
  return `${sec} s`;
}

/** Stacked columns of settled messages per time slice, one colour per outcome. */
export function renderTimelineChart(
  timeline: ReportData['timeline'],
  options: TimelineChartOptions = {},
): TimelineChart {
  const id = options.id ?? 'timeline-chart';
  const { columns, columnSec } = timelineColumns(timeline, options.maxColumns ?? 120);
  const width = 960;
  const height = 340;
  const m = { left: 72, right: 32, top: 16, bottom: 56 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const titleId = `${id}-title`;
  const descId = `${id}-desc`;
  const per = formatSeconds(columnSec);
  const open = `<svg id="${escapeXml(id)}" class="chart" role="img" aria-labelledby="${titleId} ${descId}" viewBox="0 0 ${width} ${height}" preserveAspectRatio="xMidYMid meet">`;
  const title = `<title id="${titleId}">Meddelanden över tid per utfall</title>`;

  if (columns.length === 0) {
    const svg = [
      open,
      title,
      `<desc id="${descId}">Inga meddelanden har fått något utfall ännu.</desc>`,
      `<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="#f6f7f9" stroke="#c8ccd2"/>`,
      `<text x="${m.left + plotW / 2}" y="${m.top + plotH / 2}" text-anchor="middle" class="axis-title">Inga meddelanden har fått något utfall ännu.</text>`,
      '</svg>',
    ].join('');
    return { svg, columns, columnSec };
  }

  const start = columns[0]!.start;
  const end = columns[columns.length - 1]!.end;
  let maxTotal = 0;
  let peak = columns[0]!;
  for (const c of columns) {
    if (c.total > maxTotal) {
      maxTotal = c.total;
      peak = c;
    }
  }
  const yStep = niceStep(maxTotal);
  const yTop = Math.max(yStep, Math.ceil(maxTotal / yStep) * yStep);
  const x = (t: number) => m.left + ((t - start) / (end - start)) * plotW;
  const y = (v: number) => m.top + plotH - (v / yTop) * plotH;
  const colW = plotW / columns.length;
  const gap = colW > 6 ? Math.min(2, colW * 0.15) : 0;

  const parts: string[] = [open, title];
  parts.push(
    `<desc id="${descId}">Staplade staplar: antal meddelanden per ${per} från ${escapeXml(clockFormat.format(start * 1000))} ` +
      `till ${escapeXml(clockFormat.format(end * 1000))} (svensk tid), uppdelat på utfall. ` +
      `Som mest ${escapeXml(formatInt(maxTotal))} meddelanden per ${per}, kl. ${escapeXml(clockFormat.format(peak.start * 1000))}.</desc>`,
  );
  // Grid and y labels.
  parts.push('<g class="grid">');
  for (let v = 0; v <= yTop; v += yStep) {
    const yy = y(v).toFixed(1);
    parts.push(
      `<line x1="${m.left}" x2="${m.left + plotW}" y1="${yy}" y2="${yy}" stroke="${v === 0 ? '#555' : '#e1e4e8'}"/>`,
      `<text x="${m.left - 8}" y="${yy}" dy="0.32em" text-anchor="end" class="tick">${escapeXml(formatInt(v))}</text>`,
    );
  }
  parts.push('</g>');
  // Columns: one group per time slice, delivered at the bottom.
  parts.push('<g class="bars">');
  columns.forEach((c, i) => {
    if (c.total === 0) return;
    const x0 = m.left + i * colW + gap / 2;
    const w = Math.max(0.5, colW - gap).toFixed(2);
    const tip = [
      `${clockSecondsFormat.format(c.start * 1000)}–${clockSecondsFormat.format(c.end * 1000)}: ${formatInt(c.total)} meddelanden`,
      ...finalOrder
        .filter((k) => c.counts[k] > 0)
        .map((k) => `${outcomeLabels[k]}: ${formatInt(c.counts[k])}`),
    ].join('\n');
    parts.push(`<g><title>${escapeXml(tip)}</title>`);
    let acc = 0;
    for (const key of finalOrder) {
      const v = c.counts[key];
      if (v <= 0) continue;
      const top = y(acc + v);
      const h = y(acc) - top;
      acc += v;
      parts.push(
        `<rect x="${x0.toFixed(2)}" y="${top.toFixed(2)}" width="${w}" height="${Math.max(0.5, h).toFixed(2)}" fill="${outcomeColours[key]}" data-series="${key}"/>`,
      );
    }
    parts.push('</g>');
  });
  parts.push('</g>');
  // Time axis.
  parts.push('<g class="x-axis">');
  for (const tick of timeTicks(start, end)) {
    const xx = x(tick.t).toFixed(1);
    parts.push(
      `<line x1="${xx}" x2="${xx}" y1="${m.top + plotH}" y2="${m.top + plotH + 5}" stroke="#555"/>`,
      `<text x="${xx}" y="${m.top + plotH + 20}" text-anchor="middle" class="tick">${escapeXml(tick.label)}</text>`,
    );
  }
  parts.push('</g>');
  parts.push(
    `<text x="${m.left + plotW / 2}" y="${height - 8}" text-anchor="middle" class="axis-title">Tid (svensk tid)</text>`,
    `<text transform="translate(16 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle" class="axis-title">Meddelanden per ${per}</text>`,
    '</svg>',
  );
  return { svg: parts.join(''), columns, columnSec };
}

export interface OutcomeBarOptions {
  /** Element id of the `<svg>`. Default `outcome-bar`. */
  id?: string;
}

/** One horizontal bar split by outcome share; labels inside where they fit. */
export function renderOutcomeBar(outcomes: OutcomeCounts, options: OutcomeBarOptions = {}): string {
  const id = options.id ?? 'outcome-bar';
  const width = 960;
  const height = 64;
  const whole = totalOutcomes(outcomes);
  const titleId = `${id}-title`;
  const descId = `${id}-desc`;
  const desc = outcomeOrder
    .map((k) => `${outcomeLabels[k]}: ${formatInt(outcomes[k])} (${formatShare(outcomes[k], whole)})`)
    .join(', ');
  const parts: string[] = [
    `<svg id="${escapeXml(id)}" class="chart bar" role="img" aria-labelledby="${titleId} ${descId}" viewBox="0 0 ${width} ${height}" preserveAspectRatio="xMidYMid meet">`,
    `<title id="${titleId}">Fördelning av utfall</title>`,
    `<desc id="${descId}">${escapeXml(desc)}.</desc>`,
  ];
  if (whole === 0) {
    parts.push(
      `<rect x="0" y="8" width="${width}" height="48" fill="#f6f7f9" stroke="#c8ccd2"/>`,
      `<text x="${width / 2}" y="32" dy="0.32em" text-anchor="middle" class="axis-title">Inga mottagare</text>`,
      '</svg>',
    );
    return parts.join('');
  }
  let acc = 0;
  for (const key of outcomeOrder) {
    const v = outcomes[key];
    if (v <= 0) continue;
    const x0 = (acc / whole) * width;
    acc += v;
    const w = Math.max(1, (acc / whole) * width - x0);
    parts.push(
      `<rect x="${x0.toFixed(2)}" y="8" width="${w.toFixed(2)}" height="48" fill="${outcomeColours[key]}" stroke="#fff" stroke-width="1" data-segment="${key}"><title>${escapeXml(`${outcomeLabels[key]}: ${formatInt(v)} (${formatShare(v, whole)})`)}</title></rect>`,
    );
    const label = formatShare(v, whole);
    if (w >= 14 + label.length * 9) {
      parts.push(
        `<text x="${(x0 + w / 2).toFixed(2)}" y="32" dy="0.35em" text-anchor="middle" class="bar-label" fill="${textOn(key)}">${escapeXml(label)}</text>`,
      );
    }
  }
  parts.push('</svg>');
  return parts.join('');
}

/** Black or white text, whichever reads better on the outcome's colour. */
export function textOn(key: OutcomeKey): string {
  const hex = outcomeColours[key];
  const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16) / 255) as [
    number,
    number,
    number,
  ];
  const lin = (c: number) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const luminance = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  return luminance > 0.18 ? '#111' : '#fff';
}
