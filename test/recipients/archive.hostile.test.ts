import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArchiveError,
  type ArchiveErrorCode,
  createSevenZipEngine,
  readArchive,
  type SevenZipEngine,
} from '../../src/recipients/archive.js';
import type { SevenZipInstance } from '../../src/recipients/seven-zip.js';
import {
  makeAbsolutePathArchive,
  makeArchive,
  makeLargeDictionaryArchive,
  makeNestedArchive,
  makeRenamedArchive,
  makeStoredZip,
  makeSymlinkArchive,
  makeTempDir,
  makeZipBomb,
  recipientText,
  removeDir,
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
    const spf = await makeAbsolutePathArchive(dir, text);
    await refused(readArchive(spf.archive), 'UNSAFE_ENTRY', spf.entry);
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

describe('broken archives, and files that are no archive', () => {
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

  it('a file that is no 7z or zip under .7z or .zip is UNSUPPORTED_FORMAT, from its first bytes', async () => {
    const junk = join(dir, 'junk.7z');
    await writeFile(junk, text);
    const e = await refused(readArchive(junk), 'UNSUPPORTED_FORMAT');
    expect(e.message).toMatch(/neither a 7z nor a zip archive/);
    const rar = join(dir, 'rar.zip');
    await writeFile(rar, Buffer.concat([Buffer.from('Rar!\x1a\x07\x00', 'latin1'), Buffer.alloc(64)]));
    expect((await refused(readArchive(rar), 'UNSUPPORTED_FORMAT')).message).toMatch(/rar data/);
    const gz = join(dir, 'gz.7z');
    await writeFile(gz, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]));
    expect((await refused(readArchive(gz), 'UNSUPPORTED_FORMAT')).message).toMatch(/gzip data/);
  });

  it('a missing archive, and an extension that is not read', async () => {
    await refused(readArchive(join(dir, 'nowhere.7z')), 'NOT_FOUND');
    await refused(readArchive(join(dir, 'list.rar')), 'UNSUPPORTED_FORMAT');
  });
});

/** An engine that records the first word of every 7-Zip command it runs. */
function recordingEngine(): { engine: SevenZipEngine; commands: string[] } {
  const inner = createSevenZipEngine();
  const commands: string[] = [];
  return {
    commands,
    engine: {
      use: (fn) =>
        inner.use((sevenZip) =>
          fn({
            fs: sevenZip.fs,
            get broken() {
              return sevenZip.broken;
            },
            run(args, options) {
              commands.push(args[0]!);
              return sevenZip.run(args, options);
            },
            wipe: () => sevenZip.wipe(),
          }),
        ),
    },
  };
}

describe('the order: list, check, and only then extract', () => {
  it('a refused listing never reaches extraction; a good archive is listed, then extracted', async () => {
    const link = await makeSymlinkArchive(dir, text, { archiveName: 'order-link.7z' });
    const bad = recordingEngine();
    await refused(readArchive(link, { engine: bad.engine }), 'UNSAFE_ENTRY', 'link.txt');
    expect(bad.commands).toEqual(['l']);
    const good = recordingEngine();
    const archive = await makeArchive(dir, files, { archiveName: 'order-ok.7z' });
    expect(await readArchive(archive, { engine: good.engine })).toHaveLength(2);
    expect(good.commands).toEqual(['l', 'x']);
  });
});

describe('the in-process 7-Zip is bounded', () => {
  it('a dictionary larger than the memory 7-Zip may use is TOO_LARGE, before a byte is decoded', async () => {
    const archive = await makeLargeDictionaryArchive(dir, 1024 * 1024 * 1024);
    const rss = process.memoryUsage().rss;
    const e = await refused(readArchive(archive), 'TOO_LARGE');
    expect(e.message).toMatch(/more memory than 7-Zip is allowed/);
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
  });

  it('the listed total bounds what extraction may hold: refused before extraction, with the limit named', async () => {
    const bomb = await makeZipBomb(dir, { bytes: 8 * 1024 * 1024, archiveName: 'total.7z' });
    const run = recordingEngine();
    const e = await refused(
      readArchive(bomb, {
        engine: run.engine,
        limits: { maxEntryBytes: 16 * 1024 * 1024, maxTotalBytes: 4 * 1024 * 1024 },
      }),
      'TOO_LARGE',
      'zeros.txt',
    );
    expect(e.message).toMatch(/total limit of 4194304 bytes/);
    expect(run.commands).toEqual(['l']);
  });

  it('a zip whose header declares fewer bytes than its data is CORRUPT, never cut short and returned', async () => {
    const liar = await makeStoredZip(dir, 'liar.zip', [
      { name: 'a.txt', content: text },
      { name: 'b.txt', content: text, declaredSize: 10 },
    ]);
    await refused(readArchive(liar), 'CORRUPT');
  });

  it('a zip whose data does not match its CRC is CORRUPT', async () => {
    const bad = await makeStoredZip(dir, 'crc.zip', [
      { name: 'a.txt', content: text, declaredCrc: 0x12345678 },
    ]);
    await refused(readArchive(bad), 'CORRUPT');
  });

  it('a read that takes too long is stopped inside 7-Zip: TIMEOUT (retryable)', async () => {
    const bomb = await makeZipBomb(dir, { bytes: 64 * 1024 * 1024, archiveName: 'slow.7z' });
    const roomy = { maxEntryBytes: 128 * 1024 * 1024, maxTotalBytes: 128 * 1024 * 1024 };
    const t0 = Date.now();
    const e = await refused(readArchive(bomb, { limits: roomy, timeoutMs: 150 }), 'TIMEOUT');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(e.retryable).toBe(true);
  });

  it('one engine for several archives: each sees only its own files, and a stopped run gets a fresh 7-Zip', async () => {
    const engine = createSevenZipEngine();
    const one = await makeArchive(dir, [{ name: 'one.txt', content: text }], { archiveName: 'one.7z' });
    const two = await makeArchive(dir, [{ name: 'two.txt', content: text }], { archiveName: 'two.7z' });
    expect((await readArchive(one, { engine })).map((e) => e.name)).toEqual(['one.txt']);
    expect((await readArchive(two, { engine })).map((e) => e.name)).toEqual(['two.txt']);
    // A run stopped inside 7-Zip leaves its instance unusable: the next archive gets a fresh one.
    const bomb = await makeZipBomb(dir, { bytes: 64 * 1024 * 1024, archiveName: 'slow-engine.7z' });
    const roomy = { maxEntryBytes: 128 * 1024 * 1024, maxTotalBytes: 128 * 1024 * 1024 };
    await refused(readArchive(bomb, { engine, limits: roomy, timeoutMs: 150 }), 'TIMEOUT');
    expect((await readArchive(one, { engine })).map((e) => e.name)).toEqual(['one.txt']);
    // Between archives the in-memory file system holds nothing of them.
    await engine.use((sevenZip) => {
      expect(sevenZip.fs.readdir('/in')).toEqual(['.', '..']);
      expect(sevenZip.fs.readdir('/out')).toEqual(['.', '..']);
    });
  });
});

