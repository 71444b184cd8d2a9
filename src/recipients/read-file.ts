import { createHash } from 'node:crypto';
import { maskPersonnummer, type ParseOptions, type ProblemCode, parsePersonnummer } from './personnummer.js';

/**
 * One rejected or duplicate line; `value` is always masked (or, for a file that
 * is not text, the reason). It is raw text from the file: escape it (printable())
 * before it reaches a terminal.
 */
export interface Problem {
  file: string;
  line: number;
  code: ProblemCode;
  value: string;
}

/** A recipient file as delivered: a name for messages and its bytes. */
export interface SourceFile {
  name: string;
  data: Buffer;
}

export interface ParsedFile {
  name: string;
  sha256: string;
  /** Non-blank lines after the optional header. */
  lines: number;
  /** Valid 12-digit numbers in file order, with their line numbers. */
  numbers: string[];
  lineNumbers: number[];
  problems: Problem[];
}

/** A header names its columns; a first line with any digit is data (a mistyped number must be reported, not skipped). */
const hasDigit = /\d/;

/** Anything but separators, quotes and blanks: a line like `;;;` (an empty spreadsheet row) is blank. */
const hasContent = /[^\s,;"]/;

/** The first field of a CSV line (`,` `;` or tab), without surrounding quotes; leading blanks are not a field. */
function firstField(line: string): string {
  let start = 0;
  while (start < line.length && (line.charCodeAt(start) === 32 || line.charCodeAt(start) === 9)) start++;
  let end = line.length;
  for (let i = start; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 44 || c === 59 || c === 9) {
      end = i;
      break;
    }
  }
  let field = line.slice(start, end).trim();
  if (field.length >= 2 && field.startsWith('"') && field.endsWith('"')) field = field.slice(1, -1).trim();
  return field;
}

/** How many leading bytes the NUL count looks at to tell UTF-16 from other binary data. */
const ENCODING_SAMPLE_BYTES = 64 * 1024;

/**
 * Why a file is not UTF-8 text, as one problem for the whole file, or
 * undefined. UTF-16 (a BOM FF FE or FE FF, or NULs in every other byte, as
 * "Unicode text" from Excel or Notepad) would otherwise be one FORMAT problem
 * per line; any other NUL byte means the file is not text at all.
 */
export function encodingProblem(data: Buffer): { line: number; reason: string } | undefined {
  if (
    data.length >= 2 &&
    ((data[0] === 0xff && data[1] === 0xfe) || (data[0] === 0xfe && data[1] === 0xff))
  ) {
    return { line: 1, reason: 'file is UTF-16; save it as UTF-8' };
  }
  const firstNul = data.indexOf(0);
  if (firstNul === -1) return undefined;
  const sample = data.subarray(0, Math.min(data.length, ENCODING_SAMPLE_BYTES));
  let even = 0;
  let odd = 0;
  for (let i = 0; i < sample.length; i++) {
    if (sample[i] === 0) {
      if (i % 2 === 0) even++;
      else odd++;
    }
  }
  // UTF-16 text of digits and Latin letters: about half the bytes are NUL, nearly all on one side.
  const nuls = even + odd;
  if (nuls * 4 >= sample.length && Math.max(even, odd) >= nuls * 0.9) {
    return { line: 1, reason: 'file is UTF-16; save it as UTF-8' };
  }
  let line = 1;
  for (let i = data.indexOf(10); i !== -1 && i < firstNul; i = data.indexOf(10, i + 1)) line++;
  return { line, reason: 'file has NUL bytes; not a text file' };
}

/**
 * Parses one recipient file: one personnummer per line, UTF-8 (a BOM is
 * dropped), CRLF or LF, blank lines ignored, an optional header line (the first
 * non-blank line when its first field holds no digit). Duplicates are found by
 * the caller, across files. A file that is not UTF-8 text (UTF-16, or with NUL
 * bytes) is one FORMAT problem for the whole file, counted as one line, whose
 * value says why.
 */
export function parseRecipientFile(file: SourceFile, options: ParseOptions): ParsedFile {
  const sha256 = createHash('sha256').update(file.data).digest('hex');
  const notText = encodingProblem(file.data);
  if (notText !== undefined) {
    return {
      name: file.name,
      sha256,
      lines: 1,
      numbers: [],
      lineNumbers: [],
      problems: [{ file: file.name, line: notText.line, code: 'FORMAT', value: notText.reason }],
    };
  }
  let text = file.data.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const numbers: string[] = [];
  const lineNumbers: number[] = [];
  const problems: Problem[] = [];
  let lines = 0;
  let seenContent = false;
  let lineNo = 0;
  let pos = 0;
  while (pos <= text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl === -1) nl = text.length;
    let line = text.slice(pos, nl);
    pos = nl + 1;
    lineNo++;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    let value = firstField(line);
    if (value.length === 0) {
      if (!hasContent.test(line)) continue;
      // An empty first column with something after it: report the line, never drop it silently.
      value = line.trim();
    }
    if (!seenContent) {
      seenContent = true;
      if (!hasDigit.test(value)) continue;
    }
    lines++;
    const result = parsePersonnummer(value, options);
    if (result.ok) {
      numbers.push(result.pnr);
      lineNumbers.push(lineNo);
    } else {
      problems.push({ file: file.name, line: lineNo, code: result.code, value: maskPersonnummer(value) });
    }
  }
  return { name: file.name, sha256, lines, numbers, lineNumbers, problems };
}
