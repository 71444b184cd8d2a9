import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { freePort, noRedisHelp, redisAnswers } from '../../scripts/lib/private-redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let child: ChildProcess | undefined;

/**
 * Tests run against a real Redis: REDIS_URL, or 127.0.0.1:6379, or (when
 * neither answers and redis-server is on PATH) a private one started here.
 * Never skipped: without Redis the run fails saying how to get one.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await redisAnswers(url)) {
    project.provide('redisUrl', url);
    return async () => {};
  }
  const redisServerOnPath = spawnSync('redis-server', ['--version']).status === 0;
  if (process.env.REDIS_URL || !redisServerOnPath) {
    // One clear paragraph, not a stack trace: the whole suite needs a real Redis.
    process.stderr.write(
      `\nnpm test: ${noRedisHelp(url, { explicitUrl: !!process.env.REDIS_URL, redisServerOnPath })}\n\n`,
    );
    process.exit(1);
  }
  const port = await freePort();
  child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const privateUrl = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await redisAnswers(privateUrl)); i++)
    await new Promise((r) => setTimeout(r, 100));
  if (!(await redisAnswers(privateUrl)))
    throw new Error(`started redis-server on port ${port} but it does not answer`);
  project.provide('redisUrl', privateUrl);
  return async () => {
    child?.kill('SIGTERM');
  };
}

export { freePort };
