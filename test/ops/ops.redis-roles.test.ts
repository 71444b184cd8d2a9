/**
 * Every command under the Redis user of its role (config/redis-users.acl),
 * logging in the way compose does: REDIS_URL=redis://<user>@host:port plus
 * REDIS_PASSWORD_FILE. The case handler (utskick-enqueue) runs enqueue,
 * campaign status, test-send and report; operations (utskick-ops) runs unit,
 * pause, resume, cancel, purge and dlq; a worker process (utskick-worker)
 * delivers whole campaigns against the simulator, dead-letters and purges by
 * retention. Each user is refused what is not its job.
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import type { DeadLetterView } from '../../src/queue/control.js';
import { createKeys } from '../../src/queue/keys.js';
import { createLedger } from '../../src/queue/ledger.js';
import { isUnitActive } from '../../src/queue/units.js';
import { makeCampaign, tempDir, testEnv, testUnit, waitFor, writeCampaignFile } from '../helpers/campaign.js';
import { type CliResult, runScript } from '../helpers/cli.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type StartedSimulator, startSimulator } from '../helpers/simulator.js';
import { spawnWorker, stopAllWorkers, type WorkerProcess } from '../helpers/workers.js';
import { type AclRedis, type AclUser, startAclRedis } from './acl-redis.js';

const keys = createKeys('utskick');
let acl: AclRedis;
let sim: StartedSimulator;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  acl = await startAclRedis();
  sim = await startSimulator();
  dir = tempDir('redis-roles');
  env = testEnv('utskick', sim.url, { JOB_ATTEMPTS: '1', CALL_RETRIES: '0', LOG_LEVEL: 'info' });
});
afterAll(async () => {
  await stopAllWorkers();
  await sim?.stop();
  await acl?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const handler: AclUser = 'utskick-enqueue';
const ops: AclUser = 'utskick-ops';
const worker: AclUser = 'utskick-worker';

/** Runs scripts/<name>.ts as `user`; expects `code` (default 0). */
async function as(user: AclUser, name: string, args: string[], code = 0): Promise<CliResult> {
  const r = await runScript(name, args, { env: { ...env, ...acl.env(user) }, timeoutMs: 60_000 });
  expect(r.code, `${user}: ${name} ${args.join(' ')}: ${r.stderr}`).toBe(code);
  return r;
}

/** A refusal: exit 2 and one line naming REDIS_URL, the user and Redis' NOPERM. */
async function refused(user: AclUser, name: string, args: string[]): Promise<void> {
  const r = await as(user, name, args, 2);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toContain(
    `${name}: REDIS_URL ${acl.url(user)}: user ${user} may not do what this command needs (NOPERM`,
  );
}

const counts = (id: string) => createLedger(acl.admin, keys).counts(id);
const waitCounts = (id: string, what: string, done: (c: Awaited<ReturnType<typeof counts>>) => boolean) =>
  waitFor(() => counts(id), done, { timeoutMs: 60_000, what });

/** The admin's view of the dead-letter queue's waiting letters and a campaign's job keys. */
const deadLettersWaiting = () => acl.admin.llen('utskick:dead-letter:wait');
const jobKeys = async (id: string) => (await acl.admin.keys(`utskick:deliver:${id}.*`)).length;

/** A worker under its own user never logged a refusal. */
function noRefusals(w: WorkerProcess): void {
  const refusals = w.lines.filter((l) => /NOPERM|WRONGPASS|NOAUTH/.test(JSON.stringify(l)));
  expect(refusals).toEqual([]);
  expect(w.stderr()).not.toMatch(/NOPERM|WRONGPASS|NOAUTH/);
}

async function nopermFor(r: Redis, commands: [string, ...string[]][]): Promise<void> {
  for (const [cmd, ...args] of commands) {
    const answer = await r.call(cmd, ...args).then(
      () => 'allowed',
      (e: Error) => e.message,
    );
    expect(answer, `${cmd} ${args.join(' ')}`).toMatch(/^NOPERM/);
  }
}

