/**
 * Lists, checks and extracts one archive inside an in-process 7-Zip instance
 * (seven-zip.ts), synchronously: the archive's bytes go into the instance's
 * in-memory file system as /in/archive, and its members come out of /out.
 * Nothing touches the disk.
 *
 * Order, so that nothing is used before every rule has passed:
 * 1. `l -slt -ba` lists the archive; every rule the listing can decide
 *    (links, absolute or `..` paths, nested archives by name, entry count,
 *    declared sizes, whether a password is needed) is checked before anything
 *    is extracted. The declared total bounds what extraction can put in memory.
 * 2. `x` extracts into /out with a write budget: each listed path may receive
 *    at most its declared size, and no other path anything, or 7-Zip is
 *    stopped at that write.
 * 3. /out is walked: only folders and the listed files may be there. Each file
 *    is read in listing order and checked again: its size against the
 *    listing, its CRC-32 when listed, and its first bytes for an archive.
 */
import { crc32 } from 'node:zlib';
import { ArchiveError, sevenZipFailure } from './archive-error.js';
import {
  archiveMagic,
  checkListing,
  type ListedEntry,
  type ListingLimits,
  parseListing,
  type Refusal,
} from './archive-listing.js';
import type { SevenZipInstance } from './seven-zip.js';

/** One file of the archive, in listing order. Folders are not returned. */
export interface ArchiveEntry {
  /** The path inside the archive, as 7-Zip lists it. */
  name: string;
  data: Buffer;
}

export type ArchiveFormat = '7z' | 'zip';

export interface ExtractRequest {
  /** The archive's path, for messages only: 7-Zip never sees it. */
  path: string;
  data: Buffer;
  format: ArchiveFormat;
  password: string | undefined;
  limits: ListingLimits;
  /** Date.now() after which the read is given up. */
  deadlineMs: number;
  timeoutMs: number;
}

const ARCHIVE = '/in/archive';
const OUT = '/out';
/** Room for the listing text per allowed entry; a longer listing means too many entries. */
const LISTING_BYTES_PER_ENTRY = 4096;
/** No progress drawing, UTF-8 names, and the type forced (never guessed from the data by 7-Zip). */
const quiet = (format: ArchiveFormat) => ['-bd', '-bsp0', '-sccUTF-8', `-t${format}`];

export function extractArchive(sevenZip: SevenZipInstance, request: ExtractRequest): ArchiveEntry[] {
  const { path, password, deadlineMs } = request;
  const checkTime = (): void => {
    if (Date.now() > deadlineMs)
      throw new ArchiveError('TIMEOUT', path, `gave up after ${request.timeoutMs} ms`);
  };
  // Inside the process, never on an OS command line; an empty -p is "no password" and never prompts.
  const passwordSwitch = `-p${password ?? ''}`;

  sevenZip.fs.writeFile(ARCHIVE, request.data);

  // 1. List, and refuse before extracting anything.
  checkTime();
  const entries = listArchive(sevenZip, request, passwordSwitch);

  // 2. Extract, each listed file into at most its declared size.
  const files = entries.filter((e) => !e.isDirectory);
  checkTime();
  extractListed(sevenZip, request, passwordSwitch, files);

  // 3. Only folders and the listed files; each one as declared.
  return readExtracted(sevenZip, path, files);
}

/** Step 1: the archive's listing, every rule it can decide already checked. */
function listArchive(
  sevenZip: SevenZipInstance,
  request: ExtractRequest,
  passwordSwitch: string,
): ListedEntry[] {
  const { path, format, password, limits, deadlineMs } = request;
  const fail = (refusal: Refusal): ArchiveError =>
    new ArchiveError(
      refusal.code,
      path,
      refusal.reason,
      refusal.entry === undefined ? {} : { entry: refusal.entry },
    );
  const listed = sevenZip.run(['l', '-slt', '-ba', ...quiet(format), passwordSwitch, '--', ARCHIVE], {
    deadlineMs,
    maxStdoutBytes: limits.maxEntries * LISTING_BYTES_PER_ENTRY + 64 * 1024,
  });
  if (listed.outcome === 'stopped') {
    throw new ArchiveError(
      'TOO_MANY_ENTRIES',
      path,
      `the listing is longer than ${limits.maxEntries} entries allow`,
    );
  }
  if (listed.outcome !== 'exited' || listed.exitCode !== 0) {
    throw sevenZipFailure(path, listed, {
      phase: 'list',
      password,
      encrypted: format === '7z' && hasEncryptedHeader(request.data),
    });
  }
  const entries = parseListing(listed.stdout);
  if (!Array.isArray(entries)) throw fail(entries);
  const refusal = checkListing(entries, limits, password !== undefined);
  if (refusal) throw fail(refusal);
  return entries;
}

