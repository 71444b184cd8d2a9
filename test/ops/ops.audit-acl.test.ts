/**
 * The audit log under config/redis-users.acl, against a real redis-server
 * started with that file: the worker, the case handler and operations may only
 * append to it (the latter two also read it), never DEL, UNLINK, XTRIM, XDEL,
 * RENAME or expire it; only utskick-audit-retention trims it, through
 * `npm run audit -- --trim`, and it may do nothing else.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditSelector, caseHandlerAcl } from '../../src/queue/acl.js';
import { createKeys } from '../../src/queue/keys.js';
import { type CliResult, runScript } from '../helpers/cli.js';
import { type AclRedis, type AclUser, startAclRedis } from './acl-redis.js';

const keys = createKeys('utskick');
const audit = keys.auditLog();
const day = 86_400_000;
let acl: AclRedis;

beforeAll(async () => {
  acl = await startAclRedis();
});
afterAll(async () => {
  await acl?.close();
});

async function answer(r: Redis, cmd: string, ...args: (string | number)[]): Promise<string> {
  return r.call(cmd, ...args).then(
    (v) => `ok ${JSON.stringify(v)}`,
    (e: Error) => e.message,
  );
}

/** Every way to remove or shorten the stream, refused. */
async function cannotRemove(r: Redis, who: string): Promise<void> {
  await acl.admin.set('utskick:campaign:x:probe', '1');
  const attempts: [string, ...(string | number)[]][] = [
    ['DEL', audit],
    ['UNLINK', audit],
    ['XTRIM', audit, 'MAXLEN', 0],
    ['XTRIM', audit, 'MINID', Date.now()],
    ['XDEL', audit, '1-1'],
    ['RENAME', audit, 'utskick:campaign:x:moved'],
    ['RENAME', 'utskick:campaign:x:probe', audit],
    ['EXPIRE', audit, 1],
    ['XSETID', audit, '9999999999999-0'],
    ['COPY', 'utskick:campaign:x:probe', audit, 'REPLACE'],
  ];
  for (const [cmd, ...args] of attempts)
    expect(await answer(r, cmd, ...args), `${who}: ${cmd} ${args.join(' ')}`).toMatch(/^NOPERM/);
  for (const script of [
    "return redis.call('DEL', KEYS[1])",
    "return redis.call('XTRIM', KEYS[1], 'MAXLEN', 0)",
  ])
    expect(await answer(r, 'EVAL', script, 1, audit), `${who}: ${script}`).toMatch(/NOPERM|can't access/);
}

async function as(user: AclUser, args: string[], code: number): Promise<CliResult> {
  const r = await runScript('audit', args, {
    env: { ...acl.env(user), UTSKICK_PREFIX: 'utskick' },
    timeoutMs: 45_000,
  });
  expect(r.code, `${user}: audit ${args.join(' ')}: ${r.stderr}`).toBe(code);
  return r;
}

describe('the audit log under the ACL file', { timeout: 120_000 }, () => {
  it('the ACL file grants exactly the selectors src/queue/acl.ts describes', () => {
    const text = readFileSync(resolve(import.meta.dirname, '../../config/redis-users.acl'), 'utf8');
    const line = (user: string) => text.split('\n').find((l) => l.startsWith(`user ${user} `))!;
    expect(line('utskick-worker').endsWith(` ${auditSelector(keys, 'append')}`)).toBe(true);
    expect(line('utskick-enqueue').endsWith(` ${auditSelector(keys, 'append-read')}`)).toBe(true);
    expect(line('utskick-ops').endsWith(` ${auditSelector(keys, 'append-read')}`)).toBe(true);
    expect(line('utskick-audit-retention')).toMatch(
      / resetkeys ~utskick-audit:log resetchannels -@all \+xtrim \+xrange \+xrevrange \+xlen /,
    );
    // The root patterns of the writers never match the audit key.
    expect(audit).toBe('utskick-audit:log');
  });

  it('writers append and cannot remove; the worker cannot read; handler and ops read', async () => {
    for (const user of ['utskick-worker', 'utskick-enqueue', 'utskick-ops'] as const) {
      const r = await acl.as(user);
      expect(await r.xadd(audit, '*', 'actor', user, 'action', 'pause')).toMatch(/^\d+-\d+$/);
      await cannotRemove(r, user);
      const read = [await answer(r, 'XRANGE', audit, '-', '+'), await answer(r, 'XLEN', audit)];
      if (user === 'utskick-worker') for (const a of read) expect(a).toMatch(/^NOPERM/);
      else for (const a of read) expect(a).toMatch(/^ok /);
      if (user !== 'utskick-worker')
        expect(await answer(r, 'XREVRANGE', audit, '+', '-', 'COUNT', 1)).toMatch(/^ok /);
    }
    expect(await acl.admin.xlen(audit)).toBe(3);
  });

  it("a campaign's case-handler user (campaign acl) appends and reads, and cannot remove", async () => {
    const rule = caseHandlerAcl(keys, 'kampanj-a');
    expect(await acl.admin.call('ACL', 'SETUSER', rule.user, ...rule.rule)).toBe('OK');
    const r = new Redis({ port: acl.port, host: '127.0.0.1', username: rule.user, password: rule.password });
    r.on('error', () => {});
    try {
      expect(await r.xadd(audit, '*', 'actor', 'case', 'action', 'enqueue')).toMatch(/^\d+-\d+$/);
      expect(await answer(r, 'XLEN', audit)).toMatch(/^ok /);
      await cannotRemove(r, rule.user);
    } finally {
      r.disconnect();
    }
  });

  it('only the retention user trims, by AUDIT_RETENTION_DAYS through npm run audit -- --trim', async () => {
    const retention = await acl.as('utskick-audit-retention');
    for (const [cmd, ...args] of [
      ['XADD', audit, '*', 'a', 'b'],
      ['DEL', audit],
      ['UNLINK', audit],
      ['XDEL', audit, '1-1'],
      ['GET', 'utskick:campaign:x'],
      ['HGETALL', 'utskick:campaign:kampanj-a'],
      ['SCAN', '0'],
    ] as [string, ...string[]][])
      expect(await answer(retention, cmd, ...args), cmd).toMatch(/^NOPERM/);
    expect(await answer(retention, 'XRANGE', audit, '-', '+', 'COUNT', 1)).toMatch(/^ok /);

    // Stream ids only grow: the admin rebuilds the stream with entries 11 years, 10 days and 0 days old.
    const nowMs = Date.now();
    await acl.admin.del(audit);
    await acl.admin.xadd(audit, `${nowMs - 4000 * day}-0`, 'actor', 'x', 'action', 'pause');
    await acl.admin.xadd(audit, `${nowMs - 4000 * day}-1`, 'actor', 'x', 'action', 'resume');
    await acl.admin.xadd(audit, `${nowMs - 10 * day}-0`, 'actor', 'x', 'action', 'cancel');
    await acl.admin.xadd(audit, '*', 'actor', 'x', 'action', 'purge');

    const refused = await as('utskick-ops', ['--trim'], 2);
    expect(refused.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain('may not do what this command needs (NOPERM');
    expect(await acl.admin.xlen(audit)).toBe(4);
    const trimmed = await as('utskick-audit-retention', ['--trim'], 0);
    expect(trimmed.stdout).toMatch(
      /^audit log: entries older than \S+Z removed: 2 \(AUDIT_RETENTION_DAYS 3650\)\n$/,
    );
    expect(await acl.admin.xlen(audit)).toBe(2);
    const short = await runScript('audit', ['--trim'], {
      env: { ...acl.env('utskick-audit-retention'), AUDIT_RETENTION_DAYS: '1' },
      timeoutMs: 45_000,
    });
    expect(short.code, short.stderr).toBe(0);
    expect(short.stdout).toMatch(
      /^audit log: entries older than \S+Z removed: 1 \(AUDIT_RETENTION_DAYS 1\)\n$/,
    );
    expect((await acl.admin.xrange(audit, '-', '+')).map(([, f]) => f[3])).toEqual(['purge']);
  });

  it('ops and the case handler read it with npm run audit; the worker may not', async () => {
    for (const user of ['utskick-ops', 'utskick-enqueue'] as const) {
      const r = await as(user, ['--json'], 0);
      expect((JSON.parse(r.stdout) as unknown[]).length).toBeGreaterThan(0);
    }
    const worker = await as('utskick-worker', ['--json'], 2);
    expect(worker.stderr.split('\n')[0]).toContain('NOPERM');
  });
});
