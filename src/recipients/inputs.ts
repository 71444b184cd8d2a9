import type { Stats } from 'node:fs';
import { lstat, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ArchiveLimits, createSevenZipEngine, isArchivePath, readArchive } from './archive.js';
import { printableName } from './printable.js';
import type { SourceFile } from './read-file.js';
import { DEFAULT_MAX_RECIPIENT_FILE_BYTES, InputError, kindOf, readRegularFile } from './regular-file.js';

export { InputError } from './regular-file.js';

const recipientFile = /\.(txt|csv)$/i;
/** Named in messages: the setting that sets maxFileBytes in `npm run enqueue`. */
const LIMIT_NAME = 'MAX_RECIPIENT_FILE_BYTES';
/** Refused inputs named in one message before "and N more". */
const MAX_NAMED_REFUSALS = 20;

/** One file to read, and whether a symbolic link at its path may be followed. */
export interface InputFile {
  path: string;
  /**
   * True only for a path named on the command line that is a symbolic link to
   * a regular file. Files found in a directory are never read through a link.
   */
  followLink: boolean;
}

function cannotRead(path: string, cause: unknown): InputError {
  return new InputError(
    `${printableName(path)}: cannot read (${(cause as NodeJS.ErrnoException).code ?? cause})`,
    { cause },
  );
}

/**
 * Files to read: plain recipient files, every .txt/.csv/.7z/.zip in a directory
 * (sorted, not recursive, hidden files skipped), or archives. Only regular files
 * are read: a FIFO, socket, device or directory where a file should be is
 * refused, and so is a symbolic link found in a directory. A symbolic link named
 * on the command line is followed only when it leads to a regular file. Every
 * refused input is named in one InputError.
 */
export async function collectInputs(paths: readonly string[]): Promise<InputFile[]> {
  const out: InputFile[] = [];
  const refused: string[] = [];
  for (const path of paths) {
    let info: Stats;
    try {
      info = await lstat(path);
    } catch (cause) {
      throw cannotRead(path, cause);
    }
    if (info.isSymbolicLink()) {
      let target: Stats;
      try {
        target = await stat(path);
      } catch (cause) {
        refused.push(
          `${printableName(path)} is a symbolic link that leads nowhere readable (${(cause as NodeJS.ErrnoException).code ?? cause})`,
        );
        continue;
      }
      if (target.isFile()) out.push({ path, followLink: true });
      else
        refused.push(
          `${printableName(path)} is a symbolic link to ${kindOf(target)}; only a link to a regular file is followed (name the directory itself)`,
        );
    } else if (info.isDirectory()) {
      let names: string[];
      try {
        names = await readdir(path);
      } catch (cause) {
        throw cannotRead(path, cause);
      }
      const picked = names
        .filter((n) => !n.startsWith('.') && (recipientFile.test(n) || isArchivePath(n)))
        .sort()
        .map((n) => join(path, n));
      if (picked.length === 0) {
        throw new InputError(`${printableName(path)}: directory holds no .txt, .csv, .7z or .zip file`);
      }
      const kinds = await Promise.all(
        picked.map(async (entry) => {
          try {
            return kindOf(await lstat(entry));
          } catch (cause) {
            return `unreadable (${(cause as NodeJS.ErrnoException).code ?? cause})`;
          }
        }),
      );
      for (const [i, entry] of picked.entries()) {
        const kind = kinds[i];
        if (kind === undefined) out.push({ path: entry, followLink: false });
        else if (kind === 'a symbolic link')
          refused.push(`${printableName(entry)} is a symbolic link (links in a directory are not followed)`);
        else refused.push(`${printableName(entry)} is ${kind}`);
      }
    } else if (info.isFile()) {
      out.push({ path, followLink: false });
    } else {
      refused.push(`${printableName(path)} is ${kindOf(info)}`);
    }
  }
  if (refused.length > 0) {
    const named = refused.slice(0, MAX_NAMED_REFUSALS).join('; ');
    const more =
      refused.length > MAX_NAMED_REFUSALS ? `; and ${refused.length - MAX_NAMED_REFUSALS} more` : '';
    throw new InputError(
      `${refused.length === 1 ? 'an input is' : `${refused.length} inputs are`} not a regular file, so nothing was read: ${named}${more}`,
    );
  }
  return out;
}

/** The paths collectInputs would read, in order. */
export async function expandInputs(paths: readonly string[]): Promise<string[]> {
  return (await collectInputs(paths)).map((f) => f.path);
}

export interface ReadInputsOptions {
  /** Asked once, only when an archive is met; undefined when none is available. */
  password: () => Promise<string | undefined>;
  /** Overrides of the archive limits; maxEntryBytes and maxArchiveBytes default to maxFileBytes. */
  limits?: Partial<ArchiveLimits>;
  /**
   * Largest file in bytes: a plain file, a file found in a directory, an
   * archive, and each archive member. `npm run enqueue` takes it from
   * MAX_RECIPIENT_FILE_BYTES. Default 64 MiB.
   */
  maxFileBytes?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Reads every input into memory, in input order; archive members are named
 * `archive.7z!member`. Plain files are read several at a time (a delivery is
 * thousands of small files). Archives share one in-process 7-Zip, which keeps
 * the key derived from the password for the next archive; two are in hand at a
 * time, so one is read from disk while 7-Zip unpacks the other. A file is read
 * in chunks into a buffer of at most maxFileBytes.
 */
export async function readInputs(
  paths: readonly string[],
  options: ReadInputsOptions,
): Promise<SourceFile[]> {
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_RECIPIENT_FILE_BYTES;
  const files = await collectInputs(paths);
  const password = files.some((f) => isArchivePath(f.path)) ? await options.password() : undefined;
  const archiveLimits: Partial<ArchiveLimits> = {
    maxEntryBytes: maxFileBytes,
    maxArchiveBytes: maxFileBytes,
    ...options.limits,
  };
  const engine = createSevenZipEngine();
  const results: SourceFile[][] = new Array(files.length);
  let done = 0;
  const readOne = async (i: number): Promise<void> => {
    const { path, followLink } = files[i]!;
    if (isArchivePath(path)) {
      const entries = await readArchive(path, {
        ...(password === undefined ? {} : { password }),
        limits: archiveLimits,
        noFollow: !followLink,
        engine,
      });
      results[i] = entries
        .filter((e) => recipientFile.test(e.name) || !/\.[a-z0-9]+$/i.test(e.name))
        .map((e) => ({ name: `${path}!${e.name}`, data: e.data }));
    } else {
      const data = await readRegularFile(path, {
        noFollow: !followLink,
        maxBytes: maxFileBytes,
        limitName: LIMIT_NAME,
      });
      results[i] = [{ name: path, data }];
    }
    options.onProgress?.(++done, files.length);
  };
  const lanes = (limit: number, indexes: number[]) => {
    let next = 0;
    return Array.from({ length: Math.min(limit, indexes.length) }, async () => {
      while (next < indexes.length) await readOne(indexes[next++]!);
    });
  };
  const all = files.map((_, i) => i);
  await Promise.all([
    ...lanes(
      16,
      all.filter((i) => !isArchivePath(files[i]!.path)),
    ),
    ...lanes(
      2,
      all.filter((i) => isArchivePath(files[i]!.path)),
    ),
  ]);
  return results.flat();
}
