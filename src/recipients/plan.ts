import { createHash } from 'node:crypto';
import { maskPersonnummer } from './personnummer.js';
import type { ParsedFile, Problem } from './read-file.js';

/** The routine's rule: at most 250 personnummer per file, and so per job. */
export const MAX_PER_JOB = 250;

export interface PlannedChunk {
  /** Deterministic from campaign, file content, chunk index and the chunk's numbers. */
  chunkId: string;
  index: number;
  numbers: string[];
}

export interface PlannedFile {
  name: string;
  sha256: string;
  lines: number;
  valid: number;
  invalid: number;
  duplicates: number;
  chunks: PlannedChunk[];
}

export interface Plan {
  files: PlannedFile[];
  /** Files whose exact content this campaign already has (enqueued by an earlier run, or twice in this one). */
  alreadyEnqueued: { name: string; sha256: string; sameAs: string }[];
  problems: Problem[];
  warnings: string[];
  recipients: { total: number; valid: number; invalid: number; duplicates: number };
}

/** A number as one JS number (below 2^40), cheaper in a Set than a string. */
export function numberKey(pnr: string): number {
  return Number(pnr.slice(0, 4)) * 1e8 + Number(pnr.slice(4));
}

export function chunkIdOf(
  campaignId: string,
  fileSha: string,
  index: number,
  numbers: readonly string[],
): string {
  // One update of the joined numbers: the same digest as one update per number, without 250 calls.
  return createHash('sha256')
    .update(`${campaignId}\n${fileSha}\n${index}\n${numbers.join('')}`)
    .digest('hex')
    .slice(0, 20);
}

/**
 * Turns parsed files into chunks of at most 250: duplicates within and across
 * files (and against `known`, the campaign's earlier recipients) are reported
 * and dropped, keeping the first.
 */
export function planChunks(
  campaignId: string,
  parsed: readonly ParsedFile[],
  known: {
    numbers: { has(value: number): boolean; add(value: number): unknown };
    files: Map<string, string>;
  },
): Plan {
  const seen = known.numbers;
  const filesBySha = new Map(known.files);
  const plan: Plan = {
    files: [],
    alreadyEnqueued: [],
    problems: [],
    warnings: [],
    recipients: { total: 0, valid: 0, invalid: 0, duplicates: 0 },
  };
  for (const file of parsed) {
    const earlier = filesBySha.get(file.sha256);
    if (earlier !== undefined) {
      plan.alreadyEnqueued.push({ name: file.name, sha256: file.sha256, sameAs: earlier });
      continue;
    }
    filesBySha.set(file.sha256, file.name);
    const unique: string[] = [];
    let duplicates = 0;
    for (let i = 0; i < file.numbers.length; i++) {
      const pnr = file.numbers[i]!;
      const key = numberKey(pnr);
      if (seen.has(key)) {
        duplicates++;
        plan.problems.push({
          file: file.name,
          line: file.lineNumbers[i]!,
          code: 'DUPLICATE',
          value: maskPersonnummer(pnr),
        });
        continue;
      }
      seen.add(key);
      unique.push(pnr);
    }
    // A loop, not push(...spread): a file may hold hundreds of thousands of problems.
    for (const problem of file.problems) plan.problems.push(problem);
    const chunks: PlannedChunk[] = [];
    for (let start = 0, index = 0; start < unique.length; start += MAX_PER_JOB, index++) {
      const numbers = unique.slice(start, start + MAX_PER_JOB);
      chunks.push({ chunkId: chunkIdOf(campaignId, file.sha256, index, numbers), index, numbers });
    }
    if (unique.length > MAX_PER_JOB) {
      plan.warnings.push(
        `${file.name}: ${unique.length} valid numbers, more than the ${MAX_PER_JOB} per file the routine allows; split into ${chunks.length} jobs`,
      );
    }
    const invalid = file.problems.length;
    plan.files.push({
      name: file.name,
      sha256: file.sha256,
      lines: file.lines,
      valid: unique.length,
      invalid,
      duplicates,
      chunks,
    });
    plan.recipients.total += file.lines;
    plan.recipients.valid += unique.length;
    plan.recipients.invalid += invalid;
    plan.recipients.duplicates += duplicates;
  }
  plan.problems.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  return plan;
}
