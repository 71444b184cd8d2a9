/**
 * `npm run approve` as a real child process: it writes the approval block, the
 * result passes enqueue, and a later edit of the body makes enqueue refuse.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentSha256 } from '../../src/campaign/approval.js';
import { parseCampaign } from '../../src/campaign/load.js';
import type { EnqueueResult } from '../../src/queue/enqueue.js';
import { createKeys } from '../../src/queue/keys.js';
import { activateUnit } from '../../src/queue/units.js';
import { recipientText } from '../helpers/archives.js';
import { makeCampaign, tempDir, testDataKey, testSourceSystem, testUnit } from '../helpers/campaign.js';
import { runScript } from '../helpers/cli.js';
import { syntheticList } from '../helpers/personnummer.js';
import { connect, deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const dir = tempDir('approve-cli');
const prefix = uniquePrefix('approve-cli');
let redis: Redis;

beforeAll(async () => {
  redis = connect();
  await activateUnit(redis, createKeys(prefix), { ...testUnit, activatedAt: new Date().toISOString() });
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
});

const env = {
  REDIS_URL: redisUrl(),
  UTSKICK_PREFIX: prefix,
  UTSKICK_DATA_KEY: testDataKey,
  INBOX_SOURCE_SYSTEM: testSourceSystem,
};
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

/** A campaign file as a case handler writes it: no defaults filled in, maybe an old approval. */
function campaignFile(name: string, extra: Record<string, unknown> = {}): string {
  const { approval: _a, regionWide: _r, allowCoordinationNumbers: _c, ...rest } = makeCampaign();
  const path = join(dir, name);
  writeFileSync(path, `${JSON.stringify({ ...rest, ...extra }, null, 2)}\n`);
  return path;
}

