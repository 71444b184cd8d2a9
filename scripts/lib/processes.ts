import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (where package.json is), from this file. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/**
 * Starts one of the project's TypeScript entry points (`workers/deliver.ts`,
 * `scripts/simulator.ts`, ...) as a real child process: through tsx from a
 * checkout, or the compiled file under dist/ in the container image.
 */
/** Where `npm run build` puts an entry point: dist/<entry>.js. */
export function compiledEntry(entry: string): string {
  return join(root, 'dist', entry.replace(/\.ts$/, '.js'));
}

export function spawnEntry(
  entry: string,
  args: string[],
  env: Record<string, string | undefined>,
  options: { stdio?: 'pipe' | 'inherit'; logFile?: string; compiled?: boolean } = {},
): ChildProcess {
  const compiled = compiledEntry(entry);
  if (options.compiled && !existsSync(compiled)) {
    throw new Error(`${compiled} is missing: run npm run build first`);
  }
  const useDist = options.compiled || (!existsSync(join(root, entry)) && existsSync(compiled));
  const nodeArgs = useDist ? [compiled, ...args] : ['--import', 'tsx', join(root, entry), ...args];
  const child = spawn(process.execPath, nodeArgs, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: options.stdio === 'inherit' ? ['ignore', 'inherit', 'inherit'] : ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (options.logFile) {
    // Always drain the pipes (a full pipe would stall the child), into a log file.
    const log = createWriteStream(options.logFile, { flags: 'a' });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    child.once('exit', () => log.end());
  }
  return child;
}

/** Resolves with the first stdout line matching `pattern`; rejects if the process exits or time runs out. */
export function waitForLine(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs = 20_000,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    const timer = setTimeout(
      () => finish(new Error(`no line matching ${pattern} within ${timeoutMs} ms: ${stderr.slice(-500)}`)),
      timeoutMs,
    );
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let nl = buffer.indexOf('\n');
      while (nl !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const m = line.match(pattern);
        if (m) return finish(undefined, m);
        nl = buffer.indexOf('\n');
      }
    };
    const onErr = (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    };
    const onExit = (code: number | null) =>
      finish(new Error(`process exited (${code}) before printing ${pattern}: ${stderr.slice(-500)}`));
    function finish(err?: Error, m?: RegExpMatchArray) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onErr);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onErr);
    child.once('exit', onExit);
  });
}

/** Sends a signal and waits for the exit code (SIGKILL after `timeoutMs`). */
export async function stopProcess(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 20_000,
): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

/** Runs an entry to completion, collecting its output. */
export async function runEntry(
  entry: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawnEntry(entry, args, env);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}
