/**
 * Reads recipient files out of (usually AES-256 encrypted) 7-Zip and zip
 * archives, safely, into memory only.
 *
 * How: the archive is opened here and checked on its handle (a regular file,
 * not larger than maxArchiveBytes, not a link when the caller says so) and
 * read whole from that handle, so a swapped file cannot change what is read.
 * Its first bytes decide the format: 7z or zip, nothing else. Then 7-Zip,
 * compiled to WebAssembly and run inside this process (seven-zip.ts), lists,
 * checks and extracts it in its in-memory file system (archive-extract.ts).
 *
 * The password never reaches an OS command line or a child process: it is
 * handed to 7-Zip's main() inside this process. Nothing decrypted touches the
 * disk: the instance has no mount of the host's file system. Error messages
 * carry neither the password, nor file contents, nor a personnummer in a name.
 */
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { ArchiveError } from './archive-error.js';
import { type ArchiveEntry, type ArchiveFormat, extractArchive } from './archive-extract.js';
import { archiveMagic } from './archive-listing.js';
import { formatBytes, kindOf } from './regular-file.js';
import { SevenZipLoadError } from './seven-zip.js';
import { createSevenZipEngine, type SevenZipEngine } from './seven-zip-engine.js';

export { ArchiveError, type ArchiveErrorCode, archiveErrorCodes } from './archive-error.js';
export type { ArchiveEntry } from './archive-extract.js';
export { createSevenZipEngine, type SevenZipEngine } from './seven-zip-engine.js';

export interface ArchiveLimits {
  /** Most entries (files and folders) the listing may hold. Default 10,000. */
  maxEntries: number;
  /** Largest declared size of one file, in bytes. Default 1 MiB. */
  maxEntryBytes: number;
  /**
   * Largest declared size of all files together, in bytes: the zip-bomb guard,
   * and the bound on what extraction holds in memory. Default 256 MiB.
   */
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
  /** The archive's password, handed to 7-Zip inside this process. Default: none. */
  password?: string;
  /** Overrides of defaultArchiveLimits. */
  limits?: Partial<ArchiveLimits>;
  /**
   * Wall-clock budget for the whole read, in ms: checked between the steps and
   * at every system call 7-Zip makes. Default 60,000.
   */
  timeoutMs?: number;
  /** Refuse the archive when its path is a symbolic link (O_NOFOLLOW), as for a file found in a directory. Default false. */
  noFollow?: boolean;
  /**
   * The in-process 7-Zip to use, shared by the archives of one delivery
   * (readInputs does so). Default: a fresh instance for this archive alone.
   */
  engine?: SevenZipEngine;
}

const EXTENSIONS = ['.7z', '.zip'];

/** Whether the path names an archive this module reads (.7z or .zip, any case). */
export function isArchivePath(path: string): boolean {
  const lower = path.toLowerCase();
  return EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** The format by the file's first bytes; the extension only says that a file is an archive. */
function formatOf(data: Buffer): ArchiveFormat | undefined {
  if (data.subarray(0, 6).equals(Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]))) return '7z';
  // A local file header, or the end record of an empty zip.
  const head = data.subarray(0, 4);
  if (head.equals(Buffer.from('PK\x03\x04', 'latin1')) || head.equals(Buffer.from('PK\x05\x06', 'latin1')))
    return 'zip';
  return undefined;
}

const DEFAULT_TIMEOUT_MS = 60_000;

export async function readArchive(path: string, options: ReadArchiveOptions = {}): Promise<ArchiveEntry[]> {
  const started = Date.now();
  const limits = resolveLimits(path, options);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { password } = options;
  if (password !== undefined && /[\r\n\0]/.test(password)) {
    throw new ArchiveError(
      'INVALID_OPTIONS',
      path,
      'the password has a line break or NUL, which no 7-Zip password holds (a paste mistake?)',
    );
  }
  if (!isArchivePath(path)) {
    throw new ArchiveError('UNSUPPORTED_FORMAT', path, 'only .7z and .zip archives are read');
  }
  const data = await readArchiveFile(path, limits, options.noFollow === true);
  const format = formatOf(data);
  if (format === undefined) {
    const magic = archiveMagic(data);
    throw new ArchiveError(
      'UNSUPPORTED_FORMAT',
      path,
      `the file is neither a 7z nor a zip archive${magic === undefined ? '' : ` (it holds ${magic} data)`}; only 7z and zip are read`,
    );
  }
  const engine = options.engine ?? createSevenZipEngine();
  try {
    return await engine.use((sevenZip) =>
      extractArchive(sevenZip, {
        path,
        data,
        format,
        password,
        limits,
        deadlineMs: started + timeoutMs,
        timeoutMs,
      }),
    );
  } catch (err) {
    if (err instanceof SevenZipLoadError) {
      throw new ArchiveError(
        'SEVEN_ZIP_MISSING',
        path,
        `7-Zip (the 7z-wasm package) could not be loaded (${err.message}); reinstall the dependencies with npm ci`,
        { cause: err },
      );
    }
    throw err;
  }
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

/** Reads the archive whole through one handle, checked first: a regular file (not a FIFO or device, nor a link when noFollow) within the size limit. */
async function readArchiveFile(path: string, limits: ArchiveLimits, noFollow: boolean): Promise<Buffer> {
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
    // One byte of room beyond the size tells a file that grew while it was read.
    const buffer = Buffer.allocUnsafe(stats.size + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    if (filled !== stats.size)
      throw new ArchiveError('CORRUPT', path, 'the archive changed while it was read');
    return buffer.subarray(0, filled);
  } finally {
    await handle.close();
  }
}