describe.concurrent('approve CLI', { timeout: 120_000 }, () => {
  it('writes the approval block; enqueue accepts the file; an edited body is then refused', async () => {
    const stale = {
      approvedBy: 'Någon Annan',
      approvedAt: '2020-01-01T00:00:00Z',
      contentSha256: 'a'.repeat(64),
    };
    const path = campaignFile('campaign.json', { approval: stale });
    const before = readJson(path);
    const startedMs = Date.now();
    const approved = await runScript('approve', [path, '--by', '  Kommunikatör Test '], {
      env,
      timeoutMs: 45_000,
    });
    expect(approved.code, approved.stderr).toBe(0);

    const after = readJson(path);
    const campaign = parseCampaign(after, path);
    const approval = after.approval as Record<string, string>;
    expect(approval.approvedBy).toBe('Kommunikatör Test');
    expect(approval.contentSha256).toBe(contentSha256(campaign));
    expect(approval.platformApprovalRef).toBeUndefined();
    const at = Date.parse(approval.approvedAt!);
    expect(at).toBeGreaterThanOrEqual(startedMs - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 1000);
    // Everything else is left exactly as written (no defaults added, the stale block replaced).
    const { approval: _old, ...rest } = before;
    const { approval: _new, ...restAfter } = after;
    expect(restAfter).toEqual(rest);
    // The communicator sees the message as the resident will, then the approval.
    expect(approved.stdout).toBe(
      'The message as the resident will see it in 1177:\n\n' +
        '  | Meddelande — Provsvar\n  | =====================\n  |\n  | Ditt provsvar finns i 1177.\n  |\n' +
        '  | Avsändare Test, Verksamhetschef, Region Test – Vårdcentralen Test\n\n' +
        `approved ${campaign.id} by Kommunikatör Test at ${approval.approvedAt} (content sha256 ${approval.contentSha256!.slice(0, 12)}…)\n`,
    );

    const numbers = syntheticList(3, 90_000);
    const list = join(dir, 'lista.txt');
    writeFileSync(list, recipientText(numbers));
    const enqueued = await runScript('enqueue', ['--campaign', path, '--json', list], {
      env,
      timeoutMs: 45_000,
    });
    expect(enqueued.code, enqueued.stderr).toBe(0);
    const result = JSON.parse(enqueued.stdout) as EnqueueResult;
    expect(result).toMatchObject({ campaignId: campaign.id, status: 'enqueued', enqueued: 1 });

    // The body changes after approval: enqueue refuses, naming the fields and who approved what.
    writeFileSync(
      path,
      JSON.stringify({ ...after, message: { ...(after.message as object), body: 'En helt annan text.' } }),
    );
    const refused = await runScript('enqueue', ['--campaign', path, '--json', list], {
      env,
      timeoutMs: 45_000,
    });
    expect(refused.code).toBe(2);
    // With --json, the refusal is also one JSON object on stdout.
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: { code: 'CAMPAIGN' } });
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain(`campaign ${campaign.id} cannot be sent`);
    expect(refused.stderr).toContain(
      `the message (subject, body, inbox title, or the sender and unit in its signature) changed after Kommunikatör Test approved it at ${approval.approvedAt}`,
    );
    for (const n of numbers) {
      for (const out of [approved, enqueued, refused])
        expect(`${out.stdout}${out.stderr}`).not.toContain(n.slice(2));
    }
  });

  it('--preview prints the rendered message (sections, term/value lists, links) and writes nothing', async () => {
    const body =
      'Du erbjuds vaccination.\n\n## Så bokar du\n\nBoka på [1177](https://www.1177.se).\n\n- Telefon: 018-611 00 00\n- Öppet: vardagar';
    const path = campaignFile('preview.json', {
      message: { subject: 'Vaccination', body, inboxTitle: 'Erbjudande', notify: true },
    });
    const before = readFileSync(path, 'utf8');
    const shown = await runScript('approve', [path, '--preview'], { env, timeoutMs: 45_000 });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('  | Erbjudande — Vaccination');
    expect(shown.stdout).toContain('  | Så bokar du');
    expect(shown.stdout).toContain('  | Boka på 1177 <https://www.1177.se>.');
    expect(shown.stdout).toContain('  | Telefon: 018-611 00 00');
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('refuses a body the inbox cannot show, naming the line, and writes nothing', async () => {
    const body = 'Hej.\n\n### För djup rubrik\n\nText.';
    const path = campaignFile('deep.json', { message: { subject: 'S', body, notify: true } });
    const before = readFileSync(path, 'utf8');
    const refused = await runScript('approve', [path, '--by', 'K'], { env, timeoutMs: 45_000 });
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toContain('message.body: line 3: only one heading level');
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('--platform-ref is written for a region-wide mailing', async () => {
    const path = campaignFile('region.json', { regionWide: true });
    const result = await runScript('approve', [path, '--by', 'K', '--platform-ref', 'INERA-2026-17'], {
      env,
      timeoutMs: 45_000,
    });
    expect(result.code, result.stderr).toBe(0);
    expect((readJson(path).approval as Record<string, string>).platformApprovalRef).toBe('INERA-2026-17');
  });

  it('refuses an invalid campaign, naming the field, and leaves the file alone', async () => {
    const path = campaignFile('broken.json', { unit: { hsaId: 'SE-1', name: 'X' } });
    const before = readFileSync(path, 'utf8');
    const result = await runScript('approve', [path, '--by', 'K'], { env, timeoutMs: 45_000 });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `approve: ${path}: unit.hsaId: must be an HSA-id such as SE2321000032-1003`,
    );
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('a file holding null (not a campaign) is a clear exit 2, not a crash', async () => {
    const path = join(dir, 'null.json');
    writeFileSync(path, 'null\n');
    const result = await runScript('approve', [path, '--by', 'K'], { env, timeoutMs: 45_000 });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `approve: ${path}: (top level): Invalid input: expected object, received null`,
    );
    expect(readFileSync(path, 'utf8')).toBe('null\n');
  });
});
