import { describe, expect, it } from 'vitest';
import {
  luhnDigit,
  luhnOk,
  maskPersonnummer,
  type ParseOptions,
  type ParseResult,
  parsePersonnummer,
  todayOf,
} from '../../src/recipients/personnummer.js';
import { syntheticPnr } from '../helpers/personnummer.js';

/** A fixed "today" so the century and future-date rules are deterministic. */
const today = { year: 2026, month: 11, day: 27 };
const opts: ParseOptions = { today, allowCoordinationNumbers: true };
const noCoordination: ParseOptions = { today, allowCoordinationNumbers: false };

const parse = (raw: string, o: ParseOptions = opts): ParseResult => parsePersonnummer(raw, o);
const ok = (pnr: string, coordination = false) => ({ ok: true, pnr, coordination });
const bad = (code: string) => ({ ok: false, code });

// Skatteverket's published test number 19121212-1212, and numbers whose check
// digits were confirmed with the independent `personnummer` package.
const TEST_NUMBER = '191212121212';

describe('parsePersonnummer: accepted shapes', () => {
  it.each([
    ['YYYYMMDDNNNC', '191212121212'],
    ['YYYYMMDD-NNNC', '19121212-1212'],
    ['YYMMDD+NNNC (100 years or older)', '121212+1212'],
  ])('%s normalises to 12 digits', (_shape, raw) => {
    expect(parse(raw)).toEqual(ok(TEST_NUMBER));
  });

  it('YYMMDD-NNNC takes the latest century not after today', () => {
    expect(parse('121212-1212')).toEqual(ok('201212121212'));
    expect(parse('850317-1236')).toEqual(ok('198503171236'));
  });

  it.each([
    ['spaces', '  191212121212  '],
    ['tabs', '\t19121212-1212\t'],
    ['a UTF-8 BOM', '\uFEFF191212121212'],
    ['no-break spaces', '\u00A0121212+1212\u00A0'],
  ])('ignores %s around the number', (_what, raw) => {
    expect(parse(raw)).toEqual(ok(TEST_NUMBER));
  });

  it('keeps the serial and check digit exactly (leading zeros too)', () => {
    expect(parse('800101-0019')).toEqual(ok('198001010019'));
    expect(parse('000101-1238')).toEqual(ok('200001011238'));
  });

  it('accepts syntheticPnr numbers in the long, dashed and short forms', () => {
    for (let i = 0; i < 2000; i += 7) {
      const p = syntheticPnr(i * 13);
      const short = `${p.slice(2, 8)}${2026 - Number(p.slice(0, 4)) >= 100 ? '+' : '-'}${p.slice(8)}`;
      for (const raw of [p, `${p.slice(0, 8)}-${p.slice(8)}`, short]) expect(parse(raw)).toEqual(ok(p));
    }
  });
});

describe('parsePersonnummer: the century rule of the short forms (today 2026-11-27)', () => {
  it('a birthday today belongs to this year; tomorrow to a hundred years ago', () => {
    expect(parse('261127-1236')).toEqual(ok('202611271236'));
    expect(parse('261128-1235')).toEqual(ok('192611281235'));
    expect(parse('261231-1239')).toEqual(ok('192612311239'));
    expect(parse('260101-1238')).toEqual(ok('202601011238'));
    expect(parse('251128-0014')).toEqual(ok('202511280014'));
  });

  it('+ means a hundred years before the - reading', () => {
    expect(parse('261127+1236')).toEqual(ok('192611271236'));
    expect(parse('261128+1235')).toEqual(ok('182611281235'));
    expect(parse('270101+0015')).toEqual(ok('182701010015'));
    expect(parse('270101-0015')).toEqual(ok('192701010015'));
  });

  it('follows the century into leap years: 2000 was one, 1900 was not', () => {
    expect(parse('000229-1235')).toEqual(ok('200002291235'));
    expect(parse('000229+1235')).toEqual(bad('DATE'));
    expect(parse('200002291235')).toEqual(ok('200002291235'));
    expect(parse('190002291235')).toEqual(bad('DATE'));
    expect(parse('960229-1230')).toEqual(ok('199602291230'));
    expect(parse('240229-1237')).toEqual(ok('202402291237'));
    expect(parse('250229-1236')).toEqual(bad('DATE'));
  });

  it('uses the calendar of the given today, not the machine clock', () => {
    const newYear = { today: { year: 2027, month: 1, day: 1 }, allowCoordinationNumbers: true };
    expect(parse('261128-1235', newYear)).toEqual(ok('202611281235'));
    expect(parse('270101-0015', newYear)).toEqual(ok('202701010015'));
    expect(todayOf(new Date(2026, 10, 27, 23, 59))).toEqual(today);
  });
});

