import { describe, expect, it } from 'vitest';
import type { ParseOptions } from '../../src/recipients/personnummer.js';
import { chunkIdOf, MAX_PER_JOB, numberKey, planChunks } from '../../src/recipients/plan.js';
import { type ParsedFile, parseRecipientFile } from '../../src/recipients/read-file.js';
import { syntheticList, syntheticPnr } from '../helpers/personnummer.js';

const opts: ParseOptions = { today: { year: 2026, month: 11, day: 27 }, allowCoordinationNumbers: true };
const file = (name: string, lines: readonly string[]): ParsedFile =>
  parseRecipientFile({ name, data: Buffer.from(`${lines.join('\n')}\n`) }, opts);
const empty = () => ({ numbers: new Set<number>(), files: new Map<string, string>() });
const CAMPAIGN = 'influensa-2026';

describe('planChunks: duplicates', () => {
  it('keeps the first of a duplicate within a file and reports the later line', () => {
    const [a, b] = syntheticList(2);
    const plan = planChunks(
      CAMPAIGN,
      [file('a.txt', [a!, b!, `${a!.slice(0, 8)}-${a!.slice(8)}`, b!])],
      empty(),
    );
    expect(plan.files[0]!.chunks.flatMap((c) => c.numbers)).toEqual([a, b]);
    expect(plan.problems).toEqual([
      { file: 'a.txt', line: 3, code: 'DUPLICATE', value: `${a!.slice(0, 8)}-****` },
      { file: 'a.txt', line: 4, code: 'DUPLICATE', value: `${b!.slice(0, 8)}-****` },
    ]);
    expect(plan.recipients).toEqual({ total: 4, valid: 2, invalid: 0, duplicates: 2 });
    expect(plan.files[0]).toMatchObject({ name: 'a.txt', lines: 4, valid: 2, invalid: 0, duplicates: 2 });
  });

  it('across files: the earlier file keeps the number', () => {
    const shared = syntheticPnr(500);
    const one = file('one.txt', [...syntheticList(3), shared]);
    const two = file('two.txt', [shared, ...syntheticList(2, 10)]);
    const plan = planChunks(CAMPAIGN, [one, two], empty());
    expect(plan.files.map((f) => f.valid)).toEqual([4, 2]);
    expect(plan.files[0]!.chunks[0]!.numbers).toContain(shared);
    expect(plan.files[1]!.chunks[0]!.numbers).not.toContain(shared);
    expect(plan.problems).toEqual([
      { file: 'two.txt', line: 1, code: 'DUPLICATE', value: `${shared.slice(0, 8)}-****` },
    ]);
    expect(plan.recipients).toEqual({ total: 7, valid: 6, invalid: 0, duplicates: 1 });
  });

  it('against the numbers of earlier runs (`known`)', () => {
    const earlier = syntheticList(5);
    const known = { numbers: new Set(earlier.map(numberKey)), files: new Map<string, string>() };
    const plan = planChunks(CAMPAIGN, [file('new.txt', [earlier[2]!, syntheticPnr(99), earlier[4]!])], known);
    expect(plan.files[0]!.chunks.flatMap((c) => c.numbers)).toEqual([syntheticPnr(99)]);
    expect(plan.problems.map((p) => [p.line, p.code])).toEqual([
      [1, 'DUPLICATE'],
      [3, 'DUPLICATE'],
    ]);
  });

  it('a file of duplicates only gets no chunk, but is still planned (so its problems are kept)', () => {
    const [a] = syntheticList(1);
    const plan = planChunks(CAMPAIGN, [file('a.txt', [a!]), file('b.txt', [a!, a!])], empty());
    expect(plan.files[1]).toMatchObject({ name: 'b.txt', valid: 0, duplicates: 2, chunks: [] });
  });

  it('numberKey is one-to-one on 12-digit numbers (no two collide)', () => {
    const keys = new Set(syntheticList(5000).map(numberKey));
    expect(keys.size).toBe(5000);
    expect(numberKey('191212121212')).toBe(191212121212);
    expect(numberKey('000000000001')).toBe(1);
  });
});

describe('planChunks: problems', () => {
  it('carries the file problems, sorted by file then line, with DUPLICATEs among them', () => {
    const a = syntheticPnr(1);
    const plan = planChunks(
      CAMPAIGN,
      [file('b.txt', [a, 'x', a]), file('a.txt', ['191213121212', a])],
      empty(),
    );
    expect(plan.problems.map((p) => `${p.file}:${p.line}:${p.code}`)).toEqual([
      'a.txt:1:DATE',
      'a.txt:2:DUPLICATE',
      'b.txt:2:FORMAT',
      'b.txt:3:DUPLICATE',
    ]);
    expect(plan.recipients).toEqual({ total: 5, valid: 1, invalid: 2, duplicates: 2 });
  });

  it('copes with a file of 200,000 problems (no spread into push)', () => {
    const problems = Array.from({ length: 200_000 }, (_, i) => ({
      file: 'big.txt',
      line: i + 1,
      code: 'FORMAT' as const,
      value: '****',
    }));
    const parsed: ParsedFile = {
      name: 'big.txt',
      sha256: 'f'.repeat(64),
      lines: problems.length,
      numbers: [],
      lineNumbers: [],
      problems,
    };
    const plan = planChunks(CAMPAIGN, [parsed], empty());
    expect(plan.problems).toHaveLength(200_000);
    expect(plan.recipients.invalid).toBe(200_000);
  });
});

