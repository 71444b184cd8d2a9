/** The worker's Redis outage log: one line when it starts, at most one a minute while it lasts, one when it ends. */
import { describe, expect, it } from 'vitest';
import { createOutageLog } from '../../src/queue/redis-outage.js';

function recorder() {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  return {
    lines,
    logger: {
      warn: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'warn', msg, fields }),
      info: (fields: Record<string, unknown>, msg: string) => lines.push({ level: 'info', msg, fields }),
    },
  };
}

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });

describe('createOutageLog', () => {
  it('logs an outage once, then once a minute, then its end; /readyz gets the reason meanwhile', () => {
    let t = 0;
    const { lines, logger } = recorder();
    const log = createOutageLog('redis://utskick-worker@redis:6379', logger, { now: () => t });
    expect(log.problem()).toBeUndefined();
    // Four connections failing every quarter second for three minutes.
    for (; t < 180_000; t += 250) for (let c = 0; c < 4; c++) expect(log.error(refused)).toBe(true);
    expect(lines.map((l) => l.msg)).toEqual([
      'redis unavailable',
      'redis still unavailable',
      'redis still unavailable',
    ]);
    expect(lines[0]!.fields.reason).toBe(
      'REDIS_URL redis://utskick-worker@redis:6379: Redis cannot be reached (ECONNREFUSED)',
    );
    expect(lines[1]!.fields).toMatchObject({ downForSec: 60, code: 'REDIS_UNREACHABLE' });
    expect(log.problem()).toMatch(/ECONNREFUSED/);
    log.ready();
    expect(lines.at(-1)).toMatchObject({
      level: 'info',
      msg: 'redis available again',
      fields: { downForSec: 180 },
    });
    expect(log.problem()).toBeUndefined();
    log.ready();
    expect(lines).toHaveLength(4);
  });

  it('keeps the socket reason for /readyz when later errors only say the connection is closed', () => {
    const { logger } = recorder();
    const log = createOutageLog('redis://r:6379', logger);
    log.error(new Error('Connection is closed.'));
    expect(log.problem()).toBe('REDIS_URL redis://r:6379: Redis cannot be reached (connection lost)');
    log.error(refused);
    log.error(new Error('Connection is closed.'));
    expect(log.problem()).toBe('REDIS_URL redis://r:6379: Redis cannot be reached (ECONNREFUSED)');
  });

  it('counts a refused login as a connection problem, and leaves other errors to the caller', () => {
    const { lines, logger } = recorder();
    const log = createOutageLog('redis://utskick-worker@redis:6379', logger);
    expect(log.error(new Error('WRONGPASS invalid username-password pair or user is disabled.'))).toBe(true);
    expect(lines[0]!.fields.reason).toMatch(/refused the login of user utskick-worker \(WRONGPASS\)/);
    expect(log.error(new Error('Missing lock for job 1. moveToFinished'))).toBe(false);
    expect(lines).toHaveLength(1);
  });
});
