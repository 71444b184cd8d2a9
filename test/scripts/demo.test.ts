import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runEntry } from '../../scripts/lib/processes.js';
import { tempDir } from '../helpers/campaign.js';
import { redisUrl } from '../helpers/redis.js';

const out = tempDir('demo-out');
afterAll(() => rm(out, { recursive: true, force: true }));

describe('npm run demo', () => {
  it('runs the whole routine and writes a report whose totals equal the generated recipients', async () => {
    const r = await runEntry('scripts/demo.ts', ['--recipients', '300', '--rate', '0', '--out', out], {
      REDIS_URL: redisUrl(),
    });
    expect(r.code, r.stderr).toBe(0);
    const path = r.stdout.match(/Open (\S+report\.html)/)?.[1];
    expect(path).toBeDefined();
    const json = JSON.parse(await readFile(join(path!, '..', 'report.json'), 'utf8'));
    expect(json.recipients.valid).toBe(300);
    expect(json.recipients.invalid).toBe(2);
    const sum = Object.values(json.outcomes as Record<string, number>).reduce((a, b) => a + b, 0);
    expect(sum).toBe(300);
    expect(json.outcomes.pending).toBe(0);
    expect(json.outcomes.unreachable).toBeGreaterThan(0);
    // Nothing it started is left behind: it says it stopped, and its output holds no full personnummer.
    expect(r.stdout + r.stderr).not.toMatch(/\b(19|20)\d{6}-?\d{4}\b/);
  }, 90_000);

  it('without a Redis: one paragraph saying what it tried and the two ways to get one, exit 1, no stack trace', async () => {
    const r = await runEntry('scripts/demo.ts', ['--out', out], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^demo: Nothing answers at REDIS_URL=redis:\/\/127\.0\.0\.1:1\/?\.\n/);
    expect(r.stderr).toContain('docker compose -f config/compose.dev.yml up -d redis');
    expect(r.stderr).toContain('apt-get install redis-server');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 30_000);
});
