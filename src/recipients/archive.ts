/**
 * Reads recipient files out of (usually AES-256 encrypted) 7-Zip archives,
 * safely, into memory only.
 *
 * How: the archive is opened here and checked on its handle (a regular file,
 * not too large, not a link when the caller says so); 7-Zip reads it through
 * that descriptor (/dev/fd/3), never by path, so neither a swapped file nor a
 * wildcard in the name can change what it reads. One `7z l -slt -ba` lists
 * the archive and every rule that the listing can decide is checked (links,
 * absolute or `..` paths, nested archives, entry count, declared sizes)
 * before anything is extracted. Then one `7z x -so`
 * streams every file to stdout; the stream is split by the listed sizes in
 * listing order (the order 7-Zip extracts in) and each piece is checked
 * against its listed CRC, so a broken order assumption is a CORRUPT error,
 * never wrong data. Nothing decrypted touches the disk: -so writes no files,
 * and no temporary directory is used.
 *
 * The password never appears on a command line (ps shows those): it is
 * written to 7z's stdin, which 7-Zip reads when it prompts for a password.
 * Error messages carry neither the password nor file contents.
 */
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { ArchiveError, sevenZipFailure } from './archive-error.js';
import {
  archiveMagic,
  checkListing,
  type ListedEntry,
  parseListing,
  type Refusal,
} from './archive-listing.js';
import { formatBytes, kindOf } from './regular-file.js';
import { runSevenZip } from './seven-zip.js';

export { ArchiveError, type ArchiveErrorCode, archiveErrorCodes } from './archive-error.js';

export interface ArchiveLimits {
  /** Most entries (files and folders) the listing may hold. Default 10,000. */
  maxEntries: number;
  /** Largest declared size of one file, in bytes. Default 1 MiB. */
  maxEntryBytes: number;
  /** Largest declared size of all files together, in bytes: the zip-bomb guard. Default 256 MiB. */
  maxTotalBytes: number;
  /** Largest size of the archive file itself, in bytes. Default 256 MiB. */
  maxArchiveBytes: number;
}

export const defaultArchiveLimits: Readonly<ArchiveLimits> = Object.freeze({
  maxEntries: 10_000,
  maxEntryBytes: 1024 * 1024,
  maxTotalBytes: 256 * 1024 * 1024,
  maxArchiveBytes: 256 * 1024 * 1024,
});

export interface ReadArchiveOptions {
  /** The archive's password; written to 7z's stdin, never to its command line. Default: none. */
  password?: string;
  /** Overrides of defaultArchiveLimits. */
  limits?: Partial<ArchiveLimits>;
  /** Wall-clock budget for the whole read (listing and extraction), in ms. Default 60,000. */
  timeoutMs?: number;
  /** The 7-Zip binary, a name on PATH or a path. Default `7z`. */
  sevenZip?: string;
  /** Refuse the archive when its path is a symbolic link (O_NOFOLLOW), as for a file found in a directory. Default false. */
  noFollow?: boolean;
}

/** One file of the archive, in listing order. Folders are not returned. */
export interface ArchiveEntry {
  /** The path inside the archive, as 7-Zip lists it. */
  name: string;
  data: Buffer;
}

/** The formats read, by file extension, with the 7-Zip type each is forced to open as. */
const FORMATS: ReadonlyArray<{ ext: string; type: string }> = [
  { ext: '.7z', type: '7z' },
  { ext: '.zip', type: 'zip' },
];

function formatOf(path: string): string | undefined {
  const lower = path.toLowerCase();
  return FORMATS.find((f) => lower.endsWith(f.ext))?.type;
}

