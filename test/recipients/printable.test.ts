import { describe, expect, it } from 'vitest';
import { printable, printableName } from '../../src/recipients/printable.js';

/** Every character a terminal may act on: C0 (line breaks and tabs too), DEL, C1. */
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

describe('printable', () => {
  it('escapes control characters as \\x escapes, so ESC[2J cannot clear a screen', () => {
    expect(printable('\u001b[2J')).toBe('\\x1b[2J');
    expect(printable('a\u0000b\tc\r\nd\u007f')).toBe('a\\x00b\\x09c\\x0d\\x0ad\\x7f');
    expect(printable('\u009b31m')).toBe('\\x9b31m');
  });

  it('escapes bidirectional overrides, line separators and a BOM as \\u escapes', () => {
    expect(printable('a\u202eb\u2028c\u2066d\ufeff')).toBe('a\\u202eb\\u2028c\\u2066d\\ufeff');
  });

  it('keeps printable text, Swedish letters and U+FFFD as they are', () => {
    expect(printable('19121212-****')).toBe('19121212-****');
    expect(printable('Åsa Öberg, ärende')).toBe('Åsa Öberg, ärende');
    expect(printable(Buffer.from([0x31, 0xff, 0x32]).toString('utf8'))).toBe('1\ufffd2');
    expect(printable('\ud800x')).toBe('\ufffdx');
  });

  it('cuts at 40 characters with an ellipsis, never inside an escape', () => {
    expect(printable('x'.repeat(40))).toBe('x'.repeat(40));
    expect(printable('x'.repeat(41))).toBe(`${'x'.repeat(39)}…`);
    const escapes = printable('\u001b'.repeat(20));
    expect(escapes).toBe(`${'\\x1b'.repeat(9)}…`);
    expect([...escapes].length).toBeLessThanOrEqual(40);
    expect(printable('abc', 2)).toBe('a…');
    // A character outside the BMP counts once.
    expect(printable('😀'.repeat(41))).toBe(`${'😀'.repeat(39)}…`);
  });

  it('never lets a control character through, whatever the input', () => {
    for (let c = 0; c < 0x3000; c++) {
      const out = printable(`a${String.fromCharCode(c)}b`);
      expect(out).not.toMatch(RAW_CONTROL);
      expect(out).not.toMatch(/[\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
    }
  });
});

describe('printableName', () => {
  it('escapes like printable but never cuts a name', () => {
    const long = `/tmp/${'a'.repeat(200)}/\u001b[31mröd.txt`;
    expect(printableName(long)).toBe(`/tmp/${'a'.repeat(200)}/\\x1b[31mröd.txt`);
  });
});
