import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Durability } from '../../src/queue/durability.js';
import { createKeys, deliverJobId, type Keys, queueNames } from '../../src/queue/keys.js';
import {
  createLedger,
  decodeLedger,
  type FinalOutcome,
  finalOutcomes,
  type Ledger,
  RECORD_BYTES,
} from '../../src/queue/ledger.js';
import { connect, deletePrefix, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('ledger');
let redis: Redis;
let keys: Keys;
let ledger: Ledger;
let n = 0;
/** A fresh campaign and chunk per test, so tests never share slots. */
let campaign: string;
let chunk: string;
let lock: { key: string; token: string };
const NOW = 1_790_000_000;
const noLock = { key: 'unused', token: '' };
const go = { resendUncertain: false, nowSec: NOW };

const zeroCounts = (): Record<FinalOutcome, number> =>
  Object.fromEntries(finalOutcomes.map((o) => [o, 0])) as Record<FinalOutcome, number>;

beforeAll(() => {
  redis = connect();
  keys = createKeys(prefix);
  ledger = createLedger(redis, keys);
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});
beforeEach(async () => {
  n++;
  campaign = `camp-${n}`;
  chunk = `chunk${n}`;
  lock = { key: keys.jobLock(queueNames.deliver, deliverJobId(campaign, chunk)), token: `token-${n}` };
  await redis.set(lock.key, lock.token, 'PX', 60_000);
});

describe('ledger: recordAndMark (one call between two recipients of a call loop)', () => {
  it('records the answered slot and marks the next one, as record then markInflight would', async () => {
    await ledger.markInflight(campaign, chunk, 0, lock, go);
    expect(
      await ledger.recordAndMark(campaign, chunk, { slot: 0, outcome: 'rejected' }, 1, lock, go),
    ).toEqual({
      recorded: true,
      mark: { kind: 'go', resend: false },
    });
    const slots = await ledger.read(campaign, chunk, 2);
    expect(slots[0]).toEqual({ state: 'rejected', calls: 1, reason: 0, at: NOW });
    expect(slots[1]).toEqual({ state: 'inflight', calls: 1, reason: 0, at: NOW });
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), rejected: 1 });
  });

  it('counts an outcome once, and records it even when the lock is gone (an outcome is a fact)', async () => {
    await ledger.markInflight(campaign, chunk, 0, lock, go);
    await ledger.record(campaign, chunk, 0, 'delivered', NOW);
    expect(
      (await ledger.recordAndMark(campaign, chunk, { slot: 0, outcome: 'delivered' }, 1, lock, go)).recorded,
    ).toBe(false);
    await ledger.markInflight(campaign, chunk, 2, lock, go);
    await redis.del(lock.key);
    expect(
      await ledger.recordAndMark(campaign, chunk, { slot: 2, outcome: 'unreachable' }, 3, lock, go),
    ).toEqual({
      recorded: true,
      mark: { kind: 'lock-lost' },
    });
    const slots = await ledger.read(campaign, chunk, 4);
    expect(slots[2]?.state).toBe('unreachable');
    expect(slots[3]?.state).toBe('pending');
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), delivered: 1, unreachable: 1 });
  });

  it('skips a settled next slot and parks an in-flight one in park mode', async () => {
    await ledger.markInflight(campaign, chunk, 0, lock, go);
    await ledger.markInflight(campaign, chunk, 1, lock, go);
    await ledger.record(campaign, chunk, 1, 'delivered', NOW);
    await ledger.markInflight(campaign, chunk, 2, lock, go);
    expect(
      (await ledger.recordAndMark(campaign, chunk, { slot: 0, outcome: 'delivered' }, 1, lock, go)).mark,
    ).toEqual({
      kind: 'skip',
      state: 'delivered',
    });
    // Slot 2 was in flight (a crash): park mode parks it.
    expect(
      (await ledger.recordAndMark(campaign, chunk, { slot: 0, outcome: 'delivered' }, 2, lock, go)).mark,
    ).toEqual({
      kind: 'parked',
    });
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), delivered: 2, uncertain: 1 });
  });
});

