import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Splits a Dockerfile into stages of instructions (continuations joined, comments dropped). */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(current + line);
    current = '';
  }
  if (current) logical.push(current);

  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\w+)\s+([\s\S]*)$/.exec(l);
    if (!m) continue;
    const op = m[1]!.toUpperCase();
    const rest = m[2]!.trim();
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      if (k && v !== undefined) args[k] = v;
      continue;
    }
    if (op === 'FROM') {
      const f = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      const image = (f?.[1] ?? rest).replace(/\$\{?(\w+)\}?/g, (_, name: string) => args[name] ?? '');
      stages.push({ from: image, name: f?.[2], instructions: [] });
      continue;
    }
    stages.at(-1)?.instructions.push({ op, args: rest });
  }
  return { args, stages };
}

const pinnedImage = /^[a-z0-9./-]+:v?\d+\.\d+\.\d+(?:-[a-z0-9.-]+)?(?:@sha256:[0-9a-f]{64})?$/;

/** What is wrong with a Dockerfile for this service; empty when nothing is. */
function dockerfileProblems(text: string): string[] {
  const { stages } = parseDockerfile(text);
  const problems: string[] = [];
  if (stages.length < 2) problems.push('not multi-stage');
  for (const s of stages) {
    if (!pinnedImage.test(s.from) || /:latest\b/.test(s.from))
      problems.push(`base image not pinned: ${s.from}`);
  }
  const final = stages.at(-1);
  if (!final) return [...problems, 'no stage'];
  const all = (op: string) => final.instructions.filter((i) => i.op === op).map((i) => i.args);
  const runs = all('RUN').join('\n');

  const user = all('USER').at(-1);
  const uid = user ? /^(\d+)(?::\d+)?$/.exec(user)?.[1] : undefined;
  if (uid === undefined || Number(uid) === 0)
    problems.push(`final stage USER is not a numeric non-root uid: ${user}`);
  const health = all('HEALTHCHECK').at(-1) ?? '';
  if (!health.includes('/healthz') || !health.includes('9464'))
    problems.push('no HEALTHCHECK on :9464/healthz');
  if (!/npm ci\b[^\n]*--omit=dev/.test(runs)) problems.push('runtime does not run npm ci --omit=dev');
  // 7-Zip runs in-process as WebAssembly: the image needs no system package for it.
  if (/apt-get install[^\n]*\bp7zip/.test(runs)) problems.push('installs a system 7-Zip it no longer needs');
  if (/apt-get install/.test(runs) && !/rm -rf \/var\/lib\/apt\/lists/.test(runs))
    problems.push('apt lists not cleaned');
  if (!all('ENV').some((e) => /NODE_ENV=production/.test(e))) problems.push('NODE_ENV is not production');
  if (!all('EXPOSE').some((e) => e.split(/\s+/).includes('9464'))) problems.push('9464 not exposed');
  if (!all('COPY').some((c) => /--from=\S+\s+\/app\/dist\b/.test(c)))
    problems.push('dist not copied from the build stage');
  if (all('CMD').at(-1) !== '["node", "dist/workers/deliver.js"]')
    problems.push('default CMD is not the worker');

  const build = stages[0];
  const buildRuns = build?.instructions.filter((i) => i.op === 'RUN').map((i) => i.args) ?? [];
  if (!buildRuns.some((r) => /^npm ci\b/.test(r))) problems.push('build stage does not run npm ci');
  if (!buildRuns.some((r) => /npm run build/.test(r)))
    problems.push('build stage does not run npm run build');
  return problems;
}

const dockerfile = readFileSync(resolve(root, 'Dockerfile'), 'utf8');

describe('Dockerfile', () => {
  it('has no problems', () => {
    expect(dockerfileProblems(dockerfile)).toEqual([]);
  });

  it('is multi-stage from an exactly pinned node image', () => {
    const { stages } = parseDockerfile(dockerfile);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) {
      expect(s.from).toMatch(/^node:\d+\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
    }
    expect(stages.at(-1)?.instructions.some((i) => i.op === 'USER' && i.args === '1000:1000')).toBe(true);
  });

  it('the checks catch an unpinned, root, single-stage image', () => {
    const bad = [
      'FROM node:latest',
      'WORKDIR /app',
      'RUN npm ci && npm run build',
      'RUN apt-get update && apt-get install -y p7zip-full',
      'CMD ["node", "dist/workers/deliver.js"]',
    ].join('\n');
    const problems = dockerfileProblems(bad);
    expect(problems).toContain('not multi-stage');
    expect(problems).toContain('base image not pinned: node:latest');
    expect(problems).toContain('final stage USER is not a numeric non-root uid: undefined');
    expect(problems).toContain('no HEALTHCHECK on :9464/healthz');
    expect(problems).toContain('runtime does not run npm ci --omit=dev');
    expect(problems).toContain('installs a system 7-Zip it no longer needs');
    expect(problems).toContain('apt lists not cleaned');

    const rootUser = dockerfile.replace('USER 1000:1000', 'USER 0');
    expect(dockerfileProblems(rootUser)).toEqual(['final stage USER is not a numeric non-root uid: 0']);
    const majorOnly = dockerfile.replaceAll('node:20.20.2-bookworm-slim', 'node:20-bookworm-slim');
    expect(dockerfileProblems(majorOnly)).toContain('base image not pinned: node:20-bookworm-slim');
  });

  it('.dockerignore keeps secrets, git and local builds out of the context', () => {
    const ignored = readFileSync(resolve(root, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const entry of ['secrets', '.git', 'node_modules', 'dist', '.env', '**/*.pem', '**/*.key']) {
      expect(ignored).toContain(entry);
    }
    for (const needed of ['src', 'workers', 'scripts', 'config', 'package.json', 'package-lock.json']) {
      expect(ignored).not.toContain(needed);
    }
  });
});
