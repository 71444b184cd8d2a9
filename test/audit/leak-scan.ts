import { expect } from 'vitest';

/** The shapes of a personnummer the leak scans look for (the report and enqueue tests use the same). */
const shapes = [
  /(?<![0-9A-Za-z])\d{12}(?![0-9A-Za-z])/g,
  /(?<!\d)\d{8}[-+]\d{4}(?!\d)/g,
  /(?<!\d)\d{6}[-+]\d{4}(?!\d)/g,
];

/** Each match with 40 characters either side, so a failure shows where it is. */
function found(text: string, pattern: RegExp): string[] {
  return [...text.matchAll(pattern)].map((m) => text.slice(Math.max(0, m.index - 40), m.index + 52));
}

/**
 * The scan for personnummer the other leak tests use (report.rows, purge,
 * enqueue CLI): no 12-digit number standing alone, no `YYYYMMDD-NNNN` or
 * `YYMMDD-NNNN`, and none of the given numbers, whole or without the century
 * (a 10-digit run alone is not a shape here: Redis holds unix times in seconds).
 */
export function expectNoPersonnummer(texts: readonly string[], numbers: readonly string[] = []): void {
  const all = texts.join('\n');
  for (const shape of shapes) expect(found(all, shape)).toEqual([]);
  for (const n of numbers) {
    expect(all.includes(n), `${n.slice(0, 8)}-**** appears`).toBe(false);
    expect(all.includes(n.slice(2)), `${n.slice(2, 8)}-**** appears`).toBe(false);
  }
}

/** The audit entries alone must hold no 10-digit run either (no field of theirs is a unix time). */
export function expectNoDigitRuns(texts: readonly string[]): void {
  const all = texts.join('\n');
  expect(found(all, /(?<![0-9A-Za-z])\d{10}(?![0-9A-Za-z])/g)).toEqual([]);
  expectNoPersonnummer(texts);
}
