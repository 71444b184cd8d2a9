import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { createLedger } from '../../src/queue/ledger.js';
import { freePort } from '../helpers/global-setup.js';
import { requireBinary } from '../helpers/prometheus.js';

const root = resolve(import.meta.dirname, '../..');
const users = [
  'utskick-worker',
  'utskick-enqueue',
  'utskick-ops',
  'utskick-audit-retention',
  'utskick-replication',
  'utskick-sentinel',
] as const;
type User = (typeof users)[number];

const aclTemplate = readFileSync(join(root, 'config/redis-users.acl'), 'utf8');
const passwords = Object.fromEntries(users.map((u) => [u, randomBytes(16).toString('hex')])) as Record<
  User,
  string
>;

/** The template with each user's placeholder hash replaced by the hash of a test password. */
function aclWithTestPasswords(): string {
  let text = aclTemplate;
  for (const u of users) {
    const hash = createHash('sha256').update(passwords[u]).digest('hex');
    const before = text;
    text = text.replace(new RegExp(`^user ${u} on #0{64} `, 'm'), `user ${u} on #${hash} `);
    if (text === before) throw new Error(`config/redis-users.acl has no placeholder line for ${u}`);
  }
  return text;
}

/** config/redis.conf for a private test server: own dir, ACL copy, loopback, free port. */
function testRedisConf(dir: string, aclPath: string, port: number): string {
  const replaced = new Set<string>();
  const lines = readFileSync(join(root, 'config/redis.conf'), 'utf8')
    .split('\n')
    .map((line) => {
      const name = line.trim().split(/\s+/)[0] ?? '';
      const value: Record<string, string> = { dir, aclfile: aclPath, bind: '127.0.0.1', port: String(port) };
      if (!line.trim().startsWith('#') && value[name] !== undefined) {
        replaced.add(name);
        return `${name} ${value[name]}`;
      }
      return line;
    });
  expect([...replaced].sort()).toEqual(['aclfile', 'bind', 'dir', 'port']);
  return lines.join('\n');
}

let dir: string;
let port: number;
let server: ChildProcess | undefined;
let serverLog = '';
const open: Redis[] = [];

function connect(user?: User, extra: { maxRetriesPerRequest?: null } = {}): Redis {
  const r = new Redis({
    host: '127.0.0.1',
    port,
    ...(user ? { username: user, password: passwords[user] } : {}),
    lazyConnect: true,
    enableReadyCheck: !!user,
    retryStrategy: () => null,
    ...extra,
  });
  r.on('error', () => {});
  open.push(r);
  return r;
}

async function as(user: User): Promise<Redis> {
  const r = connect(user);
  await r.connect();
  return r;
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'no error',
    (e: Error) => e.message,
  );
}

