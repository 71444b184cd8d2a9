import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type CheckInput, checkScenario } from '../../bench/chaos/checks.js';
import type { ReceivedEntry } from '../../bench/chaos/harness.js';
import type { ChaosSummary } from '../../bench/chaos/table.js';
import type { SlotState } from '../../src/queue/ledger.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'utskick-chaos-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A small ledger and what the simulator received, consistent unless a test breaks it. */
function consistent(): CheckInput {
  const ids = ['c.k.0', 'c.k.1', 'c.k.2', 'c.k.3'];
  const states: SlotState[] = ['delivered', 'delivered', 'unreachable', 'delivered'];
  const received: ReceivedEntry[] = ids.map((messageId, i) => ({
    messageId,
    subjectHash: `h${i}`,
    verdict: states[i] === 'delivered' ? 'ok' : 'no-account',
    outcome: states[i] === 'delivered' ? 'delivered' : 'unreachable',
    count: 1,
  }));
  return {
    campaignId: 'c',
    valid: 4,
    slots: new Map(ids.map((id, i) => [id, states[i]!])),
    counts: { delivered: 3, unreachable: 1, rejected: 0, failed: 0, uncertain: 0, cancelled: 0 },
    received,
    parkMode: false,
    uncertainBound: 0,
    duplicateBound: 0,
    jobsLeft: 0,
    invalidRequests: 0,
    conflicts: 0,
    resends: 0,
    expectNoResends: false,
  };
}

describe('chaos checks (the verdict must be able to fail)', () => {
  it('passes a consistent ledger', () => {
    const r = checkScenario(consistent());
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ ok: true, lost: 0, acceptedTwice: 0, delivered: 3, simulatorAccepted: 3 });
  });

  it('counts a recipient left in flight as lost', () => {
    const input = consistent();
    input.slots.set('c.k.3', 'inflight');
    input.counts.delivered = 2;
    input.received = input.received.filter((e) => e.messageId !== 'c.k.3');
    const r = checkScenario(input);
    expect(r.lost).toBe(1);
    expect(r.ok).toBe(false);
  });

  it('counts a delivery the simulator never accepted as lost', () => {
    const input = consistent();
    input.received = input.received.filter((e) => e.messageId !== 'c.k.0');
    const r = checkScenario(input);
    expect(r.lost).toBe(1);
    expect(r.ok).toBe(false);
  });

  it('counts a recipient stored twice (a resend of its identity, or under two identities), failing above the bound', () => {
    const resent = consistent();
    resent.received[1]!.count = 2;
    expect(checkScenario(resent)).toMatchObject({ acceptedTwice: 1, ok: false });
    resent.duplicateBound = 1;
    expect(checkScenario(resent)).toMatchObject({ acceptedTwice: 1, ok: true });
    const twoIds = consistent();
    twoIds.received[1]!.subjectHash = 'h0';
    expect(checkScenario(twoIds).acceptedTwice).toBe(1);
    expect(checkScenario(twoIds).ok).toBe(false);
  });

  it('fails uncertain above the bound, counter drift, resends where none are allowed, jobs left', () => {
    const parked = consistent();
    parked.parkMode = true;
    parked.slots.set('c.k.3', 'uncertain');
    parked.counts = { ...parked.counts, delivered: 2, uncertain: 1 };
    parked.uncertainBound = 1;
    expect(checkScenario(parked)).toMatchObject({ ok: true, uncertain: 1, uncertainLanded: 1 });
    parked.uncertainBound = 0;
    expect(checkScenario(parked).ok).toBe(false);

    const drift = consistent();
    drift.counts.delivered = 4;
    expect(checkScenario(drift).mismatched).toBe(1);

    const resent = consistent();
    resent.resends = 2;
    expect(checkScenario(resent).ok).toBe(true);
    resent.expectNoResends = true;
    expect(checkScenario(resent).ok).toBe(false);

    const left = consistent();
    left.jobsLeft = 1;
    expect(checkScenario(left).ok).toBe(false);
  });
});

describe('npm run chaos -- --short (real workers, a private Redis, the simulator)', () => {
  it('loses nobody; nobody is accepted twice in park mode, in resend mode at most the calls in flight at a crash', {
    timeout: 420_000,
  }, async () => {
    const json = join(dir, 'chaos.json');
    // Its own process group, so a timeout can take down the harness with every child it started.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'bench', 'chaos.ts'), '--short', '--json', json],
      {
        cwd: root,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 400_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(timer);

    expect(code, out).toBe(0);
    expect(out).toMatch(
      /scenario\s+recipients\s+lost\s+accepted twice\s+uncertain\s+dead-lettered\s+duration/,
    );
    expect(out).toContain('CHAOS OK');
    const summary = JSON.parse(readFileSync(json, 'utf8')) as ChaosSummary;
    expect(summary.variant).toBe('short');
    expect(summary.ok).toBe(true);
    expect(summary.scenarios.map((s) => s.name)).toEqual([
      'worker-kill',
      'redis-restart',
      'inbox-down',
      'flaky-inbox',
      'rolling-restart',
      'park-kill',
      'park-redis-restart',
      'redis-failover',
      'redis-failover-resend',
    ]);
    for (const s of summary.scenarios) {
      expect(s.recipients, s.name).toBe(2000);
      expect(s.lost, s.name).toBe(0);
      // The simulator stores every resend, as the platform does.
      expect(s.acceptedTwice, s.name).toBeLessThanOrEqual(s.duplicateBound);
      if (s.name.startsWith('park-') || s.name === 'redis-failover') expect(s.acceptedTwice, s.name).toBe(0);
      expect(s.mismatched, s.name).toBe(0);
      expect(s.deadLettered, s.name).toBe(0);
      expect(s.uncertain, s.name).toBeLessThanOrEqual(s.uncertainBound);
      expect(s.delivered, s.name).toBe(s.simulatorAccepted - s.uncertainLanded);
      expect(s.delivered, s.name).toBeGreaterThan(1700);
      expect(s.ok, s.name).toBe(true);
    }
    const byName = new Map(summary.scenarios.map((s) => [s.name, s]));
    // The chaos did happen.
    expect(byName.get('worker-kill')!.kills).toBe(3);
    expect(byName.get('park-kill')!.kills).toBe(2);
    expect(byName.get('park-kill')!.resends).toBe(0);
    expect(byName.get('park-redis-restart')!.redisCrashes).toBe(1);
    expect(byName.get('park-redis-restart')!.resends).toBe(0);
    expect(byName.get('redis-restart')!.events.some((e) => e.includes('redis-server SIGKILLed'))).toBe(true);
    // The primary was killed behind a lagging replica, the replica promoted, the old primary left down.
    for (const name of ['redis-failover', 'redis-failover-resend']) {
      const failover = byName.get(name)!;
      expect(failover.redisCrashes, name).toBe(1);
      expect(
        failover.events.some((e) => /primary :\d+ SIGKILLed .* replica :\d+ promoted/.test(e)),
        name,
      ).toBe(true);
      expect(
        failover.events.some((e) => /new replica :\d+ attached/.test(e)),
        name,
      ).toBe(true);
    }
    expect(byName.get('redis-failover')!.resends).toBe(0);
    expect(
      byName.get('rolling-restart')!.events.filter((e) => /SIGTERM worker \d+ .*exit 0/.test(e)),
    ).toHaveLength(2);
  });
});