/** An engine whose 7-Zip extracts as usual, then has `tamper` change /out: a decoder that lies. */
function lyingEngine(tamper: (fs: SevenZipInstance['fs']) => void): SevenZipEngine {
  const inner = createSevenZipEngine();
  return {
    use: (fn) =>
      inner.use((sevenZip) =>
        fn({
          fs: sevenZip.fs,
          get broken() {
            return sevenZip.broken;
          },
          run(args, options) {
            const result = sevenZip.run(args, options);
            if (args[0] === 'x') tamper(sevenZip.fs);
            return result;
          },
          wipe: () => sevenZip.wipe(),
        }),
      ),
  };
}

describe('after extraction every file is checked again (a decoder that lies)', () => {
  it('a size other than listed, data that fails the CRC, an unlisted file, a link: all refused', async () => {
    const archive = await makeArchive(dir, files, { archiveName: 'lied.7z' });
    const short = lyingEngine((fs) => fs.writeFile('/out/a.txt', text.slice(1)));
    expect((await refused(readArchive(archive, { engine: short }), 'CORRUPT', 'a.txt')).message).toMatch(
      /extracted \d+ bytes where the listing declares/,
    );
    const swapped = lyingEngine((fs) => fs.writeFile('/out/a.txt', text.replace('1', '2')));
    expect((await refused(readArchive(archive, { engine: swapped }), 'CORRUPT', 'a.txt')).message).toMatch(
      /listed CRC/,
    );
    const extra = lyingEngine((fs) => fs.writeFile('/out/sub/extra.txt', text));
    await refused(readArchive(archive, { engine: extra }), 'UNSAFE_ENTRY', 'sub/extra.txt');
    const link = lyingEngine((fs) => fs.symlink('/etc/passwd', '/out/sub/passwd'));
    await refused(readArchive(archive, { engine: link }), 'UNSAFE_ENTRY', 'sub/passwd');
    const missing = lyingEngine((fs) => fs.unlink('/out/sub/b.txt'));
    await refused(readArchive(archive, { engine: missing }), 'CORRUPT', 'sub/b.txt');
  });

  it('data turned into an archive where no CRC is listed (AES zip) is caught by its magic bytes', async () => {
    // A member that starts as a zip does, in a plain zip (whose CRC matches: the data is as stored).
    const zip = await makeStoredZip(dir, 'magic.zip', [{ name: 'a.txt', content: 'PK\x03\x04 and more' }]);
    await refused(readArchive(zip), 'NESTED_ARCHIVE', 'a.txt');
    // An AES zip lists no CRC, so after a lying decoder only the magic check stands between such data and use.
    const aes = await makeArchive(dir, [{ name: 'a.txt', content: text }], {
      format: 'zip',
      password: 'Synthetic-zip-0417',
      archiveName: 'magic-aes.zip',
    });
    const disguised = lyingEngine((fs) => {
      const data = Buffer.from(fs.readFile('/out/a.txt'));
      Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]).copy(data);
      fs.writeFile('/out/a.txt', data);
    });
    const e = await refused(
      readArchive(aes, { engine: disguised, password: 'Synthetic-zip-0417' }),
      'NESTED_ARCHIVE',
      'a.txt',
    );
    expect(e.message).toMatch(/7z data/);
  });
});

describe('messages hold no personnummer', () => {
  it('a refused entry named after a person is named masked', async () => {
    const nested = await makeNestedArchive(dir, files, {
      archiveName: 'named.7z',
      innerName: '191212121212.txt',
    });
    const e = await readArchive(nested).then(
      () => expect.fail('read'),
      (x: unknown) => x as ArchiveError,
    );
    expect(e).toMatchObject({ code: 'NESTED_ARCHIVE', entry: '191212121212.txt' });
    expect(e.message).toContain('entry "19121212-****.txt"');
    expect(e.message).not.toContain('191212121212');
  });
});
