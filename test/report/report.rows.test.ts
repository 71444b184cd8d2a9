import { mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecipientRow } from '../../src/report/model.js';
import {
  csvCell,
  writeJournalExport,
  writeLetterList,
  writeRecipientsCsv,
} from '../../src/report/render-rows.js';
import { writeReport } from '../../src/report/write-report.js';
import { syntheticPnr } from '../helpers/personnummer.js';
import { defaultRowOutcome, makeReportData, makeRows } from '../helpers/report-fixture.js';

/**
 * Parses `;` separated CSV with "" quoting (RFC 4180), as a spreadsheet splits it;
 * skips the BOM. A row of one cell starting with `#` is a comment.
 */
function parseCsv(text: string): { comments: string[]; rows: string[][] } {
  expect(text.charCodeAt(0)).toBe(0xfeff);
  const { cells } = splitCsv(text.slice(1));
  const isComment = (r: string[]) => r.length === 1 && r[0]!.startsWith('#');
  return { comments: cells.filter(isComment).map((r) => r[0]!), rows: cells.filter((r) => !isComment(r)) };
}

function splitCsv(body: string): { cells: string[][] } {
  const rows: string[][] = [];
  let i = 0;
  while (i < body.length) {
    const row: string[] = [];
    for (;;) {
      let field = '';
      if (body[i] === '"') {
        i++;
        for (;;) {
          const q = body.indexOf('"', i);
          field += body.slice(i, q);
          i = q + 1;
          if (body[i] === '"') {
            field += '"';
            i++;
          } else break;
        }
      } else {
        const m = /[;\r]/.exec(body.slice(i, i + 10_000));
        const end = m ? i + m.index : body.length;
        field = body.slice(i, end);
        i = end;
      }
      row.push(field);
      if (body[i] === ';') {
        i++;
        continue;
      }
      expect(body.slice(i, i + 2)).toBe('\r\n');
      i += 2;
      break;
    }
    rows.push(row);
  }
  return { cells: rows };
}

async function* list(rows: RecipientRow[]): AsyncGenerator<RecipientRow> {
  yield* rows;
}

const mode = async (path: string) => (await stat(path)).mode & 0o777;
const hyphenated = (pnr: string) => `${pnr.slice(0, 8)}-${pnr.slice(8)}`;