describe('ledger: markInflight and record', () => {
  it('a fresh slot goes in flight once, then is recorded once', async () => {
    expect(await ledger.markInflight(campaign, chunk, 3, lock, go)).toEqual({ kind: 'go', resend: false });
    let slots = await ledger.read(campaign, chunk, 5);
    expect(slots[3]).toEqual({ state: 'inflight', calls: 1, reason: 0, at: NOW });
    expect(slots[0]).toEqual({ state: 'pending', calls: 0, reason: 0, at: 0 });
    expect(slots[4]).toEqual({ state: 'pending', calls: 0, reason: 0, at: 0 });

    expect(await ledger.record(campaign, chunk, 3, 'delivered', NOW + 2)).toBe(true);
    slots = await ledger.read(campaign, chunk, 5);
    expect(slots[3]).toEqual({ state: 'delivered', calls: 1, reason: 0, at: NOW + 2 });
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), delivered: 1 });
  });

  it('record twice (a retried worker) counts once and keeps the first outcome', async () => {
    await ledger.markInflight(campaign, chunk, 0, lock, go);
    expect(await ledger.record(campaign, chunk, 0, 'unreachable', NOW)).toBe(true);
    expect(await ledger.record(campaign, chunk, 0, 'unreachable', NOW + 1)).toBe(false);
    expect(await ledger.record(campaign, chunk, 0, 'delivered', NOW + 2)).toBe(false);
    expect((await ledger.read(campaign, chunk, 1))[0]).toEqual({
      state: 'unreachable',
      calls: 1,
      reason: 0,
      at: NOW,
    });
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), unreachable: 1 });
  });

  it('record works on a pending slot too (an outcome decided without a call)', async () => {
    expect(await ledger.record(campaign, chunk, 7, 'rejected', NOW)).toBe(true);
    expect((await ledger.read(campaign, chunk, 8))[7]).toEqual({
      state: 'rejected',
      calls: 0,
      reason: 0,
      at: NOW,
    });
    expect((await redis.strlen(keys.ledger(campaign, chunk))) / RECORD_BYTES).toBe(8);
  });

  it('a final slot is skipped, saying which outcome it has', async () => {
    await ledger.record(campaign, chunk, 1, 'failed', NOW);
    expect(await ledger.markInflight(campaign, chunk, 1, lock, go)).toEqual({
      kind: 'skip',
      state: 'failed',
    });
    expect(await ledger.markInflight(campaign, chunk, 1, lock, { ...go, resendUncertain: true })).toEqual({
      kind: 'skip',
      state: 'failed',
    });
    expect((await ledger.read(campaign, chunk, 2))[1]!.calls).toBe(0);
  });

  it('every final outcome reads back as itself', async () => {
    for (const [i, outcome] of finalOutcomes.entries()) {
      expect(await ledger.record(campaign, chunk, i, outcome, NOW)).toBe(true);
      expect(await ledger.markInflight(campaign, chunk, i, lock, go)).toEqual({
        kind: 'skip',
        state: outcome,
      });
    }
    expect((await ledger.read(campaign, chunk, finalOutcomes.length)).map((s) => s.state)).toEqual([
      ...finalOutcomes,
    ]);
    expect(await ledger.counts(campaign)).toEqual(
      Object.fromEntries(finalOutcomes.map((o) => [o, 1])) as Record<FinalOutcome, number>,
    );
  });
});

