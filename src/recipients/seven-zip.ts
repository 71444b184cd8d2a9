/**
 * Runs the system's 7-Zip (`7z`, Debian p7zip-full) as a child process and
 * reports what happened, without interpreting it: archive.ts decides what an
 * outcome means. Knows nothing about passwords beyond "text for stdin".
 *
 * Invariants:
 * - The child gets its own session (detached = setsid), so it has no
 *   controlling terminal: 7-Zip can never open /dev/tty and wait on a person.
 *   It reads a password prompt's answer from stdin, which is always closed
 *   right after the optional text is written, so an unanswered prompt ends in
 *   EOF ("Break signaled", exit 255) instead of a hang.
 * - Stopping kills the whole process group with SIGKILL, so a wrapper script
 *   (/usr/bin/7z is `exec`-ing sh) or anything it started dies too.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

/** Longest stderr kept (7-Zip's error text is short; a flood is cut here). */
const STDERR_CAP_BYTES = 16 * 1024;

export interface SevenZipRun {
  /** The 7z binary: a name looked up on PATH or a path. */
  bin: string;
  args: readonly string[];
  /** Written to stdin, which is then closed; when undefined stdin is closed at once. */
  stdinText?: string;
  /** An open descriptor the child gets as its fd 3 (so `/dev/fd/3` names it there). Default none. */
  inheritFd?: number;
  /** Kill the child this many ms after it starts. */
  timeoutMs: number;
  /** Receives each stdout chunk in order; returning false kills the child at once. */
  onStdout(chunk: Buffer): boolean;
}

export type SevenZipOutcome =
  /** The child exited by itself (any exit code). */
  | 'exited'
  /** Killed because timeoutMs passed. */
  | 'timeout'
  /** Killed because onStdout returned false. */
  | 'stopped'
  /** The binary could not be started (not installed, not executable). */
  | 'not-started';

export interface SevenZipResult {
  outcome: SevenZipOutcome;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The start of stderr, decoded as UTF-8 (at most 16 KiB). */
  stderr: string;
  /** errno code of a failed start, e.g. ENOENT or EACCES. */
  startErrorCode?: string;
}

export function runSevenZip(run: SevenZipRun): Promise<SevenZipResult> {
  return new Promise((resolve) => {
    // Pipes on 0-2 (a fourth stdio slot makes the typings forget that).
    const child = spawn(run.bin, [...run.args], {
      stdio: ['pipe', 'pipe', 'pipe', run.inheritFd ?? 'ignore'],
      detached: true,
    }) as ChildProcessByStdio<Writable, Readable, Readable>;
    let outcome: SevenZipOutcome = 'exited';
    let startErrorCode: string | undefined;
    let settled = false;
    const stderrChunks: Buffer[] = [];
    let stderrBytes = 0;

    const killGroup = (): void => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const stop = (why: SevenZipOutcome): void => {
      if (outcome === 'exited') outcome = why;
      killGroup();
    };

    const timer = setTimeout(() => stop('timeout'), Math.max(1, run.timeoutMs));

    child.stdout.on('data', (chunk: Buffer) => {
      if (outcome !== 'exited') return;
      if (!run.onStdout(chunk)) stop('stopped');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderrBytes >= STDERR_CAP_BYTES) return;
      const room = STDERR_CAP_BYTES - stderrBytes;
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
      stderrChunks.push(kept);
      stderrBytes += kept.length;
    });
    // 7z may exit before reading stdin (an unencrypted archive): EPIPE is expected.
    child.stdin.on('error', () => {});
    child.stdin.end(run.stdinText);

    const finish = (exitCode: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const result: SevenZipResult = {
        outcome,
        exitCode,
        signal,
        stderr: Buffer.concat(stderrChunks).toString('utf8'),
      };
      if (startErrorCode !== undefined) result.startErrorCode = startErrorCode;
      resolve(result);
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (child.pid === undefined) {
        outcome = 'not-started';
        startErrorCode = err.code ?? 'UNKNOWN';
        finish(null, null);
      }
    });
    child.on('close', (code, signal) => finish(code, signal));
  });
}