/** Step 2: `x` into /out, each listed file allowed at most its declared size. */
function extractListed(
  sevenZip: SevenZipInstance,
  request: ExtractRequest,
  passwordSwitch: string,
  files: ListedEntry[],
): void {
  const { path, format, password, deadlineMs } = request;
  const budget = new Map<string, number>();
  for (const file of files) {
    budget.set(`${OUT}/${file.path}`, file.size);
    budget.set(`${OUT}/${file.path.replaceAll('\\', '/')}`, file.size);
  }
  const extracted = sevenZip.run(
    ['x', ...quiet(format), '-bso0', passwordSwitch, `-o${OUT}`, '-y', '--', ARCHIVE],
    { deadlineMs, writeBudget: budget },
  );
  const stoppedAt = extracted.outcome === 'stopped' ? (extracted.stopReason ?? '') : undefined;
  if (stoppedAt?.startsWith(`${OUT}/`)) {
    const entry = stoppedAt.slice(OUT.length + 1);
    throw budget.has(stoppedAt)
      ? new ArchiveError('TOO_LARGE', path, '7-Zip wrote more than the listing declares; stopped it', {
          entry,
        })
      : new ArchiveError('UNSAFE_ENTRY', path, '7-Zip wrote a file the listing does not name; stopped it', {
          entry,
        });
  }
  if (extracted.outcome !== 'exited' || extracted.exitCode !== 0) {
    throw sevenZipFailure(path, extracted, {
      phase: 'extract',
      password,
      encrypted: files.some((f) => f.encrypted),
    });
  }
}

/** Step 3: /out holds only folders and the listed files; each is read, in listing order, and checked again. */
function readExtracted(sevenZip: SevenZipInstance, path: string, files: ListedEntry[]): ArchiveEntry[] {
  const found = walk(sevenZip, path);
  const out: ArchiveEntry[] = [];
  for (const file of files) out.push({ name: file.path, data: readEntry(sevenZip, path, file, found) });
  const extra = found.values().next();
  if (!extra.done) {
    throw new ArchiveError('UNSAFE_ENTRY', path, '7-Zip extracted a file the listing does not name', {
      entry: extra.value.slice(OUT.length + 1),
    });
  }
  return out;
}

/** One listed file's bytes, removed from `found` and from /out, checked against its size, CRC and magic. */
function readEntry(sevenZip: SevenZipInstance, path: string, file: ListedEntry, found: Set<string>): Buffer {
  const at = [`${OUT}/${file.path}`, `${OUT}/${file.path.replaceAll('\\', '/')}`].find((p) =>
    found.delete(p),
  );
  if (at === undefined) {
    throw new ArchiveError('CORRUPT', path, '7-Zip did not extract the listed entry', { entry: file.path });
  }
  const size = sevenZip.fs.stat(at).size;
  if (size !== file.size) {
    throw new ArchiveError(
      'CORRUPT',
      path,
      `7-Zip extracted ${size} bytes where the listing declares ${file.size}`,
      {
        entry: file.path,
      },
    );
  }
  // Copied once into a Buffer of its own (small ones share Node's pool, as plain files read do).
  const data = Buffer.allocUnsafe(size);
  const stream = sevenZip.fs.open(at, 'r');
  try {
    if (sevenZip.fs.read(stream, data, 0, size, 0) !== size) {
      throw new ArchiveError('CORRUPT', path, '7-Zip extracted fewer bytes than it says', {
        entry: file.path,
      });
    }
  } finally {
    sevenZip.fs.close(stream);
  }
  sevenZip.fs.unlink(at); // one copy at a time
  if (file.crc !== undefined && crc32(data) !== file.crc) {
    throw new ArchiveError('CORRUPT', path, 'the extracted data does not match the listed CRC', {
      entry: file.path,
    });
  }
  const magic = archiveMagic(data);
  if (magic !== undefined) {
    throw new ArchiveError('NESTED_ARCHIVE', path, `the entry is itself an archive (${magic} data)`, {
      entry: file.path,
    });
  }
  return data;
}

/** The 7z method id of AES-256 + SHA-256 (7zAES). */
const AES_METHOD = Buffer.from([0x06, 0xf1, 0x07, 0x01]);

/**
 * Whether a 7z archive's headers are encrypted (7z a -mhe=on): the next header
 * the start header points to is an encoded header (0x17) whose coders include
 * 7zAES. Read from the bytes, since 7-Zip may stop without a word when such a
 * header does not decode.
 */
export function hasEncryptedHeader(data: Buffer): boolean {
  if (data.length < 32) return false;
  const start = 32n + data.readBigUInt64LE(12);
  const end = start + data.readBigUInt64LE(20);
  if (end > BigInt(data.length)) return false;
  const header = data.subarray(Number(start), Number(end));
  return header[0] === 0x17 && header.includes(AES_METHOD);
}

/** Every regular file under /out; a link, device or anything else there is refused. */
function walk(sevenZip: SevenZipInstance, path: string): Set<string> {
  const { fs } = sevenZip;
  const files = new Set<string>();
  const visit = (dir: string): void => {
    for (const name of fs.readdir(dir)) {
      if (name === '.' || name === '..') continue;
      const at = `${dir}/${name}`;
      const { mode } = fs.lstat(at);
      if (fs.isDir(mode)) visit(at);
      else if (fs.isFile(mode)) files.add(at);
      else {
        throw new ArchiveError('UNSAFE_ENTRY', path, '7-Zip extracted something that is not a regular file', {
          entry: at.slice(OUT.length + 1),
        });
      }
    }
  };
  visit(OUT);
  return files;
}
