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

/** Reads every input into memory; archive members are named `archive.7z!member`. */
export async function readInputs(
  paths: readonly string[],
  options: ReadInputsOptions,
): Promise<SourceFile[]> {
  const files = await expandInputs(paths);
  const out: SourceFile[] = [];
  let password: string | undefined;
  let asked = false;
  for (let i = 0; i < files.length; i++) {
    const path = files[i]!;
    if (isArchivePath(path)) {
      if (!asked) {
        password = await options.password();
        asked = true;
      }
      const entries = await readArchive(path, {
        ...(password === undefined ? {} : { password }),
        ...(options.limits ? { limits: options.limits } : {}),
      });
      for (const e of entries) {
        if (recipientFile.test(e.name) || !/\.[a-z0-9]+$/i.test(e.name))
          out.push({ name: `${path}!${e.name}`, data: e.data });
      }
    } else {
      try {
        out.push({ name: path, data: await readFile(path) });
      } catch (cause) {
        throw new InputError(`${path}: cannot read (${(cause as NodeJS.ErrnoException).code ?? cause})`, {
          cause,
        });
      }
    }
    options.onProgress?.(i + 1, files.length);
  }
  return out;
}
