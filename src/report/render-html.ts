import { previewOf } from '../campaign/message.js';
import { messageCardCss, renderHtmlCard } from '../campaign/message-body.js';
import type { FinalOutcome } from '../queue/ledger.js';
import { auditActionLabel, auditDetailsSummary } from './audit-sv.js';
import { escapeXml as esc, formatSeconds, renderOutcomeBar, renderTimelineChart } from './chart-svg.js';
import {
  aboutFacts,
  type Fact,
  formatDateTime,
  formatInt,
  formatShare,
  incompleteNotice,
  maskDigitRuns,
  maxProblemLines,
  type OutcomeKey,
  outcomeColours,
  outcomeExplanations,
  outcomeLabels,
  outcomeOrder,
  privacyNote,
  problemCounts,
  problemLabels,
  shortHash,
  stateLabel,
  summarySentences,
  timingFacts,
  totalOutcomes,
} from './format-sv.js';
import type { ReportData } from './model.js';

/**
 * The follow-up report as one self-contained HTML page: inline CSS and SVG, no
 * script, no external asset (a Content-Security-Policy forbids any fetch), in
 * Swedish, printable. Every string from the data is escaped.
 *
 * Machine-readable hooks: `svg#timeline-chart`, `svg#outcome-bar`, and per
 * outcome one `[data-outcome="<key>"]` cell whose `data-count` is the raw number
 * and whose text is the same number formatted for sv-SE.
 */
export function renderHtml(data: ReportData): string {
  const title = `Uppföljning av utskick: ${data.campaign.title}`;
  const body = [
    header(data),
    notice(data),
    summary(data),
    outcomesSection(data),
    reasonsSection(data),
    messageSection(data),
    timelineSection(data),
    factsSection('Om utskicket', 'om', aboutFacts(data)),
    factsSection('Tider och takt', 'tider', timingFacts(data)),
    filesSection(data),
    problemsSection(data),
    auditSection(data),
    openSection(data),
    `<footer><p>${esc(privacyNote)}</p></footer>`,
  ].join('\n');
  return `<!doctype html>
<html lang="sv">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>${esc(title)}</title>
<style>${css}${messageCardCss}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function header(data: ReportData): string {
  return `<header>
<p class="eyebrow">Uppföljning av utskick</p>
<h1>${esc(data.campaign.title)}</h1>
<p class="meta">${esc(data.campaign.unit.name)} · Kampanj-id <code>${esc(data.campaignId)}</code> · Status: <strong class="state state-${esc(data.state)}">${esc(stateLabel(data.state))}</strong> · Rapporten skapad ${esc(formatDateTime(data.generatedAt))} (svensk tid)</p>
</header>`;
}

function notice(data: ReportData): string {
  const text = incompleteNotice(data);
  return text ? `<p class="notice" role="status" id="incomplete"><strong>Obs!</strong> ${esc(text)}</p>` : '';
}

function card(label: string, value: number, whole: number, key?: OutcomeKey): string {
  const share = key ? `<span class="share">${esc(formatShare(value, whole))}</span>` : '';
  const edge = key ? ` style="border-left-color:${outcomeColours[key]}"` : '';
  return `<div class="card"${edge}><span class="card-label">${esc(label)}</span><span class="card-value">${esc(formatInt(value))}</span>${share}</div>`;
}

function summary(data: ReportData): string {
  const o = data.outcomes;
  const whole = totalOutcomes(o);
  const cards = [
    card('Giltiga mottagare', data.recipients.valid, whole),
    card(outcomeLabels.delivered, o.delivered, whole, 'delivered'),
    card(outcomeLabels.unreachable, o.unreachable, whole, 'unreachable'),
    card('Avvisade, misslyckade eller osäkra', o.rejected + o.failed + o.uncertain, whole, 'failed'),
  ];
  if (o.pending > 0) cards.push(card(outcomeLabels.pending, o.pending, whole, 'pending'));
  const sentences = summarySentences(data)
    .map((s) => `<li>${esc(s)}</li>`)
    .join('');
  return `<section id="sammanfattning">
<h2>Sammanfattning</h2>
<div class="cards">${cards.join('')}</div>
<ul class="plain">${sentences}</ul>
</section>`;
}

function outcomesSection(data: ReportData): string {
  const whole = totalOutcomes(data.outcomes);
  const legend = outcomeOrder
    .map(
      (k) =>
        `<li><span class="swatch" style="background:${outcomeColours[k]}"></span>${esc(outcomeLabels[k])} <span class="legend-num">${esc(formatInt(data.outcomes[k]))} (${esc(formatShare(data.outcomes[k], whole))})</span></li>`,
    )
    .join('');
  const rows = outcomeOrder
    .map((k) => {
      const n = data.outcomes[k];
      return `<tr><th scope="row"><span class="swatch" style="background:${outcomeColours[k]}"></span>${esc(outcomeLabels[k])} <span class="key">${k}</span></th><td class="num" data-outcome="${k}" data-count="${n}">${esc(formatInt(n))}</td><td class="num">${esc(formatShare(n, whole))}</td><td>${esc(outcomeExplanations[k])}</td></tr>`;
    })
    .join('\n');
  return `<section id="utfall">
<h2>Utfall</h2>
<figure class="figure">
${renderOutcomeBar(data.outcomes)}
<figcaption><ul class="legend">${legend}</ul></figcaption>
</figure>
<table class="data outcomes">
<caption>Utfall per mottagare</caption>
<thead><tr><th scope="col">Utfall</th><th scope="col" class="num">Antal</th><th scope="col" class="num">Andel</th><th scope="col">Betyder</th></tr></thead>
<tbody>
${rows}
</tbody>
<tfoot><tr><th scope="row">Summa</th><td class="num" data-total="${whole}">${esc(formatInt(whole))}</td><td class="num">${esc(formatShare(whole, whole))}</td><td></td></tr></tfoot>
</table>
</section>`;
}

/** The platform's own words for the unreachable (INFO) and rejected (ERROR), grouped. */
function reasonsSection(data: ReportData): string {
  if (data.reasons.length === 0) return '';
  const rows = data.reasons
    .map(
      (r) =>
        `<tr><th scope="row">${esc(outcomeLabels[r.outcome])} <span class="key">${r.outcome}</span></th><td>${esc(r.text)}</td><td class="num" data-reason-count="${r.count}">${esc(formatInt(r.count))}</td></tr>`,
    )
    .join('\n');
  return `<section id="orsaker">
<h2>Orsaker enligt plattformen</h2>
<p>Plattformens svarstext för mottagare som inte kunde nås i 1177 (INFO) och för meddelanden som inte togs emot (ERROR).</p>
<table class="data reasons">
<thead><tr><th scope="col">Utfall</th><th scope="col">Plattformens text</th><th scope="col" class="num">Antal</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
}