describe('ledger: an in-flight slot met again (the call may have landed)', () => {
  it('is parked as uncertain, counted once, unless resends are allowed', async () => {
    await ledger.markInflight(campaign, chunk, 2, lock, go);
    expect(await ledger.markInflight(campaign, chunk, 2, lock, { ...go, nowSec: NOW + 5 })).toEqual({
      kind: 'parked',
    });
    expect((await ledger.read(campaign, chunk, 3))[2]).toEqual({
      state: 'uncertain',
      calls: 1,
      reason: 0,
      at: NOW + 5,
    });
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), uncertain: 1 });
    // Parked is final: a third visit skips, and the count stays 1.
    expect(await ledger.markInflight(campaign, chunk, 2, lock, go)).toEqual({
      kind: 'skip',
      state: 'uncertain',
    });
    expect(await ledger.record(campaign, chunk, 2, 'delivered', NOW)).toBe(false);
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), uncertain: 1 });
  });

  it('is resent when the campaign allows it, counting the call', async () => {
    await ledger.markInflight(campaign, chunk, 0, lock, go);
    const resend = { resendUncertain: true, nowSec: NOW + 9 };
    expect(await ledger.markInflight(campaign, chunk, 0, lock, resend)).toEqual({ kind: 'go', resend: true });
    expect((await ledger.read(campaign, chunk, 1))[0]).toEqual({
      state: 'inflight',
      calls: 2,
      reason: 0,
      at: NOW + 9,
    });
    expect(await ledger.counts(campaign)).toEqual(zeroCounts());
    expect(await ledger.record(campaign, chunk, 0, 'delivered', NOW + 10)).toBe(true);
    expect((await ledger.read(campaign, chunk, 1))[0]).toEqual({
      state: 'delivered',
      calls: 2,
      reason: 0,
      at: NOW + 10,
    });
  });

  it('release puts a surely-unsent in-flight slot back to pending, keeping its call count', async () => {
    await ledger.markInflight(campaign, chunk, 4, lock, go);
    expect(await ledger.release(campaign, chunk, 4)).toBe(true);
    expect((await ledger.read(campaign, chunk, 5))[4]).toEqual({
      state: 'pending',
      calls: 1,
      reason: 0,
      at: 0,
    });
    expect(await ledger.release(campaign, chunk, 4)).toBe(false);
    // Back to pending, the next visit is a plain go, not a resend or a park.
    expect(await ledger.markInflight(campaign, chunk, 4, lock, go)).toEqual({ kind: 'go', resend: false });
    expect((await ledger.read(campaign, chunk, 5))[4]!.calls).toBe(2);
  });

  it('release without a call made takes back the call its mark counted', async () => {
    await ledger.markInflight(campaign, chunk, 2, lock, go);
    expect(await ledger.release(campaign, chunk, 2, false)).toBe(true);
    expect((await ledger.read(campaign, chunk, 3))[2]).toEqual({
      state: 'pending',
      calls: 0,
      reason: 0,
      at: 0,
    });
    await ledger.markInflight(campaign, chunk, 2, lock, go);
    expect((await ledger.read(campaign, chunk, 3))[2]!.calls).toBe(1);
  });

  it('release leaves a final slot alone', async () => {
    await ledger.record(campaign, chunk, 0, 'delivered', NOW);
    expect(await ledger.release(campaign, chunk, 0)).toBe(false);
    expect((await ledger.read(campaign, chunk, 1))[0]!.state).toBe('delivered');
  });

  it('the call counter saturates at 255 instead of wrapping', async () => {
    const resend = { resendUncertain: true, nowSec: NOW };
    for (let i = 0; i < 260; i++) await ledger.markInflight(campaign, chunk, 0, noLock, resend);
    expect((await ledger.read(campaign, chunk, 1))[0]).toMatchObject({ state: 'inflight', calls: 255 });
  });
});

describe('ledger: the job lock', () => {
  it('another token in the lock key means the lock is lost, and nothing is written', async () => {
    await redis.set(lock.key, 'someone-else');
    expect(await ledger.markInflight(campaign, chunk, 0, lock, go)).toEqual({ kind: 'lock-lost' });
    expect(await redis.exists(keys.ledger(campaign, chunk))).toBe(0);
  });

  it('an expired (missing) lock is lost too', async () => {
    await redis.del(lock.key);
    expect(await ledger.markInflight(campaign, chunk, 0, lock, go)).toEqual({ kind: 'lock-lost' });
  });

  it('an empty token skips the check (callers without a BullMQ lock)', async () => {
    await redis.del(lock.key);
    expect(await ledger.markInflight(campaign, chunk, 0, noLock, go)).toEqual({ kind: 'go', resend: false });
  });
});

