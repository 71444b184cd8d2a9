/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): self time per function,
 * the top few, with their file relative to the package root.
 */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { root } from '../../scripts/lib/processes.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  function: string;
  where: string;
  selfMs: number;
  share: number;
}

function whereOf(url: string, line: number): string {
  if (!url) return '(native)';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const rel = path.startsWith(root) ? relative(root, path) : path;
  return `${rel.replace(/^node_modules\//, '')}:${line + 1}`;
}

/** The monotonic clock V8 stamps profile samples with (CLOCK_MONOTONIC, as process.hrtime), µs. */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Self time per function (merged by name and place), largest first; with
 * `window` (monotonicUs() readings, any process on this machine) only the
 * samples taken inside it.
 */
export function selfTimes(profile: CpuProfile, window?: { fromUs: number; toUs: number }): SelfTime[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const ms = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  // Each sample's time is the delta to the next one (the last gets the average).
  const total = (profile.endTime - profile.startTime) / 1000;
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    if (window && (at < window.fromUs || at > window.toUs)) continue;
    const d = (deltas[i + 1] ?? total * (1000 / Math.max(samples.length, 1))) / 1000;
    ms.set(samples[i]!, (ms.get(samples[i]!) ?? 0) + d);
  }
  const merged = new Map<string, SelfTime>();
  for (const [id, t] of ms) {
    const node = byId.get(id);
    if (!node) continue;
    const name = node.callFrame.functionName || '(anonymous)';
    const where = whereOf(node.callFrame.url, node.callFrame.lineNumber);
    const key = `${name}@${where}`;
    const e = merged.get(key) ?? { function: name, where, selfMs: 0, share: 0 };
    e.selfMs += t;
    merged.set(key, e);
  }
  const all = [...merged.values()];
  const sum = all.reduce((s, e) => s + e.selfMs, 0) || 1;
  for (const e of all) e.share = e.selfMs / sum;
  return all.sort((a, b) => b.selfMs - a.selfMs);
}

export async function readProfile(path: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
}

/** Where a function lives, coarsely: a file of this project, a package, Node itself, or a V8 pseudo-node. */
export function moduleOf(t: SelfTime): string {
  if (t.where === '(native)')
    return t.function.startsWith('(') ? t.function : 'native code (crypto, fs, buffers)';
  if (t.where.startsWith('node:')) return 'Node internals';
  // Compiled code (dist/src/..., as the bench runs workers) counts as its source file.
  const where = t.where.replace(/^dist\//, '');
  if (where.startsWith('src/') || where.startsWith('scripts/') || where.startsWith('bench/'))
    return where.replace(/:\d+$/, '').replace(/\.js$/, '.ts');
  const pkg = t.where.split('/')[0] ?? t.where;
  return pkg.startsWith('@') ? t.where.split('/').slice(0, 2).join('/') : pkg;
}

/** A Markdown table of self time summed by module, largest first. */
export function moduleTable(times: SelfTime[], n = 12): string {
  const by = new Map<string, { ms: number; share: number }>();
  for (const t of times) {
    const m = moduleOf(t);
    const e = by.get(m) ?? { ms: 0, share: 0 };
    e.ms += t.selfMs;
    e.share += t.share;
    by.set(m, e);
  }
  const rows = [...by]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, n)
    .map(([m, e]) => `| ${e.ms.toFixed(0)} | ${(e.share * 100).toFixed(1)}% | ${m} |`);
  return ['| self ms | share | module |', '| ---: | ---: | --- |', ...rows].join('\n');
}

/** A Markdown table of the top `n` self-time functions. */
export function selfTimeTable(times: SelfTime[], n = 15): string {
  const rows = times
    .slice(0, n)
    .map(
      (t) => `| ${t.selfMs.toFixed(0)} | ${(t.share * 100).toFixed(1)}% | \`${t.function}\` | ${t.where} |`,
    );
  return ['| self ms | share | function | where |', '| ---: | ---: | --- | --- |', ...rows].join('\n');
}