describe('Redis users and the commands of their roles', { timeout: 300_000 }, () => {
  it('each role runs its commands, a worker delivers, and each is refused the rest', async () => {
    const a = makeCampaign({ id: 'roles-a' });
    const b = makeCampaign({ id: 'roles-b' });
    const aPath = writeCampaignFile(dir, a);
    const bDir = join(dir, 'b');
    await mkdir(bDir);
    const bPath = writeCampaignFile(bDir, b);
    const numbers = syntheticList(265, 80_000);
    await writeFile(join(dir, 'a1.txt'), numbers.slice(0, 250).join('\n'));
    await writeFile(join(dir, 'a2.txt'), numbers.slice(250, 260).join('\n'));
    await writeFile(join(dir, 'b.txt'), numbers.slice(260).join('\n'));
    await writeFile(join(dir, 'test.txt'), '19121212-1212\n');

    // Operations activates the unit; the worker and the case handler may not.
    await refused(worker, 'unit', ['activate', testUnit.hsaId, '--name', testUnit.name]);
    await refused(handler, 'unit', ['activate', testUnit.hsaId, '--name', testUnit.name]);
    await as(ops, 'unit', ['activate', testUnit.hsaId, '--name', testUnit.name]);
    expect(JSON.parse((await as(ops, 'unit', ['list', '--json'])).stdout)).toHaveLength(1);

    // The case handler enqueues (A held for a test send), tests, and follows progress.
    await as(handler, 'enqueue', ['--campaign', aPath, '--paused', join(dir, 'a1.txt'), join(dir, 'a2.txt')]);
    await as(handler, 'enqueue', ['--campaign', bPath, join(dir, 'b.txt')]);
    const test = await as(handler, 'campaign', ['test-send', a.id, '--to', join(dir, 'test.txt')]);
    expect(test.stdout).toContain('19121212-****');
    expect(sim.stats().accepted).toBe(1);
    const status = JSON.parse((await as(handler, 'campaign', ['status', a.id, '--json'])).stdout);
    expect(status).toMatchObject({ campaignId: a.id, state: 'paused', recipients: { valid: 260 } });
    expect(JSON.parse((await as(handler, 'campaign', ['status', '--json'])).stdout)).toHaveLength(2);

    // Operations holds B and starts A; the platform is down, so A's recipients are dead-lettered.
    await as(ops, 'campaign', ['pause', b.id, '--reason', 'later']);
    sim.setOptions({ down: true });
    await as(ops, 'campaign', ['resume', a.id]);
    const delivering = await spawnWorker({ ...env, ...acl.env(worker) });
    await waitCounts(a.id, 'A dead-lettered', (c) => c.failed === 260);
    // Its metrics (queue counts, campaign progress) are collected under its own user too.
    expect(await delivering.scrape()).toMatch(
      /^utskick_campaign_done_recipients\{campaign="roles-a"\} 260$/m,
    );
    const letters = JSON.parse((await as(ops, 'dlq', ['list', '--campaign', a.id, '--json'])).stdout);
    expect((letters as DeadLetterView[]).map((l) => l.slots.length).sort()).toEqual([10, 250]);

    // The case handler may not redrive: refused before anything changed.
    await refused(handler, 'dlq', ['redrive', '--campaign', a.id]);
    expect((await counts(a.id)).failed).toBe(260);
    expect(await deadLettersWaiting()).toBe(2);

    // Operations redrives; the worker delivers the whole campaign.
    sim.setOptions({ down: false });
    await as(ops, 'dlq', ['redrive', '--campaign', a.id]);
    await waitCounts(a.id, 'A delivered', (c) => c.delivered === 260);
    expect(sim.stats().accepted).toBe(261);

    // B: dead-lettered, discarded and cancelled by operations.
    sim.setOptions({ down: true });
    await as(ops, 'campaign', ['resume', b.id]);
    await waitCounts(b.id, 'B dead-lettered', (c) => c.failed === 5);
    await as(ops, 'dlq', ['discard', '--campaign', b.id]);
    await as(ops, 'campaign', ['cancel', b.id]);

    // The report is the case handler's; purge is operations'.
    const out = join(dir, 'report-a');
    const report = await as(handler, 'report', ['--campaign', a.id, '--out', out]);
    expect(report.stdout).toContain('delivered 260');
    for (const f of ['report.html', 'report.json', 'recipients.csv'])
      expect(existsSync(join(out, f)), f).toBe(true);
    const chunkKeys = async () => (await acl.admin.keys(`${keys.campaign(a.id)}:chunk:*`)).length;
    expect(await chunkKeys()).toBe(2);
    const jobsBefore = await jobKeys(a.id);
    expect(jobsBefore).toBeGreaterThan(0);
    // The case handler's purge is refused before it removes anything (jobs included).
    await refused(handler, 'campaign', ['purge', a.id]);
    expect(await chunkKeys()).toBe(2);
    expect(await jobKeys(a.id)).toBe(jobsBefore);
    expect(await acl.admin.hget(keys.campaign(a.id), 'purgedAt')).toBeNull();
    await as(ops, 'campaign', ['purge', a.id]);
    expect(await chunkKeys()).toBe(0);
    expect(await jobKeys(a.id)).toBe(0);

    // The worker purges a finished campaign by retention (it needs SCAN for that).
    noRefusals(delivering);
    expect((await delivering.stop('SIGTERM')).code).toBe(0);
    await acl.admin.hset(keys.campaign(b.id), 'lastActivityAt', '2000-01-01T00:00:00Z');
    await acl.admin.del('utskick:retention-lock');
    const sweeping = await spawnWorker({ ...env, ...acl.env(worker), RETENTION_DAYS: '1' });
    await waitFor(
      () => acl.admin.hget(keys.campaign(b.id), 'purgedBy'),
      (by) => by === 'retention',
      { what: 'B purged by retention' },
    );
    await sweeping.waitForLog((l) => l.msg === 'retention: campaign purged');
    noRefusals(sweeping);
    expect((await sweeping.stop('SIGTERM')).code).toBe(0);
    expect(await isUnitActive(acl.admin, keys, testUnit.hsaId)).toBe(true);

    // Each role recorded what it did in the audit log (append only); the refused attempts recorded nothing.
    const audit = createAuditLog({ redis: acl.admin, keys });
    const actions = async (id: string) => (await audit.read({ campaignId: id })).map((e) => e.action);
    expect(await actions(a.id)).toEqual([
      'approve',
      'enqueue',
      'test-send',
      'resume',
      'dlq.redrive',
      'report',
      'purge',
    ]);
    expect(await actions(b.id)).toEqual([
      'approve',
      'enqueue',
      'pause',
      'resume',
      'dlq.discard',
      'cancel',
      'retention-purge',
    ]);
    expect((await audit.read({ campaignId: '' })).map((e) => e.action)).toEqual(['unit.activate']);
    expect((await audit.read({ campaignId: b.id })).at(-1)?.actor).toMatch(/^system:/);
  });

  it('no role may administer the server, and each is confined to its keys', async () => {
    const h = await acl.as(handler);
    await nopermFor(h, [
      ['FLUSHALL'],
      ['KEYS', '*'],
      ['SCAN', '0'],
      ['CONFIG', 'GET', '*'],
      ['HSET', 'utskick:units', 'SE2321000032-9999', '{}'],
      ['SET', 'utskick:dead-letter:x', '1'],
      ['SET', 'utskick:rate:global', '1'],
      ['GET', 'other:key'],
    ]);
    const w = await acl.as(worker);
    await nopermFor(w, [
      ['FLUSHALL'],
      ['KEYS', '*'],
      ['CONFIG', 'SET', 'appendonly', 'no'],
      ['ACL', 'LIST'],
      ['HSET', 'utskick:units', 'SE2321000032-9999', '{}'],
      ['SADD', 'utskick:campaigns', 'x'],
      ['SET', 'utskick:other', '1'],
      ['SET', 'other:key', '1'],
      ['CLIENT', 'LIST'],
    ]);
    expect(await w.hexists('utskick:units', testUnit.hsaId)).toBeTypeOf('number');
    const o = await acl.as(ops);
    await nopermFor(o, [
      ['FLUSHALL'],
      ['FLUSHDB'],
      ['KEYS', '*'],
      ['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru'],
      ['ACL', 'SETUSER', 'x'],
      ['BGSAVE'],
      ['SET', 'other:key', '1'],
    ]);
  });
});