describe('ledger: finaliseMany and reopen', () => {
  it('finalises only the slots in the given states, counting each once', async () => {
    await ledger.record(campaign, chunk, 0, 'delivered', NOW);
    await ledger.markInflight(campaign, chunk, 1, lock, go);
    // slots 2..4 pending (never written)
    const changed = await ledger.finaliseMany(campaign, chunk, 5, 'cancelled', ['pending'], NOW + 1);
    expect(changed).toBe(3);
    expect((await ledger.read(campaign, chunk, 5)).map((s) => s.state)).toEqual([
      'delivered',
      'inflight',
      'cancelled',
      'cancelled',
      'cancelled',
    ]);
    expect(await ledger.finaliseMany(campaign, chunk, 5, 'cancelled', ['pending'], NOW + 2)).toBe(0);
    expect(await ledger.finaliseMany(campaign, chunk, 5, 'failed', ['pending', 'inflight'], NOW + 3)).toBe(1);
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), delivered: 1, cancelled: 3, failed: 1 });
    expect((await ledger.read(campaign, chunk, 5))[1]).toEqual({
      state: 'failed',
      calls: 1,
      reason: 0,
      at: NOW + 3,
    });
  });

  it('reopen puts slots of one outcome back to pending and takes them off the count', async () => {
    await ledger.finaliseMany(campaign, chunk, 4, 'failed', ['pending'], NOW);
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), failed: 4 });
    expect(await ledger.reopen(campaign, chunk, [1, 3], 'failed')).toBe(2);
    expect((await ledger.read(campaign, chunk, 4)).map((s) => s.state)).toEqual([
      'failed',
      'pending',
      'failed',
      'pending',
    ]);
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), failed: 2 });
    // Reopening again, or with another outcome, changes nothing.
    expect(await ledger.reopen(campaign, chunk, [1, 3], 'failed')).toBe(0);
    expect(await ledger.reopen(campaign, chunk, [0, 2], 'delivered')).toBe(0);
    expect(await ledger.reopen(campaign, chunk, [], 'failed')).toBe(0);
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), failed: 2 });
    // A reopened slot goes ahead as new, and its new outcome is counted.
    expect(await ledger.markInflight(campaign, chunk, 1, lock, go)).toEqual({ kind: 'go', resend: false });
    expect(await ledger.record(campaign, chunk, 1, 'delivered', NOW)).toBe(true);
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), failed: 2, delivered: 1 });
  });

  it('counts are per campaign', async () => {
    await ledger.record(campaign, chunk, 0, 'delivered', NOW);
    await ledger.record(`${campaign}-other`, chunk, 0, 'delivered', NOW);
    await ledger.record(`${campaign}-other`, chunk, 1, 'delivered', NOW);
    expect((await ledger.counts(campaign)).delivered).toBe(1);
    expect((await ledger.counts(`${campaign}-other`)).delivered).toBe(2);
  });
});

describe('decodeLedger', () => {
  it('reads a missing ledger, or slots beyond its end, as pending', () => {
    expect(decodeLedger(null, 2)).toEqual([
      { state: 'pending', calls: 0, reason: 0, at: 0 },
      { state: 'pending', calls: 0, reason: 0, at: 0 },
    ]);
    const buf = Buffer.alloc(RECORD_BYTES + 3);
    buf[0] = 2;
    buf[1] = 3;
    buf.writeUInt32BE(NOW, 4);
    expect(decodeLedger(buf, 2)).toEqual([
      { state: 'delivered', calls: 3, reason: 0, at: NOW },
      { state: 'pending', calls: 0, reason: 0, at: 0 },
    ]);
  });

  it('an unknown state byte reads as pending (never as a final outcome)', () => {
    const buf = Buffer.alloc(RECORD_BYTES);
    buf[0] = 99;
    expect(decodeLedger(buf, 1)[0]!.state).toBe('pending');
  });
});

