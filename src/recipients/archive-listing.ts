/**
 * Pure rules over 7-Zip's technical listing (`7z l -slt -ba`): parsing it, and
 * deciding, before anything is extracted, whether an archive may be read.
 * archive.ts turns a Refusal into an ArchiveError.
 */

export interface ListedEntry {
  /** The path as 7-Zip lists it (7-Zip shows control characters as `_`). */
  path: string;
  /** Declared unpacked size in bytes. */
  size: number;
  isDirectory: boolean;
  encrypted: boolean;
  /** Declared CRC-32 of the unpacked data, when the format stores one (AES zip does not). */
  crc: number | undefined;
  /** Every `Key = value` field of the entry's block. */
  fields: ReadonlyMap<string, string>;
}

export interface Refusal {
  code:
    | 'UNSAFE_ENTRY'
    | 'NESTED_ARCHIVE'
    | 'TOO_MANY_ENTRIES'
    | 'TOO_LARGE'
    | 'PASSWORD_REQUIRED'
    | 'CORRUPT';
  reason: string;
  entry?: string;
}

export interface ListingLimits {
  maxEntries: number;
  maxEntryBytes: number;
  maxTotalBytes: number;
}

/** Extensions of archive and compression formats that must not be nested. */
export const nestedArchiveExtensions = [
  '.7z',
  '.zip',
  '.rar',
  '.gz',
  '.tgz',
  '.tar',
  '.bz2',
  '.tbz',
  '.tbz2',
  '.xz',
  '.txz',
  '.zst',
  '.tzst',
  '.lz',
  '.lzma',
  '.lz4',
  '.z',
  '.cab',
  '.arj',
  '.iso',
  '.jar',
  '.wim',
] as const;

const FIELD = /^([^=]+?) = (.*)$/;
// A POSIX mode string as 7-Zip prints it: a type character (`-` file, `d` directory, `l` link, ...) and nine permission characters.
const UNIX_MODE = /^[-0-9A-Za-z?][-rwxsStT]{9}$/;

/**
 * Parses the blocks of `7z l -slt -ba` output. Text outside a block (the
 * password prompt 7-Zip prints on stdout) is ignored; a block starts at a
 * `Path = ` line and ends at an empty line.
 */
export function parseListing(text: string): ListedEntry[] | Refusal {
  const entries: ListedEntry[] = [];
  let block: Map<string, string> | undefined;
  const close = (): Refusal | undefined => {
    if (block === undefined) return undefined;
    const fields = block;
    block = undefined;
    const path = fields.get('Path') ?? '';
    const sizeText = fields.get('Size') ?? '';
    const isDirectory =
      fields.get('Folder') === '+' ||
      windowsAttributes(fields).includes('D') ||
      unixMode(fields)?.[0] === 'd';
    if (!/^\d+$/.test(sizeText) && !(isDirectory && sizeText === '')) {
      return { code: 'CORRUPT', reason: 'the listing gives no size for an entry', entry: path };
    }
    const size = sizeText === '' ? 0 : Number(sizeText);
    if (!Number.isSafeInteger(size)) {
      return { code: 'TOO_LARGE', reason: 'the listed size is beyond any limit', entry: path };
    }
    const crcText = fields.get('CRC') ?? '';
    if (crcText !== '' && !/^[0-9A-Fa-f]{1,8}$/.test(crcText)) {
      return { code: 'CORRUPT', reason: 'the listing gives an unreadable CRC', entry: path };
    }
    entries.push({
      path,
      size,
      isDirectory,
      encrypted: fields.get('Encrypted') === '+',
      crc: crcText === '' ? undefined : Number.parseInt(crcText, 16),
      fields,
    });
    return undefined;
  };
  for (const line of text.split(/\r?\n/)) {
    if (line === '') {
      const refusal = close();
      if (refusal) return refusal;
      continue;
    }
    if (block === undefined) {
      if (line.startsWith('Path = ')) block = new Map();
      else continue;
    }
    const m = FIELD.exec(line);
    if (!m) return { code: 'CORRUPT', reason: 'the listing has a line that is not a field' };
    if (block.has(m[1]!)) return { code: 'CORRUPT', reason: 'the listing repeats a field in one entry' };
    block.set(m[1]!, m[2]!);
  }
  return close() ?? entries;
}

function windowsAttributes(fields: ReadonlyMap<string, string>): string {
  const attributes = fields.get('Attributes') ?? '';
  const first = attributes.split(' ')[0] ?? '';
  return UNIX_MODE.test(first) ? '' : first;
}

function unixMode(fields: ReadonlyMap<string, string>): string | undefined {
  return (fields.get('Attributes') ?? '').split(' ').find((t) => UNIX_MODE.test(t));
}

/** Why a path may not be used as a name, or undefined when it is plain and relative. */
export function unsafePathReason(path: string): string | undefined {
  if (path === '') return 'the entry has an empty name';
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'the entry name has control characters';
  if (path.startsWith('/') || path.startsWith('\\')) return 'the entry has an absolute path';
  if (/^[A-Za-z]:/.test(path)) return 'the entry has a Windows drive path';
  if (path.includes(':')) return 'the entry name has a colon (drive or alternate data stream)';
  if (path.split(/[/\\]/).some((s) => s === '..')) return 'the entry path has a .. segment';
  return undefined;
}

