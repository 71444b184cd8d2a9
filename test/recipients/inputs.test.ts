/**
 * readInputs over hostile directories: only regular files are read. A FIFO
 * blocked the whole run, a link to /dev/zero never ended, a link in a delivery
 * directory was followed to any file, and a file had no size limit.
 */
import { execFileSync } from 'node:child_process';
import { symlink, truncate, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError, readArchive } from '../../src/recipients/archive.js';
import { collectInputs, InputError, readInputs } from '../../src/recipients/inputs.js';
import {
  DEFAULT_MAX_RECIPIENT_FILE_BYTES,
  maxRecipientFileBytesFromEnv,
  RecipientConfigError,
  readRegularFile,
} from '../../src/recipients/regular-file.js';
import { makeArchive, makeTempDir, recipientText, removeDir } from '../helpers/archives.js';
import { syntheticList } from '../helpers/personnummer.js';

const numbers = syntheticList(3, 300);
const text = recipientText(numbers);
const noPassword = { password: async () => undefined };

let root: string;
let n = 0;
const servers: Server[] = [];
beforeAll(async () => {
  root = await makeTempDir('inputs');
});
afterAll(async () => {
  for (const s of servers) s.close();
  await removeDir(root);
});

/** A fresh directory under root with `ok.txt` holding three synthetic numbers. */
async function delivery(): Promise<string> {
  const dir = join(root, `d${++n}`);
  execFileSync('mkdir', [dir]);
  await writeFile(join(dir, 'ok.txt'), text);
  return dir;
}

async function inputError(promise: Promise<unknown>): Promise<InputError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return err as InputError;
}

/** Resolves within ms or fails the test (a FIFO or /dev/zero read never resolves). */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

describe('readInputs: a directory is read only for its regular files', () => {
  it('refuses a FIFO and a link to /dev/zero found in a directory, naming both, at once', async () => {
    const dir = await delivery();
    execFileSync('mkfifo', [join(dir, 'a.txt')]);
    await symlink('/dev/zero', join(dir, 'z.txt'));
    const started = Date.now();
    const e = await inputError(within(5000, readInputs([dir], noPassword)));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(e.message).toContain(`${join(dir, 'a.txt')} is a FIFO`);
    expect(e.message).toContain(`${join(dir, 'z.txt')} is a symbolic link`);
    expect(e.message).toMatch(/^2 inputs are not a regular file, so nothing was read: /);
  });

  it('does not follow a link in a directory to a regular file elsewhere (as to /etc/shadow)', async () => {
    const secret = join(root, 'secret.txt');
    await writeFile(secret, 'root:$6$salt$hash:19000:0:99999:7:::\n');
    const dir = await delivery();
    await symlink(secret, join(dir, 'shadow.txt'));
    const e = await inputError(readInputs([dir], noPassword));
    expect(e.message).toContain('shadow.txt is a symbolic link (links in a directory are not followed)');
    expect(e.message).not.toContain('root:');
    // Nor a link to a directory, or an archive that is a link.
    const other = await delivery();
    await symlink(root, join(other, 'sub.txt'));
    await symlink(secret, join(other, 'x.7z'));
    const e2 = await inputError(collectInputs([other]));
    expect(e2.message).toContain('sub.txt is a symbolic link');
    expect(e2.message).toContain('x.7z is a symbolic link');
  });

  it('refuses a socket and a directory named like a recipient file', async () => {
    const dir = await delivery();
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(join(dir, 's.csv'), resolve));
    execFileSync('mkdir', [join(dir, 'folder.txt')]);
    const e = await inputError(readInputs([dir], noPassword));
    expect(e.message).toContain('s.csv is a socket');
    expect(e.message).toContain('folder.txt is a directory');
  });

  it('still reads the regular files, skipping other names and hidden files', async () => {
    const dir = await delivery();
    await writeFile(join(dir, 'readme.md'), 'x');
    await symlink('/dev/zero', join(dir, 'zero.md'));
    await symlink('/dev/zero', join(dir, '.hidden.txt'));
    const read = await readInputs([dir], noPassword);
    expect(read.map((f) => [f.name, f.data.toString('utf8')])).toEqual([[join(dir, 'ok.txt'), text]]);
  });
});