/** The message as the residents see it in 1177: the approved text, rendered. */
function messageSection(data: ReportData): string {
  return `<section id="meddelandet">
<h2>Meddelandet</h2>
<p>Så här visas meddelandet i invånarens inkorg i 1177 (godkänt av ${esc(data.campaign.approval.approvedBy)}).</p>
${renderHtmlCard(previewOf(data.message))}
</section>`;
}

const finalKeys = outcomeOrder.filter((k): k is FinalOutcome => k !== 'pending');

function timelineSection(data: ReportData): string {
  const chart = renderTimelineChart(data.timeline);
  const shown = finalKeys.filter((k) => chart.columns.some((c) => c.counts[k] > 0));
  const legend = shown
    .map(
      (k) =>
        `<li><span class="swatch" style="background:${outcomeColours[k]}"></span>${esc(outcomeLabels[k])}</li>`,
    )
    .join('');
  const timeOf = (t: number) => formatDateTime(new Date(t * 1000).toISOString());
  const body = chart.columns
    .filter((c) => c.total > 0)
    .map(
      (c) =>
        `<tr><th scope="row">${esc(timeOf(c.start))}</th>${shown.map((k) => `<td class="num">${esc(formatInt(c.counts[k]))}</td>`).join('')}<td class="num">${esc(formatInt(c.total))}</td></tr>`,
    )
    .join('\n');
  const source = data.timeline.source === 'prometheus' ? 'Prometheus' : 'utskickets logg (ledger)';
  const table =
    chart.columns.length === 0
      ? ''
      : `<details>
<summary>Visa siffrorna som tabell</summary>
<table class="data timeline">
<caption>Meddelanden per ${esc(formatSeconds(chart.columnSec))} (svensk tid). Intervall utan utfall visas inte.</caption>
<thead><tr><th scope="col">Från</th>${shown.map((k) => `<th scope="col" class="num">${esc(outcomeLabels[k])}</th>`).join('')}<th scope="col" class="num">Summa</th></tr></thead>
<tbody>
${body}
</tbody>
</table>
</details>`;
  return `<section id="over-tid">
<h2>Utskick över tid</h2>
<p class="lead">Hur många meddelanden som fick ett utfall per ${esc(formatSeconds(chart.columnSec))}. Källa: ${esc(source)}.</p>
<figure class="figure">
${chart.svg}
<figcaption><ul class="legend">${legend}</ul></figcaption>
</figure>
${table}
</section>`;
}

