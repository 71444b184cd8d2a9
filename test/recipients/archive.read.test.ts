import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError, type ArchiveErrorCode, readArchive } from '../../src/recipients/archive.js';
import { makeArchive, makeTempDir, recipientText, removeDir, sevenZipCli } from '../helpers/archives.js';
import { syntheticList } from '../helpers/personnummer.js';
import { itWithTools, tools } from '../helpers/tools.js';

const PASSWORD = 'Synthetic-test-Lösen-0417';
const files = [
  { name: 'utskick-1.txt', content: recipientText(syntheticList(250)) },
  { name: 'utskick-2.csv', content: recipientText(syntheticList(7, 250)) },
  { name: 'del/utskick-3.txt', content: recipientText(syntheticList(3, 300)) },
  { name: 'tom.txt', content: '' },
];
const allNumbers = files.flatMap((f) => f.content.split('\n').filter(Boolean));

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('archive-read');
});
afterAll(async () => {
  await removeDir(dir);
});

function sorted(entries: { name: string; data: Buffer }[]): Array<[string, string]> {
  return entries.map((e): [string, string] => [e.name, e.data.toString('utf8')]).sort();
}
const expected = files.map((f): [string, string] => [f.name, f.content]).sort();

/** Awaits a rejection and checks it is an ArchiveError with that code, free of the password and of data. */
async function rejection(promise: Promise<unknown>, code: ArchiveErrorCode): Promise<ArchiveError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArchiveError);
  const archiveError = err as ArchiveError;
  expect(archiveError.code).toBe(code);
  expect(archiveError.message).not.toContain(PASSWORD);
  for (const n of allNumbers) expect(archiveError.message).not.toContain(n);
  return archiveError;
}