describe('recipient files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'utskick-report-rows-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('quotes a field only when it must, and disarms formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a;b')).toBe('"a;b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(' padded')).toBe('" padded"');
    for (const lead of ['=', '+', '-', '@', '\t']) expect(csvCell(`${lead}1`)).toMatch(/^"?'/);
  });

  it('no line of any report CSV splits into a cell that starts with = + - @ or a tab', async () => {
    const evil = 'Info;=HYPERLINK("http://evil.example");@SUM(1);+1;-1;\t=1';
    const data = makeReportData({
      campaign: {
        title: evil,
        subject: `=${evil}`,
        unit: { hsaId: 'SE2321000032-1003', name: `@${evil}` },
      },
    });
    const rows: RecipientRow[] = [
      { pnr: syntheticPnr(1), outcome: 'delivered', at: '2026-03-02T08:00:05Z', messageId: 'a' },
      {
        pnr: syntheticPnr(2),
        outcome: 'unreachable',
        at: '2026-03-02T08:00:06Z',
        messageId: 'b',
        reason: `-${evil}`,
      },
    ];
    for (const write of [writeRecipientsCsv, writeLetterList, writeJournalExport]) {
      const path = join(dir, `${write.name}.csv`);
      await write(path, list(rows), data);
      const { cells } = splitCsv((await readFile(path, 'utf8')).slice(1));
      expect(cells.length).toBeGreaterThan(2);
      for (const row of cells) for (const cell of row) expect(cell, write.name).not.toMatch(/^[=+\-@\t]/);
    }
  });

  it('writes every recipient, owner-only, with a warning header, even under umask 0', async () => {
    const path = join(dir, 'recipients.csv');
    const data = makeReportData();
    const previous = process.umask(0);
    try {
      const written = await writeRecipientsCsv(path, makeRows(1000), data);
      expect(written).toEqual({ path, rows: 1000 });
    } finally {
      process.umask(previous);
    }
    expect(await mode(path)).toBe(0o600);
    const { comments, rows } = parseCsv(await readFile(path, 'utf8'));
    expect(comments[0]).toMatch(/personnummer/);
    expect(comments[0]).toMatch(/0600/);
    expect(comments.join('\n')).toContain(data.campaignId);
    expect(rows[0]).toEqual(['personnummer', 'utfall', 'tidpunkt', 'meddelande-id', 'orsak']);
    expect(rows).toHaveLength(1001);
    expect(rows[1]).toEqual([
      hyphenated(syntheticPnr(0)),
      'delivered',
      '2026-03-02 09:00:00',
      'influensa-2026-vc-gottsunda-000000',
      '',
    ]);
    for (let i = 0; i < 1000; i++) {
      expect(rows[i + 1]![0]).toBe(hyphenated(syntheticPnr(i)));
      expect(rows[i + 1]![1]).toBe(defaultRowOutcome(i));
    }
    expect(rows.filter((r) => r[1] === 'pending').every((r) => r[2] === '')).toBe(true);
    expect(await readdir(dir)).toEqual(['recipients.csv']);
  });

  it('quotes message ids and subjects that hold separators, quotes or line breaks', async () => {
    const path = join(dir, 'journal.csv');
    const data = makeReportData({
      campaign: { subject: '=HYPERLINK("https://example.org";"Klicka")\nrad två' },
    });
    const rows: RecipientRow[] = [
      { pnr: syntheticPnr(1), outcome: 'delivered', at: '2026-03-02T08:00:05Z', messageId: 'id;with"quote' },
      { pnr: syntheticPnr(2), outcome: 'unreachable', at: '2026-03-02T08:00:06Z', messageId: 'x' },
      { pnr: syntheticPnr(3), outcome: 'delivered', at: '2026-07-02T08:00:07Z', messageId: 'plain' },
    ];
    const written = await writeJournalExport(path, list(rows), data);
    expect(written.rows).toBe(2);
    expect(await mode(path)).toBe(0o600);
    const text = await readFile(path, 'utf8');
    expect(text).toContain(';"id;with""quote"\r\n');
    const parsed = parseCsv(text).rows;
    expect(parsed[0]).toEqual([
      'personnummer',
      'tidpunkt',
      'vardenhet-hsa-id',
      'vardenhet',
      'rubrik',
      'meddelande-id',
    ]);
    expect(parsed.slice(1)).toEqual([
      [
        hyphenated(syntheticPnr(1)),
        '2026-03-02 09:00:05',
        'SE2321000032-1003',
        'Vårdcentralen Gottsunda',
        `'${data.campaign.subject}`,
        'id;with"quote',
      ],
      [
        hyphenated(syntheticPnr(3)),
        '2026-07-02 10:00:07', // summer time
        'SE2321000032-1003',
        'Vårdcentralen Gottsunda',
        `'${data.campaign.subject}`,
        'plain',
      ],
    ]);
  });

  it('lists only the unreachable for the letter', async () => {
    const path = join(dir, 'brev-mottagare.csv');
    const written = await writeLetterList(path, makeRows(500), makeReportData());
    const expected = Array.from({ length: 500 }, (_, i) => i).filter(
      (i) => defaultRowOutcome(i) === 'unreachable',
    );
    expect(written.rows).toBe(expected.length);
    expect(expected.length).toBeGreaterThan(10);
    expect(await mode(path)).toBe(0o600);
    const { rows } = parseCsv(await readFile(path, 'utf8'));
    expect(rows.slice(1).map((r) => r[0])).toEqual(expected.map((i) => hyphenated(syntheticPnr(i))));
  });

  it('tightens an existing file and replaces a symlink instead of following it', async () => {
    const path = join(dir, 'recipients.csv');
    await writeFile(path, 'old', { mode: 0o644 });
    await writeRecipientsCsv(path, makeRows(3), makeReportData());
    expect(await mode(path)).toBe(0o600);

    const outside = join(dir, 'outside.txt');
    await writeFile(outside, 'untouched');
    const link = join(dir, 'journal.csv');
    await symlink(outside, link);
    await writeJournalExport(link, makeRows(3), makeReportData());
    expect(await readFile(outside, 'utf8')).toBe('untouched');
    expect((await stat(link)).isFile()).toBe(true);
    expect(await mode(link)).toBe(0o600);
  });

  it('leaves no file behind when the rows fail midway', async () => {
    const path = join(dir, 'recipients.csv');
    async function* broken(): AsyncGenerator<RecipientRow> {
      yield* makeRows(5);
      throw new Error('ledger went away');
    }
    await expect(writeRecipientsCsv(path, broken(), makeReportData())).rejects.toThrow('ledger went away');
    expect(await readdir(dir)).toEqual([]);
  });

  it('streams 100 000 rows without building them in memory first', async () => {
    const path = join(dir, 'recipients.csv');
    const t0 = performance.now();
    const written = await writeRecipientsCsv(path, makeRows(100_000), makeReportData());
    const ms = performance.now() - t0;
    expect(written.rows).toBe(100_000);
    const text = await readFile(path, 'utf8');
    expect(text.split('\r\n').length).toBe(100_000 + 4 + 1);
    expect(ms).toBeLessThan(10_000);
  });
});

