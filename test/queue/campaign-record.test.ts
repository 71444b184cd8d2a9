import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CampaignRecord,
  CampaignStoreError,
  CampaignTransitionError,
  createCampaignRecord,
  registerResult,
} from '../../src/queue/campaign-record.js';
import { cancelCampaign, pauseCampaign, resumeCampaign } from '../../src/queue/control.js';
import { createDeadLetterQueue, createDeliverQueue } from '../../src/queue/deliver-queue.js';
import { EnqueueError } from '../../src/queue/enqueue.js';
import { createKeys, type Keys } from '../../src/queue/keys.js';
import { enqueueNumbers, makeCampaign } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { connect, deletePrefix, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('campaign-record');
const keys: Keys = createKeys(prefix);
let redis: Redis;
let other: Redis;
let record: CampaignRecord;

beforeAll(() => {
  redis = connect();
  other = connect();
  record = createCampaignRecord(redis, keys);
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
  other.disconnect();
});

/** A stored campaign, through the record's enqueue step (as enqueue commits it). */
async function stored(options: { paused?: boolean } = {}): Promise<string> {
  const campaign = makeCampaign();
  const multi = redis.multi();
  record.register(multi, campaign.id, {
    definition: JSON.stringify(campaign),
    at: new Date().toISOString(),
    paused: options.paused ?? false,
    recipients: { total: 3, valid: 3, invalid: 0, duplicates: 0 },
    chunksAdded: 1,
  });
  const replies = await multi.exec();
  expect(registerResult(replies?.[0], campaign.id)).toEqual({ created: true });
  return campaign.id;
}

const hash = (id: string) => redis.hgetall(keys.campaign(id));

const pastTense: Record<string, string> = { pause: 'paused', resume: 'resumed', cancel: 'cancelled' };

/** Runs `fn`, expects it refused as `transition` from `from`, and the record untouched. */
async function expectRefused(id: string, fn: () => Promise<unknown>, transition: string, from: string) {
  const before = await hash(id);
  const err = await fn().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CampaignTransitionError);
  expect(err).toBeInstanceOf(CampaignStoreError);
  expect(err).toMatchObject({ code: 'BAD_STATE', transition, from, campaignId: id });
  expect((err as Error).message).toBe(`campaign ${id} is ${from}; it cannot be ${pastTense[transition]}`);
  expect(await hash(id)).toEqual(before);
}

