import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveOptions } from './options.js';
import type { ReceivedMessage, SimulatorStats } from './store.js';
import { hashId } from './verdict.js';

/**
 * The simulator's HTTP test aids: GET /__stats, POST /__reset,
 * GET /__received (masked numbers and keyed hashes only), GET|POST /__options.
 */

export const MAX_BODY_BYTES = 1 << 20;

/** The whole body as UTF-8; undefined when over MAX_BODY_BYTES or aborted. */
export function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) resolve(undefined);
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

export function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

export interface TestAidTarget {
  stats(): SimulatorStats;
  reset(): void;
  received(): ReceivedMessage[];
  options(): LiveOptions;
  setOptions(partial: Partial<LiveOptions>): void;
}

/** Answers a test-aid route; false when `path` is none of them. */
export function routeTestAid(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  target: TestAidTarget,
  seed: string,
): boolean {
  if (path === '/__stats' && req.method === 'GET') {
    json(res, 200, target.stats());
    return true;
  }
  if (path === '/__reset' && req.method === 'POST') {
    target.reset();
    json(res, 200, { reset: true });
    return true;
  }
  if (path === '/__received' && req.method === 'GET') {
    const messages = target.received().map(({ subjectOfCareId, ...rest }) => ({
      ...rest,
      subjectHash: hashId(seed, subjectOfCareId),
    }));
    json(res, 200, { messages });
    return true;
  }
  if (path === '/__options' && req.method === 'GET') {
    json(res, 200, target.options());
    return true;
  }
  if (path === '/__options' && req.method === 'POST') {
    readBody(req).then((body) => {
      try {
        target.setOptions(JSON.parse(body ?? 'null') as Partial<LiveOptions>);
        json(res, 200, target.options());
      } catch (err) {
        json(res, 400, { error: (err as Error).message });
      }
    });
    return true;
  }
  return false;
}
