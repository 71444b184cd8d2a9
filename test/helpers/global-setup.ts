import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

async function answers(url: string): Promise<boolean> {
  const r = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return (await r.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    r.disconnect();
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

let child: ChildProcess | undefined;

/**
 * Tests run against a real Redis: REDIS_URL, or 127.0.0.1:6379, or (when
 * neither answers and redis-server is on PATH) a private one started here.
 * Never skipped: without Redis the run fails saying how to get one.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await answers(url)) {
    project.provide('redisUrl', url);
    return async () => {};
  }
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error(
      `No Redis answers at ${url} and redis-server is not on PATH. Start one (apt-get install redis-server; redis-server --save "" --appendonly no) or set REDIS_URL.`,
    );
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
  for (let i = 0; i < 50 && !(await answers(privateUrl)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await answers(privateUrl)))
    throw new Error(`started redis-server on port ${port} but it does not answer`);
  project.provide('redisUrl', privateUrl);
  return async () => {
    child?.kill('SIGTERM');
  };
}
