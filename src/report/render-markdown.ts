import { previewOf } from '../campaign/message.js';
import { renderPlainText } from '../campaign/message-body.js';
import { auditActionLabel, auditDetailsSummary } from './audit-sv.js';
import {
  aboutFacts,
  type Fact,
  formatDateTime,
  formatInt,
  formatShare,
  incompleteNotice,
  maskDigitRuns,
  maxProblemLines,
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
 * Text from the campaign is user input: keep it on one line and keep markdown
 * (and the HTML a markdown viewer would pass through) from acting on it.
 */
export function mdText(value: string): string {
  return value
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[\\`*_[\]<>|~#]/g, (c) => `\\${c}`)
    .replace(/&(?=[#A-Za-z0-9])/g, '&amp;');
}

/** A value for inline code: backticks cannot close it early, and in a table a pipe cannot end the cell. */
function mdCode(value: string, inTable = false): string {
  const oneLine = value.replace(/[\r\n]+/g, ' ');
  const clean = inTable ? oneLine.replace(/\|/g, '\\|') : oneLine;
  return clean.includes('`') ? `\`\` ${clean} \`\`` : `\`${clean}\``;
}

function factLines(facts: Fact[]): string[] {
  return facts.map((f) => `- **${f.label}:** ${f.code ? mdCode(f.value) : mdText(f.value)}`);
}

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

/** "Händelselogg": who did what with the campaign, and when (the audit log). */
function auditLines(data: ReportData): string[] {
  const out = ['## Händelselogg', ''];
  if (data.auditLog.length === 0) return [...out, 'Inga händelser är loggade för utskicket.', ''];
  out.push(
    'Vem som gjorde vad med utskicket och när (svensk tid). Loggen sparas även när personuppgifterna har rensats.',
    '',
    row(['Tid', 'Vem', 'Händelse', 'Detaljer']),
    row(['---', '---', '---', '---']),
  );
  for (const e of data.auditLog) {
    out.push(
      row([
        formatDateTime(e.at),
        mdText(e.actor),
        `${mdText(auditActionLabel(e.action))} ${mdCode(e.action, true)}`,
        mdText(maskDigitRuns(auditDetailsSummary(e))),
      ]),
    );
  }
  out.push('');
  return out;
}

/** The follow-up report as Markdown, in Swedish: the same figures as the HTML page. */
export function renderMarkdown(data: ReportData): string {
  const out: string[] = [];
  out.push(`# Uppföljning av utskick: ${mdText(data.campaign.title)}`, '');
  const notice = incompleteNotice(data);
  if (notice) out.push(`> **Obs!** ${mdText(notice)}`, '');
  out.push(
    `Kampanj-id ${mdCode(data.campaignId)} · status: **${mdText(stateLabel(data.state))}** · ` +
      `rapporten skapad ${formatDateTime(data.generatedAt)} (svensk tid)`,
    '',
  );

  out.push('## Sammanfattning', '');
  for (const s of summarySentences(data)) out.push(`- ${mdText(s)}`);
  out.push('');

  out.push('## Utfall', '');
  const whole = totalOutcomes(data.outcomes);
  out.push(
    row(['Utfall', 'Nyckel', 'Antal', 'Andel', 'Betyder']),
    row(['---', '---', '---:', '---:', '---']),
  );
  for (const key of outcomeOrder) {
    const n = data.outcomes[key];
    out.push(
      row([outcomeLabels[key], mdCode(key), formatInt(n), formatShare(n, whole), outcomeExplanations[key]]),
    );
  }
  out.push(row(['**Summa**', '', `**${formatInt(whole)}**`, formatShare(whole, whole), '']), '');

  if (data.reasons.length > 0) {
    out.push('## Orsaker enligt plattformen', '');
    out.push(row(['Utfall', 'Plattformens text', 'Antal']), row(['---', '---', '---:']));
    for (const r of data.reasons) out.push(row([outcomeLabels[r.outcome], r.text, formatInt(r.count)]));
    out.push('');
  }

  out.push('## Meddelandet', '', 'Så här visas meddelandet i invånarens inkorg i 1177:', '');
  for (const line of renderPlainText(previewOf(data.message)).split('\n')) out.push(`    ${line}`);
  out.push('');

  out.push('## Mottagare', '');
  out.push(
    row(['Rader i filerna', 'Giltiga', 'Ogiltiga', 'Dubbletter']),
    row(['---:', '---:', '---:', '---:']),
    row([
      formatInt(data.recipients.total),
      formatInt(data.recipients.valid),
      formatInt(data.recipients.invalid),
      formatInt(data.recipients.duplicates),
    ]),
    '',
  );

  out.push('## Om utskicket', '', ...factLines(aboutFacts(data)), '');
  out.push('## Tider och takt', '', ...factLines(timingFacts(data)), '');

  out.push('## Filer', '');
  if (data.files.length === 0) {
    out.push('Inga mottagarfiler har lästs in.', '');
  } else {
    out.push(
      row(['Fil', 'SHA-256 (kort)', 'Giltiga', 'Ogiltiga', 'Dubbletter', 'Jobb', 'Inläst']),
      row(['---', '---', '---:', '---:', '---:', '---:', '---']),
    );
    for (const f of data.files) {
      out.push(
        row([
          mdText(f.name),
          mdCode(shortHash(f.sha256)),
          formatInt(f.valid),
          formatInt(f.invalid),
          formatInt(f.duplicates),
          formatInt(f.jobs),
          formatDateTime(f.enqueuedAt),
        ]),
      );
    }
    out.push('', 'Fullständiga kontrollsummor (SHA-256):', '');
    for (const f of data.files) out.push(`- ${mdText(f.name)}: ${mdCode(f.sha256)}`);
    out.push('');
  }

  out.push('## Problem i mottagarfiler', '');
  if (data.problems.length === 0) {
    out.push('Inga problem hittades i mottagarfilerna.', '');
  } else {
    out.push(
      `${formatInt(data.problems.length)} rader kunde inte användas. Värdena är maskerade: ` +
        'de sista fyra siffrorna visas aldrig.',
      '',
    );
    for (const { code, count } of problemCounts(data)) {
      out.push(`- ${problemLabels[code]} (${mdCode(code)}): ${formatInt(count)}`);
    }
    out.push('', row(['Fil', 'Rad', 'Problem', 'Värde (maskerat)']), row(['---', '---:', '---', '---']));
    for (const p of data.problems.slice(0, maxProblemLines)) {
      out.push(
        row([mdText(p.file), formatInt(p.line), problemLabels[p.code], mdCode(maskDigitRuns(p.value), true)]),
      );
    }
    if (data.problems.length > maxProblemLines) {
      out.push(
        '',
        `… och ${formatInt(data.problems.length - maxProblemLines)} till. Alla finns i report.json.`,
      );
    }
    out.push('');
  }

  out.push(...auditLines(data));

  out.push('## Öppet', '');
  if (data.open.length === 0) out.push('Inget är öppet.');
  else for (const s of data.open) out.push(`- ${mdText(s)}`);
  out.push('', '---', '', `_${privacyNote}_`, '');
  return out.join('\n');
}