/** Whether the path names an archive this module reads (.7z or .zip, any case). */
export function isArchivePath(path: string): boolean {
  return formatOf(path) !== undefined;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** Room for the listing text per allowed entry; a longer listing means too many entries. */
const LISTING_BYTES_PER_ENTRY = 4096;
/** Flags that keep 7-Zip from drawing progress or reading a terminal, with UTF-8 names. */
const QUIET = ['-bd', '-bsp0', '-sccUTF-8'] as const;
/**
 * 7-Zip reads the archive through the descriptor this process opened and
 * checked (inherited as its fd 3), never by path: what was checked is what is read.
 */
const ARCHIVE_FD = 3;
const ARCHIVE_FD_PATH = `/dev/fd/${ARCHIVE_FD}`;

export async function readArchive(path: string, options: ReadArchiveOptions = {}): Promise<ArchiveEntry[]> {
  const started = Date.now();
  const limits = resolveLimits(path, options);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const bin = options.sevenZip ?? '7z';
  const { password } = options;
  if (password !== undefined && /[\r\n\0]/.test(password)) {
    throw new ArchiveError(
      'INVALID_OPTIONS',
      path,
      'the password has a line break or NUL, which 7z cannot read',
    );
  }
  const type = formatOf(path);
  if (type === undefined) {
    throw new ArchiveError('UNSUPPORTED_FORMAT', path, 'only .7z and .zip archives are read');
  }
  const handle = await openArchive(path, limits, options.noFollow === true);
  try {
    return await readOpenArchive(path, handle, { limits, timeoutMs, started, bin, password, type });
  } finally {
    await handle.close();
  }
}

interface OpenArchiveRead {
  limits: ArchiveLimits;
  timeoutMs: number;
  started: number;
  bin: string;
  password: string | undefined;
  type: string;
}

async function readOpenArchive(
  path: string,
  handle: FileHandle,
  run: OpenArchiveRead,
): Promise<ArchiveEntry[]> {
  const { limits, timeoutMs, started, bin, password, type } = run;
  const stdinText = password === undefined ? undefined : `${password}\n`;
  const remainingMs = (): number => {
    const left = timeoutMs - (Date.now() - started);
    if (left <= 0) throw new ArchiveError('TIMEOUT', path, `gave up after ${timeoutMs} ms`);
    return left;
  };
  const fail = (refusal: Refusal): ArchiveError =>
    new ArchiveError(
      refusal.code,
      path,
      refusal.reason,
      refusal.entry === undefined ? {} : { entry: refusal.entry },
    );

  // 1. List, and refuse before extracting anything.
  const listingCapBytes = limits.maxEntries * LISTING_BYTES_PER_ENTRY + 64 * 1024;
  const listingChunks: Buffer[] = [];
  let listingBytes = 0;
  let listingTooLong = false;
  const listed = await runSevenZip({
    bin,
    args: ['l', '-slt', '-ba', ...QUIET, `-t${type}`, '--', ARCHIVE_FD_PATH],
    inheritFd: handle.fd,
    ...(stdinText === undefined ? {} : { stdinText }),
    timeoutMs: remainingMs(),
    onStdout(chunk) {
      listingBytes += chunk.length;
      if (listingBytes > listingCapBytes) {
        listingTooLong = true;
        return false;
      }
      listingChunks.push(chunk);
      return true;
    },
  });
  const listingText = Buffer.concat(listingChunks).toString('utf8');
  if (listingTooLong) {
    throw new ArchiveError(
      'TOO_MANY_ENTRIES',
      path,
      `the listing is longer than ${limits.maxEntries} entries allow`,
    );
  }
  if (listed.outcome !== 'exited' || listed.exitCode !== 0) {
    throw sevenZipFailure(path, 'list', listed, password, listingText.includes('Enter password'));
  }
  const entries = parseListing(listingText);
  if (!Array.isArray(entries)) throw fail(entries);
  const refusal = checkListing(entries, limits, password !== undefined);
  if (refusal) throw fail(refusal);

  // 2. Extract every file in one stream, split by the listed sizes.
  const files = entries.filter((e) => !e.isDirectory);
  const declaredTotal = files.reduce((sum, e) => sum + e.size, 0);
  const split = createSplitter(files);
  let overflow = false;
  const extracted = await runSevenZip({
    bin,
    args: ['x', '-so', '-y', ...QUIET, `-t${type}`, '--', ARCHIVE_FD_PATH],
    inheritFd: handle.fd,
    ...(stdinText === undefined ? {} : { stdinText }),
    timeoutMs: remainingMs(),
    onStdout(chunk) {
      if (split.received() + chunk.length > declaredTotal) {
        overflow = true;
        return false;
      }
      split.push(chunk);
      return true;
    },
  });
  if (overflow) {
    throw new ArchiveError(
      'TOO_LARGE',
      path,
      `7z produced more than the ${declaredTotal} bytes the listing declares; stopped it`,
    );
  }
  if (extracted.outcome !== 'exited' || extracted.exitCode !== 0) {
    throw sevenZipFailure(path, 'extract', extracted, password, false);
  }
  if (split.received() !== declaredTotal) {
    throw new ArchiveError(
      'CORRUPT',
      path,
      `7z produced ${split.received()} bytes where the listing declares ${declaredTotal}`,
    );
  }
  const out: ArchiveEntry[] = [];
  for (const [i, file] of files.entries()) {
    const data = split.data(i);
    if (file.crc !== undefined && crc32(data) !== file.crc) {
      throw new ArchiveError(
        'CORRUPT',
        path,
        'the extracted data does not match the listed CRC (the archive changed, or 7z extracted in another order)',
        { entry: file.path },
      );
    }
    const magic = archiveMagic(data);
    if (magic !== undefined) {
      throw new ArchiveError('NESTED_ARCHIVE', path, `the entry is itself an archive (${magic} data)`, {
        entry: file.path,
      });
    }
    out.push({ name: file.path, data });
  }
  return out;
}

function resolveLimits(path: string, options: ReadArchiveOptions): ArchiveLimits {
  const limits = { ...defaultArchiveLimits, ...options.limits };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new ArchiveError('INVALID_OPTIONS', path, `limits.${key} must be a whole number of at least 0`);
    }
  }
  const { timeoutMs } = options;
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new ArchiveError('INVALID_OPTIONS', path, 'timeoutMs must be a positive number');
  }
  return limits;
}

