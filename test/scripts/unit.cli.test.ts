/** `npm run unit` as a real child process against real Redis. */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { isUnitActive, type Unit } from '../../src/queue/units.js';
import { runScript } from '../helpers/cli.js';
import { connect, deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const prefix = uniquePrefix('unit-cli');
const keys = createKeys(prefix);
const env = { REDIS_URL: redisUrl(), UTSKICK_PREFIX: prefix };
const HSA = 'SE2321000032-1003';
let redis: Redis;

beforeAll(() => {
  redis = connect();
});
afterAll(async () => {
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const unit = (...args: string[]) => runScript('unit', args, { env, timeoutMs: 45_000 });

describe.concurrent('unit CLI', { timeout: 120_000 }, () => {
  it('activate, list, deactivate, list', async () => {
    const startedMs = Date.now();
    const activated = await unit('activate', HSA, '--name', 'Vårdcentralen Gottsunda');
    expect(activated.code, activated.stderr).toBe(0);
    expect(activated.stdout).toBe(`unit ${HSA} (Vårdcentralen Gottsunda) is active\n`);
    expect(await isUnitActive(redis, keys, HSA)).toBe(true);

    const listed = await unit('list', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const units = JSON.parse(listed.stdout) as Unit[];
    expect(units).toHaveLength(1);
    expect(units[0]).toMatchObject({ hsaId: HSA, name: 'Vårdcentralen Gottsunda' });
    expect(Date.parse(units[0]!.activatedAt)).toBeGreaterThanOrEqual(startedMs - 1000);

    const deactivated = await unit('deactivate', HSA);
    expect(deactivated.code, deactivated.stderr).toBe(0);
    expect(deactivated.stdout).toBe(`unit ${HSA} is no longer active\n`);
    expect(await isUnitActive(redis, keys, HSA)).toBe(false);

    const empty = await unit('list');
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toBe('no active units\n');
  });

  it('refuses a malformed HSA-id and an unknown command with exit 2, writing nothing', async () => {
    const [badId, badCommand] = await Promise.all([
      unit('activate', 'SE123', '--name', 'X'),
      unit('enable', HSA),
    ]);
    expect(badId.code).toBe(2);
    expect(badId.stderr.trim()).toBe('unit: SE123: must be an HSA-id such as SE2321000032-1003');
    expect(badCommand.code).toBe(2);
    expect(badCommand.stderr).toContain('usage: npm run unit -- activate <HSA-id>');
    expect(await isUnitActive(redis, keys, 'SE123')).toBe(false);
  });
});