describe("ledger: the platform's reason for an unreachable or rejected recipient", () => {
  it('keeps each distinct text once, names it by id in the record, and never changes a final record', async () => {
    const info = 'Invånaren har inget konto i 1177.';
    expect(await ledger.record(campaign, chunk, 0, 'unreachable', NOW, info)).toBe(true);
    expect(await ledger.record(campaign, chunk, 1, 'unreachable', NOW, info)).toBe(true);
    expect(await ledger.record(campaign, chunk, 2, 'rejected', NOW, 'Fel i meddelandet.')).toBe(true);
    expect(await ledger.record(campaign, chunk, 3, 'delivered', NOW)).toBe(true);
    const slots = await ledger.read(campaign, chunk, 4);
    const reasons = await ledger.reasons(campaign);
    expect(slots[0]!.reason).toBe(slots[1]!.reason);
    expect(slots[0]!.reason).not.toBe(slots[2]!.reason);
    expect(reasons.get(slots[0]!.reason)).toBe(info);
    expect(reasons.get(slots[2]!.reason)).toBe('Fel i meddelandet.');
    expect(slots[3]!.reason).toBe(0);
    // A second record (a retried worker) keeps the first outcome and reason.
    expect(await ledger.record(campaign, chunk, 0, 'rejected', NOW, 'annat')).toBe(false);
    expect((await ledger.read(campaign, chunk, 1))[0]!.reason).toBe(slots[0]!.reason);
    expect([...(await ledger.reasons(campaign)).values()]).not.toContain('annat');
  });

  it('recordAndMark carries the reason of the answered slot', async () => {
    await ledger.markInflight(campaign, chunk, 0, lock, go);
    await ledger.recordAndMark(
      campaign,
      chunk,
      { slot: 0, outcome: 'unreachable', reason: 'Spärrat konto.' },
      1,
      lock,
      go,
    );
    const [s0] = await ledger.read(campaign, chunk, 1);
    expect((await ledger.reasons(campaign)).get(s0!.reason)).toBe('Spärrat konto.');
  });
});

