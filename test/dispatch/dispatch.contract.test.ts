/**
 * Delivery by the published meanings of AddMessage 2 (TKB "Ärendeinkorgen"):
 * INFO is a resident who cannot be reached in 1177 (no account, or a locked
 * one) and goes on the letter list; ERROR is a logical error, not stored,
 * called once and never retried; a SOAP Fault is a technical error, retried
 * until the message is delivered. Real workers, real Redis, the simulator over
 * HTTP, and the report CLI writing the letter list.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { enqueueNumbers, makeCampaign, tempDir } from '../helpers/campaign.js';
import { runScript } from '../helpers/cli.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type Harness, openHarness } from '../helpers/workers.js';

let h: Harness | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await h?.close();
  h = undefined;
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** The data rows of a report CSV (comment lines and the header dropped), split on `;`. */
function csvRows(path: string): string[][] {
  const lines = readFileSync(path, 'utf8')
    .replace(/^\uFEFF/, '')
    .split('\r\n');
  return lines
    .filter((l) => l !== '' && !l.startsWith('#'))
    .slice(1)
    .map((l) => l.split(';'));
}

const hyphenated = (pnr: string) => `${pnr.slice(0, 8)}-${pnr.slice(8)}`;

describe('delivery by the published answers (OK, INFO, ERROR, SOAP Fault)', () => {
  it('INFO is unreachable and exactly the letter list; ERROR is rejected after one call; faults are retried and delivered', async () => {
    h = await openHarness('contract', {
      unreachableShare: 0.2,
      loginBlockedShare: 0.5,
      rejectedShare: 0.1,
      errorRate: 0.2,
    });
    const campaign = makeCampaign();
    const numbers = syntheticList(300, 60_000);
    await enqueueNumbers(h.prefix, campaign, [numbers.slice(0, 150), numbers.slice(150)]);
    await h.startWorker();
    const counts = await h.waitDone(campaign.id, 300);
    expect(counts.failed + counts.uncertain + counts.cancelled).toBe(0);

    const stats = h.sim.stats();
    const joined = await h.join(campaign.id);
    expect(joined.orphans).toEqual([]);
    expect(joined.wrongPerson).toBe(0);
    expect(joined.mismatched).toEqual([]);

    // INFO: unreachable, whichever reason (no account, or locked).
    const info = joined.slots.filter(
      (s) => s.received?.verdict === 'no-account' || s.received?.verdict === 'locked',
    );
    expect(info.length).toBeGreaterThan(30);
    expect(info.every((s) => s.state === 'unreachable')).toBe(true);
    expect(counts.unreachable).toBe(info.length);

    // ERROR: rejected after exactly one call, never retried.
    const error = joined.slots.filter((s) => s.received?.verdict === 'logical-error');
    expect(error.length).toBeGreaterThan(10);
    for (const s of error) {
      expect(s.state).toBe('rejected');
      expect(s.received!.count).toBe(1);
    }
    expect(counts.rejected).toBe(error.length);

    // SOAP Faults (HTTP 500) were answered, retried, and every other recipient delivered once.
    expect(stats.unavailable).toBeGreaterThan(20);
    expect(joined.slots.filter((s) => s.calls > 1).length).toBeGreaterThan(20);
    expect(counts.delivered).toBe(300 - info.length - error.length);
    expect(stats.accepted).toBe(counts.delivered);
    expect(stats.duplicates).toBe(0);

    // The letter list (written by the report CLI) holds exactly the INFO residents, with their reason.
    const out = tempDir('contract-report');
    dirs.push(out);
    const report = await runScript(
      'report',
      ['--campaign', campaign.id, '--out', out, '--format', 'json,csv'],
      {
        env: h.env,
        timeoutMs: 45_000,
      },
    );
    expect(report.code, report.stderr).toBe(0);
    const letters = csvRows(join(out, 'brev-mottagare.csv'));
    expect(new Set(letters.map((r) => r[0]))).toEqual(
      new Set(info.map((s) => hyphenated(s.subjectOfCareId))),
    );
    const reasons = new Set(letters.map((r) => r[3]));
    expect(reasons).toEqual(
      new Set([
        'Invånaren har inget konto i 1177 och kan inte ta emot meddelanden där.',
        'Invånarens konto i 1177 är spärrat.',
      ]),
    );
    // The summary groups them by the platform's reason, and says why the rejected were refused.
    const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    const byReason = Object.fromEntries(
      (json.reasons as { outcome: string; text: string; count: number }[]).map((r) => [
        `${r.outcome}: ${r.text}`,
        r.count,
      ]),
    );
    expect(
      byReason['unreachable: Invånaren har inget konto i 1177 och kan inte ta emot meddelanden där.']! +
        byReason['unreachable: Invånarens konto i 1177 är spärrat.']!,
    ).toBe(info.length);
    expect(byReason['rejected: Meddelandet kunde inte tas emot: mottagaren saknas i folkbokföringen.']).toBe(
      error.length,
    );
    // What the resident saw: the message card carries the approved body.
    expect(json.message.body).toBe(campaign.message.body);
  }, 90_000);
});
