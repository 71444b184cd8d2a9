/**
 * The one error type of the archive boundary, and the reading of a failed 7z
 * run into it. Messages never hold the password or file contents.
 */
import { printableName } from './printable.js';
import type { SevenZipResult } from './seven-zip.js';

export const archiveErrorCodes = [
  'NOT_FOUND',
  'UNSUPPORTED_FORMAT',
  'INVALID_OPTIONS',
  'WRONG_PASSWORD',
  'PASSWORD_REQUIRED',
  'UNSAFE_ENTRY',
  'NESTED_ARCHIVE',
  'TOO_MANY_ENTRIES',
  'TOO_LARGE',
  'CORRUPT',
  'SEVEN_ZIP_MISSING',
  'SEVEN_ZIP_FAILED',
  'TIMEOUT',
] as const;
export type ArchiveErrorCode = (typeof archiveErrorCodes)[number];

/** The one error type of the archive boundary. Its message never holds the password or file contents. */
export class ArchiveError extends Error {
  readonly code: ArchiveErrorCode;
  /** The archive's path as given. */
  readonly archive: string;
  /** The offending entry, as 7-Zip lists it, when one entry is to blame. */
  readonly entry: string | undefined;
  constructor(
    code: ArchiveErrorCode,
    archive: string,
    reason: string,
    options: { entry?: string; cause?: unknown } = {},
  ) {
    // Names come from the file system and the archive, the reason may quote 7z: all printable on a terminal.
    const where =
      options.entry === undefined ? '' : `, entry ${printableName(JSON.stringify(options.entry))}`;
    super(
      `archive ${printableName(JSON.stringify(archive))}${where}: ${printableName(reason)} [${code}]`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'ArchiveError';
    this.code = code;
    this.archive = archive;
    this.entry = options.entry;
  }
  /** Only a timeout may pass on a second try; every other code needs a person. */
  get retryable(): boolean {
    return this.code === 'TIMEOUT';
  }
}

const CORRUPT_SIGNS = [
  'Cannot open the file as',
  'Can not open the file as',
  'Unexpected end',
  'Is not archive',
  'Headers Error',
  'Data Error',
  'CRC Failed',
  'Unsupported Method',
  'There are data after the end',
];

/** Turns a failed 7z run into the error that says why, without the password or any data. */
export function sevenZipFailure(
  path: string,
  phase: 'list' | 'extract',
  result: SevenZipResult,
  password: string | undefined,
  prompted: boolean,
): ArchiveError {
  // 7-Zip reads the archive as /dev/fd/3 (see archive.ts); its messages may say so.
  const stderr = result.stderr.replaceAll('/dev/fd/3', 'the archive');
  if (result.outcome === 'not-started') {
    return new ArchiveError(
      'SEVEN_ZIP_MISSING',
      path,
      `7-Zip could not be started (${result.startErrorCode}); install it with: apt-get install p7zip-full`,
    );
  }
  if (result.outcome === 'timeout') {
    return new ArchiveError('TIMEOUT', path, `7z did not finish in time (${phase}); it was killed`);
  }
  if (/wrong password/i.test(stderr)) {
    return password === undefined
      ? new ArchiveError('PASSWORD_REQUIRED', path, 'the archive is encrypted and no password was given')
      : new ArchiveError(
          'WRONG_PASSWORD',
          path,
          phase === 'list'
            ? 'the password is wrong (7z cannot open the encrypted headers)'
            : 'the password is wrong (or the encrypted data is damaged)',
        );
  }
  if (password === undefined && (prompted || /Break signaled/.test(stderr))) {
    return new ArchiveError('PASSWORD_REQUIRED', path, 'the archive is encrypted and no password was given');
  }
  const detail = summarise(stderr, password);
  if (CORRUPT_SIGNS.some((s) => stderr.includes(s))) {
    return new ArchiveError('CORRUPT', path, `7z cannot read the archive (${detail})`);
  }
  const how = result.signal === null ? `exit code ${result.exitCode}` : `signal ${result.signal}`;
  return new ArchiveError('SEVEN_ZIP_FAILED', path, `7z failed to ${phase} the archive (${how}: ${detail})`);
}

/** The last meaningful line of 7z's stderr (the cause, e.g. "Unexpected end of archive"), cut short. */
function summarise(stderr: string, password: string | undefined): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== 'ERRORS:' && l !== 'ERROR:');
  let last = lines.at(-1) ?? 'no message';
  // 7z never echoes the password; this is a second lock on that door.
  if (password !== undefined && password.length > 0) last = last.replaceAll(password, '***');
  return last.length > 200 ? `${last.slice(0, 200)}...` : last;
}
