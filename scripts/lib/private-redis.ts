import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * A redis-server of its own on 127.0.0.1, a free port and a temporary
 * directory, for tests and benchmarks that stop, kill or restart Redis. A
 * dev tool, not service code: it spawns processes. Every server still running
 * when this process exits is killed (SIGKILL) on the way out; where util-linux'
 * `setpriv` exists the kernel kills it too when this process dies of a signal
 * (parent-death signal), and temp dirs left by dead owners are swept at start.
 */
export interface PrivateRedisOptions {
  /** Append-only-file persistence in the temp dir, so data survive a restart. Default false (no persistence). */
  aof?: boolean;
  /** fsync policy when `aof` is on. Default 'always'. */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** Port to listen on. Default a free port picked once; restarts reuse it. */
  port?: number;
  /** More redis-server arguments, e.g. ['--maxmemory', '64mb']. Default none. */
  extraArgs?: string[];
  /** How long a start waits for PING to answer, ms. Default 10000. */
  startTimeoutMs?: number;
  /** How long a stop waits for the process to exit before SIGKILL, ms. Default 5000. */
  stopTimeoutMs?: number;
  /** The server binary. Default 'redis-server' on PATH. */
  binary?: string;
  /**
   * redis.conf text, written with mode 0600 to `redis.conf` in the temp dir
   * (itself mode 0700) once, and loaded before the command-line arguments.
   * The place for secrets (requirepass, masterauth, sentinel auth-pass): none
   * of it shows on the process's command line. Redis may rewrite the file
   * (CONFIG REWRITE, Sentinel state); restarts keep the rewritten one.
   * Default none (no config file).
   */
  config?: string;
  /** The password the start-up PING authenticates with, when `config` sets requirepass. Default none. */
  password?: string;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
let swept = false;
let setpriv: boolean | undefined;
const DIR_PREFIX = 'utskick-redis-';

/** Removes temp dirs whose owning process is gone (it was killed before it could clean up). */
function sweepStaleDirs(): void {
  if (swept) return;
  swept = true;
  let names: string[] = [];
  try {
    names = readdirSync(tmpdir()).filter((n) => n.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(tmpdir(), name);
    try {
      const owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8'));
      if (!Number.isInteger(owner) || owner <= 0) continue;
      try {
        process.kill(owner, 0);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(dir, { recursive: true, force: true });
      }
    } catch {
      // no owner file (or not ours): leave it
    }
  }
}

/** Whether `setpriv --pdeathsig` can tie a server's life to this process. */
function canSetPdeathsig(): boolean {
  setpriv ??= spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true']).status === 0;
  return setpriv;
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
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

/** Whether a Redis at `url` answers PING now (one quick try, no retries). */
/**
 * The paragraph for a machine with no Redis: what was tried, and the two ways
 * to get one. `explicitUrl` when REDIS_URL was set (its password masked).
 */
export function noRedisHelp(
  url: string,
  options: { explicitUrl: boolean; redisServerOnPath: boolean },
): string {
  const tried = options.explicitUrl
    ? `Nothing answers at REDIS_URL=${maskUrl(url)}.`
    : `Nothing answers at ${url}, and ${options.redisServerOnPath ? 'a private redis-server could not be started' : 'redis-server is not on PATH to start a private one'}.`;
  return [
    tried,
    'utskick keeps its queue, ledger and campaign state in Redis (version 7). Get one in either of two ways:',
    '  - with Docker:        docker compose -f config/compose.dev.yml up -d redis   (listens on 127.0.0.1:6379)',
    "  - from the system:    apt-get install redis-server   (or your distribution's redis package; it runs on 127.0.0.1:6379)",
    'then run the command again, or set REDIS_URL to a Redis you already have.',
  ].join('\n');
}

function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

export async function redisAnswers(url: string, connectTimeoutMs = 1000): Promise<boolean> {
  return answersPing(new Redis(url, oneTry(connectTimeoutMs)));
}

/** Client options for one quick try: no retries, no offline queue. */
function oneTry(connectTimeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectTimeout: connectTimeoutMs,
  };
}

async function answersPing(r: Redis): Promise<boolean> {
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

/** Whether a Redis on 127.0.0.1:`port` answers PING as this user now (one quick try, no retries). */
export function localRedisAnswers(
  port: number,
  login: { username?: string; password?: string } = {},
  connectTimeoutMs = 500,
): Promise<boolean> {
  return answersPing(new Redis({ ...oneTry(connectTimeoutMs), host: '127.0.0.1', port, ...login }));
}

const pingOnce = (port: number, password: string | undefined) =>
  localRedisAnswers(port, password === undefined ? {} : { password });

export class PrivateRedis {
  readonly port: number;
  /** Temp dir holding the log, and the AOF when `aof` is on. */
  readonly dir: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly options: PrivateRedisOptions;

  constructor(port: number, options: PrivateRedisOptions = {}) {
    this.port = port;
    this.options = options;
    sweepStaleDirs();
    this.dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
    writeFileSync(join(this.dir, 'owner.pid'), String(process.pid));
    if (options.config !== undefined) {
      writeFileSync(this.configFile!, options.config, { mode: 0o600 });
    }
  }

  /** The config file in the temp dir when `config` was given. */
  get configFile(): string | undefined {
    return this.options.config === undefined ? undefined : join(this.dir, 'redis.conf');
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The server's log so far (for a failure message). */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'redis.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Starts the server (again) on the same port and dir and waits until PING answers. */
  async start(): Promise<void> {
    if (this.closed) throw new Error('this private redis-server was closed');
    if (this.child) return;
    const o = this.options;
    const args = [
      // A config file must be the first argument; the options after it override it.
      ...(this.configFile === undefined ? [] : [this.configFile]),
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      '--logfile',
      join(this.dir, 'redis.log'),
      '--save',
      '',
      '--daemonize',
      'no',
      '--appendonly',
      o.aof ? 'yes' : 'no',
      ...(o.aof ? ['--appendfsync', o.appendfsync ?? 'always'] : []),
      ...(o.extraArgs ?? []),
    ];
    installExitHook();
    const binary = o.binary ?? 'redis-server';
    // setpriv execs the server (same pid); the kernel SIGKILLs it if this process dies first.
    const child = canSetPdeathsig()
      ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', binary, ...args], { stdio: 'ignore' })
      : spawn(binary, args, { stdio: 'ignore' });
    this.child = child;
    live.add(child);
    let spawnError: Error | undefined;
    let gone = false;
    let exitCode: number | null = null;
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        spawnError = err;
      });
      child.once('close', (code) => {
        gone = true;
        exitCode = code;
        live.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + (o.startTimeoutMs ?? 10_000);
    while (Date.now() < deadline) {
      if (gone || spawnError) break;
      if (await pingOnce(this.port, o.password)) return;
      await delay(50);
    }
    const why = spawnError
      ? `could not run ${binary} (${spawnError.message}); apt-get install redis-server`
      : gone
        ? `it exited with code ${exitCode} (is ${binary} installed? apt-get install redis-server)`
        : 'PING did not answer in time';
    await this.stop('SIGKILL');
    throw new Error(
      `private redis-server on port ${this.port}: ${why}. Log:\n${this.log().split('\n').slice(-15).join('\n')}`,
    );
  }

  /** Stops the server and waits for the process to be gone (SIGKILL after `stopTimeoutMs`). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const timeoutMs = this.options.stopTimeoutMs ?? 5000;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops, stays down `downMs`, starts again on the same port. */
  async restart(downMs = 0, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.stop(signal);
    if (downMs > 0) await delay(downMs);
    await this.start();
  }

  /** Kills the server and removes its directory. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.stop('SIGKILL');
    this.closed = true;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts a private redis-server and waits until it answers PING. */
export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  // A picked port can be taken before redis-server binds it: try a few fresh ones.
  const attempts = options.port === undefined ? 3 : 1;
  for (let i = 1; ; i++) {
    const server = new PrivateRedis(options.port ?? (await freePort()), options);
    try {
      await server.start();
      return server;
    } catch (err) {
      await server.close();
      if (i >= attempts) throw err;
    }
  }
}
