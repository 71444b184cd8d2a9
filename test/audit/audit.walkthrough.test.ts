/**
 * The routine end to end, each step by another person: approve (A), unit
 * activate (B), enqueue (C), pause (D), resume (E), a worker delivers, report
 * (F), purge (G). The campaign's audit log then lists approve, enqueue, pause,
 * resume, report, purge in that order with those actors; the unit's
 * activation has no campaign (campaignId ''), so it is in the full log only.
 * The report shows the log; the purge keeps it.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/audit/audit-log.js';
import { makeCampaign, tempDir, testUnit } from '../helpers/campaign.js';
import { runScript } from '../helpers/cli.js';
import { syntheticList } from '../helpers/personnummer.js';
import { dumpPrefix } from '../helpers/redis.js';
import { type Harness, openHarness } from '../helpers/workers.js';
import { expectNoDigitRuns, expectNoPersonnummer } from './leak-scan.js';

let h: Harness;
let dir: string;

beforeAll(async () => {
  h = await openHarness('audit-walkthrough');
  dir = tempDir('audit-walkthrough');
});
afterAll(async () => {
  await h?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function run(name: string, args: string[]) {
  const r = await runScript(name, args, { env: h.env, timeoutMs: 60_000 });
  expect(r.code, `${name} ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
}

describe('the audit walkthrough', { timeout: 180_000 }, () => {
  it('lists who approved, enqueued, paused, resumed, reported and purged, in order', async () => {
    const {
      approval: _a,
      regionWide: _r,
      allowCoordinationNumbers: _c,
      ...unapproved
    } = makeCampaign({
      id: 'audit-walkthrough',
    });
    const id = unapproved.id;
    const path = join(dir, 'kampanj.json');
    writeFileSync(path, JSON.stringify(unapproved, null, 2));
    const numbers = syntheticList(60, 350_000);
    writeFileSync(join(dir, 'lista.txt'), numbers.join('\n'));

    await run('approve', [path, '--by', 'A Kommunikatör']);
    await run('unit', ['activate', testUnit.hsaId, '--name', testUnit.name, '--by', 'B Drift']);
    await run('enqueue', ['--campaign', path, '--by', 'C Handläggare', join(dir, 'lista.txt')]);
    await run('campaign', ['pause', id, '--reason', 'kontroll', '--by', 'D Drift']);
    await run('campaign', ['resume', id, '--by', 'E Drift']);
    await h.startWorker();
    await h.waitDone(id, numbers.length);
    const out = join(dir, 'rapport');
    await run('report', ['--campaign', id, '--out', out, '--by', 'F Handläggare']);
    await run('campaign', ['purge', id, '--by', 'G Drift']);

    const list = JSON.parse((await run('audit', ['--campaign', id, '--json'])).stdout) as AuditEntry[];
    expect(list.map((e) => [e.action, e.actor])).toEqual([
      ['approve', 'A Kommunikatör'],
      ['enqueue', 'C Handläggare'],
      ['pause', 'D Drift'],
      ['resume', 'E Drift'],
      ['report', 'F Handläggare'],
      ['purge', 'G Drift'],
    ]);
    for (const e of list) {
      expect(Object.keys(e)).toEqual(['at', 'actor', 'action', 'campaignId', 'details']);
      expect(e.campaignId).toBe(id);
    }
    const times = list.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const all = JSON.parse((await run('audit', ['--json'])).stdout) as AuditEntry[];
    expect(all.filter((e) => e.action === 'unit.activate')).toMatchObject([
      { actor: 'B Drift', campaignId: '', details: { hsaId: testUnit.hsaId } },
    ]);

    // The report written before the purge shows the log so far: approve to resume.
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('## Händelselogg');
    for (const who of ['A Kommunikatör', 'C Handläggare', 'D Drift', 'E Drift']) expect(md).toContain(who);
    expect(md).toMatch(/\| Pausat `pause` \| orsak: kontroll \|/);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html.match(/data-audit-action="([a-z.-]+)"/g)).toEqual([
      'data-audit-action="approve"',
      'data-audit-action="enqueue"',
      'data-audit-action="pause"',
      'data-audit-action="resume"',
    ]);
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { auditLog: AuditEntry[] };
    expect(json.auditLog.map((e) => e.action)).toEqual(['approve', 'enqueue', 'pause', 'resume']);

    expectNoPersonnummer(await dumpPrefix(h.redis, h.prefix), numbers);
    expectNoDigitRuns([JSON.stringify(await h.redis.xrange(`${h.prefix}-audit:log`, '-', '+'))]);
    for (const f of ['report.md', 'report.html', 'report.json'])
      expectNoPersonnummer([readFileSync(join(out, f), 'utf8')], numbers);
  });
});