describe('planChunks: chunks of at most 250', () => {
  it('a file of exactly 250 is one job and no warning', () => {
    const plan = planChunks(CAMPAIGN, [file('full.txt', syntheticList(MAX_PER_JOB))], empty());
    expect(MAX_PER_JOB).toBe(250);
    expect(plan.files[0]!.chunks).toHaveLength(1);
    expect(plan.warnings).toEqual([]);
  });

  it('a file of 251..751 is split in order and named in a warning', () => {
    const numbers = syntheticList(601);
    const plan = planChunks(
      CAMPAIGN,
      [file('stor.txt', numbers), file('liten.txt', syntheticList(3, 1000))],
      empty(),
    );
    const chunks = plan.files[0]!.chunks;
    expect(chunks.map((c) => c.numbers.length)).toEqual([250, 250, 101]);
    expect(chunks.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(chunks.flatMap((c) => c.numbers)).toEqual(numbers);
    expect(plan.warnings).toHaveLength(1);
    expect(plan.warnings[0]).toContain('stor.txt');
    expect(plan.warnings[0]).toContain('601');
    expect(plan.warnings[0]).toContain('3 jobs');
    expect(plan.files[1]!.chunks).toHaveLength(1);
  });

  it('duplicates do not count towards the 250 (251 lines, one a duplicate, is one job)', () => {
    const numbers = syntheticList(250);
    const plan = planChunks(CAMPAIGN, [file('f.txt', [...numbers, numbers[0]!])], empty());
    expect(plan.files[0]!.chunks).toHaveLength(1);
    expect(plan.warnings).toEqual([]);
  });
});

describe('chunk ids', () => {
  const numbers = syntheticList(300);
  const f = file('f.txt', numbers);

  it('are deterministic: the same input plans the same ids', () => {
    const one = planChunks(CAMPAIGN, [f], empty()).files[0]!.chunks.map((c) => c.chunkId);
    const two = planChunks(CAMPAIGN, [file('renamed.txt', numbers)], empty()).files[0]!.chunks.map(
      (c) => c.chunkId,
    );
    expect(one).toHaveLength(2);
    expect(two).toEqual(one);
    expect(one[0]).toMatch(/^[0-9a-f]{20}$/);
    expect(one[0]).not.toBe(one[1]);
  });

  it('differ across campaigns, file contents, indexes and numbers', () => {
    const base = chunkIdOf('c1', f.sha256, 0, numbers.slice(0, 250));
    expect(chunkIdOf('c1', f.sha256, 0, numbers.slice(0, 250))).toBe(base);
    expect(chunkIdOf('c2', f.sha256, 0, numbers.slice(0, 250))).not.toBe(base);
    expect(chunkIdOf('c1', 'e'.repeat(64), 0, numbers.slice(0, 250))).not.toBe(base);
    expect(chunkIdOf('c1', f.sha256, 1, numbers.slice(0, 250))).not.toBe(base);
    expect(chunkIdOf('c1', f.sha256, 0, numbers.slice(1, 251))).not.toBe(base);
    const other = planChunks('c2', [f], empty()).files[0]!.chunks.map((c) => c.chunkId);
    const mine = planChunks('c1', [f], empty()).files[0]!.chunks.map((c) => c.chunkId);
    expect(other.filter((id) => mine.includes(id))).toEqual([]);
  });

  it('differ for two files of the same numbers in another order', () => {
    const one = planChunks(CAMPAIGN, [file('a.txt', numbers.slice(0, 10))], empty()).files[0]!.chunks[0]!;
    const two = planChunks(CAMPAIGN, [file('a.txt', numbers.slice(0, 10).reverse())], empty()).files[0]!
      .chunks[0]!;
    expect(two.chunkId).not.toBe(one.chunkId);
  });
});

describe('planChunks: the same file twice', () => {
  it('in one run: the second copy is already enqueued, same as the first', () => {
    const numbers = syntheticList(10);
    const plan = planChunks(CAMPAIGN, [file('a.txt', numbers), file('copy-of-a.txt', numbers)], empty());
    expect(plan.files.map((f) => f.name)).toEqual(['a.txt']);
    expect(plan.alreadyEnqueued).toEqual([
      { name: 'copy-of-a.txt', sha256: plan.files[0]!.sha256, sameAs: 'a.txt' },
    ]);
    // Not reported as ten duplicates: the whole file is recognised.
    expect(plan.problems).toEqual([]);
    expect(plan.recipients).toEqual({ total: 10, valid: 10, invalid: 0, duplicates: 0 });
  });

  it('across runs: a file the campaign already has is skipped whatever its name', () => {
    const numbers = syntheticList(10);
    const first = file('a.txt', numbers);
    const known = { numbers: new Set(numbers.map(numberKey)), files: new Map([[first.sha256, 'a.txt']]) };
    const plan = planChunks(CAMPAIGN, [file('a.txt', numbers), file('b.txt', numbers)], known);
    expect(plan.files).toEqual([]);
    expect(plan.alreadyEnqueued.map((x) => [x.name, x.sameAs])).toEqual([
      ['a.txt', 'a.txt'],
      ['b.txt', 'a.txt'],
    ]);
    expect(plan.problems).toEqual([]);
    expect(plan.recipients).toEqual({ total: 0, valid: 0, invalid: 0, duplicates: 0 });
  });
});
