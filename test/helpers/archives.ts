/**
 * Builds real archives for tests, hostile ones included, without any system
 * tool: 7-Zip runs in this process (the 7z-wasm package, the same build
 * readArchive uses), in its in-memory file system; zips with chosen mode bits
 * or lying headers are written by hand. Passwords are handed to 7-Zip inside
 * the process. The system `7z` is used only by the test that reads archives it
 * made (sevenZipCli).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { createSevenZip, type SevenZipInstance } from '../../src/recipients/seven-zip.js';

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
  /** Extra switches for `7z a`, e.g. `-mx=1`. */
  extraArgs?: string[];
}

/** A fresh directory under os.tmpdir(); remove it with removeDir. */
export function makeTempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `utskick-${label}-`));
}

export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/** Runs 7-Zip in an instance and fails loudly unless it exits 0. */
function run(sevenZip: SevenZipInstance, args: string[]): void {
  const r = sevenZip.run(args, { deadlineMs: Date.now() + 60_000 });
  if (r.outcome !== 'exited' || r.exitCode !== 0) {
    throw new Error(`7-Zip ${args[0]} failed (${r.outcome}, exit ${r.exitCode}): ${r.stderr.trim()}`);
  }
}

function mkdirs(sevenZip: SevenZipInstance, path: string): void {
  let at = '';
  for (const part of path.split('/').filter(Boolean)) {
    at += `/${part}`;
    try {
      sevenZip.fs.mkdir(at);
    } catch {
      // already there
    }
  }
}

/** Writes the files under /stage and returns the top-level names. */
function stage(sevenZip: SevenZipInstance, files: readonly ArchiveFile[]): string[] {
  const tops = new Set<string>();
  mkdirs(sevenZip, '/stage');
  for (const f of files) {
    const parts = f.name.split('/');
    mkdirs(sevenZip, `/stage/${parts.slice(0, -1).join('/')}`);
    sevenZip.fs.writeFile(`/stage/${f.name}`, f.content);
    tops.add(parts[0]!);
  }
  sevenZip.fs.chdir('/stage');
  return [...tops].sort();
}

function passwordArgs(options: MakeArchiveOptions): string[] {
  if (options.password === undefined) return [];
  const args = [`-p${options.password}`];
  if (options.encryptHeaders) args.push('-mhe=on');
  if (options.format === 'zip') args.push('-mem=AES256');
  return args;
}

/** Where pack writes (with the extension, or 7-Zip would add one). */
const packed = (options: MakeArchiveOptions) => `/out/archive.${options.format ?? '7z'}`;

/** `7z a` of the staged names into packed(options), then the archive's bytes. */
function pack(sevenZip: SevenZipInstance, names: string[], options: MakeArchiveOptions): Uint8Array {
  const format = options.format ?? '7z';
  run(sevenZip, [
    'a',
    `-t${format}`,
    '-bd',
    '-bsp0',
    '-bso0',
    ...passwordArgs(options),
    ...(options.extraArgs ?? []),
    packed(options),
    '--',
    ...names,
  ]);
  return sevenZip.fs.readFile(packed(options));
}

/** Creates an archive holding the files; returns its path. */
export async function makeArchive(
  dir: string,
  files: readonly ArchiveFile[],
  options: MakeArchiveOptions = {},
): Promise<string> {
  const archive = join(dir, options.archiveName ?? `recipients.${options.format ?? '7z'}`);
  const sevenZip = await createSevenZip();
  await writeFile(archive, pack(sevenZip, stage(sevenZip, files), options));
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
  const archive = join(dir, options.archiveName ?? `recipients.${options.format ?? '7z'}`);
  const sevenZip = await createSevenZip();
  pack(sevenZip, stage(sevenZip, files), options);
  run(sevenZip, [
    'rn',
    '-bd',
    '-bsp0',
    '-bso0',
    ...(options.password === undefined ? [] : [`-p${options.password}`]),
    packed(options),
    ...renames.flat(),
  ]);
  await writeFile(archive, sevenZip.fs.readFile(packed(options)));
  return archive;
}

/** An archive with `ok.txt` and `link.txt`, a real symbolic link (stored with -snl) to target. */
export async function makeSymlinkArchive(
  dir: string,
  okContent: string,
  options: MakeArchiveOptions & { target?: string } = {},
): Promise<string> {
  const archive = join(dir, options.archiveName ?? 'symlink.7z');
  const sevenZip = await createSevenZip();
  stage(sevenZip, [{ name: 'ok.txt', content: okContent }]);
  sevenZip.fs.symlink(options.target ?? '/etc/passwd', '/stage/link.txt');
  const data = pack(sevenZip, ['link.txt', 'ok.txt'], {
    ...options,
    extraArgs: ['-snl', ...(options.extraArgs ?? [])],
  });
  await writeFile(archive, data);
  return archive;
}