describe('writeReport', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'utskick-report-write-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes every format into a private folder, with the letter list when letters are ordered', async () => {
    const out = join(dir, 'rapport');
    let calls = 0;
    const rows = () => {
      calls++;
      return makeRows(300);
    };
    const result = await writeReport(out, makeReportData(), rows, ['html', 'md', 'json', 'csv']);
    expect(result.files.map((f) => f.slice(out.length + 1))).toEqual([
      'report.json',
      'report.md',
      'report.html',
      'recipients.csv',
      'brev-mottagare.csv',
      'journal.csv',
    ]);
    expect(calls).toBe(3);
    expect(await mode(out)).toBe(0o700);
    for (const name of ['report.json', 'report.md', 'report.html'])
      expect(await mode(join(out, name))).toBe(0o644);
    for (const name of ['recipients.csv', 'brev-mottagare.csv', 'journal.csv'])
      expect(await mode(join(out, name))).toBe(0o600);
    const unreachable = Array.from({ length: 300 }, (_, i) => defaultRowOutcome(i)).filter(
      (o) => o === 'unreachable',
    ).length;
    const delivered = Array.from({ length: 300 }, (_, i) => defaultRowOutcome(i)).filter(
      (o) => o === 'delivered',
    ).length;
    expect(result.rows).toEqual({ recipients: 300, letters: unreachable, journal: delivered });
    expect((await readdir(out)).sort()).toEqual(
      [
        'brev-mottagare.csv',
        'journal.csv',
        'recipients.csv',
        'report.html',
        'report.json',
        'report.md',
      ].sort(),
    );
  });

  it('writes no letter list when the campaign sends no letters, and only the formats asked for', async () => {
    const data = makeReportData({ campaign: { unreachable: 'none' } });
    const result = await writeReport(dir, data, () => makeRows(50), ['md', 'csv']);
    expect((await readdir(dir)).sort()).toEqual(['journal.csv', 'recipients.csv', 'report.md']);
    expect(result.rows?.letters).toBeUndefined();
    // An existing folder (here the test's own) keeps its mode.
    const html = await writeReport(join(dir, 'b'), data, () => makeRows(1), ['html']);
    expect(html.files).toEqual([join(dir, 'b', 'report.html')]);
  });

  it('puts no personnummer in the summary files, even when a problem value arrives unmasked', async () => {
    const n = 400;
    const data = makeReportData();
    const leaked = syntheticPnr(123_456);
    data.problems.push({ file: 'lista.csv', line: 7, code: 'DUPLICATE', value: leaked });
    data.problems.push({
      file: 'lista.csv',
      line: 8,
      code: 'FORMAT',
      value: `x ${leaked.slice(2, 8)}-${leaked.slice(8)}`,
    });
    await writeReport(dir, data, () => makeRows(n), ['html', 'md', 'json', 'csv']);
    const numbers = new Set(Array.from({ length: n }, (_, i) => syntheticPnr(i)));
    numbers.add(leaked);
    for (const name of ['report.json', 'report.md', 'report.html']) {
      const text = await readFile(join(dir, name), 'utf8');
      expect(text.match(/(?<![0-9A-Za-z])\d{12}(?![0-9A-Za-z])/g), name).toBeNull();
      expect(text.match(/(?<!\d)\d{8}[-+]\d{4}(?!\d)/g), name).toBeNull();
      expect(text.match(/(?<!\d)\d{6}[-+]\d{4}(?!\d)/g), name).toBeNull();
      for (const pnr of numbers) expect(text.includes(pnr.slice(2)), name).toBe(false);
    }
    // The owner-only list does hold them: the scan above would have found them.
    const csv = await readFile(join(dir, 'recipients.csv'), 'utf8');
    expect(csv.match(/(?<!\d)\d{8}-\d{4}(?!\d)/g)).toHaveLength(n);
  });
});
