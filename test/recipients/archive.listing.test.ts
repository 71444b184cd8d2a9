import { describe, expect, it } from 'vitest';
import { isArchivePath } from '../../src/recipients/archive.js';
import {
  archiveMagic,
  checkListing,
  type ListedEntry,
  parseListing,
  unsafePathReason,
} from '../../src/recipients/archive-listing.js';

const limits = { maxEntries: 10, maxEntryBytes: 100, maxTotalBytes: 150 };

function entries(text: string): ListedEntry[] {
  const parsed = parseListing(text);
  if (!Array.isArray(parsed)) throw new Error(`unexpected refusal: ${parsed.reason}`);
  return parsed;
}

describe('parseListing', () => {
  it('skips the password prompt 7-Zip prints on stdout and reads every block', () => {
    const text =
      '\nEnter password (will not be echoed):\n' +
      'Path = sub\nSize = 0\nPacked Size = 0\nAttributes = D drwxr-xr-x\nCRC = \nEncrypted = -\n\n' +
      'Path = sub/a.txt\nSize = 13\nAttributes = A -rw-r--r--\nCRC = 8E92A361\nEncrypted = +\n\n';
    const [dir, file] = entries(text);
    expect(dir).toMatchObject({ path: 'sub', isDirectory: true, size: 0, crc: undefined });
    expect(file).toMatchObject({
      path: 'sub/a.txt',
      isDirectory: false,
      size: 13,
      crc: 0x8e92a361,
      encrypted: true,
    });
  });

  it('treats zip folders (Folder = +) as directories and a missing CRC as unknown', () => {
    const [dir, file] = entries(
      'Path = d\nFolder = +\nSize = 0\nAttributes = D\n\nPath = f\nFolder = -\nSize = 2\nCRC = \nAttributes =  -rw-r--r--\n',
    );
    expect(dir!.isDirectory).toBe(true);
    expect(file).toMatchObject({ isDirectory: false, crc: undefined });
  });

  it('refuses a block that cannot be read rather than guessing', () => {
    expect(parseListing('Path = a\nSize = x\n\n')).toMatchObject({ code: 'CORRUPT', entry: 'a' });
    expect(parseListing('Path = a\nSize = 1\nno field here\n\n')).toMatchObject({ code: 'CORRUPT' });
    expect(parseListing('Path = a\nSize = 1\nSize = 2\n\n')).toMatchObject({ code: 'CORRUPT' });
  });
});

describe('unsafePathReason', () => {
  it.each([
    ['../x', /\.\./],
    ['a/../../x', /\.\./],
    ['a\\..\\x', /\.\./],
    ['/etc/passwd', /absolute/],
    ['\\\\server\\share\\x', /absolute/],
    ['C:\\x.txt', /drive/],
    ['c:x.txt', /drive/],
    ['file.txt:stream', /colon/],
    ['a\u0000b', /control/],
    ['', /empty/],
  ])('refuses %j', (path, reason) => {
    expect(unsafePathReason(path)).toMatch(reason);
  });

  it.each(['a.txt', 'del/b.csv', 'x..y.txt', '..hidden', 'mottagare_åäö.txt'])('accepts %j', (path) => {
    expect(unsafePathReason(path)).toBeUndefined();
  });
});

describe('checkListing', () => {
  const file = (path: string, size: number, attributes = 'A -rw-r--r--'): string =>
    `Path = ${path}\nSize = ${size}\nAttributes = ${attributes}\nCRC = 1\nEncrypted = -\n\n`;

  it('names the first offending entry in listing order', () => {
    const listed = entries(file('ok.txt', 1) + file('../a', 1) + file('b.7z', 1));
    expect(checkListing(listed, limits, false)).toMatchObject({ code: 'UNSAFE_ENTRY', entry: '../a' });
  });

  it('refuses fifos (what `7z a -si` stores), links and a name given twice', () => {
    expect(checkListing(entries(file('p', 1, 'A prw-------')), limits, false)).toMatchObject({
      code: 'UNSAFE_ENTRY',
      entry: 'p',
    });
    expect(checkListing(entries(file('l', 1, 'A lrwxrwxrwx')), limits, false)?.reason).toMatch(
      /symbolic link/,
    );
    expect(checkListing(entries(file('a.txt', 1) + file('a.txt', 1)), limits, false)).toMatchObject({
      code: 'UNSAFE_ENTRY',
      entry: 'a.txt',
    });
  });

  it('refuses hard links, devices and reparse points (symbolic links or junctions)', () => {
    const hard = entries(`${file('h.txt', 3).trimEnd()}\nHard Link = a.txt\n\n`);
    expect(checkListing(hard, limits, false)).toMatchObject({ code: 'UNSAFE_ENTRY', entry: 'h.txt' });
    expect(checkListing(entries(file('tty', 0, 'A crw-rw-rw-')), limits, false)).toMatchObject({
      code: 'UNSAFE_ENTRY',
      entry: 'tty',
    });
    expect(checkListing(entries(file('j', 0, 'AL')), limits, false)?.reason).toMatch(/reparse point/);
  });

  it('applies the limits inclusively and skips folders for sizes', () => {
    expect(checkListing(entries(file('a', 100) + file('b', 50)), limits, false)).toBeUndefined();
    expect(checkListing(entries(file('a', 101)), limits, false)).toMatchObject({
      code: 'TOO_LARGE',
      entry: 'a',
    });
    expect(checkListing(entries(file('a', 100) + file('b', 51)), limits, false)).toMatchObject({
      code: 'TOO_LARGE',
      entry: 'b',
    });
    const eleven = Array.from({ length: 11 }, (_, i) => file(`f${i}`, 1)).join('');
    expect(checkListing(entries(eleven), limits, false)).toMatchObject({ code: 'TOO_MANY_ENTRIES' });
    expect(checkListing(entries(file('d', 999, 'D drwxr-xr-x')), limits, false)).toBeUndefined();
  });
});

describe('archiveMagic', () => {
  it.each([
    ['7z', [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]],
    ['zip', [0x50, 0x4b, 0x03, 0x04, 20, 0]],
    ['gzip', [0x1f, 0x8b, 8, 0]],
    ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
    ['zstd', [0x28, 0xb5, 0x2f, 0xfd, 0]],
    ['rar', [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00]],
    ['bzip2', [...Buffer.from('BZh91AY&SY')]],
  ])('spots %s data', (name, bytes) => {
    expect(archiveMagic(Buffer.from(bytes))).toBe(name);
  });

  it('spots tar by its ustar mark and leaves recipient text alone', () => {
    const tar = Buffer.alloc(512);
    tar.write('ustar', 257);
    expect(archiveMagic(tar)).toBe('tar');
    expect(archiveMagic(Buffer.from('191212121212\n193001010006\n'))).toBeUndefined();
    expect(archiveMagic(Buffer.from('BZh is not bzip2 text'))).toBeUndefined();
    expect(archiveMagic(Buffer.alloc(0))).toBeUndefined();
  });
});

describe('isArchivePath', () => {
  it('reads .7z and .zip in any case, nothing else', () => {
    expect(isArchivePath('/in/utskick.7z')).toBe(true);
    expect(isArchivePath('UTSKICK.ZIP')).toBe(true);
    expect(isArchivePath('list.txt')).toBe(false);
    expect(isArchivePath('part.7z.001')).toBe(false);
    expect(isArchivePath('x.rar')).toBe(false);
  });
});