describe('campaign record: legal transitions', () => {
  it('enqueue creates it active, or paused when asked', async () => {
    const a = await stored();
    expect(await record.state(a)).toEqual({ state: 'active' });
    expect(await redis.sismember(keys.campaigns(), a)).toBe(1);
    expect((await record.read(a))?.recipients).toEqual({ total: 3, valid: 3, invalid: 0, duplicates: 0 });
    const p = await stored({ paused: true });
    expect(await record.state(p)).toEqual({ state: 'paused', reason: 'enqueued paused', by: 'enqueue' });
  });

  it('active -> paused -> active, each once; again changes nothing', async () => {
    const id = await stored();
    expect(await record.pause(id, 'checking answers', 'anna')).toEqual({ changed: true, from: 'active' });
    const paused = await hash(id);
    expect(paused).toMatchObject({ state: 'paused', stateReason: 'checking answers', stateBy: 'anna' });
    expect(Date.parse(paused.stateAt ?? '')).toBeGreaterThan(0);

    expect(await record.pause(id, 'again', 'bo')).toEqual({ changed: false, from: 'paused' });
    expect(await hash(id)).toEqual(paused);

    expect(await record.resume(id, 'anna')).toEqual({ changed: true, from: 'paused' });
    expect(await record.state(id)).toEqual({ state: 'active', reason: 'resumed by anna', by: 'anna' });
    const active = await hash(id);
    expect(await record.resume(id, 'bo')).toEqual({ changed: false, from: 'active' });
    expect(await hash(id)).toEqual(active);
  });

  it('active -> cancelled and paused -> cancelled; cancelling again keeps the first reason', async () => {
    const a = await stored();
    expect(await record.cancel(a, 'wrong list', 'anna')).toEqual({ changed: true, from: 'active' });
    expect(await record.state(a)).toEqual({ state: 'cancelled', reason: 'wrong list', by: 'anna' });
    expect(await record.cancel(a, 'again', 'bo')).toEqual({ changed: false, from: 'cancelled' });
    expect(await record.state(a)).toEqual({ state: 'cancelled', reason: 'wrong list', by: 'anna' });

    const p = await stored({ paused: true });
    expect(await record.cancel(p, 'not needed', 'anna')).toEqual({ changed: true, from: 'paused' });
    expect((await record.state(p))?.state).toBe('cancelled');
  });

  it('any -> purged: a finished campaign keeps its state, an unfinished one is cancelled; purging again changes nothing', async () => {
    const done = await stored();
    await redis.hset(keys.campaign(done), 'round:c1', '2');
    const at = new Date('2030-01-02T03:04:05.000Z');
    expect(await record.purge(done, { by: 'ops', at, unfinished: false })).toEqual({
      changed: true,
      from: 'active',
    });
    const purged = await hash(done);
    expect(purged).toMatchObject({ state: 'active', purgedAt: at.toISOString(), purgedBy: 'ops' });
    expect(purged['round:c1']).toBeUndefined();
    expect(await record.purge(done, { by: 'retention', at: new Date(), unfinished: true })).toEqual({
      changed: false,
      from: 'purged',
    });
    expect(await hash(done)).toEqual(purged);

    const running = await stored({ paused: true });
    expect(await record.purge(running, { by: 'ops', at, unfinished: true })).toEqual({
      changed: true,
      from: 'paused',
    });
    expect(await record.state(running)).toEqual({
      state: 'cancelled',
      reason: 'purged before it finished',
      by: 'ops',
    });

    const cancelled = await stored();
    await record.cancel(cancelled, 'wrong list', 'anna');
    await record.purge(cancelled, { by: 'ops', at, unfinished: true });
    expect(await record.state(cancelled)).toEqual({ state: 'cancelled', reason: 'wrong list', by: 'anna' });
  });
});

describe('campaign record: the service pausing on its own', () => {
  it("pauseIfActive pauses an active campaign only, and never another's pause", async () => {
    const id = await stored();
    expect(await record.pauseIfActive(id, 'unauthorized', 'system')).toBe(true);
    expect(await record.pauseIfActive(id, 'again', 'system')).toBe(false);
    expect(await record.state(id)).toEqual({ state: 'paused', reason: 'unauthorized', by: 'system' });
    await record.cancel(id, 'stop', 'anna');
    expect(await record.pauseIfActive(id, 'x', 'system')).toBe(false);
    expect(await record.pauseIfActive('no-such-campaign', 'x', 'system')).toBe(false);
  });
});

