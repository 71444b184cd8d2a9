import { constants, type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { createLocalTimeFormatter, formatDateTime, outcomeLabels } from './format-sv.js';
import type { RecipientRow, ReportData } from './model.js';

/**
 * The files that hold personnummer: the recipient list, the letter list and the
 * journal export. Each is streamed row by row (a million recipients never become
 * one string), written owner-only (0600) to a temporary name and renamed into
 * place when complete, so a half-written list never looks like a finished one.
 *
 * CSV dialect: `;` separated (what Excel expects in a Swedish locale), UTF-8 with
 * a byte-order mark, CRLF line ends, fields quoted when they hold `;`, `"`, a line
 * break or blanks at the ends (RFC 4180). A comment is one cell starting with `#`
 * (quoted when it holds a separator), so a campaign title full of `;` and `=`
 * stays one harmless cell. Every cell that a spreadsheet would run as a formula
 * (starting with = + - @, a tab or a carriage return) gets a leading `'`.
 */

export interface RowsWritten {
  path: string;
  /** Recipient rows written (comment and header lines not counted). */
  rows: number;
}

const SEP = ';';
const EOL = '\r\n';
/** Bytes buffered before each write. */
const FLUSH_CHARS = 64 * 1024;

const needsQuotes = /[;"\r\n]|^\s|\s$/;

/** Quotes one CSV field when it needs it. */
function quoted(value: string): string {
  return needsQuotes.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One CSV cell that no spreadsheet (Excel, LibreOffice) runs as a formula, quoted when it needs it. */
export function csvCell(value: string): string {
  return quoted(/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);
}

function csvLine(fields: string[]): string {
  return fields.join(SEP) + EOL;
}

function comment(text: string): string {
  return `${csvCell(`# ${text.replace(/[\r\n]+/g, ' ')}`)}${EOL}`;
}

/** `YYYYMMDD-NNNC`: the written form, which a spreadsheet keeps as text instead of a number. */
export function displayPnr(pnr: string): string {
  return /^\d{12}$/.test(pnr) ? `${pnr.slice(0, 8)}-${pnr.slice(8)}` : pnr;
}

const outcomeLegend =
  'utfall: ' +
  (['delivered', 'unreachable', 'rejected', 'failed', 'uncertain', 'cancelled', 'pending'] as const)
    .map((k) => `${k} = ${outcomeLabels[k].toLowerCase()}`)
    .join(', ') +
  ', inflight = skickas just nu';

function campaignLine(data: ReportData): string {
  return comment(
    `Utskick: ${data.campaign.title} (kampanj-id ${data.campaignId}), ${data.campaign.unit.name} ${data.campaign.unit.hsaId}. Skapad ${formatDateTime(data.generatedAt)} (svensk tid).`,
  );
}

const personalDataWarning = comment(
  'Filen innehåller personnummer. Endast för behörig personal: filen är skyddad så att bara ägaren kan läsa den (0600). Radera den när den inte längre behövs.',
);

/**
 * Writes `lines` to `path` with mode 0600: a temporary sibling opened with
 * O_EXCL|O_NOFOLLOW, chmod-ed to 0600 before any byte is written (umask or a
 * leftover file cannot widen it), then renamed over `path`.
 */
async function writeOwnerOnly(
  path: string,
  produce: (out: RowSink) => Promise<number>,
): Promise<RowsWritten> {
  const tmp = `${path}.${process.pid}.partial`;
  await unlink(tmp).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  let fh: FileHandle | undefined = await open(tmp, flags, 0o600);
  try {
    await fh.chmod(0o600);
    const handle = fh;
    let buffer = '\uFEFF';
    const sink: RowSink = {
      push(text) {
        buffer += text;
        return buffer.length >= FLUSH_CHARS;
      },
      async flush() {
        const chunk = buffer;
        buffer = '';
        if (chunk.length > 0) await handle.write(chunk);
      },
    };
    const rows = await produce(sink);
    await sink.flush();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
    return { path, rows };
  } catch (err) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** Buffered output: `push` is synchronous and says when the buffer is full enough to `flush`. */
interface RowSink {
  push(text: string): boolean;
  flush(): Promise<void>;
}

/** Every recipient with outcome, time and message identity. Owner-only. */
export async function writeRecipientsCsv(
  path: string,
  rows: AsyncIterable<RecipientRow>,
  data: ReportData,
): Promise<RowsWritten> {
  const rowTime = createLocalTimeFormatter();
  return writeOwnerOnly(path, async (out) => {
    out.push(personalDataWarning);
    out.push(campaignLine(data));
    out.push(comment(`${outcomeLegend}. Tidpunkt i svensk tid.`));
    out.push(csvLine(['personnummer', 'utfall', 'tidpunkt', 'meddelande-id', 'orsak']));
    let n = 0;
    for await (const r of rows) {
      const line = csvLine([
        csvCell(displayPnr(r.pnr)),
        csvCell(r.outcome),
        csvCell(rowTime(r.at)),
        csvCell(r.messageId),
        csvCell(r.reason ?? ''),
      ]);
      if (out.push(line)) await out.flush();
      n++;
    }
    return n;
  });
}

/** Recipients who could not be reached in 1177 (not active or blocked): they get a paper letter. Owner-only. */
export async function writeLetterList(
  path: string,
  rows: AsyncIterable<RecipientRow>,
  data: ReportData,
): Promise<RowsWritten> {
  const rowTime = createLocalTimeFormatter();
  return writeOwnerOnly(path, async (out) => {
    out.push(personalDataWarning);
    out.push(campaignLine(data));
    out.push(
      comment(
        'Mottagare som inte kunde nås i 1177 (plattformen svarade INFO: inget konto i 1177, eller kontot spärrat). De ska få meddelandet som brev. Orsak = plattformens text.',
      ),
    );
    out.push(csvLine(['personnummer', 'tidpunkt', 'meddelande-id', 'orsak']));
    let n = 0;
    for await (const r of rows) {
      if (r.outcome !== 'unreachable') continue;
      const line = csvLine([
        csvCell(displayPnr(r.pnr)),
        csvCell(rowTime(r.at)),
        csvCell(r.messageId),
        csvCell(r.reason ?? ''),
      ]);
      if (out.push(line)) await out.flush();
      n++;
    }
    return n;
  });
}

/**
 * One line per delivered recipient for the patient record: who, when, which unit
 * sent it, the subject and the message identity. Owner-only.
 */
export async function writeJournalExport(
  path: string,
  rows: AsyncIterable<RecipientRow>,
  data: ReportData,
): Promise<RowsWritten> {
  const { unit, subject } = data.campaign;
  const hsaId = csvCell(unit.hsaId);
  const unitName = csvCell(unit.name);
  const subjectField = csvCell(subject);
  const rowTime = createLocalTimeFormatter();
  return writeOwnerOnly(path, async (out) => {
    out.push(personalDataWarning);
    out.push(campaignLine(data));
    out.push(comment('Levererade meddelanden för journalföring. Tidpunkt i svensk tid.'));
    out.push(
      csvLine(['personnummer', 'tidpunkt', 'vardenhet-hsa-id', 'vardenhet', 'rubrik', 'meddelande-id']),
    );
    let n = 0;
    for await (const r of rows) {
      if (r.outcome !== 'delivered') continue;
      const line = csvLine([
        csvCell(displayPnr(r.pnr)),
        csvCell(rowTime(r.at)),
        hsaId,
        unitName,
        subjectField,
        csvCell(r.messageId),
      ]);
      if (out.push(line)) await out.flush();
      n++;
    }
    return n;
  });
}
