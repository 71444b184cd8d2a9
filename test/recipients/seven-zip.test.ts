/**
 * The in-process 7-Zip (7z-wasm) and its sandbox: what each guard does to a
 * real 7-Zip run. readArchive's use of them is in archive.*.test.ts.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSevenZip } from '../../src/recipients/seven-zip.js';
import { createSevenZipEngine } from '../../src/recipients/seven-zip-engine.js';
import {
  makeArchive,
  makeLargeDictionaryArchive,
  makeTempDir,
  makeZipBomb,
  recipientText,
  removeDir,
} from '../helpers/archives.js';
import { syntheticList } from '../helpers/personnummer.js';

const PASSWORD = 'Synthetic-sandbox-0417';
const text = recipientText(syntheticList(250));
const soon = () => ({ deadlineMs: Date.now() + 20_000 });

let dir: string;
let archive: Buffer;
beforeAll(async () => {
  dir = await makeTempDir('seven-zip');
  archive = await readFile(
    await makeArchive(dir, [{ name: 'a.txt', content: text }], { password: PASSWORD, encryptHeaders: true }),
  );
});
afterAll(async () => {
  await removeDir(dir);
});

describe('createSevenZip', () => {
  it('lists and extracts into its in-memory file system, and keeps this process exit code', async () => {
    const sevenZip = await createSevenZip();
    sevenZip.fs.writeFile('/in/a.7z', archive);
    sevenZip.fs.writeFile('/in/junk.7z', 'not an archive');
    const saved = process.exitCode;
    const junk = sevenZip.run(['l', '-t7z', '/in/junk.7z'], soon());
    expect(junk).toMatchObject({ outcome: 'exited', exitCode: 2 });
    expect(junk.stderr).toMatch(/Cannot open the file as \[7z\] archive/);
    expect(process.exitCode).toBe(saved);
    const listed = sevenZip.run(['l', '-slt', '-ba', `-p${PASSWORD}`, '/in/a.7z'], soon());
    expect(listed).toMatchObject({ outcome: 'exited', exitCode: 0 });
    expect(listed.stdout).toContain('Path = a.txt');
    const extracted = sevenZip.run(['x', `-p${PASSWORD}`, '-o/out', '-y', '/in/a.7z'], soon());
    expect(extracted).toMatchObject({ outcome: 'exited', exitCode: 0 });
    expect(Buffer.from(sevenZip.fs.readFile('/out/a.txt')).toString()).toBe(text);
    sevenZip.wipe();
    expect(sevenZip.fs.readdir('/out')).toEqual(['.', '..']);
  });

  it('cannot see the host file system: no path inside leads out', async () => {
    const sevenZip = await createSevenZip();
    const here = sevenZip.run(['l', '--', `${dir}/recipients.7z`], soon());
    expect(here.exitCode).not.toBe(0);
    expect(here.stderr).toMatch(/No such file/);
    expect(sevenZip.fs.readdir('/').sort()).toEqual(['.', '..', 'dev', 'home', 'in', 'out', 'proc', 'tmp']);
  });

  it('a password prompt reads end of file at once, never this process stdin', async () => {
    const sevenZip = await createSevenZip();
    sevenZip.fs.writeFile('/in/a.7z', archive);
    const t0 = Date.now();
    // No -p: 7-Zip asks for the password.
    const r = sevenZip.run(['l', '/in/a.7z'], soon());
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(r.stdout).toContain('Enter password');
    expect(r.outcome).toBe('crashed'); // the build cannot catch 7-Zip's "break" exception
    expect(sevenZip.broken).toBe(true);
    expect(() => sevenZip.run(['l', '/in/a.7z'], soon())).toThrow(/unusable/);
  });

  it('a run past its deadline is stopped at its next system call', async () => {
    const sevenZip = await createSevenZip();
    sevenZip.fs.writeFile('/in/a.7z', archive);
    const r = sevenZip.run(['x', `-p${PASSWORD}`, '-o/out', '-y', '/in/a.7z'], {
      deadlineMs: Date.now() - 1,
    });
    expect(r).toMatchObject({ outcome: 'timeout', exitCode: null });
    expect(sevenZip.broken).toBe(true);
    expect(() => sevenZip.fs.readFile('/out/a.txt')).toThrow();
  });

  it('a write beyond its budget, or to a path the budget does not name, stops the run at that write', async () => {
    const sevenZip = await createSevenZip();
    sevenZip.fs.writeFile('/in/a.7z', archive);
    const small = sevenZip.run(['x', `-p${PASSWORD}`, '-o/out', '-y', '/in/a.7z'], {
      ...soon(),
      writeBudget: new Map([['/out/a.txt', 100]]),
    });
    expect(small).toMatchObject({ outcome: 'stopped', stopReason: '/out/a.txt' });
    const other = await createSevenZip();
    other.fs.writeFile('/in/a.7z', archive);
    const elsewhere = other.run(['x', `-p${PASSWORD}`, '-o/out', '-y', '/in/a.7z'], {
      ...soon(),
      writeBudget: new Map([['/out/b.txt', 1_000_000]]),
    });
    expect(elsewhere).toMatchObject({ outcome: 'stopped', stopReason: '/out/a.txt' });
  });

  it('stdout beyond its cap stops the run', async () => {
    const sevenZip = await createSevenZip();
    sevenZip.fs.writeFile('/in/a.7z', archive);
    const r = sevenZip.run(['l', '-slt', '-ba', `-p${PASSWORD}`, '/in/a.7z'], {
      ...soon(),
      maxStdoutBytes: 40,
    });
    expect(r).toMatchObject({ outcome: 'stopped', stopReason: 'stdout' });
  });

  it('heap growth beyond maxMemoryBytes is refused: 7-Zip reports it, the process does not run out of memory', async () => {
    const sevenZip = await createSevenZip({ maxMemoryBytes: 64 * 1024 * 1024 });
    sevenZip.fs.writeFile(
      '/in/d.7z',
      await readFile(await makeLargeDictionaryArchive(dir, 256 * 1024 * 1024)),
    );
    const r = sevenZip.run(['x', '-p', '-o/out', '-y', '/in/d.7z'], soon());
    expect(r).toMatchObject({ outcome: 'exited', exitCode: 2, memoryRefused: true });
    expect(r.stderr).toMatch(/Can't allocate required memory/);
    expect(sevenZip.broken).toBe(false);
    // Within the cap the same instance goes on.
    sevenZip.wipe();
    const bomb = await readFile(await makeZipBomb(dir, { bytes: 8 * 1024 * 1024, archiveName: 'eight.7z' }));
    sevenZip.fs.writeFile('/in/b.7z', bomb);
    expect(sevenZip.run(['x', '-o/out', '-y', '/in/b.7z'], soon())).toMatchObject({ exitCode: 0 });
  });
});

describe('createSevenZipEngine', () => {
  it('reuses one instance, wiped before and after each use; replaces one left broken', async () => {
    const engine = createSevenZipEngine();
    const first = await engine.use((sevenZip) => {
      sevenZip.fs.writeFile('/in/left.txt', 'x');
      sevenZip.fs.writeFile('/out/left.txt', 'x');
      return sevenZip;
    });
    const second = await engine.use((sevenZip) => {
      expect(sevenZip.fs.readdir('/in')).toEqual(['.', '..']);
      expect(sevenZip.fs.readdir('/out')).toEqual(['.', '..']);
      sevenZip.run(['l', '/in/none.7z'], { deadlineMs: Date.now() - 1 });
      return sevenZip;
    });
    expect(second).toBe(first);
    expect(second.broken).toBe(true);
    const third = await engine.use((sevenZip) => sevenZip);
    expect(third).not.toBe(first);
    expect(third.broken).toBe(false);
  });

  it('runs one use at a time', async () => {
    const engine = createSevenZipEngine();
    const order: string[] = [];
    await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        engine.use(() => {
          order.push(`${name}-start`);
          order.push(`${name}-end`);
        }),
      ),
    );
    expect(order).toEqual(['a-start', 'a-end', 'b-start', 'b-end', 'c-start', 'c-end']);
  });
});