describe('campaign record: illegal transitions are refused and change nothing', () => {
  it('pausing or resuming a cancelled campaign', async () => {
    const id = await stored();
    await record.cancel(id, 'wrong list', 'anna');
    await expectRefused(id, () => record.pause(id, 'pause', 'bo'), 'pause', 'cancelled');
    await expectRefused(id, () => record.resume(id, 'bo'), 'resume', 'cancelled');
    expect(await record.state(id)).toEqual({ state: 'cancelled', reason: 'wrong list', by: 'anna' });
  });

  it('pausing, resuming or cancelling a purged campaign', async () => {
    const id = await stored({ paused: true });
    await record.purge(id, { by: 'ops', at: new Date(), unfinished: false });
    await expectRefused(id, () => record.pause(id, 'pause', 'bo'), 'pause', 'purged');
    await expectRefused(id, () => record.resume(id, 'bo'), 'resume', 'purged');
    await expectRefused(id, () => record.cancel(id, 'cancel', 'bo'), 'cancel', 'purged');
  });

  it('any transition of an unknown campaign, creating nothing', async () => {
    const id = 'no-such-campaign';
    for (const fn of [
      () => record.pause(id, 'r', 'b'),
      () => record.resume(id, 'b'),
      () => record.cancel(id, 'r', 'b'),
      () => record.purge(id, { by: 'b', at: new Date(), unfinished: false }),
    ]) {
      await expect(fn()).rejects.toMatchObject({ code: 'UNKNOWN_CAMPAIGN' });
    }
    await record.noteActivity(id, new Date());
    expect(await redis.exists(keys.campaign(id))).toBe(0);
  });

  it('the campaign CLI functions: pausing a cancelled campaign is refused and it stays cancelled with its reason', async () => {
    const deliver = createDeliverQueue(redis, keys);
    const deadLetters = createDeadLetterQueue(redis, keys);
    try {
      const deps = { redis, keys, deliver, deadLetters, jobPolicy: { attempts: 1, backoffMs: 10 } };
      const id = await stored();
      expect(await cancelCampaign(deps, id, 'wrong list', 'anna')).toMatchObject({ changed: true });
      await expect(pauseCampaign(deps, id, 'pause', 'bo')).rejects.toThrow(
        `campaign ${id} is cancelled; it cannot be paused`,
      );
      await expect(resumeCampaign(deps, id, 'bo')).rejects.toBeInstanceOf(CampaignTransitionError);
      expect(await record.state(id)).toEqual({ state: 'cancelled', reason: 'wrong list', by: 'anna' });
    } finally {
      await deliver.close();
      await deadLetters.close();
    }
  });

  it('enqueue refuses a cancelled campaign and a purged one', async () => {
    const campaign = makeCampaign();
    const numbers = syntheticList(4, 310_000);
    await enqueueNumbers(prefix, campaign, [numbers.slice(0, 2)]);
    await record.cancel(campaign.id, 'wrong list', 'anna');
    const more = enqueueNumbers(prefix, campaign, [numbers.slice(2)]);
    await expect(more).rejects.toBeInstanceOf(EnqueueError);
    await expect(more).rejects.toMatchObject({ code: 'CANCELLED' });
    await record.purge(campaign.id, { by: 'ops', at: new Date(), unfinished: false });
    await expect(enqueueNumbers(prefix, campaign, [numbers.slice(2)])).rejects.toMatchObject({
      code: 'PURGED',
    });
    expect(await record.state(campaign.id)).toEqual({ state: 'cancelled', reason: 'wrong list', by: 'anna' });
  });
});

describe('campaign record: concurrent changes', () => {
  it('two pausers at once: one wins, the other changes nothing, the state is the winner’s', async () => {
    const second = createCampaignRecord(other, keys);
    for (let i = 0; i < 20; i++) {
      const id = await stored();
      const [a, b] = await Promise.all([record.pause(id, 'by a', 'a'), second.pause(id, 'by b', 'b')]);
      expect([a.changed, b.changed].sort()).toEqual([false, true]);
      const winner = a.changed ? 'a' : 'b';
      expect((a.changed ? b : a).from).toBe('paused');
      expect(await record.state(id)).toEqual({ state: 'paused', reason: `by ${winner}`, by: winner });
    }
  });

  it('a pause racing a cancel never leaves the campaign paused', async () => {
    const second = createCampaignRecord(other, keys);
    for (let i = 0; i < 20; i++) {
      const id = await stored();
      const [paused, cancelled] = await Promise.allSettled([
        record.pause(id, 'pause', 'a'),
        second.cancel(id, 'cancel', 'b'),
      ]);
      expect(cancelled).toMatchObject({ status: 'fulfilled', value: { changed: true } });
      if (paused.status === 'rejected') expect(paused.reason).toBeInstanceOf(CampaignTransitionError);
      else expect(cancelled.status === 'fulfilled' && cancelled.value.from).toBe('paused');
      expect(await record.state(id)).toEqual({ state: 'cancelled', reason: 'cancel', by: 'b' });
    }
  });
});

describe('campaign record: the other fields', () => {
  it('notes activity and reports, and counts redrive rounds', async () => {
    const id = await stored();
    const at = new Date('2030-05-06T07:08:09.000Z');
    await record.noteActivity(id, at);
    await record.markReported(id, at);
    expect(await record.read(id)).toMatchObject({
      lastActivityAt: at.toISOString(),
      reportWrittenAt: at.toISOString(),
    });
    expect(await record.nextRound(id, 'c1')).toBe(1);
    expect(await record.nextRound(id, 'c1')).toBe(2);
  });
});
