/**
 * Every command that changes something records one audit entry with the actor
 * of its --by (real CLIs as child processes, real Redis): unit, enqueue (and
 * the approval it sees first), campaign pause/resume/cancel/test-send/purge/acl,
 * dlq redrive/discard, report. Then `npm run audit` reads them back; purge
 * keeps them; no entry holds a personnummer.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEntry, createAuditLog } from '../../src/audit/audit-log.js';
import { createCampaignStore } from '../../src/queue/campaign-store.js';
import { createDeadLetterQueue } from '../../src/queue/deliver-queue.js';
import { createKeys } from '../../src/queue/keys.js';
import { makeCampaign, tempDir, testUnit, writeCampaignFile } from '../helpers/campaign.js';
import { type CliResult, runScript } from '../helpers/cli.js';
import { syntheticList } from '../helpers/personnummer.js';
import { dumpPrefix } from '../helpers/redis.js';
import { type Harness, openHarness } from '../helpers/workers.js';
import { expectNoDigitRuns, expectNoPersonnummer } from './leak-scan.js';

let h: Harness;
let dir: string;
const campaign = makeCampaign({ id: 'audit-cli-a' });
const numbers = syntheticList(30, 61_000);
const testNumber = '19121212-1212';

beforeAll(async () => {
  h = await openHarness('audit-cli');
  dir = tempDir('audit-cli');
  writeFileSync(join(dir, 'lista.txt'), numbers.join('\n'));
  writeFileSync(join(dir, 'test.txt'), `${testNumber}\n`);
});
afterAll(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function run(name: string, args: string[], env: Record<string, string | undefined> = {}, code = 0) {
  const r: CliResult = await runScript(name, args, { env: { ...h.env, ...env }, timeoutMs: 60_000 });
  expect(r.code, `${name} ${args.join(' ')}: ${r.stderr}`).toBe(code);
  return r;
}

const log = () => createAuditLog({ redis: h.redis, keys: createKeys(h.prefix) });
const entries = () => log().read();
const pairs = (list: AuditEntry[]) => list.map((e) => [e.action, e.actor, e.campaignId]);

/** Adds a dead letter for the campaign's first chunk, as a worker would. */
async function deadLetter(): Promise<void> {
  const keys = createKeys(h.prefix);
  const [chunkId] = [...(await createCampaignStore(h.redis, keys).chunks(campaign.id)).keys()];
  const q = createDeadLetterQueue(h.redis, keys);
  try {
    await q.add('dead', {
      campaignId: campaign.id,
      chunkId: chunkId!,
      slots: [0],
      sourceJobId: `${campaign.id}.${chunkId}`,
      attempts: 1,
      lastError: 'HTTP 500',
      deadLetteredAt: new Date().toISOString(),
    });
  } finally {
    await q.close();
  }
}

