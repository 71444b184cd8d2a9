import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CliResult {
  /** The exit code; null only when the process died of a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunScriptOptions {
  /**
   * The child's environment. Only PATH, HOME and TMPDIR are taken from this
   * process (so a key or prefix in the developer's shell cannot leak in); the
   * rest comes from here, and an undefined value leaves a variable out. Default none.
   */
  env?: Record<string, string | undefined>;
  /** Written to the child's stdin, which is then closed. Default: stdin closed at once (not a terminal). */
  stdin?: string | Buffer;
  /** Wall-clock budget in ms from the spawn; the child is killed (SIGKILL) and the promise rejects after it. Default 30000. */
  timeoutMs?: number;
  /** Working directory. Default the project root. */
  cwd?: string;
}

/**
 * At most this many script children at once per test process: each pays for
 * a node start plus tsx, and on a 2-core machine more at once only thrash.
 */
const MAX_CHILDREN = 2;
let running = 0;
const waiting: Array<() => void> = [];
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

async function takeSlot(): Promise<() => void> {
  while (running >= MAX_CHILDREN) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  return () => {
    running--;
    waiting.shift()?.();
  };
}

/**
 * Runs `node --import tsx scripts/<name>.ts ...args` as a real child process
 * and resolves with its exit code and output once it has exited. Children
 * beyond MAX_CHILDREN wait their turn before they start.
 */
export async function runScript(
  name: string,
  args: readonly string[],
  options: RunScriptOptions = {},
): Promise<CliResult> {
  const release = await takeSlot();
  try {
    return await spawnScript(name, args, options);
  } finally {
    release();
  }
}

function spawnScript(name: string, args: readonly string[], options: RunScriptOptions): Promise<CliResult> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR'] as const) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', `${name}.ts`), ...args], {
    cwd: options.cwd ?? root,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  child.stdin!.on('error', () => {});
  child.stdin!.end(options.stdin);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `scripts/${name}.ts did not exit within ${timeoutMs} ms; stderr: ${Buffer.concat(err).toString('utf8')}`,
        ),
      );
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      live.delete(child);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}
