/**
 * A campaign id from a command line is checked with the campaign schema's own
 * pattern before it reaches a Redis key, a job id or an ACL rule: a glob or a
 * space is exit 2 with one line, and nothing connects to Redis (REDIS_URL
 * points at a closed port here: connecting would exit 1).
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseHandlerAcl } from '../../src/queue/acl.js';
import { createKeys } from '../../src/queue/keys.js';
import { tempDir } from '../helpers/campaign.js';
import { runScript } from '../helpers/cli.js';
import { freePort } from '../helpers/global-setup.js';

let env: Record<string, string>;
const dir = tempDir('campaign-ids');
beforeAll(async () => {
  env = { REDIS_URL: `redis://127.0.0.1:${await freePort()}`, UTSKICK_PREFIX: 'utskick' };
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (name: string, args: string[]) => runScript(name, args, { env, timeoutMs: 45_000 });

describe('campaign ids from the command line', { timeout: 120_000 }, () => {
  it('campaign acl refuses a glob or a rule in the id: exit 2, one line, no password file, no rule', async () => {
    const cases = ['*', 'x ~utskick:*', 'utskick:campaign', 'kampanj-?', 'Kampanj'];
    const runs = await Promise.all(
      cases.map((id, i) => run('campaign', ['acl', id, '--password-file', join(dir, `pw-${i}`)])),
    );
    runs.forEach((r, i) => {
      expect(r.code, `${cases[i]}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toBe(
        'campaign: acl ID: not a campaign id (must be a slug: a-z, 0-9 and -, at most 64 characters)\n',
      );
      expect(r.stdout).toBe('');
      expect(existsSync(join(dir, `pw-${i}`))).toBe(false);
    });
  });

  it('campaign acl with a campaign id prints a rule for exactly that campaign, without Redis', async () => {
    const file = join(dir, 'pw-ok');
    const r = await run('campaign', ['acl', 'kampanj-1', '--password-file', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const { user, rule } = JSON.parse(r.stdout) as { user: string; rule: string[] };
    expect(user).toBe('utskick-case-kampanj-1');
    expect(rule).toContain('~utskick:campaign:kampanj-1:*');
    expect(rule.filter((p) => p.startsWith('~utskick:campaign:'))).toEqual([
      '~utskick:campaign:kampanj-1',
      '~utskick:campaign:kampanj-1:*',
    ]);
    expect(existsSync(file)).toBe(true);
  });

  it('campaign, dlq and report refuse a bad id before connecting', async () => {
    const cases: [string, string[], string][] = [
      ['campaign', ['status', '*'], 'campaign: status ID: not a campaign id'],
      ['campaign', ['pause', 'a b'], 'campaign: pause ID: not a campaign id'],
      ['campaign', ['purge', 'utskick:*'], 'campaign: purge ID: not a campaign id'],
      ['campaign', ['purge'], 'campaign: purge ID: a campaign id is required'],
      ['campaign', ['test-send', 'x*', '--to', 'f.txt'], 'campaign: test-send ID: not a campaign id'],
      ['dlq', ['redrive', '--campaign', '*'], 'dlq: redrive --campaign: not a campaign id'],
      ['dlq', ['list', '--campaign', 'a?'], 'dlq: list --campaign: not a campaign id'],
      ['report', ['--campaign', '../x'], 'report: --campaign: not a campaign id'],
    ];
    const runs = await Promise.all(cases.map(([name, args]) => run(name, args)));
    runs.forEach((r, i) => {
      const [name, args, line] = cases[i]!;
      expect(r.code, `${name} ${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr.startsWith(line)).toBe(true);
    });
  });

  it('caseHandlerAcl itself refuses what is not a campaign id', () => {
    const keys = createKeys('utskick');
    expect(() => caseHandlerAcl(keys, '*')).toThrow(TypeError);
    expect(() => caseHandlerAcl(keys, 'x ~utskick:*')).toThrow(TypeError);
    expect(caseHandlerAcl(keys, 'kampanj-1').user).toBe('utskick-case-kampanj-1');
  });
});
