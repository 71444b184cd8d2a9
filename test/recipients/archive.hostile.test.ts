import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError, type ArchiveErrorCode, readArchive } from '../../src/recipients/archive.js';
import {
  makeArchive,
  makeFakeSevenZip,
  makeNestedArchive,
  makeRenamedArchive,
  makeSymlinkArchive,
  makeTempDir,
  makeZipBomb,
  recipientText,
  removeDir,
  sevenZip,
  truncateArchive,
} from '../helpers/archives.js';
import { syntheticList } from '../helpers/personnummer.js';

const PASSWORD = 'Synthetic-hostile-0417';
const numbers = syntheticList(20);
const text = recipientText(numbers);
const files = [
  { name: 'a.txt', content: text },
  { name: 'sub/b.txt', content: recipientText(syntheticList(5, 20)) },
];

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('archive-hostile');
});
afterAll(async () => {
  await removeDir(dir);
});

async function refused(
  promise: Promise<unknown>,
  code: ArchiveErrorCode,
  entry?: string,
): Promise<ArchiveError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArchiveError);
  const e = err as ArchiveError;
  expect(e.code).toBe(code);
  expect(e.entry).toBe(entry);
  if (entry !== undefined) expect(e.message).toContain(JSON.stringify(entry));
  expect(e.message).toContain(e.archive);
  expect(e.message).not.toContain(PASSWORD);
  for (const n of numbers) expect(e.message).not.toContain(n);
  return e;
}

describe('refused from the listing, before extraction', () => {
  it('a symbolic link (stored with -snl), also inside an encrypted archive', async () => {
    const plain = await makeSymlinkArchive(dir, text, { archiveName: 'link.7z' });
    const e = await refused(readArchive(plain), 'UNSAFE_ENTRY', 'link.txt');
    expect(e.message).toMatch(/symbolic link/);
    const enc = await makeSymlinkArchive(dir, text, {
      archiveName: 'link-enc.7z',
      password: PASSWORD,
      encryptHeaders: true,
    });
    await refused(readArchive(enc, { password: PASSWORD }), 'UNSAFE_ENTRY', 'link.txt');
  });

  it('paths with .. segments', async () => {
    const up = await makeRenamedArchive(dir, files, [['a.txt', '../evil.txt']], { archiveName: 'up.7z' });
    await refused(readArchive(up), 'UNSAFE_ENTRY', '../evil.txt');
    const deep = await makeRenamedArchive(dir, files, [['sub/b.txt', 'sub/../../evil.txt']], {
      archiveName: 'deep.7z',
      password: PASSWORD,
      encryptHeaders: true,
    });
    await refused(readArchive(deep, { password: PASSWORD }), 'UNSAFE_ENTRY', 'sub/../../evil.txt');
  });

  it('absolute paths, by -spf and by renaming', async () => {
    const staged = join(dir, 'abs-source.txt');
    await writeFile(staged, text);
    const spf = join(dir, 'spf.7z');
    await sevenZip(['a', '-t7z', '-bd', '-bsp0', '-spf', spf, staged]);
    await refused(readArchive(spf), 'UNSAFE_ENTRY', staged);
    const renamed = await makeRenamedArchive(dir, files, [['a.txt', '/etc/cron.d/evil']], {
      archiveName: 'abs.7z',
    });
    await refused(readArchive(renamed), 'UNSAFE_ENTRY', '/etc/cron.d/evil');
  });

  it('Windows drive paths', async () => {
    const drive = await makeRenamedArchive(dir, files, [['a.txt', 'C:\\Windows\\evil.txt']], {
      archiveName: 'drive.7z',
    });
    const e = await refused(readArchive(drive), 'UNSAFE_ENTRY', 'C:\\Windows\\evil.txt');
    expect(e.message).toMatch(/drive/);
  });

  it('a nested archive, by its extension', async () => {
    const nested = await makeNestedArchive(dir, files, { archiveName: 'nested.7z' });
    await refused(readArchive(nested), 'NESTED_ARCHIVE', 'inner.7z');
    const gz = await makeArchive(dir, [{ name: 'list.csv.gz', content: text }], { archiveName: 'gz.7z' });
    await refused(readArchive(gz), 'NESTED_ARCHIVE', 'list.csv.gz');
  });

  it('a nested archive under a harmless name, by its magic bytes after extraction', async () => {
    const disguised = await makeNestedArchive(dir, files, {
      archiveName: 'disguised.7z',
      disguise: true,
      password: PASSWORD,
      encryptHeaders: true,
    });
    const e = await refused(readArchive(disguised, { password: PASSWORD }), 'NESTED_ARCHIVE', 'inner.txt');
    expect(e.message).toMatch(/7z data/);
  });

  it('a zip bomb (50 MiB of zeros in a few KiB) is refused from its declared size', async () => {
    const bomb = await makeZipBomb(dir);
    expect((await readFile(bomb)).length).toBeLessThan(64 * 1024);
    const t0 = Date.now();
    const e = await refused(readArchive(bomb), 'TOO_LARGE', 'zeros.txt');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(e.message).toMatch(/52428800 bytes/);
    // With the entry limit raised, the lowered total limit still holds.
    await refused(
      readArchive(bomb, { limits: { maxEntryBytes: 64 * 1024 * 1024, maxTotalBytes: 10 * 1024 * 1024 } }),
      'TOO_LARGE',
      'zeros.txt',
    );
  });
});

