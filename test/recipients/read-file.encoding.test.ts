/**
 * A file that is not UTF-8 text is one problem for the whole file, not one
 * FORMAT problem per line: UTF-16 (as Excel's "Unicode text" or Notepad save
 * it) is named so the sender can save it again as UTF-8.
 */
import { describe, expect, it } from 'vitest';
import type { ParseOptions } from '../../src/recipients/personnummer.js';
import { encodingProblem, parseRecipientFile } from '../../src/recipients/read-file.js';
import { recipientText } from '../helpers/archives.js';
import { syntheticList } from '../helpers/personnummer.js';

const opts: ParseOptions = { today: { year: 2026, month: 11, day: 27 }, allowCoordinationNumbers: true };
const numbers = syntheticList(250, 900);
const text = `personnummer\r\n${recipientText(numbers)}`;

function utf16be(s: string): Buffer {
  const le = Buffer.from(s, 'utf16le');
  for (let i = 0; i + 1 < le.length; i += 2) [le[i], le[i + 1]] = [le[i + 1]!, le[i]!];
  return le;
}

const utf16 = 'file is UTF-16; save it as UTF-8';

describe('parseRecipientFile: UTF-16 and NUL bytes', () => {
  it.each([
    ['UTF-16LE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])],
    ['UTF-16BE with a BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(text)])],
    ['UTF-16LE without a BOM', Buffer.from(text, 'utf16le')],
    ['UTF-16BE without a BOM', utf16be(text)],
  ])('%s: one problem naming UTF-16, not 250 FORMAT lines', (_, data) => {
    const f = parseRecipientFile({ name: 'lista.txt', data }, opts);
    expect(f.problems).toEqual([{ file: 'lista.txt', line: 1, code: 'FORMAT', value: utf16 }]);
    expect(f).toMatchObject({ lines: 1, numbers: [], lineNumbers: [] });
  });

  it('NUL bytes in a file that is not UTF-16: one problem at the first NUL line', () => {
    const data = Buffer.concat([Buffer.from(recipientText(numbers.slice(0, 3))), Buffer.alloc(4096)]);
    const f = parseRecipientFile({ name: 'lista.txt', data }, opts);
    expect(f.problems).toEqual([
      { file: 'lista.txt', line: 4, code: 'FORMAT', value: 'file has NUL bytes; not a text file' },
    ]);
    expect(f.numbers).toEqual([]);
  });

  it('UTF-8 text, with or without a BOM, is not an encoding problem', () => {
    expect(encodingProblem(Buffer.from(text))).toBeUndefined();
    expect(encodingProblem(Buffer.from(`\ufeff${text}`))).toBeUndefined();
    expect(encodingProblem(Buffer.alloc(0))).toBeUndefined();
    expect(encodingProblem(Buffer.from('Åsa;191212121212\n'))).toBeUndefined();
  });

  it('every problem value fits the 40 characters shown for a value', () => {
    expect(utf16.length).toBeLessThanOrEqual(40);
    expect(encodingProblem(Buffer.from([0x31, 0, 0, 0, 0x31]))!.reason.length).toBeLessThanOrEqual(40);
  });
});
