/**
 * The one error type of the archive boundary, and the reading of a failed
 * 7-Zip run into it. Messages never hold the password, file contents or a
 * personnummer.
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

/** The one error type of the archive boundary. Its message never holds the password, file contents or a personnummer. */
export class ArchiveError extends Error {
  readonly code: ArchiveErrorCode;
  /** The archive's path as given. */
  readonly archive: string;
  /** The offending entry, as 7-Zip lists it (unmasked), when one entry is to blame. */
  readonly entry: string | undefined;
  constructor(
    code: ArchiveErrorCode,
    archive: string,
    reason: string,
    options: { entry?: string; cause?: unknown } = {},
  ) {
    // Names come from the file system and the archive, the reason may quote 7-Zip (masked there): all
    // printable on a terminal, and a name's personnummer-shaped digits masked.
    const name = (text: string) => printableName(maskNumbersInName(JSON.stringify(text)));
    const where = options.entry === undefined ? '' : `, entry ${name(options.entry)}`;
    super(
      `archive ${name(archive)}${where}: ${printableName(reason)} [${code}]`,
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

/** What 7-Zip was doing when it failed. */
export interface SevenZipFailureContext {
  phase: 'list' | 'extract';
  password: string | undefined;
  /** Whether what it was reading is encrypted: the headers when listing, any entry when extracting. */
  encrypted: boolean;
}

/** Turns a failed 7-Zip run into the error that says why, without the password or any data. */
export function sevenZipFailure(
  path: string,
  result: SevenZipResult,
  context: SevenZipFailureContext,
): ArchiveError {
  const { phase, password } = context;
  // 7-Zip knows the archive as /in/archive (see archive-extract.ts); its messages may say so.
  const stderr = result.stderr.replaceAll('/in/archive', 'the archive');
  const doing = phase === 'list' ? 'listing' : 'extracting';
  const noPassword = () =>
    new ArchiveError('PASSWORD_REQUIRED', path, 'the archive is encrypted and no password was given');
  if (result.outcome === 'timeout') {
    return new ArchiveError('TIMEOUT', path, `7-Zip did not finish in time (${doing}); it was stopped`);
  }
  if (result.memoryRefused) {
    return new ArchiveError(
      'TOO_LARGE',
      path,
      `unpacking needs more memory than 7-Zip is allowed here (${doing}: the archive declares a very large dictionary); refused`,
    );
  }
  if (/wrong password/i.test(stderr)) {
    return password === undefined
      ? noPassword()
      : new ArchiveError(
          'WRONG_PASSWORD',
          path,
          phase === 'list'
            ? 'the password is wrong (7-Zip cannot open the encrypted headers)'
            : 'the password is wrong (or the encrypted data is damaged)',
        );
  }
  // Never reached while a password switch is always given; if 7-Zip prompts all the same, its stdin is at end of file.
  if (password === undefined && result.stdout.includes('Enter password')) return noPassword();
  if (result.outcome === 'crashed') {
    // This build cannot catch 7-Zip's C++ exceptions, which is how it reports a header that does not
    // decode: after a wrong key, or damage. Native 7-Zip says "Wrong password?" for both when encrypted.
    if (context.encrypted) {
      return password === undefined
        ? noPassword()
        : new ArchiveError(
            'WRONG_PASSWORD',
            path,
            'the password is wrong (or the encrypted archive is damaged)',
          );
    }
    return new ArchiveError(
      'CORRUPT',
      path,
      `7-Zip cannot read the archive (it stopped on an internal error while ${doing}: the archive is damaged)`,
    );
  }
  if (result.outcome === 'stopped') {
    return new ArchiveError(
      'SEVEN_ZIP_FAILED',
      path,
      `7-Zip printed more than allowed while ${doing}; stopped it`,
    );
  }
  const detail = summarise(stderr, password);
  if (CORRUPT_SIGNS.some((s) => stderr.includes(s))) {
    return new ArchiveError('CORRUPT', path, `7-Zip cannot read the archive (${detail})`);
  }
  return new ArchiveError(
    'SEVEN_ZIP_FAILED',
    path,
    `7-Zip failed ${doing} the archive (exit code ${result.exitCode}: ${detail})`,
  );
}

/** The last meaningful line of 7-Zip's stderr (the cause, e.g. "Unexpected end of archive"), cut short. */
function summarise(stderr: string, password: string | undefined): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== 'ERRORS:' && l !== 'ERROR:');
  let last = lines.at(-1) ?? 'no message';
  // 7-Zip never echoes the password; this is a second lock on that door. The line may name an entry.
  if (password !== undefined && password.length > 0) last = last.replaceAll(password, '***');
  last = maskNumbersInName(last);
  return last.length > 200 ? `${last.slice(0, 200)}...` : last;
}

/**
 * Personnummer-shaped digit runs in a name or a quoted 7-Zip line, masked as
 * the rest of the service masks them (`19121212-****`): a file named after a
 * person must not put the number in an error.
 */
export function maskNumbersInName(text: string): string {
  return text.replace(
    /(?<![0-9])([0-9]{6}(?:[0-9]{2})?)([-+]?)[0-9]{4}(?![0-9])/g,
    (_, date: string, sign: string) => `${date}${sign === '' ? '-' : sign}****`,
  );
}
