import { spawnSync } from 'node:child_process';
import { describe, it } from 'vitest';

/**
 * Optional system tools some tests need. A bare machine (Node 20 and a Redis)
 * has none of them: their tests are skipped, each skip naming the tool and how
 * to install it, and counted in vitest's summary. Under CI (CI=true) a missing
 * tool fails the run instead, since .ci/run installs them all.
 */
export interface Tool {
  /** The command looked up on PATH. */
  command: string;
  /** Arguments that make it print a version and exit 0. */
  versionArgs: string[];
  /** What to run to get it (Debian). */
  install: string;
}

export const tools = {
  promtool: { command: 'promtool', versionArgs: ['--version'], install: 'apt-get install prometheus' },
  prometheus: { command: 'prometheus', versionArgs: ['--version'], install: 'apt-get install prometheus' },
  chromium: { command: 'chromium', versionArgs: ['--version'], install: 'apt-get install chromium' },
  dockerCompose: {
    command: 'docker-compose',
    versionArgs: ['version'],
    install: 'apt-get install docker-compose',
  },
  redisServer: {
    command: 'redis-server',
    versionArgs: ['--version'],
    install: 'apt-get install redis-server',
  },
  sevenZip: { command: '7z', versionArgs: ['i'], install: 'apt-get install p7zip-full' },
} as const satisfies Record<string, Tool>;

const found = new Map<string, boolean>();

/** Whether the tool runs here (looked up once per process). */
export function hasTool(tool: Tool): boolean {
  let ok = found.get(tool.command);
  if (ok === undefined) {
    const r = spawnSync(tool.command, tool.versionArgs, { stdio: 'ignore', timeout: 20_000 });
    ok = !r.error && r.status === 0;
    found.set(tool.command, ok);
  }
  return ok;
}

/** Why the tests are skipped: `promtool is not on PATH (apt-get install prometheus)`; undefined when all are here. */
export function missingTools(...needed: Tool[]): string | undefined {
  const absent = needed.filter((t) => !hasTool(t));
  if (absent.length === 0) return undefined;
  return absent.map((t) => `${t.command} is not on PATH (${t.install})`).join('; ');
}

const inCi = () => process.env.CI === 'true';

/**
 * describe(name, fn) when every tool is here; otherwise skipped with the
 * reason in its name (a visible, counted skip), or failing under CI=true.
 */
export function describeWithTools(name: string, needed: Tool[], fn: () => void): void {
  const why = missingTools(...needed);
  if (why === undefined) describe(name, fn);
  else if (inCi()) {
    describe(name, () => {
      it('has the tools it needs', () => {
        throw new Error(`${why} (CI=true: a missing tool fails the run)`);
      });
    });
  } else describe.skip(`${name} [skipped: ${why}]`, fn);
}

/** it(name, fn, timeout) when every tool is here; otherwise a named skip, or a failure under CI=true. */
export function itWithTools(
  name: string,
  needed: Tool[],
  fn: () => void | Promise<void>,
  timeoutMs?: number,
): void {
  const why = missingTools(...needed);
  if (why === undefined) it(name, fn, timeoutMs);
  else if (inCi()) {
    it(name, () => {
      throw new Error(`${why} (CI=true: a missing tool fails the run)`);
    });
  } else it.skip(`${name} [skipped: ${why}]`, fn);
}
