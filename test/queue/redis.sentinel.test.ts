/**
 * Connecting through Sentinels (real private Sentinels and data nodes): a
 * wrong setting is one line naming the Sentinel variables, as a wrong
 * REDIS_URL is, and a user who may not WAIT is refused before any write.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type PrivateSentinels, startPrivateSentinels } from '../../scripts/lib/private-sentinel.js';
import { sentinelPromotable } from '../../src/queue/durability.js';
import {
  connectOrExplain,
  createRedis,
  RedisConnectionError,
  type RedisTarget,
  sentinelClient,
  sentinelTarget,
} from '../../src/queue/redis.js';
import { freePort } from '../helpers/private-redis.js';
import { describeWithTools, tools } from '../helpers/tools.js';

let ha: PrivateSentinels;

async function failure(
  target: RedisTarget,
  role: 'client' | 'worker' = 'client',
): Promise<RedisConnectionError> {
  const redis = createRedis(target, role);
  try {
    await connectOrExplain(redis, target);
  } catch (err) {
    expect(err).toBeInstanceOf(RedisConnectionError);
    return err as RedisConnectionError;
  } finally {
    redis.disconnect();
  }
  throw new Error('connected');
}

describeWithTools('connecting through Sentinels', [tools.redisServer], () => {
  beforeAll(async () => {
    ha = await startPrivateSentinels({ replicas: 1 });
    // A user who may do everything but WAIT, on both data nodes (ACL SETUSER is not replicated).
    for (const node of [ha.primary, ...ha.replicas]) {
      const admin = new Redis(node.port, '127.0.0.1');
      await admin.call('ACL', 'SETUSER', 'no-wait', 'on', '>no-wait-pw', '~*', '&*', '+@all', '-wait');
      admin.disconnect();
    }
  }, 60_000);
  afterAll(async () => {
    await ha?.close();
  });

  it('finds the primary the Sentinels name and writes to it', async () => {
    const target = sentinelTarget({ sentinels: ha.sentinelsEnv, master: ha.masterName });
    const redis = createRedis(target, 'client');
    try {
      await connectOrExplain(redis, target);
      await redis.set('sentinel:probe', '1');
      const primary = new Redis(await ha.currentPrimaryPort(), '127.0.0.1');
      expect(await primary.get('sentinel:probe')).toBe('1');
      primary.disconnect();
    } finally {
      redis.disconnect();
    }
  });

  it('a name the Sentinels do not monitor is a wrong setting naming REDIS_SENTINEL_MASTER (exit 2), for a worker too', async () => {
    for (const role of ['client', 'worker'] as const) {
      const err = await failure(
        sentinelTarget({ sentinels: ha.sentinelsEnv, master: 'no-such-primary' }),
        role,
      );
      expect(err.code, role).toBe('REDIS_CONFIG');
      expect(err.message, role).toBe(
        `REDIS_SENTINELS ${ha.sentinelsEnv} (primary no-such-primary): no Sentinel knows a primary by that name (check REDIS_SENTINEL_MASTER)`,
      );
    }
  });

  it('Sentinels that do not answer are an outage (exit 1)', async () => {
    const list = `127.0.0.1:${await freePort()},127.0.0.1:${await freePort()}`;
    const err = await failure(sentinelTarget({ sentinels: list, master: 'utskick' }));
    expect(err.code).toBe('REDIS_UNREACHABLE');
    expect(err.message).toBe(
      `REDIS_SENTINELS ${list} (primary utskick): Redis cannot be reached (no Sentinel answers)`,
    );
  });

  it('a wrong password on the data nodes names REDIS_USERNAME and REDIS_PASSWORD_FILE, never the password', async () => {
    const err = await failure(
      sentinelTarget({
        sentinels: ha.sentinelsEnv,
        master: ha.masterName,
        username: 'no-wait',
        password: 'wrong-pw',
      }),
    );
    expect(err.code).toBe('REDIS_CONFIG');
    expect(err.message).toMatch(
      /refused the login of user no-wait \(WRONGPASS\): check REDIS_USERNAME and the password in REDIS_PASSWORD_FILE$/,
    );
    expect(err.message).not.toContain('wrong-pw');
  });

  it('a user who may not WAIT is refused at connect, before any write (exit 2)', async () => {
    for (const role of ['client', 'worker'] as const) {
      const err = await failure(
        sentinelTarget({
          sentinels: ha.sentinelsEnv,
          master: ha.masterName,
          username: 'no-wait',
          password: 'no-wait-pw',
        }),
        role,
      );
      expect(err.code, role).toBe('REDIS_PERMISSION');
      expect(err.message, role).toMatch(
        /^REDIS_SENTINELS .* \(primary utskick\): user no-wait may not do what this command needs/,
      );
    }
  });
});

describeWithTools('which replicas the Sentinels could promote', [tools.redisServer], () => {
  it('none, when a majority of the Sentinels says so; a minority saying none counts as one (keep waiting)', async () => {
    const alone = await startPrivateSentinels({ replicas: 0 });
    try {
      const set = sentinelTarget({ sentinels: alone.sentinelsEnv, master: alone.masterName }).sentinel!;
      const ask = (nodes: { host: string; port: number }[]) =>
        sentinelPromotable({ ...set, nodes }, (node) => sentinelClient(set, node))();
      expect(await ask(alone.sentinels)).toBe(0);
      const dead = [
        { host: '127.0.0.1', port: await freePort() },
        { host: '127.0.0.1', port: await freePort() },
      ];
      const unanswered: unknown[] = [];
      const minority = sentinelPromotable(
        { ...set, nodes: [alone.sentinels[0]!, ...dead] },
        (node) => sentinelClient(set, node),
        (err) => unanswered.push(err),
      );
      expect(await minority()).toBe(1);
      expect(unanswered).toHaveLength(2);
    } finally {
      await alone.close();
    }
  });
});
