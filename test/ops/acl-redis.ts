/**
 * A private redis-server that loads config/redis-users.acl, with a random test
 * password put in for each user at start (the template holds all-zero hashes),
 * plus an admin user for the test's own setup and checks. Each user's password
 * is in a 0600 file, as compose mounts it: tests pass REDIS_PASSWORD_FILE,
 * never a password on a command line or in a URL.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { localRedisAnswers } from '../../scripts/lib/private-redis.js';
import { freePort } from '../helpers/global-setup.js';
import { requireBinary } from '../helpers/prometheus.js';

const root = resolve(import.meta.dirname, '../..');
export const aclUsers = [
  'utskick-worker',
  'utskick-enqueue',
  'utskick-ops',
  'utskick-audit-retention',
] as const;
export type AclUser = (typeof aclUsers)[number];
const ADMIN = 'utskick-test-admin';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The template with each placeholder hash replaced, and the test's admin user appended. */
function aclFile(passwords: Record<string, string>): string {
  let text = readFileSync(join(root, 'config/redis-users.acl'), 'utf8');
  for (const u of aclUsers) {
    const before = text;
    text = text.replace(new RegExp(`^user ${u} on #0{64} `, 'm'), `user ${u} on #${sha256(passwords[u]!)} `);
    if (text === before) throw new Error(`config/redis-users.acl has no placeholder line for ${u}`);
  }
  return `${text.trimEnd()}\nuser ${ADMIN} on #${sha256(passwords[ADMIN]!)} ~* &* +@all\n`;
}

export interface AclRedis {
  readonly port: number;
  /** REDIS_URL for a user (no password in it), or with no user. */
  url(user?: AclUser, db?: number): string;
  /** The file holding a user's password (0600). */
  passwordFile(user: AclUser): string;
  /** A file holding a wrong password. */
  readonly wrongPasswordFile: string;
  /** The environment a CLI or worker needs to log in as `user`. */
  env(user: AclUser): { REDIS_URL: string; REDIS_PASSWORD_FILE: string };
  /** A connection as the admin user (closed by close()). */
  readonly admin: Redis;
  /** A fresh connection as `user` (closed by close()). */
  as(user: AclUser): Promise<Redis>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export async function startAclRedis(): Promise<AclRedis> {
  requireBinary('redis-server', '--version', 'redis-server');
  const dir = mkdtempSync(join(tmpdir(), 'utskick-acl-redis-'));
  const port = await freePort();
  const passwords: Record<string, string> = {};
  for (const u of [...aclUsers, ADMIN]) passwords[u] = randomBytes(16).toString('hex');
  writeFileSync(join(dir, 'users.acl'), aclFile(passwords), { mode: 0o600 });
  for (const u of aclUsers) writeFileSync(join(dir, `${u}.password`), `${passwords[u]}\n`, { mode: 0o600 });
  const wrongPasswordFile = join(dir, 'wrong.password');
  writeFileSync(wrongPasswordFile, 'not-the-password\n', { mode: 0o600 });
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
  ];
  let child: ChildProcess | undefined;
  const open: Redis[] = [];

  const start = async () => {
    child = spawn('redis-server', [...args, '--aclfile', join(dir, 'users.acl')], { stdio: 'ignore' });
    live.add(child);
    child.once('exit', () => live.delete(child!));
    for (let i = 0; i < 200; i++) {
      if (await localRedisAnswers(port, { username: ADMIN, password: passwords[ADMIN]! })) return;
      await delay(50);
    }
    throw new Error(`redis-server with the ACL file did not answer on port ${port}`);
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await Promise.race([exited, delay(5000)]);
    if (c.exitCode === null) c.kill('SIGKILL');
  };
  const connect = (username: string): Redis => {
    const r = new Redis({
      port,
      host: '127.0.0.1',
      username,
      password: passwords[username],
      maxRetriesPerRequest: null,
    });
    r.on('error', () => {});
    open.push(r);
    return r;
  };

  await start();
  const admin = connect(ADMIN);
  const url = (user?: AclUser, db?: number) =>
    `redis://${user ? `${user}@` : ''}127.0.0.1:${port}${db === undefined ? '' : `/${db}`}`;
  const passwordFile = (user: AclUser) => join(dir, `${user}.password`);
  return {
    port,
    url,
    passwordFile,
    wrongPasswordFile,
    env: (user) => ({ REDIS_URL: url(user), REDIS_PASSWORD_FILE: passwordFile(user) }),
    admin,
    async as(user) {
      const r = connect(user);
      await r.ping();
      return r;
    },
    stop,
    start,
    async close() {
      for (const r of open.splice(0)) r.disconnect();
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
