import { onTestFinished } from 'vitest';
import {
  type PrivateRedis,
  type PrivateRedisOptions,
  startPrivateRedis,
} from '../../scripts/lib/private-redis.js';

export {
  freePort,
  PrivateRedis,
  type PrivateRedisOptions,
  startPrivateRedis,
} from '../../scripts/lib/private-redis.js';

/**
 * A private redis-server for one test: free port, temp dir, optional AOF;
 * `stop()` / `start()` / `restart(downMs)` keep the port. Killed and its dir
 * removed when the test ends, whether it passed or not. Call inside a test;
 * in beforeAll use `startPrivateRedis` and close it in afterAll.
 */
export async function usePrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const server = await startPrivateRedis(options);
  onTestFinished(() => server.close());
  return server;
}
