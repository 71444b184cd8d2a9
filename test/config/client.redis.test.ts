/** REDIS_URL and REDIS_PASSWORD_FILE become one connection target; every mistake is a ConfigError naming the variable. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadClientConfig } from '../../src/config/client.js';
import { ConfigError } from '../../src/config/env.js';
import { loadWorkerConfig } from '../../src/config/worker.js';
import { createRedis, redisOptionsFor, redisTarget } from '../../src/queue/redis.js';

const dir = mkdtempSync(join(tmpdir(), 'utskick-client-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function secretFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, 0o600);
  return path;
}

const configError = (f: () => unknown): ConfigError => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('no ConfigError');
};

describe('the Redis connection target', () => {
  it("takes the user from REDIS_URL and the password from REDIS_PASSWORD_FILE, which wins over the URL's empty one", () => {
    const file = secretFile('worker.password', 's3cret-from-file\n');
    const config = loadClientConfig({
      REDIS_URL: 'redis://utskick-worker@redis.example:6380/0',
      REDIS_PASSWORD_FILE: file,
    });
    expect(config.redis).toMatchObject({
      host: 'redis.example',
      port: 6380,
      db: 0,
      username: 'utskick-worker',
    });
    expect(config.redis.password).toBe('s3cret-from-file');
    const options = redisOptionsFor(config.redis, 'worker');
    expect(options).toMatchObject({
      username: 'utskick-worker',
      password: 's3cret-from-file',
      maxRetriesPerRequest: null,
    });
    // The connection the factory opens logs in with the file's password, not the URL's empty one.
    const redis = createRedis(config.redis, 'client', { lazyConnect: true });
    expect(redis.options.password).toBe('s3cret-from-file');
    expect(redis.options.username).toBe('utskick-worker');
    // A duplicate (BullMQ's blocking connection) carries it too.
    expect(redis.duplicate().options.password).toBe('s3cret-from-file');
    redis.disconnect();
  });

  it('never shows the password when the target is logged or serialised', () => {
    const target = redisTarget('redis://utskick-ops@h:6379', 'hunter2-pw');
    expect(JSON.stringify(target)).not.toContain('hunter2-pw');
    expect(Object.keys(target)).not.toContain('password');
    expect(target.password).toBe('hunter2-pw');
  });

  it('refuses a password in REDIS_URL, naming REDIS_URL and REDIS_PASSWORD_FILE without echoing the password', () => {
    const e = configError(() => loadClientConfig({ REDIS_URL: 'redis://utskick-ops:hunter2-pw@h:6379' }));
    expect(e.message).toContain('REDIS_URL');
    expect(e.message).toContain('put the password in REDIS_PASSWORD_FILE');
    expect(e.message).not.toContain('hunter2-pw');
    expect(e.message.split('\n')).toHaveLength(1);
    // Also with no user, and when a password file is given as well.
    const file = secretFile('ops.password', 'x');
    expect(
      configError(() => loadClientConfig({ REDIS_URL: 'redis://:pw@h', REDIS_PASSWORD_FILE: file })).message,
    ).toMatch(/REDIS_URL holds a password/);
  });

  it('refuses a named user without REDIS_PASSWORD_FILE, an empty password file, a query and a database that is no number', () => {
    expect(
      configError(() => loadClientConfig({ REDIS_URL: 'redis://utskick-worker@h:6379' })).message,
    ).toMatch(/REDIS_URL names user utskick-worker but REDIS_PASSWORD_FILE is not set/);
    const empty = secretFile('empty.password', '\n');
    expect(
      configError(() => loadClientConfig({ REDIS_URL: 'redis://u@h', REDIS_PASSWORD_FILE: empty })).message,
    ).toMatch(/REDIS_PASSWORD_FILE .* is empty/);
    expect(configError(() => loadClientConfig({ REDIS_URL: 'redis://h:6379?password=x' })).message).toMatch(
      /REDIS_URL takes no query/,
    );
    expect(configError(() => loadClientConfig({ REDIS_URL: 'redis://h:6379/zero' })).message).toMatch(
      /REDIS_URL: the database after the host must be a number/,
    );
    expect(
      configError(() =>
        loadClientConfig({ REDIS_URL: 'redis://h', REDIS_PASSWORD_FILE: join(dir, 'missing') }),
      ).message,
    ).toMatch(/REDIS_PASSWORD_FILE names .*missing, which cannot be read \(ENOENT\)/);
  });

  it('reads TLS, IPv6 hosts, the database and the default port from the URL', () => {
    expect(redisTarget('rediss://[::1]/3')).toMatchObject({ host: '::1', port: 6379, db: 3, tls: true });
    expect(redisOptionsFor(redisTarget('rediss://h'), 'client').tls).toEqual({});
    expect(redisTarget('redis://127.0.0.1:6379')).toMatchObject({ db: 0, tls: false });
    expect(redisTarget('redis://127.0.0.1:6379').username).toBeUndefined();
  });
});

describe('the Redis connection target through Sentinels', () => {
  it('reads REDIS_SENTINELS, REDIS_SENTINEL_MASTER and both logins, with the passwords from files only', () => {
    const data = secretFile('data.password', 'data-secret\n');
    const sentinel = secretFile('sentinel.password', 'sentinel-secret\n');
    const config = loadClientConfig({
      REDIS_SENTINELS: 'sentinel-1:26379, sentinel-2:26380,[::1]',
      REDIS_SENTINEL_MASTER: 'utskick',
      REDIS_USERNAME: 'utskick-worker',
      REDIS_PASSWORD_FILE: data,
      REDIS_SENTINEL_USERNAME: 'sentinel-user',
      REDIS_SENTINEL_PASSWORD_FILE: sentinel,
    });
    expect(config.redis.sentinel).toMatchObject({
      master: 'utskick',
      nodes: [
        { host: 'sentinel-1', port: 26379 },
        { host: 'sentinel-2', port: 26380 },
        { host: '::1', port: 26379 },
      ],
      username: 'sentinel-user',
    });
    expect(config.redis.where).toBe(
      'REDIS_SENTINELS sentinel-1:26379,sentinel-2:26380,[::1]:26379 (primary utskick)',
    );
    expect(config.redis.password).toBe('data-secret');
    expect(config.redis.sentinel?.password).toBe('sentinel-secret');
    expect(JSON.stringify(config.redis)).not.toMatch(/secret/);
    const options = redisOptionsFor(config.redis, 'worker');
    expect(options).toMatchObject({
      name: 'utskick',
      role: 'master',
      username: 'utskick-worker',
      password: 'data-secret',
      sentinelUsername: 'sentinel-user',
      sentinelPassword: 'sentinel-secret',
      maxRetriesPerRequest: null,
    });
    expect(options.host).toBeUndefined();
    expect(config.waitTimeoutMs).toBe(1000);
    expect(config.notes).toEqual([]);
  });

  it('with REDIS_URL set as well, the Sentinels win and a note says REDIS_URL is ignored', () => {
    const config = loadClientConfig({
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_SENTINELS: 's1:26379',
      REDIS_SENTINEL_MASTER: 'utskick',
    });
    expect(config.redis.sentinel?.master).toBe('utskick');
    expect(config.notes).toEqual([
      'REDIS_URL is ignored: REDIS_SENTINELS is set, so the primary is the one the Sentinels name',
    ]);
    expect(loadClientConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).notes).toEqual([]);
  });

  it('refuses a half or mixed setting with one line naming the variable', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ REDIS_SENTINELS: 's1:26379' }, /REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER is not/],
      [{ REDIS_SENTINEL_MASTER: 'utskick' }, /REDIS_SENTINEL_MASTER is set but REDIS_SENTINELS is not/],
      [
        { REDIS_SENTINELS: 's1:port', REDIS_SENTINEL_MASTER: 'u' },
        /REDIS_SENTINELS: 's1:port' is not host:port/,
      ],
      [{ REDIS_SENTINELS: ' , ', REDIS_SENTINEL_MASTER: 'u' }, /REDIS_SENTINELS names no Sentinel/],
      [{ REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER: 'a b' }, /REDIS_SENTINEL_MASTER must be the name/],
      [
        { REDIS_SENTINELS: 's1', REDIS_SENTINEL_MASTER: 'u', REDIS_USERNAME: 'w' },
        /REDIS_USERNAME names user w but REDIS_PASSWORD_FILE is not set/,
      ],
      [
        {
          REDIS_SENTINELS: 's1',
          REDIS_SENTINEL_MASTER: 'u',
          REDIS_SENTINEL_PASSWORD_FILE: join(dir, 'nope'),
        },
        /REDIS_SENTINEL_PASSWORD_FILE names .*nope, which cannot be read/,
      ],
      [{ REDIS_URL: 'redis://h', REDIS_USERNAME: 'w' }, /REDIS_USERNAME is set but REDIS_SENTINELS is not/],
      [{ REDIS_WAIT_TIMEOUT_MS: '5' }, /REDIS_WAIT_TIMEOUT_MS/],
    ];
    for (const [env, message] of cases)
      expect(configError(() => loadClientConfig(env)).message).toMatch(message);
  });
});

describe('LOG_LEVEL', () => {
  it('is validated with the rest of the worker configuration', () => {
    const e = configError(() => loadWorkerConfig({ LOG_LEVEL: 'loud' }));
    expect(e.message).toMatch(/LOG_LEVEL: /);
  });
});
