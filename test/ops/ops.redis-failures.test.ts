/**
 * A Redis that cannot be reached, refuses the login or the database: every
 * CLI and the worker say so in ONE line naming REDIS_URL (password masked),
 * never with a stack, and exit 2 for a wrong setting or 1 for an outage. A
 * worker logs an outage once (then at most once a minute) and answers /readyz
 * 503 while it lasts. LOG_LEVEL is validated with the rest of the configuration.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  makeCampaign,
  tempDir,
  testDataKey,
  testEnv,
  testSourceSystem,
  writeCampaignFile,
} from '../helpers/campaign.js';
import { type CliResult, runScript } from '../helpers/cli.js';
import { freePort } from '../helpers/global-setup.js';
import { syntheticList } from '../helpers/personnummer.js';
import { startPrivateRedis } from '../helpers/private-redis.js';
import { redisUrl, uniquePrefix } from '../helpers/redis.js';
import { spawnWorker, stopAllWorkers } from '../helpers/workers.js';
import { type AclRedis, startAclRedis } from './acl-redis.js';

const root = resolve(import.meta.dirname, '../..');
let acl: AclRedis;
let closedPort: number;
beforeAll(async () => {
  acl = await startAclRedis();
  closedPort = await freePort();
});
afterAll(async () => {
  await stopAllWorkers();
  await acl?.close();
});

const cli = (name: string, args: string[], env: Record<string, string>) =>
  runScript(name, args, { env: { UTSKICK_DATA_KEY: testDataKey, ...env }, timeoutMs: 45_000 });

/** Exactly one line on stderr, no stack, nothing on stdout, the exit code. */
function oneLine(r: CliResult, code: number, name: string): string {
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(lines[0]!.startsWith(`${name}: `)).toBe(true);
  return lines[0]!;
}

describe('the CLIs: one line naming REDIS_URL, exit 1 for an outage, 2 for a wrong setting', {
  timeout: 120_000,
}, () => {
  it('Redis unreachable: exit 1 with the reason, from every command that connects', async () => {
    const url = `redis://127.0.0.1:${closedPort}`;
    const runs = await Promise.all([
      cli('campaign', ['status'], { REDIS_URL: url }),
      cli('unit', ['list'], { REDIS_URL: url }),
      cli('dlq', ['list'], { REDIS_URL: url }),
      cli('report', ['--campaign', 'kampanj-1', '--format', 'json'], { REDIS_URL: url }),
      cli('campaign', ['status'], { REDIS_URL: 'redis://no-such-host.invalid:6379' }),
    ]);
    const names = ['campaign', 'unit', 'dlq', 'report'];
    runs.slice(0, 4).forEach((r, i) => {
      expect(oneLine(r, 1, names[i]!)).toBe(
        `${names[i]}: REDIS_URL ${url}: Redis cannot be reached (ECONNREFUSED)`,
      );
    });
    expect(oneLine(runs[4]!, 1, 'campaign')).toMatch(
      /^campaign: REDIS_URL redis:\/\/no-such-host\.invalid:6379: Redis cannot be reached \((ENOTFOUND|EAI_AGAIN)\)$/,
    );
  });

  it('a wrong password, no login, a database out of range, a password in the URL: exit 2', async () => {
    const [wrongPass, noAuth, badDb, inUrl] = await Promise.all([
      cli('campaign', ['status'], {
        REDIS_URL: acl.url('utskick-ops'),
        REDIS_PASSWORD_FILE: acl.wrongPasswordFile,
      }),
      cli('unit', ['list'], { REDIS_URL: acl.url() }),
      cli('campaign', ['status'], { REDIS_URL: `${redisUrl()}/99` }),
      cli('dlq', ['list'], { REDIS_URL: `redis://utskick-ops:hunter2-pw@127.0.0.1:${acl.port}` }),
    ]);
    expect(oneLine(wrongPass, 2, 'campaign')).toBe(
      `campaign: REDIS_URL ${acl.url('utskick-ops')}: Redis refused the login of user utskick-ops (WRONGPASS): check the user in REDIS_URL and the password in REDIS_PASSWORD_FILE`,
    );
    expect(oneLine(noAuth, 2, 'unit')).toMatch(
      /^unit: REDIS_URL redis:\/\/127\.0\.0\.1:\d+: Redis requires a login \(NOAUTH\)/,
    );
    expect(oneLine(badDb, 2, 'campaign')).toBe(
      `campaign: REDIS_URL ${redisUrl()}/99: database 99 cannot be used (ERR DB index is out of range)`,
    );
    expect(oneLine(inUrl, 2, 'dlq')).toBe(
      'dlq: REDIS_URL holds a password: put the password in REDIS_PASSWORD_FILE',
    );
    expect(inUrl.stderr + inUrl.stdout).not.toContain('hunter2-pw');
  });
});

/** scripts/enqueue.ts belongs to another change: these run once it opens Redis through scripts/lib/context.ts. */
const enqueueUsesContext = readFileSync(join(root, 'scripts/enqueue.ts'), 'utf8').includes('openContext(');

