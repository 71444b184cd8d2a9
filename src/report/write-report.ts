import { chmod, mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecipientRow, ReportData } from './model.js';
import { renderHtml } from './render-html.js';
import { renderJson } from './render-json.js';
import { renderMarkdown } from './render-markdown.js';
import { writeJournalExport, writeLetterList, writeRecipientsCsv } from './render-rows.js';

export const reportFormats = ['html', 'md', 'json', 'csv'] as const;
export type ReportFormat = (typeof reportFormats)[number];

/** File names inside the report folder. */
export const reportFileNames = {
  json: 'report.json',
  md: 'report.md',
  html: 'report.html',
  recipients: 'recipients.csv',
  letters: 'brev-mottagare.csv',
  journal: 'journal.csv',
} as const;

export interface WriteReportResult {
  /** Paths written, in the order written. */
  files: string[];
  /** Rows written per personal-data file, when 'csv' was asked for. */
  rows?: { recipients: number; letters?: number; journal: number };
}

/** Summary files hold no personal data: readable by the group (0644). */
async function writeSummary(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.partial`;
  try {
    await writeFile(tmp, text, { mode: 0o644, flag: 'w' });
    await chmod(tmp, 0o644);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Writes the follow-up report into `dir` (created 0700 when missing):
 * report.json / report.md / report.html as asked, and with 'csv' the owner-only
 * recipients.csv, journal.csv and, when the campaign sends letters to the
 * unreachable, brev-mottagare.csv. `rows` is called once per CSV file and must
 * stream the recipients afresh each time.
 */
export async function writeReport(
  dir: string,
  data: ReportData,
  rows: () => AsyncIterable<RecipientRow>,
  formats: readonly ReportFormat[],
): Promise<WriteReportResult> {
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) await chmod(dir, 0o700);
  const want = new Set(formats);
  const files: string[] = [];
  const summaries: [ReportFormat, string, (d: ReportData) => string][] = [
    ['json', reportFileNames.json, renderJson],
    ['md', reportFileNames.md, renderMarkdown],
    ['html', reportFileNames.html, renderHtml],
  ];
  for (const [format, name, render] of summaries) {
    if (!want.has(format)) continue;
    const path = join(dir, name);
    await writeSummary(path, render(data));
    files.push(path);
  }
  if (!want.has('csv')) return { files };

  const recipients = await writeRecipientsCsv(join(dir, reportFileNames.recipients), rows(), data);
  files.push(recipients.path);
  let letters: number | undefined;
  if (data.campaign.unreachable === 'letter') {
    const written = await writeLetterList(join(dir, reportFileNames.letters), rows(), data);
    files.push(written.path);
    letters = written.rows;
  }
  const journal = await writeJournalExport(join(dir, reportFileNames.journal), rows(), data);
  files.push(journal.path);
  return {
    files,
    rows: {
      recipients: recipients.rows,
      ...(letters === undefined ? {} : { letters }),
      journal: journal.rows,
    },
  };
}