function linkReason(entry: ListedEntry): string | undefined {
  for (const key of ['Symbolic Link', 'Hard Link', 'Link']) {
    const value = entry.fields.get(key);
    if (value !== undefined && value !== '') return `the entry is a link (${key.toLowerCase()})`;
  }
  const win = windowsAttributes(entry.fields);
  // 7-Zip's Windows attribute letters: L = reparse point (symlink, junction), d = device.
  if (win.includes('L')) return 'the entry is a reparse point (symbolic link or junction)';
  if (win.includes('d')) return 'the entry is a device';
  const mode = unixMode(entry.fields);
  if (mode === undefined) return undefined;
  const type = mode[0];
  if (type === 'l') return 'the entry is a symbolic link';
  // `0`: no file-type bits at all, as zip writers that set no mode store an
  // entry (Python's zipfile: external_attr 0; 7-Zip shows `0rw-------`). It is
  // a folder when 7-Zip marks it one (trailing slash: Folder +, D), else a
  // plain file: a link or device always carries its type bits.
  if (type === '0') return undefined;
  if (type !== '-' && type !== 'd') return 'the entry is not a regular file (device, fifo or socket)';
  return undefined;
}

export function hasNestedArchiveExtension(path: string): boolean {
  const lower = path.toLowerCase();
  return nestedArchiveExtensions.some((ext) => lower.endsWith(ext));
}

/**
 * Every rule that can be decided from the listing, in listing order, so the
 * first offending entry is the one named. Returns undefined when all pass.
 */
export function checkListing(
  entries: readonly ListedEntry[],
  limits: ListingLimits,
  hasPassword: boolean,
): Refusal | undefined {
  if (entries.length > limits.maxEntries) {
    return {
      code: 'TOO_MANY_ENTRIES',
      reason: `the archive lists ${entries.length} entries, more than the limit of ${limits.maxEntries}`,
    };
  }
  const seen = new Set<string>();
  let total = 0;
  for (const entry of entries) {
    const entryName = entry.path;
    const pathReason = unsafePathReason(entry.path);
    if (pathReason) return { code: 'UNSAFE_ENTRY', reason: pathReason, entry: entryName };
    const link = linkReason(entry);
    if (link) return { code: 'UNSAFE_ENTRY', reason: link, entry: entryName };
    const key = entry.path.replaceAll('\\', '/').replace(/\/+$/, '');
    if (seen.has(key))
      return { code: 'UNSAFE_ENTRY', reason: 'the entry name occurs twice', entry: entryName };
    seen.add(key);
    if (entry.isDirectory) continue;
    if (hasNestedArchiveExtension(entry.path)) {
      return {
        code: 'NESTED_ARCHIVE',
        reason: 'the entry is itself an archive (by its name)',
        entry: entryName,
      };
    }
    if (entry.size > limits.maxEntryBytes) {
      return {
        code: 'TOO_LARGE',
        reason: `the entry declares ${entry.size} bytes, more than the limit of ${limits.maxEntryBytes}`,
        entry: entryName,
      };
    }
    total += entry.size;
    if (total > limits.maxTotalBytes) {
      return {
        code: 'TOO_LARGE',
        reason: `the entries declare more than the total limit of ${limits.maxTotalBytes} bytes`,
        entry: entryName,
      };
    }
    if (entry.encrypted && !hasPassword) {
      return {
        code: 'PASSWORD_REQUIRED',
        reason: 'the entry is encrypted and no password was given',
        entry: entryName,
      };
    }
  }
  return undefined;
}

/** Magic numbers of archive and compression formats, checked on extracted data. */
const MAGICS: ReadonlyArray<{ name: string; offset: number; bytes: readonly number[] }> = [
  { name: '7z', offset: 0, bytes: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c] },
  { name: 'zip', offset: 0, bytes: [0x50, 0x4b, 0x03, 0x04] },
  { name: 'zip', offset: 0, bytes: [0x50, 0x4b, 0x05, 0x06] },
  { name: 'zip', offset: 0, bytes: [0x50, 0x4b, 0x07, 0x08] },
  { name: 'rar', offset: 0, bytes: [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07] },
  { name: 'gzip', offset: 0, bytes: [0x1f, 0x8b] },
  { name: 'xz', offset: 0, bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { name: 'zstd', offset: 0, bytes: [0x28, 0xb5, 0x2f, 0xfd] },
  { name: 'lz4', offset: 0, bytes: [0x04, 0x22, 0x4d, 0x18] },
  { name: 'lzip', offset: 0, bytes: [0x4c, 0x5a, 0x49, 0x50] },
  { name: 'cab', offset: 0, bytes: [0x4d, 0x53, 0x43, 0x46] },
  { name: 'tar', offset: 257, bytes: [0x75, 0x73, 0x74, 0x61, 0x72] },
];

/** The format an extracted file's first bytes belong to, or undefined. */
export function archiveMagic(data: Buffer): string | undefined {
  for (const m of MAGICS) {
    if (data.length < m.offset + m.bytes.length) continue;
    if (m.bytes.every((b, i) => data[m.offset + i] === b)) return m.name;
  }
  // bzip2: "BZh" and a block size digit 1-9, then the block magic 0x314159265359.
  if (data.length >= 10 && data[0] === 0x42 && data[1] === 0x5a && data[2] === 0x68) {
    if (data[3]! >= 0x31 && data[3]! <= 0x39 && data[4] === 0x31 && data[5] === 0x41) return 'bzip2';
  }
  return undefined;
}