describe.skipIf(!enqueueUsesContext)('enqueue', { timeout: 120_000 }, () => {
  it('Redis unreachable: exit 1; a database out of range: exit 2; one line each, nothing about the unit', async () => {
    const dir = tempDir('enqueue-redis-failures');
    const campaignPath = writeCampaignFile(dir, makeCampaign());
    const file = join(dir, 'a.txt');
    await writeFile(file, syntheticList(3, 70_000).join('\n'));
    const env = { INBOX_SOURCE_SYSTEM: testSourceSystem };
    const [down, badDb] = await Promise.all([
      cli('enqueue', ['--campaign', campaignPath, file], {
        ...env,
        REDIS_URL: `redis://127.0.0.1:${closedPort}`,
      }),
      cli('enqueue', ['--campaign', campaignPath, file], { ...env, REDIS_URL: `${redisUrl()}/99` }),
    ]);
    expect(oneLine(down, 1, 'enqueue')).toBe(
      `enqueue: REDIS_URL redis://127.0.0.1:${closedPort}: Redis cannot be reached (ECONNREFUSED)`,
    );
    expect(oneLine(badDb, 2, 'enqueue')).toMatch(/database 99 cannot be used/);
    rmSync(dir, { recursive: true, force: true });
  });
});

/** Runs the worker process to its exit with only `env` (and PATH, HOME, TMPDIR). */
function runWorker(env: Record<string, string>, timeoutMs = 30_000): Promise<CliResult> {
  const childEnv: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR'] as const) if (process.env[k]) childEnv[k] = process.env[k]!;
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'workers/deliver.ts')], {
    cwd: root,
    env: { ...childEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolveExit) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolveExit({ code, stdout, stderr });
    }),
  );
}

describe('the worker', { timeout: 120_000 }, () => {
  const base = () =>
    testEnv(uniquePrefix('redis-failures'), 'http://127.0.0.1:9/inbox', { LOG_LEVEL: 'info' });

  it('LOG_LEVEL=loud: exit 2 with one line naming LOG_LEVEL', async () => {
    const r = await runWorker({ ...base(), LOG_LEVEL: 'loud' });
    expect(oneLine(r, 2, 'worker')).toMatch(/^worker: invalid configuration: LOG_LEVEL: /);
    expect(r.stdout).toBe('');
  });

  it('a refused login or a database out of range at start: exit 2 naming REDIS_URL', async () => {
    const [wrongPass, badDb] = await Promise.all([
      runWorker({
        ...base(),
        REDIS_URL: acl.url('utskick-worker'),
        REDIS_PASSWORD_FILE: acl.wrongPasswordFile,
      }),
      runWorker({ ...base(), REDIS_URL: `${redisUrl()}/99` }),
    ]);
    expect(oneLine(wrongPass, 2, 'worker')).toBe(
      `worker: REDIS_URL ${acl.url('utskick-worker')}: Redis refused the login of user utskick-worker (WRONGPASS): check the user in REDIS_URL and the password in REDIS_PASSWORD_FILE`,
    );
    expect(oneLine(badDb, 2, 'worker')).toBe(
      `worker: REDIS_URL ${redisUrl()}/99: database 99 cannot be used (ERR DB index is out of range)`,
    );
  });

  it("another role's user: exit 2 naming REDIS_URL before it takes a job", async () => {
    const r = await runWorker({ ...base(), UTSKICK_PREFIX: 'utskick', ...acl.env('utskick-enqueue') });
    const line = oneLine(r, 2, 'worker');
    const expected = `worker: REDIS_URL ${acl.url('utskick-enqueue')}: user utskick-enqueue may not do what this command needs (NOPERM`;
    expect(line.startsWith(expected), line).toBe(true);
  });

  it('an outage: logged once (not per reconnect), /readyz 503 naming REDIS_URL meanwhile, then logged as over', async () => {
    const redis = await startPrivateRedis();
    try {
      const w = await spawnWorker({ ...base(), REDIS_URL: redis.url });
      const readyz = async () => {
        const res = await request(`http://127.0.0.1:${w.metricsPort}/readyz`);
        return { status: res.statusCode, body: (await res.body.json()) as { reasons: string[] } };
      };
      expect((await readyz()).status).toBe(200);
      const before = w.lines.length;
      await redis.stop('SIGKILL');
      await delay(4000);
      const during = w.lines.slice(before);
      expect(
        during.map((l) => l.msg),
        JSON.stringify(during),
      ).toEqual(['redis unavailable']);
      const down = await readyz();
      expect(down.status, JSON.stringify(down.body)).toBe(503);
      expect(down.body.reasons).toContain(`REDIS_URL ${redis.url}: Redis cannot be reached (ECONNREFUSED)`);
      await redis.start();
      await w.waitForLog((l) => l.msg === 'redis available again', 15_000);
      await expect.poll(async () => (await readyz()).status, { timeout: 10_000 }).toBe(200);
      expect((await w.stop('SIGTERM')).code).toBe(0);
    } finally {
      await redis.close();
    }
  });
});