describe('readInputs: paths named on the command line', () => {
  it('a symbolic link named directly is followed only when it leads to a regular file', async () => {
    const dir = await delivery();
    const link = join(root, `named-${++n}.txt`);
    await symlink(join(dir, 'ok.txt'), link);
    const read = await readInputs([link], noPassword);
    expect(read).toEqual([{ name: link, data: Buffer.from(text) }]);

    const toZero = join(root, `zero-${++n}.txt`);
    await symlink('/dev/zero', toZero);
    expect((await inputError(within(5000, readInputs([toZero], noPassword)))).message).toContain(
      `${toZero} is a symbolic link to a device; only a link to a regular file is followed`,
    );
    const toDir = join(root, `dir-${++n}`);
    await symlink(dir, toDir);
    expect((await inputError(readInputs([toDir], noPassword))).message).toContain(
      'is a symbolic link to a directory',
    );
    const dangling = join(root, `dangling-${++n}.txt`);
    await symlink(join(root, 'nowhere'), dangling);
    expect((await inputError(readInputs([dangling], noPassword))).message).toContain(
      'is a symbolic link that leads nowhere readable (ENOENT)',
    );
  });

  it('a FIFO or a device named directly is refused without blocking', async () => {
    const fifo = join(root, `named-${++n}.csv`);
    execFileSync('mkfifo', [fifo]);
    expect((await inputError(within(5000, readInputs([fifo], noPassword)))).message).toContain(
      `${fifo} is a FIFO`,
    );
    expect((await inputError(within(5000, readInputs(['/dev/zero'], noPassword)))).message).toContain(
      '/dev/zero is a device',
    );
  });

  it('a FIFO swapped in after the check is refused on the opened handle, without blocking', async () => {
    const fifo = join(root, `swapped-${++n}.txt`);
    execFileSync('mkfifo', [fifo]);
    const e = await inputError(within(5000, readRegularFile(fifo, { noFollow: true, maxBytes: 100 })));
    expect(e.message).toContain('a FIFO (named pipe), not a regular file');
    const link = join(root, `swapped-${++n}.txt`);
    await symlink('/dev/zero', link);
    const e2 = await inputError(readRegularFile(link, { noFollow: true, maxBytes: 100 }));
    expect(e2.message).toContain('a symbolic link; links are not followed here');
  });

  it('names a path that does not exist', async () => {
    const missing = join(root, 'missing.txt');
    expect((await inputError(readInputs([missing], noPassword))).message).toBe(
      `${missing}: cannot read (ENOENT)`,
    );
  });
});