describe('limits', () => {
  it('maxEntries counts every listed entry, folders included', async () => {
    const archive = await makeArchive(dir, files, { archiveName: 'count.7z' }); // sub/, a.txt, sub/b.txt
    await refused(readArchive(archive, { limits: { maxEntries: 2 } }), 'TOO_MANY_ENTRIES');
    expect(await readArchive(archive, { limits: { maxEntries: 3 } })).toHaveLength(2);
  });

  it('maxEntryBytes and maxTotalBytes are inclusive limits on declared sizes', async () => {
    const archive = await makeArchive(dir, files, { archiveName: 'sizes.7z' });
    const a = Buffer.byteLength(files[0]!.content);
    const b = Buffer.byteLength(files[1]!.content);
    expect(await readArchive(archive, { limits: { maxEntryBytes: a, maxTotalBytes: a + b } })).toHaveLength(
      2,
    );
    await refused(readArchive(archive, { limits: { maxEntryBytes: a - 1 } }), 'TOO_LARGE', 'a.txt');
    // The entry whose size tips the total over: the last file listed.
    const last = (await readArchive(archive)).at(-1)!.name;
    const e = await refused(
      readArchive(archive, { limits: { maxTotalBytes: a + b - 1 } }),
      'TOO_LARGE',
      last,
    );
    expect(e.message).toMatch(/total limit/);
  });

  it('rejects nonsense limits and timeouts', async () => {
    const archive = await makeArchive(dir, files, { archiveName: 'opts.7z' });
    await refused(readArchive(archive, { limits: { maxEntries: -1 } }), 'INVALID_OPTIONS');
    await refused(readArchive(archive, { timeoutMs: 0 }), 'INVALID_OPTIONS');
  });
});

describe('broken archives and a broken 7z', () => {
  it('a truncated archive is CORRUPT, encrypted or not', async () => {
    const plain = await makeArchive(dir, files, { archiveName: 'cut.7z' });
    await refused(readArchive(await truncateArchive(plain, 40)), 'CORRUPT');
    const enc = await makeArchive(dir, files, {
      archiveName: 'cut-enc.7z',
      password: PASSWORD,
      encryptHeaders: true,
    });
    const e = await refused(readArchive(await truncateArchive(enc, 40), { password: PASSWORD }), 'CORRUPT');
    expect(e.message).toMatch(/Unexpected end of archive/);
  });

  it('damaged data inside an unencrypted archive is CORRUPT', async () => {
    const big = [{ name: 'big.txt', content: recipientText(syntheticList(2000)) }];
    const archive = await makeArchive(dir, big, { archiveName: 'flip.7z' });
    const bytes = await readFile(archive);
    bytes[100] = bytes[100]! ^ 0xff; // inside the packed stream, which starts at byte 32
    await writeFile(archive, bytes);
    await refused(readArchive(archive), 'CORRUPT');
  });

  it('a file that is no archive, or another format under .7z, is CORRUPT', async () => {
    const junk = join(dir, 'junk.7z');
    await writeFile(junk, text);
    await refused(readArchive(junk), 'CORRUPT');
    const zip = await makeArchive(dir, files, { format: 'zip', archiveName: 'really-a-zip.7z' });
    await refused(readArchive(zip), 'CORRUPT');
  });

  it('a missing archive, and an extension that is not read', async () => {
    await refused(readArchive(join(dir, 'nowhere.7z')), 'NOT_FOUND');
    await refused(readArchive(join(dir, 'list.rar')), 'UNSUPPORTED_FORMAT');
  });

  it('7z not installed says how to install it', async () => {
    const archive = await makeArchive(dir, files, { archiveName: 'nobin.7z' });
    const e = await refused(readArchive(archive, { sevenZip: join(dir, 'no-such-7z') }), 'SEVEN_ZIP_MISSING');
    expect(e.message).toContain('apt-get install p7zip-full');
  });
});

