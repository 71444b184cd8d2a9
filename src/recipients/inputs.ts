import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ArchiveLimits, isArchivePath, readArchive } from './archive.js';
import type { SourceFile } from './read-file.js';

export class InputError extends Error {
  readonly code = 'INPUT';
}

const recipientFile = /\.(txt|csv)$/i;

/** Files to read: plain recipient files, every .txt/.csv/.7z in a directory (sorted), or archives. */
export async function expandInputs(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch (cause) {
      throw new InputError(`${path}: cannot read (${(cause as NodeJS.ErrnoException).code ?? cause})`, {
        cause,
      });
    }
    if (info.isDirectory()) {
      const names = (await readdir(path)).filter((n) => !n.startsWith('.')).sort();
      const picked = names.filter((n) => recipientFile.test(n) || isArchivePath(n)).map((n) => join(path, n));
      if (picked.length === 0) throw new InputError(`${path}: directory holds no .txt, .csv or .7z file`);
      out.push(...picked);
    } else if (info.isFile()) {
      out.push(path);
    } else {
      throw new InputError(`${path}: not a regular file or directory`);
    }
  }
  return out;
}

export interface ReadInputsOptions {
  /** Asked once, only when an archive is met; undefined when none is available. */
  password: () => Promise<string | undefined>;
  limits?: Partial<ArchiveLimits>;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Reads every input into memory, in input order; archive members are named
 * `archive.7z!member`. Plain files are read several at a time (a delivery is
 * thousands of small files); archives two at a time (each is a 7z process).
 */
export async function readInputs(
  paths: readonly string[],
  options: ReadInputsOptions,
): Promise<SourceFile[]> {
  const files = await expandInputs(paths);
  const password = files.some(isArchivePath) ? await options.password() : undefined;
  const results: SourceFile[][] = new Array(files.length);
  let done = 0;
  const readOne = async (i: number): Promise<void> => {
    const path = files[i]!;
    if (isArchivePath(path)) {
      const entries = await readArchive(path, {
        ...(password === undefined ? {} : { password }),
        ...(options.limits ? { limits: options.limits } : {}),
      });
      results[i] = entries
        .filter((e) => recipientFile.test(e.name) || !/\.[a-z0-9]+$/i.test(e.name))
        .map((e) => ({ name: `${path}!${e.name}`, data: e.data }));
    } else {
      try {
        results[i] = [{ name: path, data: await readFile(path) }];
      } catch (cause) {
        throw new InputError(`${path}: cannot read (${(cause as NodeJS.ErrnoException).code ?? cause})`, {
          cause,
        });
      }
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
      all.filter((i) => !isArchivePath(files[i]!)),
    ),
    ...lanes(
      2,
      all.filter((i) => isArchivePath(files[i]!)),
    ),
  ]);
  return results.flat();
}
