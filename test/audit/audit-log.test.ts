/**
 * The audit log module against real Redis: entries in time order, filtered by
 * campaign and time, trimmed by their own retention only, and guarded so that
 * no personnummer, password or message text is ever stored or logged.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditError, type AuditLog, createAuditLog } from '../../src/audit/audit-log.js';
import { auditString, guardDetails } from '../../src/audit/sanitise.js';
import { createKeys, type Keys } from '../../src/queue/keys.js';
import { syntheticPnr } from '../helpers/personnummer.js';
import { connect, deletePrefix, dumpPrefix, uniquePrefix } from '../helpers/redis.js';
import { expectNoPersonnummer } from './leak-scan.js';

let redis: Redis;
const prefix = uniquePrefix('audit-log');
const keys: Keys = createKeys(prefix);

beforeAll(() => {
  redis = connect();
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

function collectingLogger() {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: { info: (obj: Record<string, unknown>) => void lines.push(obj) } };
}

describe('the audit log stream', () => {
  it('lies outside the prefix the ACL root permissions match', () => {
    expect(keys.auditLog()).toBe(`${prefix}-audit:log`);
    expect(keys.auditLog().startsWith(`${prefix}:`)).toBe(false);
  });

  it('records entries in time order, reads them by campaign and since a time, and logs each once', async () => {
    const { lines, logger } = collectingLogger();
    const log = createAuditLog({ redis, keys, logger });
    const a = await log.record({ actor: 'Anna', action: 'approve', campaignId: 'kampanj-a', details: {} });
    await log.record({ actor: 'Bo', action: 'unit.activate', details: { hsaId: 'SE2321000032-1003' } });
    const middleMs = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    await log.record({ actor: 'Cia', action: 'pause', campaignId: 'kampanj-a', details: { reason: 'fel' } });
    await log.record({ actor: 'Dan', action: 'pause', campaignId: 'kampanj-b', details: { reason: 'x' } });

    expect(a).toMatchObject({ actor: 'Anna', action: 'approve', campaignId: 'kampanj-a', details: {} });
    expect(Date.parse(a.at)).toBeGreaterThan(0);
    const all = await log.read();
    expect(all.map((e) => e.actor)).toEqual(['Anna', 'Bo', 'Cia', 'Dan']);
    expect(all[1]).toMatchObject({ campaignId: '', details: { hsaId: 'SE2321000032-1003' } });
    expect((await log.read({ campaignId: 'kampanj-a' })).map((e) => e.actor)).toEqual(['Anna', 'Cia']);
    expect((await log.read({ sinceMs: middleMs + 1 })).map((e) => e.actor)).toEqual(['Cia', 'Dan']);
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatchObject({ audit: true, actor: 'Cia', action: 'pause', campaignId: 'kampanj-a' });
  });

  it('reads past one page of entries', async () => {
    const own = createKeys(uniquePrefix('audit-pages'));
    const log = createAuditLog({ redis, keys: own });
    try {
      for (let i = 0; i < 1203; i++) await log.record({ actor: `a${i}`, action: 'resume', campaignId: 'k' });
      const entries = await log.read({ campaignId: 'k' });
      expect(entries).toHaveLength(1203);
      expect(entries.at(-1)!.actor).toBe('a1202');
    } finally {
      await redis.del(own.auditLog());
    }
  }, 30_000);

  it('trims by its own retention (XTRIM MINID by time) and keeps everything younger', async () => {
    const own = createKeys(uniquePrefix('audit-trim'));
    const log = createAuditLog({ redis, keys: own });
    const day = 86_400_000;
    const nowMs = Date.now();
    try {
      // Entries 11 years, 9 years and 1 day old (ids are their times).
      for (const ageDays of [4018, 3287, 1])
        await redis.xadd(own.auditLog(), `${nowMs - ageDays * day}-0`, 'actor', `age-${ageDays}`);
      expect(await log.trim(3650, nowMs)).toBe(1);
      expect((await log.read()).map((e) => e.actor)).toEqual(['age-3287', 'age-1']);
      expect(await log.trim(2, nowMs)).toBe(1);
      expect((await log.read()).map((e) => e.actor)).toEqual(['age-1']);
      await expect(log.trim(0, nowMs)).rejects.toThrow(AuditError);
    } finally {
      await redis.del(own.auditLog());
    }
  });

  it('refuses an unknown action, an id that is no campaign id, and an empty actor', async () => {
    const log = createAuditLog({ redis, keys });
    const bad = [
      { actor: 'x', action: 'delete-everything' as 'pause' },
      { actor: 'x', action: 'pause' as const, campaignId: 'a b*' },
      { actor: '  ', action: 'pause' as const },
    ];
    for (const input of bad) await expect(log.record(input)).rejects.toThrow(AuditError);
  });

  it('assertWritable changes nothing', async () => {
    const own = createKeys(uniquePrefix('audit-probe'));
    await createAuditLog({ redis, keys: own }).assertWritable();
    expect(await redis.exists(own.auditLog())).toBe(0);
  });
});

describe('no personal data in an entry', () => {
  const pnr = syntheticPnr(4711);

  it('masks every run of six or more digits in every string, keeping hashes and HSA-ids', () => {
    expect(auditString(pnr)).toBe('************');
    expect(auditString(`${pnr.slice(0, 8)}-${pnr.slice(8)}`)).toBe('********-****');
    expect(auditString(`fil ${pnr.slice(2, 8)}-${pnr.slice(8)}.txt`)).toBe('fil ******-****.txt');
    expect(auditString('lista-20260301.txt')).toBe('lista-********.txt');
    expect(auditString('SE2321000032-1003')).toBe('SE2321000032-1003');
    expect(auditString(`unit SE2321000032-${pnr}`)).toBe('unit SE2321000032-************');
    const sha = 'a1234567890b'.repeat(5).slice(0, 64).padEnd(64, '0');
    expect(auditString(sha)).toBe(sha);
    expect(auditString('esc \u001b[2J bidi \u202e')).toBe('esc \\x1b[2J bidi \\u202e');
    expect([...auditString('x'.repeat(500))]).toHaveLength(200);
  });

  it('omits keys that name secrets, personal data or message text, and bounds the object', () => {
    const d = guardDetails({
      password: 'hemligt',
      archivePassword: 'hemligt',
      pnr,
      personnummer: pnr,
      body: 'Du erbjuds vaccination',
      numbers: [pnr],
      reason: `typo ${pnr}`,
      nested: { deeper: { deepest: { gone: { x: 1 } } }, list: Array.from({ length: 80 }, (_, i) => i) },
      fn: () => 1,
      nan: Number.NaN,
      'bad key!': 1,
    });
    expect(d.omitted).toEqual([
      'archivePassword',
      'bad key!',
      'body',
      'numbers',
      'password',
      'personnummer',
      'pnr',
    ]);
    expect(d.reason).toBe('typo ************');
    expect((d.nested as { list: number[] }).list).toHaveLength(50);
    expect(d).not.toHaveProperty('fn');
    expect(d).not.toHaveProperty('nan');
    expect(JSON.stringify(d)).not.toContain('hemligt');
    expect(JSON.stringify(d)).not.toContain('vaccination');
  });

  it('stores and logs none: the leak scan over the prefix, audit log included, finds nothing', async () => {
    const own = uniquePrefix('audit-leak');
    const { lines, logger } = collectingLogger();
    const log: AuditLog = createAuditLog({ redis, keys: createKeys(own), logger });
    try {
      await log.record({
        actor: `Anna ${pnr}`,
        action: 'enqueue',
        campaignId: 'kampanj-a',
        details: {
          files: [{ name: `${pnr}.txt` }, { name: `${pnr.slice(2, 8)}-${pnr.slice(8)}.csv` }],
          reason: `line 3: ${pnr.slice(0, 8)}-${pnr.slice(8)}`,
          password: 'hemligt',
        },
      });
      const dump = await dumpPrefix(redis, own);
      expect(dump).toContain(`${own}-audit:log`);
      expectNoPersonnummer([...dump, JSON.stringify(lines)], [pnr]);
      expect(dump.join('\n')).not.toContain('hemligt');
    } finally {
      await deletePrefix(redis, own);
    }
  });
});