/** Opens the archive and checks the handle: a regular file (not a FIFO or device, nor a link when noFollow) within the size limit. */
async function openArchive(path: string, limits: ArchiveLimits, noFollow: boolean): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(
      path,
      constants.O_RDONLY | constants.O_NONBLOCK | (noFollow ? constants.O_NOFOLLOW : 0),
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    const reason =
      code === 'ELOOP' && noFollow
        ? 'the path is a symbolic link, which is not followed here'
        : `the archive cannot be read (${code})`;
    throw new ArchiveError('NOT_FOUND', path, reason, { cause: err });
  }
  try {
    const stats = await handle.stat();
    const kind = kindOf(stats);
    if (kind !== undefined)
      throw new ArchiveError('NOT_FOUND', path, `the path is ${kind}, not a regular file`);
    if (stats.size > limits.maxArchiveBytes) {
      throw new ArchiveError(
        'TOO_LARGE',
        path,
        `the archive is ${stats.size} bytes, more than the limit of ${formatBytes(limits.maxArchiveBytes)}`,
      );
    }
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Collects the extraction stream into one buffer per listed file. */
function createSplitter(files: readonly ListedEntry[]) {
  const buffers: Buffer[] = files.map(() => Buffer.alloc(0));
  let index = 0;
  let filled = 0;
  let received = 0;
  return {
    received: () => received,
    push(chunk: Buffer): void {
      received += chunk.length;
      let at = 0;
      while (at < chunk.length) {
        while (index < files.length && files[index]!.size === filled) {
          index++;
          filled = 0;
        }
        const file = files[index];
        if (file === undefined) return; // more than declared: the caller stops before this
        if (filled === 0) buffers[index] = Buffer.allocUnsafe(file.size);
        const take = Math.min(file.size - filled, chunk.length - at);
        chunk.copy(buffers[index]!, filled, at, at + take);
        filled += take;
        at += take;
      }
    },
    /** Only valid once received() equals the declared total. */
    data: (i: number): Buffer => buffers[i]!,
  };
}