describe('the audit log of the commands', { timeout: 300_000 }, () => {
  it('every changing command records one entry with the actor of --by; purge keeps them', async () => {
    const path = writeCampaignFile(dir, campaign);
    const id = campaign.id;
    const list = join(dir, 'lista.txt');
    await run('unit', ['activate', testUnit.hsaId, '--name', testUnit.name, '--by', 'Bo Drift']);
    await run('enqueue', ['--campaign', path, '--dry-run', '--by', 'Cia Handläggare', list]);
    await run('enqueue', ['--campaign', path, '--paused', '--by', 'Cia Handläggare', list]);
    const test = await run('campaign', ['test-send', id, '--to', join(dir, 'test.txt'), '--by', 'Dan']);
    expect(test.stdout).toContain('19121212-****');
    await run('campaign', ['pause', id, '--reason', 'fel text i meddelandet', '--by', 'Eva']);
    await run('campaign', ['resume', id, '--by', 'Fia']);
    await deadLetter();
    await run('dlq', ['redrive', '--campaign', id, '--by', 'Gun']);
    await deadLetter();
    await run('dlq', ['discard', '--campaign', id, '--by', 'Hans']);
    await run('campaign', ['cancel', id, '--reason', 'stopp', '--by', 'Ida']);
    const report = await run('report', ['--campaign', id, '--out', join(dir, 'report'), '--by', 'Jon']);
    expect(report.stdout).toContain('recipients.csv');
    await run('campaign', ['purge', id, '--by', 'Kim']);
    await run('unit', ['deactivate', testUnit.hsaId, '--by', 'Bo Drift']);
    await run('campaign', ['acl', id, '--password-file', join(dir, 'pw'), '--by', 'Lars']);

    expect(pairs(await entries())).toEqual([
      ['unit.activate', 'Bo Drift', ''],
      ['approve', 'Kommunikatör Test', id],
      ['enqueue', 'Cia Handläggare', id],
      ['enqueue', 'Cia Handläggare', id],
      ['test-send', 'Dan', id],
      ['pause', 'Eva', id],
      ['resume', 'Fia', id],
      ['dlq.redrive', 'Gun', id],
      ['dlq.discard', 'Hans', id],
      ['cancel', 'Ida', id],
      ['report', 'Jon', id],
      ['purge', 'Kim', id],
      ['unit.deactivate', 'Bo Drift', ''],
      ['acl', 'Lars', id],
    ]);
    const byAction = new Map((await entries()).map((e) => [e.action, e]));
    expect(byAction.get('unit.activate')!.details).toEqual({ hsaId: testUnit.hsaId, name: testUnit.name });
    expect(byAction.get('approve')!.details).toEqual({
      contentSha256: campaign.approval!.contentSha256,
      approvedAt: campaign.approval!.approvedAt,
    });
    const [dry, real] = (await entries()).filter((e) => e.action === 'enqueue');
    expect(dry!.details).toMatchObject({ status: 'dry-run', dryRun: true, jobs: 1, fileCount: 1 });
    expect(real!.details).toMatchObject({
      status: 'enqueued',
      paused: true,
      recipients: { total: 30, valid: 30, invalid: 0, duplicates: 0 },
      files: [{ name: 'lista.txt', valid: 30, jobs: 1, status: 'new' }],
    });
    expect(byAction.get('test-send')!.details).toEqual({ count: 1, outcomes: { delivered: 1 } });
    expect(byAction.get('pause')!.details).toMatchObject({ reason: 'fel text i meddelandet' });
    expect(byAction.get('dlq.redrive')!.details).toEqual({ jobs: 1, recipients: 0 });
    expect(byAction.get('dlq.discard')!.details).toEqual({ letters: 1, recipients: 1 });
    expect(byAction.get('cancel')!.details).toEqual({ reason: 'stopp', cancelled: 30 });
    expect(byAction.get('report')!.details).toMatchObject({
      files: [
        'report.json',
        'report.md',
        'report.html',
        'recipients.csv',
        'brev-mottagare.csv',
        'journal.csv',
      ],
      personalData: true,
      personalDataFiles: ['recipients.csv', 'brev-mottagare.csv', 'journal.csv'],
    });
    expect(byAction.get('purge')!.details).toMatchObject({ force: false, deadLettersRemoved: 0 });
    expect(byAction.get('acl')!.details).toEqual({ user: `utskick-case-${id}` });

    // The purge removed the personal data and kept the audit log; nothing in it (or anywhere) is a personnummer.
    expect(await h.redis.exists(createKeys(h.prefix).chunks(id))).toBe(0);
    expectNoPersonnummer(await dumpPrefix(h.redis, h.prefix), [...numbers, '191212121212']);
    expectNoDigitRuns([JSON.stringify(await h.redis.xrange(createKeys(h.prefix).auditLog(), '-', '+'))]);

    // The same through npm run audit: JSON, and one printable line per entry.
    const json = JSON.parse((await run('audit', ['--campaign', id, '--json'])).stdout) as AuditEntry[];
    expect(json).toEqual((await entries()).filter((e) => e.campaignId === id));
    const human = (await run('audit', [])).stdout.trimEnd().split('\n');
    expect(human).toHaveLength(14);
    expect(human[5]).toMatch(/^\S+Z {2}Eva {2}pause {2}audit-cli-a {2}\{"reason":"fel text i meddelandet"/);
    expect(human[0]).toContain('  unit.activate  -  ');
  });

  it('refused and rejected enqueues are recorded with the reason', async () => {
    const other = makeCampaign({ id: 'audit-cli-b' });
    const path = writeCampaignFile(tempDir('audit-cli-b'), other);
    const list = join(dir, 'lista.txt');
    const inactive = await run('enqueue', ['--campaign', path, '--by', 'Cia', list], {}, 1);
    expect(inactive.stderr).toContain('is not active');
    await run('unit', ['activate', testUnit.hsaId, '--name', testUnit.name, '--by', 'Bo']);
    writeFileSync(join(dir, 'fel.txt'), `${numbers[0]}\n19121332-1212\n`);
    await run('enqueue', ['--campaign', path, '--by', 'Cia', join(dir, 'fel.txt')], {}, 1);
    const mine = (await entries()).filter((e) => e.campaignId === other.id);
    expect(pairs(mine)).toEqual([
      ['approve', 'Kommunikatör Test', other.id],
      ['enqueue', 'Cia', other.id],
      ['enqueue', 'Cia', other.id],
    ]);
    expect(mine[1]!.details).toMatchObject({
      status: 'refused',
      code: 'UNIT_INACTIVE',
      reason: expect.stringContaining(`sending unit ${testUnit.hsaId} is not active`),
    });
    expect(mine[2]!.details).toMatchObject({ status: 'rejected', problemCodes: { DATE: 1 } });
    expectNoPersonnummer([JSON.stringify(mine)], numbers);
  });

  it('--by defaults to the OS user and is checked; a bad one changes nothing', async () => {
    const other = makeCampaign({ id: 'audit-cli-c' });
    const path = writeCampaignFile(tempDir('audit-cli-c'), other);
    await run('enqueue', ['--campaign', path, join(dir, 'lista.txt')]);
    await run('campaign', ['pause', other.id]);
    const before = await entries();
    expect(before.at(-1)).toMatchObject({ action: 'pause', actor: userInfo().username });
    for (const by of ['', ' ', 'a\u001b[2Jb', 'x'.repeat(201), 'rtl\u202eevil']) {
      const r = await run('campaign', ['resume', other.id, '--by', by], {}, 2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^campaign: --by: /);
    }
    expect(await entries()).toHaveLength(before.length);
    expect((await createCampaignStore(h.redis, createKeys(h.prefix)).state(other.id))?.state).toBe('paused');
  });

  it('writes each entry as a pino line to AUDIT_LOG_FILE, and nothing to the terminal without it', async () => {
    const file = join(dir, 'audit.log');
    writeFileSync(file, '');
    const r = await run('campaign', ['resume', 'audit-cli-c', '--by', 'Nils'], { AUDIT_LOG_FILE: file });
    expect(r.stderr).toBe('');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 30,
      audit: true,
      actor: 'Nils',
      action: 'resume',
      campaignId: 'audit-cli-c',
    });
    const quiet = await run('campaign', ['pause', 'audit-cli-c', '--by', 'Nils']);
    expect(quiet.stderr).toBe('');
  });

  it('campaign acl without a reachable Redis prints the rule and a one-line note', async () => {
    const r = await run('campaign', ['acl', 'audit-cli-d', '--password-file', join(dir, 'pw-d')], {
      REDIS_URL: undefined,
    });
    expect(r.stdout).toContain('ACL SETUSER utskick-case-audit-cli-d');
    expect(r.stdout).toContain(`(~${h.prefix}-audit:log resetchannels -@all +xadd +xrange +xrevrange +xlen)`);
    expect(r.stderr).toBe('campaign: note: not recorded in the audit log (REDIS_URL is not set)\n');
    const closed = await run(
      'campaign',
      ['acl', 'audit-cli-e', '--password-file', join(dir, 'pw-e'), '--json'],
      { REDIS_URL: 'redis://127.0.0.1:1' },
    );
    expect(JSON.parse(closed.stdout)).toMatchObject({ user: 'utskick-case-audit-cli-e' });
    expect(closed.stderr).toMatch(/^campaign: note: not recorded in the audit log \(.+\)\n$/);
  });

  it('npm run audit: bad arguments exit 2, an unknown campaign exits 1, --since filters', async () => {
    const bad: [string[], RegExp][] = [
      [['--campaign', 'a b*'], /^audit: --campaign: not a campaign id/],
      [['--since', 'yesterday'], /^audit: --since: not an ISO time/],
      [['--since', '2026-13-45'], /^audit: --since: not an ISO time/],
      [['--trim', '--json'], /^audit: --trim takes no other option/],
      [['--nope'], /^audit: Unknown option/],
    ];
    for (const [args, message] of bad) {
      const r = await run('audit', args, {}, 2);
      expect(r.stderr.split('\n')[0]).toMatch(message);
    }
    const unknown = await run('audit', ['--campaign', 'finns-inte'], {}, 1);
    expect(unknown.stderr).toBe('audit: no audit entries and no campaign with id finns-inte\n');
    const future = await run('audit', ['--campaign', 'audit-cli-a', '--since', '2999-01-01']);
    expect(future.stdout).toBe('no audit entries\n');
    const all = await entries();
    const since = all.at(-2)!.at;
    const recent = JSON.parse((await run('audit', ['--since', since, '--json'])).stdout) as AuditEntry[];
    expect(recent.length).toBeGreaterThanOrEqual(2);
    expect(recent.length).toBeLessThan(all.length);
  });
});