function factsSection(heading: string, id: string, facts: Fact[]): string {
  const rows = facts
    .map((f) => `<dt>${esc(f.label)}</dt><dd>${f.code ? `<code>${esc(f.value)}</code>` : esc(f.value)}</dd>`)
    .join('\n');
  return `<section id="${id}">
<h2>${esc(heading)}</h2>
<dl class="facts">
${rows}
</dl>
</section>`;
}

function filesSection(data: ReportData): string {
  if (data.files.length === 0) {
    return '<section id="filer"><h2>Filer</h2><p>Inga mottagarfiler har lästs in.</p></section>';
  }
  const rows = data.files
    .map(
      (f) =>
        `<tr><th scope="row">${esc(f.name)}</th><td><code title="${esc(f.sha256)}">${esc(shortHash(f.sha256))}</code></td><td class="num">${esc(formatInt(f.valid))}</td><td class="num">${esc(formatInt(f.invalid))}</td><td class="num">${esc(formatInt(f.duplicates))}</td><td class="num">${esc(formatInt(f.jobs))}</td><td>${esc(formatDateTime(f.enqueuedAt))}</td></tr>`,
    )
    .join('\n');
  const full = data.files
    .map((f) => `<li>${esc(f.name)}: <code class="hash">${esc(f.sha256)}</code></li>`)
    .join('');
  return `<section id="filer">
<h2>Filer</h2>
<table class="data files">
<caption>Mottagarfiler som tagits emot</caption>
<thead><tr><th scope="col">Fil</th><th scope="col">SHA-256 (kort)</th><th scope="col" class="num">Giltiga</th><th scope="col" class="num">Ogiltiga</th><th scope="col" class="num">Dubbletter</th><th scope="col" class="num">Jobb</th><th scope="col">Inläst</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p class="small">Fullständiga kontrollsummor (SHA-256):</p>
<ul class="plain small">${full}</ul>
</section>`;
}

function problemsSection(data: ReportData): string {
  if (data.problems.length === 0) {
    return '<section id="problem"><h2>Problem i mottagarfiler</h2><p>Inga problem hittades i mottagarfilerna.</p></section>';
  }
  const counts = problemCounts(data)
    .map(
      (p) =>
        `<li>${esc(problemLabels[p.code])} <span class="key">${p.code}</span>: ${esc(formatInt(p.count))}</li>`,
    )
    .join('');
  const rows = data.problems
    .slice(0, maxProblemLines)
    .map(
      (p) =>
        `<tr><td>${esc(p.file)}</td><td class="num">${esc(formatInt(p.line))}</td><td>${esc(problemLabels[p.code] ?? p.code)}</td><td><code>${esc(maskDigitRuns(p.value))}</code></td></tr>`,
    )
    .join('\n');
  const more =
    data.problems.length > maxProblemLines
      ? `<p class="small">… och ${esc(formatInt(data.problems.length - maxProblemLines))} till. Alla finns i report.json.</p>`
      : '';
  return `<section id="problem">
<h2>Problem i mottagarfiler</h2>
<p>${esc(formatInt(data.problems.length))} rader kunde inte användas. Värdena är maskerade: de sista fyra siffrorna visas aldrig.</p>
<ul class="plain">${counts}</ul>
<table class="data problems">
<caption>Rader som inte kunde användas</caption>
<thead><tr><th scope="col">Fil</th><th scope="col" class="num">Rad</th><th scope="col">Problem</th><th scope="col">Värde (maskerat)</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${more}
</section>`;
}

/** "Händelselogg": who did what with the campaign, and when (the audit log). */
function auditSection(data: ReportData): string {
  if (data.auditLog.length === 0) {
    return '<section id="handelselogg"><h2>Händelselogg</h2><p>Inga händelser är loggade för utskicket.</p></section>';
  }
  const rows = data.auditLog
    .map(
      (e) =>
        `<tr data-audit-action="${esc(e.action)}"><td>${esc(formatDateTime(e.at))}</td><td>${esc(e.actor)}</td><td>${esc(auditActionLabel(e.action))} <span class="key">${esc(e.action)}</span></td><td>${esc(maskDigitRuns(auditDetailsSummary(e)))}</td></tr>`,
    )
    .join('\n');
  return `<section id="handelselogg">
<h2>Händelselogg</h2>
<p>Vem som gjorde vad med utskicket och när. Loggen sparas även när personuppgifterna har rensats.</p>
<table class="data audit">
<caption>Händelser (svensk tid)</caption>
<thead><tr><th scope="col">Tid</th><th scope="col">Vem</th><th scope="col">Händelse</th><th scope="col">Detaljer</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</section>`;
}

