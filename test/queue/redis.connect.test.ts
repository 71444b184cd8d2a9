/**
 * The one connection factory against a real redis-server with
 * config/redis-users.acl: the password comes from REDIS_PASSWORD_FILE even
 * though REDIS_URL names the user, for plain connections and for BullMQ's
 * (including the Worker's duplicated blocking one); every way of failing is one
 * RedisConnectionError naming REDIS_URL, never a hang.
 */
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadClientConfig } from '../../src/config/client.js';
import { connectOrExplain, createRedis, RedisConnectionError, redisTarget } from '../../src/queue/redis.js';
import { freePort } from '../helpers/global-setup.js';
import { redisUrl } from '../helpers/redis.js';
import { type AclRedis, startAclRedis } from '../ops/acl-redis.js';

let server: AclRedis;
const open: Redis[] = [];
beforeAll(async () => {
  server = await startAclRedis();
});
afterAll(async () => {
  for (const r of open) r.disconnect();
  await server?.close();
});

function connection(env: Record<string, string>, role: 'worker' | 'client' = 'client') {
  const { redis: target } = loadClientConfig(env);
  const redis = createRedis(target, role);
  open.push(redis);
  return { redis, target };
}

async function failure(env: Record<string, string>, role: 'worker' | 'client' = 'client') {
  const { redis, target } = connection(env, role);
  const err = await connectOrExplain(redis, target).then(
    () => undefined,
    (e: unknown) => e,
  );
  redis.disconnect();
  expect(err).toBeInstanceOf(RedisConnectionError);
  const e = err as RedisConnectionError;
  expect(e.message.split('\n')).toHaveLength(1);
  return e;
}

describe('createRedis with REDIS_URL naming the user and REDIS_PASSWORD_FILE', () => {
  it('logs in as that user, as a client and as a worker', async () => {
    for (const role of ['client', 'worker'] as const) {
      const { redis, target } = connection(server.env('utskick-worker'), role);
      await connectOrExplain(redis, target);
      expect(String(await redis.call('CLIENT', 'INFO'))).toContain('user=utskick-worker');
    }
  });

  it('also for a bare URL with the password as an option (the older call)', async () => {
    const { password } = loadClientConfig(server.env('utskick-ops')).redisOptions;
    const redis = createRedis(server.url('utskick-ops'), 'client', { password });
    open.push(redis);
    expect(await redis.ping()).toBe('PONG');
  });

  it("carries the password into BullMQ's connections: a Queue adds and a Worker (blocking duplicate) processes", async () => {
    const { redis: queueConn } = connection(server.env('utskick-worker'), 'worker');
    const { redis: workerConn } = connection(server.env('utskick-worker'), 'worker');
    const queue = new Queue('deliver', { connection: queueConn, prefix: 'utskick' });
    let worker: Worker | undefined;
    try {
      await queue.add('t', { x: 1 }, { jobId: 'factory-test' });
      const done = new Promise((resolve, reject) => {
        worker = new Worker('deliver', async (job) => job.data.x + 1, {
          connection: workerConn,
          prefix: 'utskick',
        });
        worker.on('completed', (_job, value) => resolve(value));
        worker.on('error', reject);
      });
      expect(await done).toBe(2);
    } finally {
      await worker?.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe('connectOrExplain: one error naming REDIS_URL', () => {
  it('a wrong password: REDIS_CONFIG, WRONGPASS, for a client and for a worker (which would otherwise retry for ever)', async () => {
    for (const role of ['client', 'worker'] as const) {
      const e = await failure(
        { REDIS_URL: server.url('utskick-ops'), REDIS_PASSWORD_FILE: server.wrongPasswordFile },
        role,
      );
      expect(e.code).toBe('REDIS_CONFIG');
      expect(e.retryable).toBe(false);
      expect(e.message).toBe(
        `REDIS_URL ${server.url('utskick-ops')}: Redis refused the login of user utskick-ops (WRONGPASS): check the user in REDIS_URL and the password in REDIS_PASSWORD_FILE`,
      );
      expect(e.message).not.toContain('not-the-password');
    }
  });

  it('no login at all: REDIS_CONFIG, NOAUTH', async () => {
    const e = await failure({ REDIS_URL: server.url() });
    expect(e.code).toBe('REDIS_CONFIG');
    expect(e.message).toMatch(/^REDIS_URL redis:\/\/127\.0\.0\.1:\d+: Redis requires a login \(NOAUTH\)/);
  });

  it('a database out of range, or one the user may not select: REDIS_CONFIG, and nothing runs in database 0', async () => {
    const outOfRange = await failure({ REDIS_URL: `${redisUrl()}/99` });
    expect(outOfRange.code).toBe('REDIS_CONFIG');
    expect(outOfRange.message).toMatch(/\/99: database 99 cannot be used \(ERR DB index is out of range\)$/);
    const worker = await failure({ REDIS_URL: `${redisUrl()}/99` }, 'worker');
    expect(worker.code).toBe('REDIS_CONFIG');
    const notAllowed = await failure({
      REDIS_URL: server.url('utskick-enqueue', 1),
      REDIS_PASSWORD_FILE: server.passwordFile('utskick-enqueue'),
    });
    expect(notAllowed.message).toMatch(/database 1 cannot be used \(NOPERM/);
  });

  it('nothing listening, or no such host: REDIS_UNREACHABLE with the reason', async () => {
    const port = await freePort();
    const refused = await failure({ REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(refused.code).toBe('REDIS_UNREACHABLE');
    expect(refused.retryable).toBe(true);
    expect(refused.message).toBe(
      `REDIS_URL redis://127.0.0.1:${port}: Redis cannot be reached (ECONNREFUSED)`,
    );
    const unknown = await failure({ REDIS_URL: 'redis://no-such-host.invalid:6379' });
    expect(unknown.code).toBe('REDIS_UNREACHABLE');
    expect(unknown.message).toMatch(
      /no-such-host\.invalid:6379: Redis cannot be reached \((ENOTFOUND|EAI_AGAIN)\)$/,
    );
  });

  it('a bare URL with a password in it is refused by the factory too', () => {
    expect(() => redisTarget('redis://utskick-ops:pw@h:6379')).toThrow(/REDIS_URL holds a password/);
    expect(() => createRedis('redis://utskick-ops:pw@h:6379', 'client')).toThrow(RedisConnectionError);
  });
});
