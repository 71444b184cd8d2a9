/**
 * Swedish personal identity numbers (personnummer) and coordination numbers
 * (samordningsnummer): parsing, the rules a recipient must pass, and masking.
 *
 * This is the hot path of ingest (a million lines in a few seconds), so it walks
 * char codes instead of using regular expressions or Date objects. The
 * `personnummer` package is used as an independent oracle in the property tests.
 */

export const problemCodes = [
  'FORMAT',
  'CHECKSUM',
  'DATE',
  'FUTURE_DATE',
  'COORDINATION_NUMBER',
  'RESERVE_NUMBER',
  'DUPLICATE',
] as const;
export type ProblemCode = (typeof problemCodes)[number];

export type ParseResult =
  | { ok: true; pnr: string; coordination: boolean }
  | { ok: false; code: Exclude<ProblemCode, 'DUPLICATE'> };

/** Today's date as the three numbers the rules compare against (local calendar). */
export interface Today {
  year: number;
  month: number;
  day: number;
}

export function todayOf(date: Date): Today {
  return { year: date.getFullYear(), month: date.getMonth() + 1, day: date.getDate() };
}

export interface ParseOptions {
  today: Today;
  allowCoordinationNumbers: boolean;
}

const ZERO = 48;
/** No one born before this year holds a personnummer (YYYYMMDD forms such as 0050… are typing errors). */
const EARLIEST_YEAR = 1800;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isBlank = (c: number): boolean => c === 32 || c === 9 || c === 0xfeff || c === 0xa0;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Luhn over the ten digits YYMMDDNNNC (the century is not part of the check). */
export function luhnOk(digits10: string): boolean {
  let sum = 0;
  for (let i = 0; i < 10; i++) {
    let v = digits10.charCodeAt(i) - ZERO;
    if (i % 2 === 0) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return sum % 10 === 0;
}

/** The check digit that makes YYMMDDNNN valid. */
export function luhnDigit(digits9: string): number {
  let sum = 0;
  for (let i = 0; i < 9; i++) {
    let v = digits9.charCodeAt(i) - ZERO;
    if (i % 2 === 0) {
      v *= 2;
      if (v > 9) v -= 9;
    }
    sum += v;
  }
  return (10 - (sum % 10)) % 10;
}

/**
 * Parses one line. Accepts `YYYYMMDDNNNC`, `YYYYMMDD-NNNC`, `YYMMDD-NNNC` and
 * `YYMMDD+NNNC` (100 years or older) with blanks around; returns the 12-digit form.
 */
export function parsePersonnummer(raw: string, options: ParseOptions): ParseResult {
  let start = 0;
  let end = raw.length;
  while (start < end && isBlank(raw.charCodeAt(start))) start++;
  while (end > start && isBlank(raw.charCodeAt(end - 1))) end--;
  const len = end - start;
  // Shapes: 12 = YYYYMMDDNNNC, 13 = YYYYMMDD-NNNC, 11 = YYMMDD[-+]NNNC.
  let sep = -1;
  let dateDigits: number;
  if (len === 12) {
    dateDigits = 8;
  } else if (len === 13) {
    dateDigits = 8;
    sep = start + 8;
  } else if (len === 11) {
    dateDigits = 6;
    sep = start + 6;
  } else {
    return { ok: false, code: 'FORMAT' };
  }
  if (sep >= 0) {
    const s = raw.charCodeAt(sep);
    if (s !== 45 /* - */ && !(s === 43 /* + */ && dateDigits === 6)) return { ok: false, code: 'FORMAT' };
  }
  for (let i = start; i < start + dateDigits; i++) {
    if (!isDigit(raw.charCodeAt(i))) return { ok: false, code: 'FORMAT' };
  }
  const serialStart = sep >= 0 ? sep + 1 : start + dateDigits;
  let serialHasLetter = false;
  for (let i = serialStart; i < serialStart + 4; i++) {
    const c = raw.charCodeAt(i);
    if (isLetter(c) && i < serialStart + 3) serialHasLetter = true;
    else if (!isDigit(c)) return { ok: false, code: 'FORMAT' };
  }
  if (serialHasLetter) return { ok: false, code: 'RESERVE_NUMBER' };

  const yy =
    (raw.charCodeAt(start + dateDigits - 6) - ZERO) * 10 + raw.charCodeAt(start + dateDigits - 5) - ZERO;
  const month =
    (raw.charCodeAt(start + dateDigits - 4) - ZERO) * 10 + raw.charCodeAt(start + dateDigits - 3) - ZERO;
  let day =
    (raw.charCodeAt(start + dateDigits - 2) - ZERO) * 10 + raw.charCodeAt(start + dateDigits - 1) - ZERO;
  let year: number;
  const { today } = options;
  if (dateDigits === 8) {
    const cc = (raw.charCodeAt(start) - ZERO) * 10 + raw.charCodeAt(start + 1) - ZERO;
    // A region's all-digit reserve series: 99 in the century position.
    if (cc === 99) return { ok: false, code: 'RESERVE_NUMBER' };
    year = cc * 100 + yy;
  } else {
    // YYMMDD-: the latest year not after today; YYMMDD+: a hundred years before that.
    year = today.year - ((((today.year - yy) % 100) + 100) % 100);
    const d = day > 60 ? day - 60 : day;
    if (year === today.year && (month > today.month || (month === today.month && d > today.day))) year -= 100;
    if (raw.charCodeAt(sep) === 43) year -= 100;
  }
  const coordination = day > 60;
  if (coordination) day -= 60;
  if (year < EARLIEST_YEAR || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month))
    return { ok: false, code: 'DATE' };
  if (
    year > today.year ||
    (year === today.year && (month > today.month || (month === today.month && day > today.day)))
  ) {
    return { ok: false, code: 'FUTURE_DATE' };
  }

  const yyStr = raw.slice(start + dateDigits - 6, start + dateDigits);
  const serial = raw.slice(serialStart, serialStart + 4);
  if (!luhnOk(yyStr + serial)) return { ok: false, code: 'CHECKSUM' };
  if (coordination && !options.allowCoordinationNumbers) return { ok: false, code: 'COORDINATION_NUMBER' };
  const century = Math.floor(year / 100);
  return { ok: true, pnr: `${century}${yyStr}${serial}`, coordination };
}

/**
 * Masks a value for logs, reports and error messages: the date part stays, the
 * serial and check digit never do (`19121212-****`). Anything unparseable keeps
 * at most its first 8 characters.
 */
export function maskPersonnummer(value: string): string {
  const v = value.trim();
  if (/^\d{12}$/.test(v)) return `${v.slice(0, 8)}-****`;
  if (/^\d{8}[-+]?[0-9A-Za-z]{4}$/.test(v)) return `${v.slice(0, 8)}-****`;
  if (/^\d{6}[-+][0-9A-Za-z]{4}$/.test(v)) return `${v.slice(0, 7)}****`;
  const shown = v.slice(0, Math.min(8, Math.max(0, v.length - 4)));
  return v.length === 0
    ? ''
    : `${shown}${'*'.repeat(Math.min(4, v.length - shown.length))}${v.length > 12 ? '…' : ''}`;
}
