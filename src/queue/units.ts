import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';

/**
 * Sending units activated in the e-services. The routine activates a unit
 * before its mailing and may deactivate it afterwards; a campaign from a unit
 * that is not active is refused at enqueue and at send.
 */
export interface Unit {
  hsaId: string;
  name: string;
  activatedAt: string;
}

export class UnitError extends Error {
  readonly code = 'UNIT_INACTIVE';
}

export async function activateUnit(redis: Redis, keys: Keys, unit: Unit): Promise<void> {
  await redis.hset(keys.units(), unit.hsaId, JSON.stringify(unit));
}

export async function deactivateUnit(redis: Redis, keys: Keys, hsaId: string): Promise<boolean> {
  return (await redis.hdel(keys.units(), hsaId)) === 1;
}

export async function listUnits(redis: Redis, keys: Keys): Promise<Unit[]> {
  const h = await redis.hgetall(keys.units());
  return Object.values(h)
    .map((v) => JSON.parse(v) as Unit)
    .sort((a, b) => a.hsaId.localeCompare(b.hsaId));
}

export async function isUnitActive(redis: Redis, keys: Keys, hsaId: string): Promise<boolean> {
  return (await redis.hexists(keys.units(), hsaId)) === 1;
}

export async function assertUnitActive(redis: Redis, keys: Keys, hsaId: string): Promise<void> {
  if (!(await isUnitActive(redis, keys, hsaId))) {
    throw new UnitError(
      `sending unit ${hsaId} is not active; activate it first: npm run unit -- activate ${hsaId} --name "<unit name>"`,
    );
  }
}