/** A fake 7z that prints a given listing and runs a given shell line for `x`. */
async function fake(name: string, listing: string, extract: string): Promise<string> {
  const listingFile = join(dir, `${name}.listing`);
  await writeFile(listingFile, listing);
  return makeFakeSevenZip(dir, name, `case "$1" in\n  l) cat '${listingFile}' ;;\n  x) ${extract} ;;\nesac`);
}

function block(path: string, size: number, crc: number | undefined, attributes = 'A -rw-r--r--'): string {
  const crcText = crc === undefined ? '' : crc.toString(16).toUpperCase().padStart(8, '0');
  return `Path = ${path}\nSize = ${size}\nAttributes = ${attributes}\nCRC = ${crcText}\nEncrypted = -\n\n`;
}

describe('a 7z that lies (fake binary): the stream guards', () => {
  it('output beyond the declared total is stopped at once (7z and its children killed): TOO_LARGE', async () => {
    const archive = await makeArchive(dir, files, { archiveName: 'liar.7z' });
    // `yes` runs as a child of the script, so only a process-group kill closes stdout.
    const bin = await fake('endless-7z', block('a.txt', 10, undefined), 'yes 0123456789; :');
    const t0 = Date.now();
    const e = await refused(readArchive(archive, { sevenZip: bin, timeoutMs: 20_000 }), 'TOO_LARGE');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(e.message).toMatch(/more than the 10 bytes/);
  });

  it('a 7z that never finishes is killed after timeoutMs: TIMEOUT (retryable)', async () => {
    const archive = await makeArchive(dir, files, { archiveName: 'slow.7z' });
    const bin = await fake('hang-7z', block('a.txt', 10, undefined), 'sleep 30; :');
    const t0 = Date.now();
    const e = await refused(readArchive(archive, { sevenZip: bin, timeoutMs: 700 }), 'TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(e.retryable).toBe(true);
  });

  it('entries streamed in another order than listed fail the CRC check: CORRUPT naming the entry', async () => {
    const archive = await makeArchive(dir, files, { archiveName: 'order.7z' });
    const a = `${numbers[0]}\n`;
    const b = `${numbers[1]}\n`;
    const bin = await fake(
      'swap-7z',
      block('a.txt', a.length, crc32(a)) + block('b.txt', b.length, crc32(b)),
      `printf '${b}${a}'`,
    );
    const e = await refused(readArchive(archive, { sevenZip: bin }), 'CORRUPT', 'a.txt');
    expect(e.message).toMatch(/listed CRC/);
  });

  it('a stream shorter than declared is CORRUPT', async () => {
    const archive = await makeArchive(dir, files, { archiveName: 'short.7z' });
    const bin = await fake('short-7z', block('a.txt', 100, undefined), `printf 'abc'`);
    await refused(readArchive(archive, { sevenZip: bin }), 'CORRUPT');
  });

  it('hard links, devices and reparse points in a listing are refused', async () => {
    const archive = await makeArchive(dir, files, { archiveName: 'links.7z' });
    const hard = await fake(
      'hard-7z',
      `${block('h.txt', 3, undefined).trimEnd()}\nHard Link = a.txt\n\n`,
      ':',
    );
    await refused(readArchive(archive, { sevenZip: hard }), 'UNSAFE_ENTRY', 'h.txt');
    const device = await fake('dev-7z', block('tty', 0, undefined, 'A crw-rw-rw-'), ':');
    await refused(readArchive(archive, { sevenZip: device }), 'UNSAFE_ENTRY', 'tty');
    const reparse = await fake('reparse-7z', block('j', 0, undefined, 'AL'), ':');
    await refused(readArchive(archive, { sevenZip: reparse }), 'UNSAFE_ENTRY', 'j');
  });
});