function openSection(data: ReportData): string {
  const items =
    data.open.length === 0
      ? '<p>Inget är öppet.</p>'
      : `<ul class="open">${data.open.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>`;
  return `<section id="oppet">
<h2>Öppet</h2>
${items}
</section>`;
}

const css = `
:root { color-scheme: light; --ink: #1c2430; --muted: #55606e; --line: #d9dee4; --soft: #f4f6f8; --accent: #1f4e79; }
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
html { font-family: system-ui, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Liberation Sans", sans-serif; font-size: 16px; line-height: 1.5; color: var(--ink); background: #fff; }
body { margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 32px 24px 48px; }
header { border-bottom: 3px solid var(--accent); padding-bottom: 12px; margin-bottom: 20px; }
.eyebrow { margin: 0; text-transform: uppercase; letter-spacing: .08em; font-size: .8rem; font-weight: 600; color: var(--accent); }
h1 { margin: 4px 0 8px; font-size: 1.9rem; line-height: 1.2; overflow-wrap: anywhere; }
h2 { font-size: 1.3rem; margin: 32px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.meta { margin: 0; color: var(--muted); font-size: .95rem; overflow-wrap: anywhere; }
.notice { background: #fff4d6; border: 2px solid #c98a00; border-radius: 6px; padding: 12px 16px; font-size: 1.05rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin: 0 0 16px; }
.card { border: 1px solid var(--line); border-left: 6px solid var(--accent); border-radius: 8px; padding: 10px 14px; background: var(--soft); display: flex; flex-direction: column; }
.card-label { font-size: .9rem; color: var(--muted); }
.card-value { font-size: 1.9rem; font-weight: 700; line-height: 1.2; font-variant-numeric: tabular-nums; }
.card .share { font-size: .95rem; color: var(--muted); }
ul.plain { padding-left: 1.2em; margin: 8px 0; }
ul.plain li { margin: 4px 0; }
.lead { margin: 0 0 8px; color: var(--muted); }
.figure { margin: 8px 0 16px; }
svg.chart { display: block; width: 100%; height: auto; font-family: inherit; }
svg .tick { font-size: 13px; fill: #3a4450; }
svg .axis-title { font-size: 14px; fill: #3a4450; font-weight: 600; }
svg .bar-label { font-size: 16px; font-weight: 700; }
.legend { list-style: none; padding: 0; margin: 8px 0 0; display: flex; flex-wrap: wrap; gap: 6px 20px; font-size: .95rem; }
.legend li { display: flex; align-items: center; gap: 6px; }
.legend-num { color: var(--muted); font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; border: 1px solid rgba(0,0,0,.25); vertical-align: -2px; margin-right: 6px; flex: none; }
table.data { width: 100%; border-collapse: collapse; margin: 12px 0; font-size: .95rem; }
table.data caption { text-align: left; font-weight: 600; padding: 4px 0 8px; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; }
table.data thead th { background: var(--soft); font-weight: 600; border-bottom: 2px solid #b9c1ca; }
table.data tfoot th, table.data tfoot td { font-weight: 700; border-top: 2px solid #b9c1ca; border-bottom: none; }
table.data tbody th { font-weight: 500; }
.num { text-align: right !important; font-variant-numeric: tabular-nums; white-space: nowrap; }
.key { color: var(--muted); font-size: .8rem; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .88em; background: var(--soft); padding: 1px 4px; border-radius: 3px; overflow-wrap: anywhere; }
code.hash { font-size: .8em; }
table.data code { white-space: nowrap; overflow-wrap: normal; }
dl.facts { display: grid; grid-template-columns: minmax(180px, 30%) 1fr; gap: 6px 16px; margin: 0; }
dl.facts dt { font-weight: 600; color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--accent); font-weight: 600; }
.small { font-size: .88rem; color: var(--muted); }
ul.open li { margin: 6px 0; }
footer { margin-top: 40px; padding-top: 12px; border-top: 1px solid var(--line); color: var(--muted); font-size: .9rem; }
@media (max-width: 640px) { dl.facts { grid-template-columns: 1fr; } dl.facts dd { margin-bottom: 8px; } main { padding: 16px 12px; } }
@page { size: A4; margin: 14mm; }
@media print {
  html { font-size: 12px; }
  main { max-width: none; padding: 0; }
  .cards { grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); }
  section, figure, table, .cards { break-inside: avoid; }
  h2 { break-after: avoid; }
  details > summary { display: none; }
}
`;
