/**
 * Builds real 7-Zip archives for tests with the system's `7z`, including
 * hostile ones. Passwords go to `7z a -p` on stdin (7-Zip reads the answer to
 * its prompt from there), never on the command line.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface ArchiveFile {
  /** Relative path inside the archive, `/`-separated; folders are created as needed. */
  name: string;
  content: string | Buffer;
}

export interface MakeArchiveOptions {
  password?: string;
  /** Encrypt the headers too (`-mhe=on`, 7z only), so even listing needs the password. Default false. */
  encryptHeaders?: boolean;
  /** File name of the archive inside dir. Default `recipients.7z` (or `.zip`). */
  archiveName?: string;
  format?: '7z' | 'zip';
  /** Extra switches for `7z a`, e.g. `-snl`. */
  extraArgs?: string[];
}

/** Runs the real 7z; input (if any) is written to its stdin. Rejects on a non-zero exit. */
export function sevenZip(
  args: string[],
  options: { cwd?: string; input?: string | Buffer } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('7z', args, { cwd: options.cwd, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input);
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`7z ${args[0]} exited ${code}: ${stderr.trim()}`)),
    );
  });
}

/** A fresh directory under os.tmpdir(); remove it with removeDir. */
export function makeTempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `utskick-${label}-`));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

async function stage(dir: string, files: readonly ArchiveFile[]): Promise<{ root: string; tops: string[] }> {
  const root = await mkdtemp(join(dir, 'stage-'));
  const tops = new Set<string>();
  for (const f of files) {
    const target = join(root, f.name);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, f.content);
    tops.add(f.name.split('/')[0]!);
  }
  return { root, tops: [...tops].sort() };
}

function passwordArgs(options: MakeArchiveOptions): string[] {
  if (options.password === undefined) return [];
  const args = ['-p'];
  if (options.encryptHeaders) args.push('-mhe=on');
  if (options.format === 'zip') args.push('-mem=AES256');
  return args;
}

/** Creates an archive holding the files; returns its path. */
export async function makeArchive(
  dir: string,
  files: readonly ArchiveFile[],
  options: MakeArchiveOptions = {},
): Promise<string> {
  const format = options.format ?? '7z';
  const archive = join(dir, options.archiveName ?? `recipients.${format}`);
  const { root, tops } = await stage(dir, files);
  try {
    await sevenZip(
      [
        'a',
        `-t${format}`,
        '-bd',
        '-bsp0',
        ...passwordArgs(options),
        ...(options.extraArgs ?? []),
        archive,
        ...tops,
      ],
      { cwd: root, ...(options.password === undefined ? {} : { input: `${options.password}\n` }) },
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return archive;
}

/**
 * Creates an archive, then renames entries inside it with `7z rn` (which
 * stores the new name as given): the way to get `../x`, `/etc/x` or `C:\x`
 * names that `7z a` would normalise away.
 */
export async function makeRenamedArchive(
  dir: string,
  files: readonly ArchiveFile[],
  renames: ReadonlyArray<readonly [from: string, to: string]>,
  options: MakeArchiveOptions = {},
): Promise<string> {
  const archive = await makeArchive(dir, files, options);
  await sevenZip(['rn', '-bd', '-bsp0', archive, ...renames.flat()], {
    ...(options.password === undefined ? {} : { input: `${options.password}\n` }),
  });
  return archive;
}

/** An archive with `ok.txt` and `link.txt`, a real symbolic link (stored with -snl) to target. */
export async function makeSymlinkArchive(
  dir: string,
  okContent: string,
  options: MakeArchiveOptions & { target?: string } = {},
): Promise<string> {
  const archive = join(dir, options.archiveName ?? 'symlink.7z');
  const root = await mkdtemp(join(dir, 'stage-'));
  try {
    await writeFile(join(root, 'ok.txt'), okContent);
    await symlink(options.target ?? '/etc/passwd', join(root, 'link.txt'));
    await sevenZip(
      ['a', '-t7z', '-bd', '-bsp0', '-snl', ...passwordArgs(options), archive, 'link.txt', 'ok.txt'],
      {
        cwd: root,
        ...(options.password === undefined ? {} : { input: `${options.password}\n` }),
      },
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return archive;
}

/**
 * An archive holding another archive: named `inner.7z`, or with disguise
 * named `inner.txt` so only its magic bytes give it away.
 */
export async function makeNestedArchive(
  dir: string,
  innerFiles: readonly ArchiveFile[],
  options: MakeArchiveOptions & { disguise?: boolean } = {},
): Promise<string> {
  const innerDir = await mkdtemp(join(dir, 'inner-'));
  try {
    const inner = await makeArchive(innerDir, innerFiles, { archiveName: 'inner.7z' });
    const outerName = options.disguise ? 'inner.txt' : 'inner.7z';
    return await makeArchive(dir, [{ name: outerName, content: await readFile(inner) }], {
      ...options,
      archiveName: options.archiveName ?? 'nested.7z',
    });
  } finally {
    await rm(innerDir, { recursive: true, force: true });
  }
}

/**
 * A zip bomb in miniature: one entry of `bytes` zeros (default 50 MiB) that
 * compresses to a few KiB. The zeros are a sparse file (a truncate, no data
 * blocks written), removed again once archived. (`7z a -si` would store the
 * entry as a fifo, which readArchive refuses before it looks at sizes.)
 */
export async function makeZipBomb(
  dir: string,
  options: { bytes?: number; entryName?: string } = {},
): Promise<string> {
  const archive = join(dir, 'bomb.7z');
  const root = await mkdtemp(join(dir, 'stage-'));
  try {
    const name = options.entryName ?? 'zeros.txt';
    await writeFile(join(root, name), '');
    await truncate(join(root, name), options.bytes ?? 50 * 1024 * 1024);
    await sevenZip(['a', '-t7z', '-bd', '-bsp0', '-mx=1', archive, name], { cwd: root });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  return archive;
}

/** Writes a copy of the archive with its last cutBytes removed; returns the copy's path. */
export async function truncateArchive(archive: string, cutBytes: number): Promise<string> {
  const data = await readFile(archive);
  const out = archive.replace(/(\.[^./]+)$/, `-truncated$1`);
  await writeFile(out, data.subarray(0, Math.max(0, data.length - cutBytes)));
  return out;
}

/** Recipient file text: one number a line, newline-terminated. */
export function recipientText(numbers: readonly string[]): string {
  return numbers.map((n) => `${n}\n`).join('');
}

/**
 * Writes an executable shell script to stand in for 7z (passed as the
 * `sevenZip` option): a real child process that can lie about an archive or
 * hang, which the real 7z cannot be made to do. `$1` is the command (l or x).
 */
export async function makeFakeSevenZip(dir: string, name: string, script: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  return path;
}
