/**
 * Opening and reading input files so that only regular files are ever read:
 * no FIFO that blocks forever, no /dev/zero that never ends, no symbolic link
 * that leads out of a delivery directory, no file larger than the limit.
 *
 * The check is made on the opened handle (fstat), not on the path, so nothing
 * can be swapped in between check and read; O_NONBLOCK makes opening a FIFO
 * return at once, and O_NOFOLLOW refuses a link where none is to be followed.
 */
import { constants, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { printableName } from './printable.js';

/** An input that cannot be read as given: the message names it and says why (exit 1). */
export class InputError extends Error {
  readonly code = 'INPUT';
}

/** A setting that cannot be used (exit 2). */
export class RecipientConfigError extends Error {
  readonly code = 'CONFIG';
}

/** The default of MAX_RECIPIENT_FILE_BYTES: 64 MiB, about 4.8 million numbers. */
export const DEFAULT_MAX_RECIPIENT_FILE_BYTES = 64 * 1024 * 1024;
/** The largest limit allowed: a file must still fit in one JS string once decoded. */
export const LARGEST_MAX_RECIPIENT_FILE_BYTES = 256 * 1024 * 1024;

/**
 * MAX_RECIPIENT_FILE_BYTES from the environment: the largest recipient file
 * (plain, found in a directory, or an archive and its members), in bytes.
 * Default 64 MiB; a value that is not a whole number from 1 to 256 MiB is a
 * RecipientConfigError naming the variable.
 */
export function maxRecipientFileBytesFromEnv(env: Record<string, string | undefined>): number {
  const raw = env.MAX_RECIPIENT_FILE_BYTES;
  if (raw === undefined || raw.trim() === '') return DEFAULT_MAX_RECIPIENT_FILE_BYTES;
  const text = raw.trim();
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > LARGEST_MAX_RECIPIENT_FILE_BYTES) {
    throw new RecipientConfigError(
      `invalid configuration: MAX_RECIPIENT_FILE_BYTES must be a whole number of bytes from 1 to ${LARGEST_MAX_RECIPIENT_FILE_BYTES} (default ${DEFAULT_MAX_RECIPIENT_FILE_BYTES}, 64 MiB)`,
    );
  }
  return value;
}

/** "64 MiB" for whole MiB, else the bytes. */
export function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MiB`
    : `${bytes} bytes`;
}

/** What a non-regular file is, for a message; undefined for a regular file. */
export function kindOf(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isSymbolicLink()) return 'a symbolic link';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

export interface OpenRegularOptions {
  /** Refuse the path if its last component is a symbolic link (O_NOFOLLOW). */
  noFollow: boolean;
  /** Largest size accepted, in bytes. */
  maxBytes: number;
  /** The name of the limit for the message, e.g. MAX_RECIPIENT_FILE_BYTES. */
  limitName?: string;
}

function tooLarge(path: string, options: OpenRegularOptions, size?: number): InputError {
  const limit = `the limit of ${formatBytes(options.maxBytes)}${options.limitName === undefined ? '' : ` (${options.limitName})`}`;
  return new InputError(
    size === undefined
      ? `${printableName(path)}: grew past ${limit} while it was read`
      : `${printableName(path)}: ${size} bytes, more than ${limit}`,
  );
}

/**
 * Opens a regular file for reading and checks the handle: anything else
 * (FIFO, device, socket, directory, a link when noFollow) and anything larger
 * than maxBytes is an InputError naming the path. The caller closes the handle.
 */
export async function openRegularFile(
  path: string,
  options: OpenRegularOptions,
): Promise<{ handle: FileHandle; size: number }> {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | (options.noFollow ? constants.O_NOFOLLOW : 0);
  let handle: FileHandle;
  try {
    handle = await open(path, flags);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === 'ELOOP' && options.noFollow
        ? 'a symbolic link; links are not followed here'
        : `cannot read (${code ?? cause})`;
    throw new InputError(`${printableName(path)}: ${why}`, { cause });
  }
  try {
    const stats = await handle.stat();
    const kind = kindOf(stats);
    if (kind !== undefined) {
      throw new InputError(`${printableName(path)}: ${kind}, not a regular file; not read`);
    }
    if (stats.size > options.maxBytes) throw tooLarge(path, options, stats.size);
    return { handle, size: stats.size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

const READ_CHUNK_BYTES = 1024 * 1024;

/**
 * Reads a regular file (see openRegularFile) into one buffer, in chunks, never
 * holding more than maxBytes (plus one chunk being read): a file that grows
 * past the limit while it is read is refused, as is a "regular" file whose
 * size says 0 but that never ends (a /proc file).
 */
export async function readRegularFile(path: string, options: OpenRegularOptions): Promise<Buffer> {
  const { handle, size } = await openRegularFile(path, options);
  try {
    const buffer = Buffer.allocUnsafe(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(
        buffer,
        filled,
        Math.min(READ_CHUNK_BYTES, size - filled),
        null,
      );
      if (bytesRead === 0) return buffer.subarray(0, filled); // it shrank while read
      filled += bytesRead;
    }
    // Past the size fstat gave: a file that grows while read, or one whose size says nothing (/proc).
    const more: Buffer[] = [];
    let total = filled;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, options.maxBytes + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      more.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > options.maxBytes) throw tooLarge(path, options);
    }
    return more.length === 0 ? buffer : Buffer.concat([buffer, ...more], total);
  } finally {
    await handle.close();
  }
}