beforeAll(async () => {
  requireBinary('redis-server', '--version', 'redis-server');
  dir = mkdtempSync(join(tmpdir(), 'utskick-acl-'));
  port = await freePort();
  const aclPath = join(dir, 'users.acl');
  writeFileSync(aclPath, aclWithTestPasswords());
  const confPath = join(dir, 'redis.conf');
  writeFileSync(confPath, testRedisConf(dir, aclPath, port));
  server = spawn('redis-server', [confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout?.on('data', (c) => {
    serverLog = (serverLog + String(c)).slice(-4000);
  });
  for (let i = 0; i < 100; i++) {
    if (server.exitCode !== null) throw new Error(`redis-server exited: ${serverLog}`);
    const probe = connect();
    const answer = await probe.connect().then(
      () => errorOf(probe.ping()),
      () => 'down',
    );
    probe.disconnect();
    if (answer.startsWith('NOAUTH')) return;
    await delay(50);
  }
  throw new Error(`redis-server with config/redis.conf did not answer: ${serverLog}`);
});

afterAll(async () => {
  for (const r of open.splice(0)) r.disconnect();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server?.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, delay(5000)]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('config/redis-users.acl', () => {
  it('holds only hashed passwords, and the template placeholders let nobody in', () => {
    const lines = aclTemplate.split('\n').filter((l) => l.trim());
    expect(lines.map((l) => l.split(' ')[1])).toEqual(['default', ...users]);
    for (const line of lines) {
      expect(line, 'no plaintext password (">...")').not.toMatch(/\s>/);
      expect(line).not.toMatch(/\snopass\b/);
    }
    for (const u of users) expect(aclTemplate).toMatch(new RegExp(`^user ${u} on #0{64} `, 'm'));
    expect(aclTemplate).toMatch(/^user default off resetpass /m);
    // DEBUG is also off server-wide (enable-debug-command no), so only the rules can show it is not granted.
    for (const grant of ['+@all', 'allcommands', '+@admin', '+@dangerous', '+debug', '+flushall', '+keys'])
      expect(aclTemplate).not.toContain(` ${grant}`);
    // CONFIG not at all, but for the one subcommand a Sentinel sends after a failover.
    for (const line of lines) {
      const config = line.split(' ').filter((w) => /^\+config(\||$)/.test(w));
      expect(config, line).toEqual(line.startsWith('user utskick-sentinel ') ? ['+config|rewrite'] : []);
    }
  });

  it('config/redis.conf loads and gives AOF and noeviction', async () => {
    const r = await as('utskick-worker');
    const info = await r.info();
    expect(info).toMatch(/^maxmemory_policy:noeviction\r?$/m);
    expect(info).toMatch(/^aof_enabled:1\r?$/m);
  });

  it('refuses clients that do not log in, the default user and wrong passwords', async () => {
    const anon = connect();
    await anon.connect();
    expect(await errorOf(anon.get('utskick:x'))).toMatch(/^NOAUTH/);
    expect(await errorOf(anon.auth('default', ''))).toMatch(/WRONGPASS/);
    expect(await errorOf(anon.auth('utskick-worker', 'not-the-password'))).toMatch(/WRONGPASS/);
    expect(await anon.auth('utskick-worker', passwords['utskick-worker'])).toBe('OK');
  });

  it('the enqueue user cannot run admin commands or write outside its keys', async () => {
    const r = await as('utskick-enqueue');
    for (const [cmd, args] of [
      ['flushall', []],
      ['flushdb', []],
      ['config', ['get', 'maxmemory-policy']],
      ['config', ['set', 'appendonly', 'no']],
      ['keys', ['*']],
      ['acl', ['list']],
      ['shutdown', []],
      ['scan', ['0']],
      ['publish', ['utskick:x', 'y']],
    ] as const) {
      expect(await errorOf(r.call(cmd, ...args)), cmd).toMatch(/^NOPERM/);
    }
    expect(await r.hset('utskick:campaign:c1', 'state', 'approved')).toBe(1);
    expect(await r.sadd('utskick:campaigns', 'c1')).toBe(1);
    expect(await r.get('utskick:rate:global')).toBeNull();
    expect(await errorOf(r.set('utskick:rate:global', '1')), 'rate keys are read-only').toMatch(/^NOPERM/);
    expect(await errorOf(r.set('utskick:dead-letter:x', '1'))).toMatch(/^NOPERM/);
    expect(await errorOf(r.get('other:key'))).toMatch(/^NOPERM/);
  });

  it('the worker user runs data commands and scripts on its own keys only (campaign data, queues, rate)', async () => {
    const r = await as('utskick-worker');
    expect(await r.set('utskick:campaign:t:s', 'v')).toBe('OK');
    expect(await r.hset('utskick:campaign:t:h', 'f', '1')).toBe(1);
    expect(await r.zadd('utskick:deliver:t:z', 1, 'm')).toBe(1);
    expect(await r.lpush('utskick:dead-letter:t:l', 'a')).toBe(1);
    expect(await r.xadd('utskick:deliver:t:x', '*', 'k', 'v')).toMatch(/^\d+-\d+$/);
    expect(await r.eval("return redis.call('INCR', KEYS[1])", 1, 'utskick:rate:t:n')).toBe(1);
    expect(await r.pexpire('utskick:campaign:t:s', 60_000)).toBe(1);
    expect(await r.del('utskick:campaign:t:s')).toBe(1);
    expect(await r.set('utskick:retention-lock', '1', 'EX', 1)).toBe('OK');
    expect((await r.time()).length).toBe(2);
    // It reads the active units and the campaign list, and writes neither.
    expect(await r.hexists('utskick:units', 'SE2321000032-1003')).toBe(0);
    expect(await r.smembers('utskick:campaigns')).toBeInstanceOf(Array);
    expect(await errorOf(r.hset('utskick:units', 'SE2321000032-9999', '{}'))).toMatch(/^NOPERM/);
    expect(await errorOf(r.sadd('utskick:campaigns', 'x'))).toMatch(/^NOPERM/);

    expect(await errorOf(r.set('utskick:t:s', 'v')), 'no key outside its patterns').toMatch(/^NOPERM/);
    expect(await errorOf(r.set('other:key', 'v'))).toMatch(/^NOPERM/);
    expect(await errorOf(r.get('utskickx'))).toMatch(/^NOPERM/);
    expect(await errorOf(r.eval("return redis.call('SET', KEYS[1], 'v')", 1, 'other:key'))).toMatch(
      /NOPERM|No permissions/,
    );
    expect(await errorOf(r.eval("return redis.call('FLUSHALL')", 0))).toMatch(/can't run this command/);
    for (const [cmd, args] of [
      ['flushall', []],
      ['config', ['get', '*']],
      ['keys', ['utskick:*']],
      ['client', ['list']],
      ['client', ['kill', 'ID', '1']],
      ['script', ['flush']],
      ['function', ['flush']],
      ['select', ['1']],
      ['sort', ['utskick:deliver:t:l', 'BY', 'other:*']],
      ['subscribe', ['utskick:x']],
    ] as const) {
      expect(await errorOf(r.call(cmd, ...args)), cmd).toMatch(/^NOPERM/);
    }
    // SCAN, for the retention purge (which finds a campaign's chunk and ledger keys with it).
    const [cursor] = await r.scan('0', 'MATCH', 'utskick:campaign:*', 'COUNT', 10);
    expect(typeof cursor).toBe('string');
  });

  it('the replication and Sentinel users run only what replication and failover need', async () => {
    const repl = await as('utskick-replication');
    expect(await repl.ping()).toBe('PONG');
    for (const [cmd, args] of [
      ['get', ['utskick:campaign:x']],
      ['info', []],
      ['config', ['get', '*']],
      ['keys', ['*']],
      ['subscribe', ['__sentinel__:hello']],
    ] as const) {
      expect(await errorOf(repl.call(cmd, ...args)), cmd).toMatch(/^NOPERM/);
    }

    const sentinel = await as('utskick-sentinel');
    expect(await sentinel.info('replication')).toMatch(/^role:master\r?$/m);
    expect(((await sentinel.call('role')) as unknown[])[0]).toBe('master');
    expect(await sentinel.publish('__sentinel__:hello', 'probe')).toBe(0);
    for (const [cmd, args] of [
      ['get', ['utskick:campaign:x']],
      ['set', ['utskick:campaign:x', '1']],
      ['config', ['get', '*']],
      ['config', ['set', 'appendonly', 'no']],
      ['flushall', []],
      ['keys', ['*']],
      ['acl', ['list']],
      ['publish', ['utskick:x', 'y']],
    ] as const) {
      expect(await errorOf(sentinel.call(cmd, ...args)), cmd).toMatch(/^NOPERM/);
    }
  });

  it('a replica with config/redis-ha-node.conf replicates as utskick-replication', async () => {
    const replicaDir = mkdtempSync(join(dir, 'replica-'));
    const replicaPort = await freePort();
    const conf = [
      testRedisConf(replicaDir, join(dir, 'users.acl'), replicaPort),
      readFileSync(join(root, 'config/redis-ha-node.conf'), 'utf8'),
      // What config/redis-ha-node.sh adds (the password from the secret file).
      'replica-announce-ip 127.0.0.1',
      `masterauth ${passwords['utskick-replication']}`,
      `replicaof 127.0.0.1 ${port}`,
    ].join('\n');
    writeFileSync(join(replicaDir, 'redis.conf'), conf, { mode: 0o600 });
    const replica = spawn('redis-server', [join(replicaDir, 'redis.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let replicaLog = '';
    replica.stdout?.on('data', (c) => {
      replicaLog = (replicaLog + String(c)).slice(-4000);
    });
    const asWorker = new Redis({
      host: '127.0.0.1',
      port: replicaPort,
      username: 'utskick-worker',
      password: passwords['utskick-worker'],
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 100,
    });
    asWorker.on('error', () => {});
    try {
      const primary = await as('utskick-worker');
      await primary.set('utskick:campaign:replicated', 'yes');
      // The primary waits repl-diskless-sync-delay (5 s) for more replicas before the first sync.
      let seen: string | null = null;
      for (let i = 0; i < 500 && seen === null; i++) {
        seen = await asWorker.get('utskick:campaign:replicated').catch(() => null);
        if (seen === null) await delay(50);
      }
      expect(seen, replicaLog).toBe('yes');
      expect(await errorOf(asWorker.set('utskick:campaign:x', '1'))).toMatch(/^READONLY/);
      const sentinel = await as('utskick-sentinel');
      // What a Sentinel reads to find the replicas (state may still say send_bulk right after the sync).
      expect(await sentinel.info('replication')).toMatch(
        new RegExp(`^slave0:ip=127\\.0\\.0\\.1,port=${replicaPort},state=`, 'm'),
      );
    } finally {
      asWorker.disconnect();
      const exited = new Promise((r) => replica.once('exit', r));
      replica.kill('SIGTERM');
      await Promise.race([exited, delay(5000)]);
      if (replica.exitCode === null) replica.kill('SIGKILL');
    }
  }, 60_000);

  it('BullMQ works across roles on the utskick prefix: enqueue adds, the worker processes', async () => {
    const enqueueConn = connect('utskick-enqueue', { maxRetriesPerRequest: null });
    const workerConn = connect('utskick-worker', { maxRetriesPerRequest: null });
    const deliver = new Queue('deliver', { connection: enqueueConn, prefix: 'utskick' });
    const deadLetter = new Queue('dead-letter', { connection: workerConn, prefix: 'utskick' });
    const keys = createKeys('utskick');
    const ledger = createLedger(workerConn, keys);
    let worker: Worker | undefined;
    try {
      await deliver.add('chunk', { c: 'c1', k: 'k1', n: 2 }, { jobId: 'c1.k1', attempts: 2 });
      expect(await deliver.getJobCounts('waiting')).toEqual({ waiting: 1 });

      const done = new Promise<unknown>((resolveDone, reject) => {
        worker = new Worker(
          'deliver',
          async (job) => {
            const lock = { key: keys.jobLock('deliver', String(job.id)), token: job.token ?? '' };
            const mark = await ledger.markInflight('c1', 'k1', 0, lock, {
              resendUncertain: false,
              nowSec: 1,
            });
            expect(mark).toEqual({ kind: 'go', resend: false });
            await ledger.record('c1', 'k1', 0, 'delivered', 2);
            await deadLetter.add('dead', { campaignId: 'c1', chunkId: 'k1', slots: [1] });
            return { delivered: 1, job: job.id };
          },
          {
            connection: connect('utskick-worker', { maxRetriesPerRequest: null }),
            prefix: 'utskick',
            lockDuration: 5000,
          },
        );
        worker.on('completed', (_job, value) => resolveDone(value));
        worker.on('failed', (_job, err) => reject(err));
        worker.on('error', reject);
      });
      expect(await done).toEqual({ delivered: 1, job: 'c1.k1' });
      expect(await ledger.counts('c1')).toMatchObject({ delivered: 1 });
      expect(await deadLetter.getJobCounts('waiting')).toEqual({ waiting: 1 });

      // The case handler reads progress; the ops user clears the dead letter.
      expect(await deliver.getJobCounts('completed')).toEqual({ completed: 1 });
      const opsConn = connect('utskick-ops', { maxRetriesPerRequest: null });
      const opsDlq = new Queue('dead-letter', { connection: opsConn, prefix: 'utskick' });
      await opsDlq.drain();
      expect(await opsDlq.getJobCounts('waiting')).toEqual({ waiting: 0 });
      await opsDlq.close();
    } finally {
      await worker?.close();
      await deliver.close();
      await deadLetter.close();
    }
  });

  it('BullMQ under the worker user is refused on another prefix', async () => {
    const q = new Queue('deliver', {
      connection: connect('utskick-worker', { maxRetriesPerRequest: null }),
      prefix: 'other',
    });
    try {
      expect(await errorOf(q.add('chunk', { c: 'c1' }))).toMatch(/NOPERM|No permissions/);
    } finally {
      await q.close();
    }
  });

  it('the ops user may scan and list clients but not administer the server', async () => {
    const r = await as('utskick-ops');
    const [cursor] = await r.scan('0', 'MATCH', 'utskick:campaign:*', 'COUNT', 100);
    expect(typeof cursor).toBe('string');
    expect(String(await r.call('client', 'list'))).toContain('user=utskick-ops');
    expect(await r.set('utskick:rate:global', '1')).toBe('OK');
    for (const [cmd, args] of [
      ['flushall', []],
      ['config', ['set', 'maxmemory-policy', 'allkeys-lru']],
      ['acl', ['setuser', 'x']],
      ['keys', ['*']],
      ['bgsave', []],
      ['monitor', []],
    ] as const) {
      expect(await errorOf(r.call(cmd, ...args)), cmd).toMatch(/^NOPERM/);
    }
    expect(await errorOf(r.set('other:key', '1'))).toMatch(/^NOPERM/);
  });
});
