/** What a Redis failure means (pure rules): a wrong setting, a refused command, or an outage. */
import { describe, expect, it } from 'vitest';
import {
  classifyRedisError,
  explainRedisError,
  isRedisClientFailure,
  RedisConnectionError,
} from '../../src/queue/redis-errors.js';

const reply = (message: string, command?: string) =>
  Object.assign(new Error(message), {
    name: 'ReplyError',
    ...(command ? { command: { name: command } } : {}),
  });
const socket = (code: string) => Object.assign(new Error(`connect ${code} 10.0.0.1:6379`), { code });

describe('classifyRedisError', () => {
  it('sorts login, database, permission and socket failures', () => {
    expect(classifyRedisError(reply('WRONGPASS invalid username-password pair'))).toBe('REDIS_CONFIG');
    expect(classifyRedisError(new Error('Ready check failed: NOAUTH Authentication required.'))).toBe(
      'REDIS_CONFIG',
    );
    expect(classifyRedisError(reply('ERR DB index is out of range', 'select'))).toBe('REDIS_CONFIG');
    expect(
      classifyRedisError(reply("NOPERM User u has no permissions to run the 'select' command", 'select')),
    ).toBe('REDIS_CONFIG');
    expect(classifyRedisError(reply("NOPERM User u has no permissions to run the 'scan' command"))).toBe(
      'REDIS_PERMISSION',
    );
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET'])
      expect(classifyRedisError(socket(code))).toBe('REDIS_UNREACHABLE');
    expect(classifyRedisError(new Error('Connection is closed.'))).toBe('REDIS_UNREACHABLE');
    expect(classifyRedisError(reply('ERR Error running script'))).toBeUndefined();
  });

  it('looks through a wrapper to its cause (the rate limiter wraps Redis errors)', () => {
    const wrapped = new Error('rate limiter could not reach Redis', { cause: socket('ECONNREFUSED') });
    expect(classifyRedisError(wrapped)).toBe('REDIS_UNREACHABLE');
    expect(explainRedisError(wrapped, 'redis://r:6379').message).toBe(
      'REDIS_URL redis://r:6379: Redis cannot be reached (ECONNREFUSED)',
    );
  });
});

describe('isRedisClientFailure (what a CLI may blame on REDIS_URL)', () => {
  it('is true for Redis replies and ioredis giving up, false for another client whose cause is a socket error', () => {
    expect(isRedisClientFailure(reply('NOPERM No permissions to access a key'))).toBe(true);
    expect(
      isRedisClientFailure(
        Object.assign(new Error('Reached the max retries'), { name: 'MaxRetriesPerRequestError' }),
      ),
    ).toBe(true);
    expect(isRedisClientFailure(new RedisConnectionError('REDIS_UNREACHABLE', 'x'))).toBe(true);
    const prometheus = new Error('Prometheus at http://p:9090 did not answer (fetch failed)', {
      cause: socket('ECONNREFUSED'),
    });
    expect(isRedisClientFailure(prometheus)).toBe(false);
    expect(isRedisClientFailure(reply('ERR unknown command'))).toBe(false);
  });
});

describe('explainRedisError', () => {
  it('names REDIS_URL with the password masked and never holds the password file', () => {
    const e = explainRedisError(
      reply('WRONGPASS invalid username-password pair'),
      'redis://ops:secret@r:6379/0',
    );
    expect(e.message).toBe(
      'REDIS_URL redis://ops:***@r:6379/0: Redis refused the login of user ops (WRONGPASS): check the user in REDIS_URL and the password in REDIS_PASSWORD_FILE',
    );
    expect(e.code).toBe('REDIS_CONFIG');
    expect(e.retryable).toBe(false);
    const perm = explainRedisError(
      reply("NOPERM User utskick-enqueue has no permissions to run the 'scan' command"),
      'redis://utskick-enqueue@r',
    );
    expect(perm.message).toBe(
      "REDIS_URL redis://utskick-enqueue@r: user utskick-enqueue may not do what this command needs (NOPERM User utskick-enqueue has no permissions to run the 'scan' command); run it as the Redis user of its role",
    );
  });
});