/** An archive whose one entry has an absolute name (`7z a -spf`): returns it and that name. */
export async function makeAbsolutePathArchive(
  dir: string,
  content: string,
  archiveName = 'spf.7z',
): Promise<{ archive: string; entry: string }> {
  const archive = join(dir, archiveName);
  const sevenZip = await createSevenZip();
  stage(sevenZip, [{ name: 'abs-source.txt', content }]);
  await writeFile(archive, pack(sevenZip, ['/stage/abs-source.txt'], { extraArgs: ['-spf'] }));
  return { archive, entry: '/stage/abs-source.txt' };
}

/**
 * An archive holding another archive: named `inner.7z`, or with disguise
 * named `inner.txt` so only its magic bytes give it away.
 */
export async function makeNestedArchive(
  dir: string,
  innerFiles: readonly ArchiveFile[],
  options: MakeArchiveOptions & { disguise?: boolean; innerName?: string } = {},
): Promise<string> {
  const sevenZip = await createSevenZip();
  const inner = Buffer.from(pack(sevenZip, stage(sevenZip, innerFiles), {}));
  const outerName = options.innerName ?? (options.disguise ? 'inner.txt' : 'inner.7z');
  return makeArchive(dir, [{ name: outerName, content: inner }], {
    ...options,
    archiveName: options.archiveName ?? 'nested.7z',
  });
}

/**
 * A zip bomb in miniature: one entry of `bytes` zeros (default 50 MiB) that
 * compresses to a few KiB.
 */
export async function makeZipBomb(
  dir: string,
  options: { bytes?: number; entryName?: string; archiveName?: string } = {},
): Promise<string> {
  const archive = join(dir, options.archiveName ?? 'bomb.7z');
  const sevenZip = await createSevenZip();
  const name = options.entryName ?? 'zeros.txt';
  stage(sevenZip, [{ name, content: Buffer.alloc(options.bytes ?? 50 * 1024 * 1024) }]);
  await writeFile(archive, pack(sevenZip, [name], { extraArgs: ['-mx=1'] }));
  return archive;
}

/**
 * A 7z archive (LZMA, plain headers) of one small file whose header declares
 * an LZMA dictionary of dictionaryBytes: 7-Zip allocates the whole dictionary
 * before it decodes a byte. The header and start-header CRCs are made right.
 */
export async function makeLargeDictionaryArchive(dir: string, dictionaryBytes: number): Promise<string> {
  const archive = join(dir, 'dictionary.7z');
  const sevenZip = await createSevenZip();
  stage(sevenZip, [{ name: 'a.txt', content: recipientText(['191212121212']) }]);
  const data = Buffer.from(pack(sevenZip, ['a.txt'], { extraArgs: ['-m0=LZMA', '-md=64k', '-mhc=off'] }));
  const headerAt = 32 + Number(data.readBigUInt64LE(12));
  const headerSize = Number(data.readBigUInt64LE(20));
  const header = data.subarray(headerAt, headerAt + headerSize);
  // LZMA properties: lc/lp/pb (0x5d for the defaults), then the dictionary size (7-Zip shrank it to 4 KiB).
  const props = header.indexOf(Buffer.from([0x5d, 0x00, 0x10, 0x00, 0x00]));
  if (props < 0) throw new Error('LZMA properties not found in the 7z header');
  header.writeUInt32LE(dictionaryBytes, props + 1);
  data.writeUInt32LE(crc32(header), 28);
  data.writeUInt32LE(crc32(data.subarray(12, 32)), 8);
  await writeFile(archive, data);
  return archive;
}

export interface StoredZipEntry {
  name: string;
  content: string | Buffer;
  /** The central directory's external attributes (Unix mode << 16); default 0, as Python's zipfile writes. */
  externalAttr?: number;
  /** An uncompressed size to declare instead of the true one (a lying header). */
  declaredSize?: number;
  /** A CRC-32 to declare instead of the true one. */
  declaredCrc?: number;
}

/**
 * A zip of stored (uncompressed) entries, written byte by byte: made by Unix
 * (version 2.0), no extra fields, sizes and CRC as given. The way to get
 * entries with chosen mode bits, or headers that lie about their data.
 */
export async function makeStoredZip(
  dir: string,
  name: string,
  entries: readonly StoredZipEntry[],
): Promise<string> {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const nameBytes = Buffer.from(e.name, 'utf8');
    const data = Buffer.from(e.content);
    const crc = e.declaredCrc ?? crc32(data);
    const size = e.declaredSize ?? data.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18); // compressed size: the bytes that follow
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE((e.externalAttr ?? 0) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, data);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + data.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  const path = join(dir, name);
  await writeFile(path, Buffer.concat([...locals, directory, end]));
  return path;
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
 * Runs the system's `7z` (see tools.sevenZip), for the test that reads what
 * it writes; input (if any) goes to its stdin. Rejects on a non-zero exit.
 */
export function sevenZipCli(args: string[], options: { cwd?: string; input?: string } = {}): Promise<void> {
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
