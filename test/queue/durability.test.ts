/**
 * Durable writes against a real primary and replica (private redis-servers):
 * WAIT on the writing connection, shared by concurrent writes, and a write
 * that is not durable is written again instead of going on.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDurability, type NotDurable } from '../../src/queue/durability.js';
import { type PrivateRedis, startPrivateRedis } from '../helpers/private-redis.js';
import { describeWithTools, tools } from '../helpers/tools.js';

let primary: PrivateRedis;
let replica: PrivateRedis;
let admin: Redis;

async function waitForLink(): Promise<void> {
  const r = new Redis(replica.url);
  try {
    for (let i = 0; i < 200; i++) {
      if (/master_link_status:up/.test(await r.info('replication'))) return;
      await delay(50);
    }
    throw new Error('the replica never linked to the primary');
  } finally {
    r.disconnect();
  }
}

function recorder() {
  const events: (NotDurable | 'alone')[] = [];
  return {
    events,
    notDurable: (reason: NotDurable) => {
      events.push(reason);
    },
    alone: () => {
      events.push('alone');
    },
  };
}

const waitCalls = async () => {
  const m = /cmdstat_wait:calls=(\d+)/.exec(await admin.info('commandstats'));
  return Number(m?.[1] ?? 0);
};

describeWithTools('durable writes with a replica', [tools.redisServer], () => {
  beforeAll(async () => {
    primary = await startPrivateRedis();
    replica = await startPrivateRedis({ extraArgs: ['--replicaof', '127.0.0.1', String(primary.port)] });
    await waitForLink();
    admin = new Redis(primary.url);
  });
  afterAll(async () => {
    admin?.disconnect();
    await replica?.close();
    await primary?.close();
  });

  it('returns once the replica holds the write, and concurrent writes share their WAITs', async () => {
    const redis = new Redis(primary.url, { maxRetriesPerRequest: null });
    const events = recorder();
    const d = createDurability(redis, { timeoutMs: 1000, promotable: async () => 1, events });
    const before = await waitCalls();
    const writes = Array.from({ length: 50 }, (_, i) =>
      d.durable(() => redis.set(`durability:${i}`, String(i))),
    );
    expect(await Promise.all(writes)).toEqual(Array(50).fill('OK'));
    const waits = (await waitCalls()) - before;
    expect(waits).toBeGreaterThanOrEqual(1);
    expect(waits).toBeLessThan(50);
    const onReplica = new Redis(replica.url);
    expect(await onReplica.get('durability:49')).toBe('49');
    onReplica.disconnect();
    expect(events.events).toEqual([]);
    redis.disconnect();
  });

  it('does not go on while the replica does not acknowledge, writes again, and goes on once it does', async () => {
    const redis = new Redis(primary.url, { maxRetriesPerRequest: null });
    const events = recorder();
    const d = createDurability(redis, {
      timeoutMs: 200,
      promotable: async () => 1,
      events,
      backoffMs: () => 50,
    });
    let runs = 0;
    process.kill(replica.pid!, 'SIGSTOP');
    let done = false;
    const write = d
      .durable(async () => {
        runs++;
        return redis.incr('durability:stalled');
      })
      .then((v) => {
        done = true;
        return v;
      });
    try {
      await delay(1200);
      expect(done).toBe(false);
      expect(runs).toBeGreaterThanOrEqual(2);
      expect(events.events.every((e) => e === 'no-ack')).toBe(true);
    } finally {
      process.kill(replica.pid!, 'SIGCONT');
    }
    // Every run was the same idempotent-in-effect write here (INCR is not: the count shows the runs).
    expect(await write).toBe(runs);
    expect(done).toBe(true);
    redis.disconnect();
  });

  it('goes on alone, saying so, when no replica could be promoted', async () => {
    const redis = new Redis(primary.url, { maxRetriesPerRequest: null });
    const events = recorder();
    let asked = 0;
    const promotable = async () => {
      asked++;
      return 0;
    };
    const d = createDurability(redis, { timeoutMs: 100, promotable, events });
    process.kill(replica.pid!, 'SIGSTOP');
    try {
      const started = Date.now();
      for (let i = 0; i < 5; i++) await d.durable(() => redis.set('durability:alone', String(i)));
      // One WAIT timed out; the answer "none to promote" is trusted for a second, so the rest did not wait.
      expect(Date.now() - started).toBeLessThan(1000);
    } finally {
      process.kill(replica.pid!, 'SIGCONT');
    }
    expect(asked).toBe(1);
    expect(events.events).toEqual(['alone', 'alone', 'alone', 'alone', 'alone']);
    redis.disconnect();
  });

  it('writes again when the connection was lost between the write and its WAIT', async () => {
    const redis = new Redis(primary.url, { maxRetriesPerRequest: null });
    const events = recorder();
    const d = createDurability(redis, {
      timeoutMs: 1000,
      promotable: async () => 1,
      events,
      backoffMs: () => 10,
    });
    const id = await redis.client('ID');
    let runs = 0;
    await d.durable(async () => {
      runs++;
      const r = await redis.set('durability:killed', String(runs));
      if (runs === 1) await admin.client('KILL', 'ID', String(id));
      return r;
    });
    expect(runs).toBe(2);
    expect(events.events).toEqual(['reconnected']);
    redis.disconnect();
  });

  it('confirm(since) reports a reconnect since `since` without writing anything', async () => {
    const redis = new Redis(primary.url, { maxRetriesPerRequest: null });
    const d = createDurability(redis, { timeoutMs: 500, promotable: async () => 1 });
    const since = d.epoch();
    await redis.set('durability:confirm', '1');
    expect(await d.confirm(since)).toBeUndefined();
    await admin.client('KILL', 'ID', String(await redis.client('ID')));
    await redis.ping();
    expect(await d.confirm(since)).toBe('reconnected');
    expect(await d.confirm(d.epoch())).toBeUndefined();
    redis.disconnect();
  });
});