describe('readInputs: the size limit (MAX_RECIPIENT_FILE_BYTES)', () => {
  it('refuses a file above the limit naming the file and the limit, from fstat, without reading it', async () => {
    const dir = await delivery();
    const big = join(dir, 'big.txt');
    await writeFile(big, '');
    await truncate(big, 2 * 1024 * 1024 * 1024); // sparse: 2 GiB that no one reads
    const rss = process.memoryUsage().rss;
    const e = await inputError(within(5000, readInputs([dir], noPassword)));
    expect(e.message).toBe(
      `${big}: 2147483648 bytes, more than the limit of 64 MiB (MAX_RECIPIENT_FILE_BYTES)`,
    );
    expect(process.memoryUsage().rss - rss).toBeLessThan(64 * 1024 * 1024);
  });

  it('applies maxFileBytes inclusively to files found, files named and archive members', async () => {
    const dir = await delivery();
    const size = Buffer.byteLength(text);
    expect(await readInputs([dir], { ...noPassword, maxFileBytes: size })).toHaveLength(1);
    const e = await inputError(readInputs([join(dir, 'ok.txt')], { ...noPassword, maxFileBytes: size - 1 }));
    expect(e.message).toBe(
      `${join(dir, 'ok.txt')}: ${size} bytes, more than the limit of ${size - 1} bytes (MAX_RECIPIENT_FILE_BYTES)`,
    );
    const archive = await makeArchive(dir, [{ name: 'member.txt', content: text }], { archiveName: 'm.7z' });
    // The member against the limit (the archive file itself is larger than one small member) ...
    const roomy = { maxArchiveBytes: 4096 };
    expect(await readInputs([archive], { ...noPassword, maxFileBytes: size, limits: roomy })).toHaveLength(1);
    const member = await readInputs([archive], {
      ...noPassword,
      maxFileBytes: size - 1,
      limits: roomy,
    }).catch((x: unknown) => x);
    expect(member).toBeInstanceOf(ArchiveError);
    expect(member).toMatchObject({ code: 'TOO_LARGE', entry: 'member.txt' });
    // ... and the archive file itself.
    const whole = await readInputs([archive], { ...noPassword, maxFileBytes: 100 }).catch((x: unknown) => x);
    expect(whole).toBeInstanceOf(ArchiveError);
    expect((whole as ArchiveError).message).toMatch(
      /the archive is \d+ bytes, more than the limit of 100 bytes/,
    );
  });

  it('a file that grows past the limit while read is refused; memory stays at the limit', async () => {
    // /proc/self/environ is a regular file whose size says 0: it is read in chunks up to the limit.
    const e = await inputError(readRegularFile('/proc/self/environ', { noFollow: true, maxBytes: 4 }));
    expect(e.message).toBe('/proc/self/environ: grew past the limit of 4 bytes while it was read');
  });

  it('reads MAX_RECIPIENT_FILE_BYTES from the environment; a bad value is a config error naming it', () => {
    expect(maxRecipientFileBytesFromEnv({})).toBe(DEFAULT_MAX_RECIPIENT_FILE_BYTES);
    expect(DEFAULT_MAX_RECIPIENT_FILE_BYTES).toBe(64 * 1024 * 1024);
    expect(maxRecipientFileBytesFromEnv({ MAX_RECIPIENT_FILE_BYTES: '' })).toBe(
      DEFAULT_MAX_RECIPIENT_FILE_BYTES,
    );
    expect(maxRecipientFileBytesFromEnv({ MAX_RECIPIENT_FILE_BYTES: '1048576' })).toBe(1048576);
    for (const bad of ['0', '-1', '64MiB', '1.5', '1e6', '268435457', 'abc']) {
      expect(() => maxRecipientFileBytesFromEnv({ MAX_RECIPIENT_FILE_BYTES: bad })).toThrow(
        RecipientConfigError,
      );
      expect(() => maxRecipientFileBytesFromEnv({ MAX_RECIPIENT_FILE_BYTES: bad })).toThrow(
        /^invalid configuration: MAX_RECIPIENT_FILE_BYTES must be a whole number of bytes/,
      );
    }
  });
});

describe('readInputs: names are printable in messages', () => {
  it('escapes control characters of an entry name', async () => {
    const dir = await delivery();
    await symlink('/dev/zero', join(dir, 'red\u001b[31m.txt'));
    const e = await inputError(readInputs([dir], noPassword));
    expect(e.message).toContain('red\\x1b[31m.txt is a symbolic link');
    expect(e.message).not.toContain('\u001b');
  });
});

describe('readArchive: the archive file is checked on its handle', () => {
  it('refuses a FIFO named like an archive at once, and a link when noFollow', async () => {
    const dir = await delivery();
    const fifo = join(dir, 'pipe.7z');
    execFileSync('mkfifo', [fifo]);
    const e = await within(
      5000,
      readArchive(fifo).catch((x: unknown) => x),
    );
    expect(e).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('a FIFO (named pipe)') });
    const archive = await makeArchive(dir, [{ name: 'a.txt', content: text }], { archiveName: 'real.7z' });
    const link = join(dir, 'link.7z');
    await symlink(archive, link);
    expect(await readArchive(link)).toHaveLength(1);
    const refused = await readArchive(link, { noFollow: true }).catch((x: unknown) => x);
    expect(refused).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('symbolic link') });
  });
});