describe('ledger: a write sent again after a failover (every write idempotent)', () => {
  it('a mark given the call count the job knew is not made twice, in park or resend mode', async () => {
    for (const resendUncertain of [false, true]) {
      const slot = resendUncertain ? 1 : 0;
      const options = { resendUncertain, nowSec: NOW, expectCalls: 0 };
      expect(await ledger.markInflight(campaign, chunk, slot, lock, options)).toEqual({
        kind: 'go',
        resend: false,
      });
      // The same mark again (its first reply lost with the primary): still go, one call counted, nothing parked.
      expect(await ledger.markInflight(campaign, chunk, slot, lock, options)).toEqual({
        kind: 'go',
        resend: false,
      });
      expect((await ledger.read(campaign, chunk, 2))[slot]).toMatchObject({ state: 'inflight', calls: 1 });
    }
    expect(await ledger.counts(campaign)).toEqual(zeroCounts());
  });

  it('a slot left in flight by a crash is still parked: its call count is the one the job read, not one more', async () => {
    await ledger.markInflight(campaign, chunk, 0, lock, go);
    // A new job reads the slot in flight with 1 call, and marks it expecting 1.
    expect(await ledger.markInflight(campaign, chunk, 0, lock, { ...go, expectCalls: 1 })).toEqual({
      kind: 'parked',
    });
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), uncertain: 1 });
  });

  it('in resend mode a crash-left slot is resent once, and the same resend written again is not a third call', async () => {
    const resend = { resendUncertain: true, nowSec: NOW };
    await ledger.markInflight(campaign, chunk, 0, lock, resend);
    const again = { ...resend, expectCalls: 1 };
    expect(await ledger.markInflight(campaign, chunk, 0, lock, again)).toEqual({ kind: 'go', resend: true });
    expect(await ledger.markInflight(campaign, chunk, 0, lock, again)).toEqual({ kind: 'go', resend: false });
    expect((await ledger.read(campaign, chunk, 1))[0]).toMatchObject({ state: 'inflight', calls: 2 });
  });

  it('recordAndMark written twice records and counts once, and marks once', async () => {
    await ledger.markInflight(campaign, chunk, 0, lock, go);
    const options = { ...go, expectCalls: 0 };
    const answered = { slot: 0, outcome: 'delivered' as const };
    const first = await ledger.recordAndMark(campaign, chunk, answered, 1, lock, options);
    const second = await ledger.recordAndMark(campaign, chunk, answered, 1, lock, options);
    expect(first).toEqual({ recorded: true, mark: { kind: 'go', resend: false } });
    expect(second).toEqual({ recorded: false, mark: { kind: 'go', resend: false } });
    const slots = await ledger.read(campaign, chunk, 2);
    expect(slots.map((s) => [s.state, s.calls])).toEqual([
      ['delivered', 1],
      ['inflight', 1],
    ]);
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), delivered: 1 });
  });

  it('a release written twice takes back the unmade call once', async () => {
    await ledger.markInflight(campaign, chunk, 0, lock, go);
    expect(await ledger.release(campaign, chunk, 0, false)).toBe(true);
    expect(await ledger.release(campaign, chunk, 0, false)).toBe(false);
    expect((await ledger.read(campaign, chunk, 1))[0]).toMatchObject({ state: 'pending', calls: 0 });
  });
});

describe('ledger: a mark written again after a failover, with the answers of both runs', () => {
  /**
   * A durability whose first write is made twice, with `between` run after its
   * first run (what a failover can do in between); later writes once.
   */
  const twice = (between: () => Promise<unknown>): Durability => {
    let first = true;
    return {
      waits: true,
      epoch: () => 0,
      confirm: async () => undefined,
      async durable(write) {
        if (!first) return write();
        first = false;
        await write();
        await between();
        return write();
      },
    };
  };

  it('a mark that went in, then found the lock gone, is taken back: no recipient left in flight without a call', async () => {
    const l = createLedger(
      redis,
      keys,
      twice(() => redis.del(lock.key)),
    );
    expect(await l.markInflight(campaign, chunk, 0, lock, { ...go, expectCalls: 0 })).toEqual({
      kind: 'lock-lost',
    });
    expect((await ledger.read(campaign, chunk, 1))[0]).toMatchObject({ state: 'pending', calls: 0 });
  });

  it("the take-back never touches another worker's resend (another call count)", async () => {
    const l = createLedger(
      redis,
      keys,
      twice(async () => {
        await redis.del(lock.key);
        // Another worker resent meanwhile: two calls now.
        await ledger.markInflight(campaign, chunk, 0, noLock, { resendUncertain: true, nowSec: NOW });
      }),
    );
    expect(await l.markInflight(campaign, chunk, 0, lock, { ...go, expectCalls: 0 })).toEqual({
      kind: 'lock-lost',
    });
    expect((await ledger.read(campaign, chunk, 1))[0]).toMatchObject({ state: 'inflight', calls: 2 });
  });

  it('a park written again stays a park (counted once), not a skip', async () => {
    await ledger.markInflight(campaign, chunk, 0, lock, go);
    const l = createLedger(
      redis,
      keys,
      twice(async () => {}),
    );
    expect(await l.markInflight(campaign, chunk, 0, lock, { ...go, expectCalls: 1 })).toEqual({
      kind: 'parked',
    });
    expect(await ledger.counts(campaign)).toEqual({ ...zeroCounts(), uncertain: 1 });
  });
});
