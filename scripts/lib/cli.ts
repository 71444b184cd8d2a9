import { type ParseArgsConfig, parseArgs } from 'node:util';
import { campaignIdSchema } from '../../src/campaign/schema.js';
import { explainRedisError, isRedisClientFailure } from '../../src/queue/redis-errors.js';

/** A mistake in how the command was called: exit 2. */
export class UsageError extends Error {
  readonly code = 'USAGE';
}

/** Exit codes: 0 done, 1 the input or the job failed, 2 usage or configuration. */
export const exitCodes = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Codes of a wrong call or setting (exit 2); every other error exits 1. A
 * Redis that refuses the login, the database or the command is a setting
 * (REDIS_CONFIG, REDIS_PERMISSION); one that cannot be reached is an outage (REDIS_UNREACHABLE: 1).
 */
const usageCodes = new Set(['USAGE', 'CONFIG', 'DATA_KEY', 'CAMPAIGN', 'REDIS_CONFIG', 'REDIS_PERMISSION']);

/** A Redis failure, wherever it surfaced, as one line naming REDIS_URL; other errors as they are. */
function explained(err: unknown): Error & { code?: string } {
  if (!isRedisClientFailure(err)) return err as Error & { code?: string };
  return explainRedisError(err, process.env.REDIS_URL || 'redis://127.0.0.1:6379');
}

/**
 * Runs a CLI's main function and turns any error into one clear line on stderr
 * and an exit code; a stack trace only with DEBUG=1 (never for a user mistake).
 */
export async function runCli(name: string, main: () => Promise<number | undefined>): Promise<void> {
  try {
    process.exitCode = (await main()) ?? exitCodes.ok;
  } catch (err) {
    const e = explained(err);
    const known = typeof e.code === 'string' && e.code.length > 0;
    process.stderr.write(`${name}: ${known ? '' : 'unexpected error: '}${e.message}\n`);
    // A script that asked for JSON gets one object on stdout on failure too.
    if (process.argv.includes('--json')) {
      process.stdout.write(
        `${JSON.stringify({ error: { code: known ? e.code : 'UNEXPECTED', message: e.message } })}\n`,
      );
    }
    if (process.env.DEBUG === '1' && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exitCode = e.code && usageCodes.has(e.code) ? exitCodes.usage : exitCodes.failed;
  }
}

export function parseCliArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * A campaign id from the command line, checked with the campaign schema's own
 * pattern before it reaches a Redis key, a job id or an ACL rule. The value is
 * not echoed (it may be anything a careless paste put there).
 * @param what how the command names it, e.g. "--campaign" or "status ID"
 */
export function campaignIdArg(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`${what}: a campaign id is required`);
  const check = campaignIdSchema.safeParse(value);
  if (!check.success) throw new UsageError(`${what}: not a campaign id (${check.error.issues[0]?.message})`);
  return value;
}

/** Reads a secret from the terminal without echo; undefined when stdin is not a terminal. */
export async function promptSecret(question: string): Promise<string | undefined> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return undefined;
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (buf: Buffer) => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new UsageError('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

/** A one-line progress bar on a terminal; silent when stderr is not one. */
export function createProgress(
  label: string,
  enabled: boolean,
): { update(done: number, total: number): void; end(): void } {
  const on = enabled && process.stderr.isTTY === true;
  let last = 0;
  return {
    update(done, total) {
      if (!on) return;
      const now = Date.now();
      if (done < total && now - last < 100) return;
      last = now;
      const width = 30;
      const filled = Math.round((done / Math.max(total, 1)) * width);
      process.stderr.write(
        `\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`,
      );
    },
    end() {
      if (on) process.stderr.write('\n');
    },
  };
}
