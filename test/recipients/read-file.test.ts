import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type ParseOptions, todayOf } from '../../src/recipients/personnummer.js';
import { parseRecipientFile } from '../../src/recipients/read-file.js';
import { syntheticPnr } from '../helpers/personnummer.js';

const opts: ParseOptions = { today: { year: 2026, month: 11, day: 27 }, allowCoordinationNumbers: true };
const [a, b, c] = [syntheticPnr(1), syntheticPnr(2), syntheticPnr(3)];
const dashed = (p: string) => `${p.slice(0, 8)}-${p.slice(8)}`;
const short = (p: string) => `${p.slice(2, 8)}-${p.slice(8)}`;
const wrongCheck = (p: string) => `${p.slice(0, 11)}${(Number(p[11]) + 1) % 10}`;

const read = (text: string | Buffer, name = 'lista.txt', o: ParseOptions = opts) =>
  parseRecipientFile({ name, data: Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8') }, o);

describe('parseRecipientFile: lines', () => {
  it('reads one number a line, normalised, with its line number', () => {
    const f = read(`${a}\n${dashed(b)}\n${short(c)}\n`);
    expect(f.numbers).toEqual([a, b, c]);
    expect(f.lineNumbers).toEqual([1, 2, 3]);
    expect(f.lines).toBe(3);
    expect(f.problems).toEqual([]);
    expect(f.name).toBe('lista.txt');
  });

  it('handles CRLF, a BOM, blank and whitespace-only lines, and no final newline', () => {
    const f = read(`\uFEFF${a}\r\n\r\n   \r\n\t${b} \r\n\n${c}`);
    expect(f.numbers).toEqual([a, b, c]);
    expect(f.lineNumbers).toEqual([1, 4, 6]);
    expect(f.lines).toBe(3);
  });

  it('counts line numbers over blank lines and the header, so a problem points at the right line', () => {
    const f = read(`Personnummer\n\n${a}\n\n${wrongCheck(b)}\r\n${c}\n`);
    expect(f.numbers).toEqual([a, c]);
    expect(f.lineNumbers).toEqual([3, 6]);
    expect(f.problems).toEqual([
      { file: 'lista.txt', line: 5, code: 'CHECKSUM', value: `${b.slice(0, 8)}-****` },
    ]);
    expect(f.lines).toBe(3);
  });

  it('hashes the exact bytes (the sha256 names the content, not the name)', () => {
    const text = `${a}\n${b}\n`;
    expect(read(text).sha256).toBe(createHash('sha256').update(text).digest('hex'));
    expect(read(text, 'other.txt').sha256).toBe(read(text).sha256);
    expect(read(`${a}\r\n${b}\r\n`).sha256).not.toBe(read(text).sha256);
  });

  it('an empty file, or one with only a header, has no lines and no problems', () => {
    for (const text of ['', '\n\n', '\uFEFF', 'personnummer\r\n', '\r\n']) {
      const f = read(text);
      expect(f).toMatchObject({ lines: 0, numbers: [], problems: [] });
    }
  });
});

describe('parseRecipientFile: the optional header', () => {
  it.each([
    ['Personnummer'],
    ['personnummer;namn;adress'],
    ['"Personnummer","Namn"'],
    ['pnr\tnamn'],
    ['Personnummer (ÅÅÅÅMMDD-NNNN)'],
  ])('skips a first line without digits: %s', (header) => {
    const f = read(`${header}\n${a}\n`);
    expect(f.numbers).toEqual([a]);
    expect(f.lineNumbers).toEqual([2]);
    expect(f.problems).toEqual([]);
    expect(f.lines).toBe(1);
  });

  it('the header may follow blank lines and a BOM', () => {
    const f = read(`\uFEFF\n\nPersonnummer\n${a}\n`);
    expect(f.numbers).toEqual([a]);
    expect(f.lineNumbers).toEqual([4]);
  });

  it('only the first content line can be a header: a later word is a FORMAT problem', () => {
    const f = read(`${a}\nPersonnummer\n${b}\n`);
    expect(f.numbers).toEqual([a, b]);
    expect(f.problems).toEqual([{ file: 'lista.txt', line: 2, code: 'FORMAT', value: 'Personnu****' }]);
  });

  it('a mistyped first number is reported, not mistaken for a header', () => {
    for (const typo of ['19850x17-1234', '8503l7-1234', '1985-03-17-1234', `${a.slice(0, 11)}`]) {
      const f = read(`${typo}\n${b}\n`);
      expect(f.numbers).toEqual([b]);
      expect(f.problems).toHaveLength(1);
      expect(f.problems[0]).toMatchObject({ file: 'lista.txt', line: 1, code: 'FORMAT' });
      expect(f.lines).toBe(2);
    }
  });
});

describe('parseRecipientFile: CSV', () => {
  it.each([
    ['semicolon', ';'],
    ['comma', ','],
    ['tab', '\t'],
  ])('takes the first column of a %s-separated file', (_name, sep) => {
    const f = read(
      `personnummer${sep}namn\n${a}${sep}Anna Test\n${dashed(b)}${sep}Bo${sep}extra\n${c}${sep}\n`,
    );
    expect(f.numbers).toEqual([a, b, c]);
    expect(f.lineNumbers).toEqual([2, 3, 4]);
  });

  it('strips quotes and blanks around the first field', () => {
    const f = read(`"${a}";"Anna"\n  " ${dashed(b)} " , x\n"${short(c)}"\n`);
    expect(f.numbers).toEqual([a, b, c]);
  });

  it('a number in another column than the first is not picked up (and not leaked)', () => {
    const f = read(`namn;personnummer\nAnna;${a}\n`);
    // The header has no digit; "Anna" is the first field of line 2.
    expect(f.numbers).toEqual([]);
    expect(f.problems).toEqual([{ file: 'lista.txt', line: 2, code: 'FORMAT', value: '****' }]);
  });

  it('an empty spreadsheet row (separators and quotes only) is a blank line', () => {
    const f = read(`personnummer;namn\n;;;\n"";""\n${b};x\n , ,\n`);
    expect(f.numbers).toEqual([b]);
    expect(f.lineNumbers).toEqual([4]);
    expect(f.problems).toEqual([]);
  });

  it('an empty first column with content after it is reported, never dropped silently', () => {
    const f = read(`${b}\n;${a}\n"";Anna\n`);
    expect(f.numbers).toEqual([b]);
    expect(f.problems.map((p) => [p.line, p.code])).toEqual([
      [2, 'FORMAT'],
      [3, 'FORMAT'],
    ]);
    expect(JSON.stringify(f.problems)).not.toContain(a.slice(2));
  });
});

describe('parseRecipientFile: problems', () => {
  it('reports every kind with file, line and a masked value, in file order', () => {
    const today = todayOf(new Date(2026, 10, 27));
    const lines = [
      'Personnummer',
      a,
      'x',
      wrongCheck(b),
      '19121332-1212',
      '20991231-1231',
      syntheticPnr(9, { coordination: true }),
      '19121212-T123',
      '991212121212',
      a,
    ];
    const f = read(lines.join('\n'), 'kolla.csv', { today, allowCoordinationNumbers: false });
    expect(f.numbers).toEqual([a, a]); // duplicates are the planner's business
    expect(f.problems.map((p) => [p.line, p.code])).toEqual([
      [3, 'FORMAT'],
      [4, 'CHECKSUM'],
      [5, 'DATE'],
      [6, 'FUTURE_DATE'],
      [7, 'COORDINATION_NUMBER'],
      [8, 'RESERVE_NUMBER'],
      [9, 'RESERVE_NUMBER'],
    ]);
    for (const p of f.problems) {
      expect(p.file).toBe('kolla.csv');
      expect(p.value).toMatch(/\*/);
    }
    const text = JSON.stringify(f.problems);
    for (const n of [b, syntheticPnr(9, { coordination: true }), '991212121212']) {
      expect(text).not.toContain(n);
      expect(text).not.toContain(n.slice(2));
    }
  });

  it('a coordination number is fine when the campaign allows them', () => {
    const co = syntheticPnr(9, { coordination: true });
    expect(read(`${co}\n`).numbers).toEqual([co]);
  });

  it('invalid UTF-8 is a FORMAT problem of its line; a NUL byte makes the file one problem, not a crash', () => {
    const data = Buffer.concat([
      Buffer.from(`${a}\n`),
      Buffer.from([0xff, 0xfe, 0x31, 0x0a]),
      Buffer.from(b),
    ]);
    const f = read(data);
    expect(f.numbers).toEqual([a, b]);
    expect(f.problems).toMatchObject([{ line: 2, code: 'FORMAT' }]);
    // A NUL byte: not a text file (real recipient files never hold one), named on the line it is on.
    const nul = Buffer.concat([
      Buffer.from(`${a}\n`),
      Buffer.from([0xff, 0xfe, 0x00, 0x31, 0x0a]),
      Buffer.from(b),
    ]);
    expect(read(nul)).toMatchObject({
      lines: 1,
      numbers: [],
      problems: [{ line: 2, code: 'FORMAT', value: 'file has NUL bytes; not a text file' }],
    });
  });
});