describe('parsePersonnummer: rejections', () => {
  it.each([
    ['empty', ''],
    ['blanks only', '   '],
    ['ten digits without a separator', '1212121212'],
    ['eleven digits', '19121212121'],
    ['+ in the long form', '19121212+1212'],
    ['a separator in the wrong place', '1912121-21212'],
    ['an en dash', '19121212\u20131212'],
    ['a space as separator', '19121212 1212'],
    ['a letter in the date', '1912121A1212'],
    ['a letter as check digit', '19121212-121X'],
    ['Arabic-Indic digits', '\u0661\u0669\u0661\u0662\u0661\u0662\u0661\u0662\u0661\u0662\u0661\u0662'],
    ['full-width digits', '\uFF11\uFF19\uFF11\uFF12\uFF11\uFF12\uFF11\uFF12\uFF11\uFF12\uFF11\uFF12'],
    ['a NUL inside', '19121212\u00001212'],
    ['a line break inside', '191212\n121212'],
    ['fourteen digits', '19121212121212'],
  ])('FORMAT: %s', (_what, raw) => {
    expect(parse(raw)).toEqual(bad('FORMAT'));
  });

  it.each([
    ['day 0', '191212001212'],
    ['month 0', '191200121212'],
    ['month 13', '191213121212'],
    ['31 April', '191204311212'],
    ['30 February', '200002301212'],
    ['29 February 2025', '20250229-1236'],
    ['coordination day 60 (day 0)', '191212601212'],
    ['coordination day 92 (day 32)', '121292-1231'],
    ['coordination 31 April (day 91)', '19120491-1212'],
    ['day 32', '191212321212'],
    ['a year before 1800', '005001011237'],
    ['1799', '179912311231'],
  ])('DATE: %s', (_what, raw) => {
    expect(parse(raw)).toEqual(bad('DATE'));
  });

  it('the date rule comes before the check digit (any check digit gives DATE)', () => {
    for (let c = 0; c < 10; c++) expect(parse(`19120431123${c}`)).toEqual(bad('DATE'));
  });

  it('CHECKSUM: every wrong check digit of a valid number', () => {
    for (let c = 0; c < 10; c++) {
      const raw = `19121212121${c}`;
      expect(parse(raw)).toEqual(c === 2 ? ok(TEST_NUMBER) : bad('CHECKSUM'));
    }
    expect(parse('121212-1213')).toEqual(bad('CHECKSUM'));
    expect(luhnOk('1212121212')).toBe(true);
    expect(luhnDigit('121212121')).toBe(2);
  });

  it('FUTURE_DATE: tomorrow, next year, far ahead; today is fine', () => {
    expect(parse('202611271236')).toEqual(ok('202611271236'));
    expect(parse('202611281235')).toEqual(bad('FUTURE_DATE'));
    expect(parse('20261128-1235')).toEqual(bad('FUTURE_DATE'));
    expect(parse('202701010015')).toEqual(bad('FUTURE_DATE'));
    expect(parse('209912311231')).toEqual(bad('FUTURE_DATE'));
    // A coordination number's date is the birth date: day 88 is the 28th, tomorrow.
    expect(parse('202611881232')).toEqual(bad('FUTURE_DATE'));
  });

  it('coordination numbers (day + 60): accepted when the campaign allows them, else COORDINATION_NUMBER', () => {
    for (const raw of ['121272-1235', '121291-1232', '121261-1238', '19121272-1235']) {
      const expected = raw.length === 13 ? '191212721235' : `20${raw.slice(0, 6)}${raw.slice(7)}`;
      expect(parse(raw)).toEqual(ok(expected, true));
      expect(parse(raw, noCoordination)).toEqual(bad('COORDINATION_NUMBER'));
    }
    const synthetic = syntheticPnr(4321, { coordination: true });
    expect(parse(synthetic)).toEqual(ok(synthetic, true));
    expect(parse(synthetic, noCoordination)).toEqual(bad('COORDINATION_NUMBER'));
    // An ordinary number is not affected by the switch.
    expect(parse(TEST_NUMBER, noCoordination)).toEqual(ok(TEST_NUMBER));
  });

  it('a coordination number with a wrong check digit is a CHECKSUM problem either way', () => {
    expect(parse('121272-1236')).toEqual(bad('CHECKSUM'));
    expect(parse('121272-1236', noCoordination)).toEqual(bad('CHECKSUM'));
  });

  it.each([
    ['a letter first in the serial', '19121212-T123'],
    ['a letter second in the serial', '121212-1A12'],
    ['a lowercase letter third', '19121212-12x2'],
    ['a letter without separator', '19121212R123'],
    ['the all-digit 99 series', '991212121212'],
    ['the 99 series with a separator', '99121212-1212'],
  ])('RESERVE_NUMBER: %s', (_what, raw) => {
    expect(parse(raw)).toEqual(bad('RESERVE_NUMBER'));
  });
});

describe('maskPersonnummer', () => {
  it('keeps the date and hides serial and check digit of every shape', () => {
    expect(maskPersonnummer('191212121212')).toBe('19121212-****');
    expect(maskPersonnummer('19121212-1212')).toBe('19121212-****');
    expect(maskPersonnummer('121212-1212')).toBe('121212-****');
    expect(maskPersonnummer('121212+1212')).toBe('121212+****');
    expect(maskPersonnummer(' 19121212-T123 ')).toBe('19121212-****');
  });

  it.each([
    ['empty', '', ''],
    ['short garbage', 'abc', '***'],
    ['a ten-digit run', '8503171236', '850317****'],
    ['a near miss', '19850x17-12', '19850x1****'],
    ['long text', 'Personnummer saknas helt', '12345678'],
  ])('never reveals the last four characters of garbage: %s', (_what, value, expected) => {
    const masked = maskPersonnummer(value);
    if (value.length <= 12) expect(masked).toBe(expected);
    const shown = masked.replace(/[*…]+$/, '');
    expect(value.startsWith(shown)).toBe(true);
    expect(shown.length).toBeLessThanOrEqual(Math.max(0, value.length - 4));
    expect(masked.replace(/[^0-9]/g, '').length).toBeLessThanOrEqual(8);
  });

  it('never shows more than eight characters of a long value', () => {
    const long = `${'7'.repeat(30)}191212121212`;
    const masked = maskPersonnummer(long);
    expect(masked).toBe('77777777****…');
    expect(masked).not.toContain(TEST_NUMBER);
  });
});