describe('readArchive: passwords', () => {
  it('reads an AES-256 archive with encrypted headers given the right password', async () => {
    const archive = await makeArchive(dir, files, {
      password: PASSWORD,
      encryptHeaders: true,
      archiveName: 'he.7z',
    });
    const entries = await readArchive(archive, { password: PASSWORD });
    expect(sorted(entries)).toEqual(expected);
  });

  it('reads an AES-256 archive with plain headers given the right password', async () => {
    const archive = await makeArchive(dir, files, { password: PASSWORD, archiveName: 'plainheaders.7z' });
    const entries = await readArchive(archive, { password: PASSWORD });
    expect(sorted(entries)).toEqual(expected);
    expect(entries.map((e) => e.name)).not.toContain('del'); // folders are not returned
  });

  it('says WRONG_PASSWORD, at once, for a wrong password with encrypted headers', async () => {
    const archive = await makeArchive(dir, files, {
      password: PASSWORD,
      encryptHeaders: true,
      archiveName: 'he-wrong.7z',
    });
    const t0 = Date.now();
    const err = await rejection(readArchive(archive, { password: 'not-it' }), 'WRONG_PASSWORD');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(err.message).toMatch(/password is wrong/);
    expect(err.message).not.toContain('not-it');
    expect(err.archive).toBe(archive);
    expect(err.retryable).toBe(false);
  });

  it('says WRONG_PASSWORD for a wrong password with plain headers (found while extracting)', async () => {
    const archive = await makeArchive(dir, files, { password: PASSWORD, archiveName: 'plain-wrong.7z' });
    const err = await rejection(readArchive(archive, { password: 'not-it' }), 'WRONG_PASSWORD');
    expect(err.message).not.toContain('not-it');
  });

  it('a wrong or missing password is told as such for any archive with encrypted headers', async () => {
    // A wrong key makes 7-Zip stop inside its header decoder (the WebAssembly build cannot catch
    // that exception) or report "Wrong password?", depending on the bytes: both say WRONG_PASSWORD.
    for (let i = 0; i < 10; i++) {
      const archive = await makeArchive(
        dir,
        [{ name: `lista-${i}.txt`, content: recipientText(syntheticList(1 + i * 40, 1000 + i * 400)) }],
        { password: `${PASSWORD}-${i}`, encryptHeaders: true, archiveName: `he-many-${i}.7z` },
      );
      await rejection(readArchive(archive, { password: PASSWORD }), 'WRONG_PASSWORD');
      await rejection(readArchive(archive), 'PASSWORD_REQUIRED');
      expect(await readArchive(archive, { password: `${PASSWORD}-${i}` })).toHaveLength(1);
    }
  });

  it('says PASSWORD_REQUIRED promptly when no password is given and headers are encrypted', async () => {
    const archive = await makeArchive(dir, files, {
      password: PASSWORD,
      encryptHeaders: true,
      archiveName: 'he-none.7z',
    });
    const t0 = Date.now();
    await rejection(readArchive(archive), 'PASSWORD_REQUIRED');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('says PASSWORD_REQUIRED naming the entry when no password is given and only data is encrypted', async () => {
    const archive = await makeArchive(dir, files, { password: PASSWORD, archiveName: 'plain-none.7z' });
    const err = await rejection(readArchive(archive), 'PASSWORD_REQUIRED');
    expect(err.entry).toBe('del/utskick-3.txt');
  });

  it('reads an unencrypted archive, with or without a (needless) password', async () => {
    const archive = await makeArchive(dir, files, { archiveName: 'open.7z' });
    expect(sorted(await readArchive(archive))).toEqual(expected);
    expect(sorted(await readArchive(archive, { password: PASSWORD }))).toEqual(expected);
  });

  it('starts no process: the password stays inside this one, and no 7z on PATH is needed', async () => {
    const archive = await makeArchive(dir, files, {
      password: PASSWORD,
      encryptHeaders: true,
      archiveName: 'argv.7z',
    });
    const spawned: unknown[] = [];
    const onSpawn = (message: unknown) => spawned.push(message);
    subscribe('child_process', onSpawn);
    const savedPath = process.env.PATH;
    process.env.PATH = '';
    try {
      expect(sorted(await readArchive(archive, { password: PASSWORD }))).toEqual(expected);
      await rejection(readArchive(archive, { password: 'not-it' }), 'WRONG_PASSWORD');
    } finally {
      process.env.PATH = savedPath;
      unsubscribe('child_process', onSpawn);
    }
    expect(spawned).toEqual([]);
    // The only argv the OS knows is this process's own.
    expect(process.argv.join(' ')).not.toContain(PASSWORD);
  });

  it('logs nothing and leaves process.exitCode alone, also when 7-Zip fails', async () => {
    const archive = await makeArchive(dir, files, {
      password: PASSWORD,
      encryptHeaders: true,
      archiveName: 'quiet.7z',
    });
    const written: string[] = [];
    const savedOut = process.stdout.write;
    const savedErr = process.stderr.write;
    const capture = (chunk: unknown) => {
      written.push(String(chunk));
      return true;
    };
    const savedExitCode = process.exitCode;
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    try {
      await readArchive(archive, { password: PASSWORD });
      await readArchive(archive, { password: 'not-it' }).catch(() => undefined);
      await readArchive(archive).catch(() => undefined);
    } finally {
      process.stdout.write = savedOut;
      process.stderr.write = savedErr;
    }
    expect(written).toEqual([]);
    expect(process.exitCode).toBe(savedExitCode);
  });

  it('refuses a password with a line break (a paste mistake)', async () => {
    const archive = await makeArchive(dir, files, { archiveName: 'nl.7z' });
    await rejection(readArchive(archive, { password: 'a\nb' }), 'INVALID_OPTIONS');
  });
});

describe('readArchive: zip, and archives made elsewhere', () => {
  it('reads a plain zip and an AES-256 zip', async () => {
    const plain = await makeArchive(dir, files, { format: 'zip', archiveName: 'open.zip' });
    expect(sorted(await readArchive(plain))).toEqual(expected);
    // 7-Zip's zip encryption takes ASCII passwords only.
    const zipPassword = 'Synthetic-zip-0417';
    const aes = await makeArchive(dir, files, {
      format: 'zip',
      password: zipPassword,
      archiveName: 'aes.zip',
    });
    expect(sorted(await readArchive(aes, { password: zipPassword }))).toEqual(expected);
    await rejection(readArchive(aes, { password: 'not-it' }), 'WRONG_PASSWORD');
    await rejection(readArchive(aes), 'PASSWORD_REQUIRED');
  });

  it('takes the format from the first bytes: a zip named .7z is read as the zip it is', async () => {
    const zip = await makeArchive(dir, files, { format: 'zip', archiveName: 'really-a-zip.7z' });
    expect(sorted(await readArchive(zip))).toEqual(expected);
  });

  itWithTools(
    'reads what the system 7z writes: AES-256 7z with encrypted headers, and AES zip',
    [tools.sevenZip],
    async () => {
      const stage = join(dir, 'cli-stage');
      await mkdir(join(stage, 'del'), { recursive: true });
      for (const f of files) await writeFile(join(stage, f.name), f.content);
      const names = ['utskick-1.txt', 'utskick-2.csv', 'del', 'tom.txt'];
      const he = join(dir, 'cli-he.7z');
      // -p without a value: 7z asks, and reads the answer from stdin.
      await sevenZipCli(['a', '-t7z', '-bd', '-mhe=on', '-p', he, ...names], {
        cwd: stage,
        input: `${PASSWORD}\n`,
      });
      expect(sorted(await readArchive(he, { password: PASSWORD }))).toEqual(expected);
      await rejection(readArchive(he, { password: 'not-it' }), 'WRONG_PASSWORD');
      const zipPassword = 'Synthetic-zip-0417';
      const zip = join(dir, 'cli-aes.zip');
      await sevenZipCli(['a', '-tzip', '-bd', '-mem=AES256', '-p', zip, ...names], {
        cwd: stage,
        input: `${zipPassword}\n`,
      });
      expect(sorted(await readArchive(zip, { password: zipPassword }))).toEqual(expected);
    },
  );
});

describe('readArchive: volume', () => {
  it('reads 400 files of 250 numbers each, exactly and quickly', async () => {
    const many = Array.from({ length: 400 }, (_, i) => ({
      name: `del-${String(i).padStart(3, '0')}.txt`,
      content: recipientText(syntheticList(250, i * 250)),
    }));
    const archive = await makeArchive(dir, many, {
      password: PASSWORD,
      encryptHeaders: true,
      archiveName: 'many.7z',
    });
    const t0 = Date.now();
    const entries = await readArchive(archive, { password: PASSWORD });
    const elapsedMs = Date.now() - t0;
    expect(entries.length).toBe(400);
    expect(entries.map((e) => e.name)).toEqual(many.map((f) => f.name));
    for (const [i, e] of entries.entries()) expect(e.data.toString('utf8')).toBe(many[i]!.content);
    expect(elapsedMs).toBeLessThan(10_000);
  });
});

describe('readArchive: nothing decrypted touches the disk', () => {
  it('leaves the working directory, TMPDIR and the archive folder as they were', async () => {
    const work = await makeTempDir('archive-cwd');
    const tmp = await makeTempDir('archive-tmpdir');
    const home = await makeTempDir('archive-home');
    const savedCwd = process.cwd();
    const savedTmp = process.env.TMPDIR;
    try {
      const archive = await makeArchive(home, files, { password: PASSWORD, encryptHeaders: true });
      const before = await readdir(home, { recursive: true });
      process.chdir(work);
      process.env.TMPDIR = tmp;
      const entries = await readArchive(archive, { password: PASSWORD });
      expect(sorted(entries)).toEqual(expected);
      await rejection(readArchive(archive, { password: 'not-it' }), 'WRONG_PASSWORD');
      expect(await readdir(work, { recursive: true })).toEqual([]);
      expect(await readdir(tmp, { recursive: true })).toEqual([]);
      expect(await readdir(home, { recursive: true })).toEqual(before);
    } finally {
      process.chdir(savedCwd);
      if (savedTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = savedTmp;
      await Promise.all([removeDir(work), removeDir(tmp), removeDir(home)]);
    }
  });
});
