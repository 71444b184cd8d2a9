import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { type PrivateRedis, type PrivateRedisOptions, startPrivateRedis } from './private-redis.js';

/**
 * A private Redis HA topology for tests, the chaos harness and the bench: one
 * primary, replicas and three Sentinels, each a real redis-server on
 * 127.0.0.1, a free port and a temp dir of its own (see PrivateRedis: every
 * process dies with this one). A dev tool, not service code. Passwords only
 * ever go into the config files in those 0700 dirs, never on a command line.
 */
export interface PrivateSentinelsOptions {
  /** The name the Sentinels monitor the primary under (REDIS_SENTINEL_NAME). Default 'utskick'. */
  masterName?: string;
  /** Replicas started with the primary. Default 1. */
  replicas?: number;
  /** Sentinel down-after-milliseconds: how long the primary must not answer before it counts as down, ms. Default 1000. */
  downAfterMs?: number;
  /** Sentinel failover-timeout, ms. Default 5000. */
  failoverTimeoutMs?: number;
  /** Sentinels that must agree the primary is down before a failover (of 3). Default 2. */
  quorum?: number;
  /** Password of the data nodes (requirepass and masterauth; the Sentinels' auth-pass). Default none. */
  password?: string;
  /** Password of the Sentinels themselves (their requirepass and sentinel-pass). Default none. */
  sentinelPassword?: string;
  /** Append-only-file persistence on the data nodes. Default false. */
  aof?: boolean;
  /** How long a start or addReplica waits for replication and every Sentinel to settle, ms. Default 20000. */
  settleTimeoutMs?: number;
}

export interface SentinelAddress {
  host: string;
  port: number;
}

const SENTINELS = 3;
const HOST = '127.0.0.1';
const BAD_FLAGS = ['s_down', 'o_down', 'disconnected', 'failover_in_progress', 'promoted'];

/** A config value in double quotes, as redis.conf reads it. */
function quote(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
}

/** A flat [field, value, ...] reply (SENTINEL MASTER, SENTINEL REPLICAS) as a record. */
function fields(reply: unknown): Record<string, string> {
  const flat = reply as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

/** Whether a Sentinel's flags for an instance say `role` and nothing wrong (down, disconnected, mid-failover). */
function healthy(flags: string | undefined, role: string): boolean {
  const set = (flags ?? '').split(',');
  return set.includes(role) && !set.some((f) => BAD_FLAGS.includes(f));
}

/** Runs `fn` on a one-off connection that fails fast instead of retrying. */
async function once<T>(port: number, password: string | undefined, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({
    host: HOST,
    port,
    password,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectTimeout: 1000,
    commandTimeout: 1000,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export class PrivateSentinels {
  readonly masterName: string;
  /** The data node started as the primary. After a failover it is a replica, or dead after killPrimary(). */
  readonly primary: PrivateRedis;
  /** The data nodes started as replicas, then those from addReplica(), in start order. */
  readonly replicas: PrivateRedis[];
  /** The three Sentinel processes. */
  readonly sentinelNodes: readonly PrivateRedis[];
  private readonly options: PrivateSentinelsOptions;

  /** Use startPrivateSentinels(). */
  constructor(
    options: PrivateSentinelsOptions,
    primary: PrivateRedis,
    replicas: PrivateRedis[],
    sentinelNodes: PrivateRedis[],
  ) {
    this.options = options;
    this.masterName = options.masterName ?? 'utskick';
    this.primary = primary;
    this.replicas = replicas;
    this.sentinelNodes = sentinelNodes;
  }

  /** Where the Sentinels listen, for ioredis' `sentinels` option. */
  get sentinels(): SentinelAddress[] {
    return this.sentinelNodes.map((s) => ({ host: HOST, port: s.port }));
  }

  /** `127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`, for REDIS_SENTINELS. */
  get sentinelsEnv(): string {
    return this.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
  }

  /** The data node (primary or replica) listening on `port`. */
  node(port: number): PrivateRedis | undefined {
    return [this.primary, ...this.replicas].find((n) => n.port === port);
  }

  /** The primary's port as the first Sentinel that answers reports it. */
  async currentPrimaryPort(): Promise<number> {
    for (const s of this.sentinelNodes) {
      const port = await this.askMasterPort(s.port).catch(() => undefined);
      if (port !== undefined) return port;
    }
    throw new Error(`no Sentinel answers (ports ${this.sentinelsEnv})`);
  }

  /** SIGKILLs the current primary and returns its port. It is never started again (its temp dir is removed: a lost node). */
  async killPrimary(): Promise<number> {
    const port = await this.currentPrimaryPort();
    const node = this.node(port);
    if (!node?.running) throw new Error(`the primary on port ${port} is not a running node of this topology`);
    await node.close();
    return port;
  }

  /**
   * Resolves with the new primary's port once every Sentinel that answers
   * names a primary other than `oldPort` (the same one) and that node
   * answers ROLE as master.
   */
  async waitForFailover(oldPort: number, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let state = 'no Sentinel answered';
    while (Date.now() < deadline) {
      const seen = await Promise.all(
        this.sentinelNodes.map((s) => this.askMasterPort(s.port).catch(() => undefined)),
      );
      const ports = seen.filter((p) => p !== undefined);
      state = `Sentinels report ${seen.map((p) => p ?? '-').join(', ')}`;
      const port = ports[0];
      if (port !== undefined && port !== oldPort && ports.every((p) => p === port)) {
        const role = await once(port, this.options.password, (r) => r.call('ROLE')).catch(() => undefined);
        if ((role as unknown[] | undefined)?.[0] === 'master') return port;
        state += `; ${port} does not answer ROLE as master yet`;
      }
      await delay(100);
    }
    throw new Error(
      `no failover from port ${oldPort} within ${timeoutMs} ms: ${state}.\n${this.sentinelLogs()}`,
    );
  }

  /**
   * Starts a fresh, empty replica of the current primary (to replace a lost
   * node, say) and waits until its link to the primary is up and every
   * Sentinel lists it as a healthy replica.
   */
  async addReplica(): Promise<PrivateRedis> {
    const primaryPort = await this.currentPrimaryPort();
    const node = await startDataNode(this.options, primaryPort);
    this.replicas.push(node);
    await waitForLinkUp(node, this.options);
    await this.settle(primaryPort, [node.port]);
    return node;
  }

  /** SIGSTOPs replica `i` (it keeps its connections but answers nothing) and waits until it is stopped. */
  async pauseReplica(i: number): Promise<void> {
    const pid = this.runningReplica(i).pid!;
    process.kill(pid, 'SIGSTOP');
    await waitForStopped(pid, true);
  }

  /** SIGCONTs replica `i` and waits until it runs again. */
  async resumeReplica(i: number): Promise<void> {
    const pid = this.runningReplica(i).pid!;
    process.kill(pid, 'SIGCONT');
    await waitForStopped(pid, false);
  }

  /** Stops replica `i` (resumed first if paused) and waits for the process to be gone. */
  async stopReplica(i: number, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.resumeReplica(i);
    await this.runningReplica(i).stop(signal);
  }

  /** Kills every process and removes every temp dir. Safe to call twice. */
  async close(): Promise<void> {
    // Sentinels first, so no failover starts while the data nodes go.
    await Promise.all(this.sentinelNodes.map((s) => s.close()));
    await Promise.all([this.primary, ...this.replicas].map((n) => n.close()));
  }

  /** Waits until every Sentinel sees `primaryPort` healthy, the other Sentinels, and `replicaPorts` healthy. */
  async settle(primaryPort: number, replicaPorts: number[]): Promise<void> {
    const timeoutMs = this.options.settleTimeoutMs ?? 20_000;
    const deadline = Date.now() + timeoutMs;
    let reasons: string[] = [];
    while (Date.now() < deadline) {
      reasons = (
        await Promise.all(
          this.sentinelNodes.map((s) =>
            this.unsettled(s.port, primaryPort, replicaPorts).catch((err: Error) => err.message),
          ),
        )
      ).flatMap((why, i) => (why === undefined ? [] : [`Sentinel ${this.sentinelNodes[i]!.port}: ${why}`]));
      if (reasons.length === 0) return;
      await delay(100);
    }
    throw new Error(
      `Sentinels did not settle within ${timeoutMs} ms: ${reasons.join('; ')}.\n${this.sentinelLogs()}`,
    );
  }

  /** Why this Sentinel is not ready for a failover yet; undefined when it is. */
  private async unsettled(
    sentinelPort: number,
    primaryPort: number,
    replicaPorts: number[],
  ): Promise<string | undefined> {
    return once(sentinelPort, this.options.sentinelPassword, async (r) => {
      const master = fields(await r.call('SENTINEL', 'MASTER', this.masterName));
      if (Number(master.port) !== primaryPort) return `watches port ${master.port}, not ${primaryPort}`;
      if (!healthy(master.flags, 'master')) return `primary flags ${master.flags}`;
      if (Number(master['num-other-sentinels']) !== SENTINELS - 1)
        return `sees ${master['num-other-sentinels']} other Sentinels`;
      const replicas = ((await r.call('SENTINEL', 'REPLICAS', this.masterName)) as unknown[]).map(fields);
      for (const port of replicaPorts) {
        const replica = replicas.find((x) => Number(x.port) === port);
        if (!replica) return `does not list replica ${port}`;
        if (!healthy(replica.flags, 'slave') || replica['master-link-status'] !== 'ok')
          return `replica ${port} flags ${replica.flags}, link ${replica['master-link-status']}`;
      }
      return undefined;
    });
  }

  private async askMasterPort(sentinelPort: number): Promise<number> {
    const addr = await once(sentinelPort, this.options.sentinelPassword, (r) =>
      r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName),
    );
    const port = Number((addr as string[] | null)?.[1]);
    if (!Number.isInteger(port)) throw new Error(`Sentinel ${sentinelPort} does not know ${this.masterName}`);
    return port;
  }

  private runningReplica(i: number): PrivateRedis {
    const node = this.replicas[i];
    if (!node?.running) throw new Error(`replica ${i} is not running (${this.replicas.length} replicas)`);
    return node;
  }

  private sentinelLogs(): string {
    return this.sentinelNodes
      .map((s) => `Sentinel ${s.port} log:\n${s.log().split('\n').slice(-10).join('\n')}`)
      .join('\n');
  }
}

/** Waits (up to 1 s) until the kernel shows the process stopped, or not; at once where there is no /proc. */
async function waitForStopped(pid: number, stopped: boolean): Promise<void> {
  for (let i = 0; i < 100; i++) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return;
    }
    // The state follows the command name in parentheses: "pid (comm) S ...".
    if ((stat[stat.lastIndexOf(') ') + 2] === 'T') === stopped) return;
    await delay(10);
  }
}

/**
 * Shorter Sentinel periods (SENTINEL DEBUG, Redis 7; older ones answer an
 * error and keep theirs): replicas and the other Sentinels are found within a
 * second instead of 10 s and 2 s. And a ping period well under downAfterMs:
 * after a failover a Sentinel reconnects to the new primary at most one ping
 * period later, and its first PONG must come within downAfterMs, or it calls
 * the new primary down and (with the stale votes of the last failover) fails
 * over again.
 */
async function quicken(port: number, password: string | undefined): Promise<void> {
  const periods = ['INFO-PERIOD', '1000', 'PUBLISH-PERIOD', '500', 'PING-PERIOD', '250', 'ASK-PERIOD', '250'];
  await once(port, password, (r) => r.call('SENTINEL', 'DEBUG', ...periods)).catch(() => undefined);
}

function dataNodeOptions(o: PrivateSentinelsOptions, replicaOf: number | undefined): PrivateRedisOptions {
  const lines = [
    // The real argv shows in ps: that is what proves no password is on it.
    'set-proc-title no',
    `replica-announce-ip ${HOST}`,
    // A full sync starts at once, not after the default 5 s wait for more replicas.
    'repl-diskless-sync-delay 0',
    ...(o.password === undefined
      ? []
      : [`requirepass ${quote(o.password)}`, `masterauth ${quote(o.password)}`]),
    ...(replicaOf === undefined ? [] : [`replicaof ${HOST} ${replicaOf}`]),
  ];
  return { config: `${lines.join('\n')}\n`, password: o.password, aof: o.aof ?? false };
}

const startDataNode = (o: PrivateSentinelsOptions, replicaOf?: number) =>
  startPrivateRedis(dataNodeOptions(o, replicaOf));

async function waitForLinkUp(node: PrivateRedis, o: PrivateSentinelsOptions): Promise<void> {
  const timeoutMs = o.settleTimeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const info = await once(node.port, o.password, (r) => r.info('replication')).catch(() => '');
    if (/^master_link_status:up\r?$/m.test(info)) return;
    await delay(50);
  }
  throw new Error(
    `replica on port ${node.port}: link to its primary not up within ${timeoutMs} ms.\n${node.log()}`,
  );
}

function sentinelOptions(o: PrivateSentinelsOptions, name: string, primaryPort: number): PrivateRedisOptions {
  const lines = [
    'set-proc-title no',
    'sentinel resolve-hostnames no',
    'sentinel announce-hostnames no',
    `sentinel announce-ip ${HOST}`,
    `sentinel monitor ${name} ${HOST} ${primaryPort} ${o.quorum ?? 2}`,
    `sentinel down-after-milliseconds ${name} ${o.downAfterMs ?? 1000}`,
    `sentinel failover-timeout ${name} ${o.failoverTimeoutMs ?? 5000}`,
    `sentinel parallel-syncs ${name} 1`,
    ...(o.password === undefined ? [] : [`sentinel auth-pass ${name} ${quote(o.password)}`]),
    ...(o.sentinelPassword === undefined
      ? []
      : [`requirepass ${quote(o.sentinelPassword)}`, `sentinel sentinel-pass ${quote(o.sentinelPassword)}`]),
  ];
  return { config: `${lines.join('\n')}\n`, password: o.sentinelPassword, extraArgs: ['--sentinel'] };
}

/**
 * Starts the primary, its replicas (each with its link up) and three
 * Sentinels, and resolves once every Sentinel sees the primary, every replica
 * and the other two Sentinels, so a failover right away works.
 */
export async function startPrivateSentinels(
  options: PrivateSentinelsOptions = {},
): Promise<PrivateSentinels> {
  const count = options.replicas ?? 1;
  const quorum = options.quorum ?? 2;
  if (!Number.isInteger(count) || count < 0) throw new Error(`replicas must be 0 or more, not ${count}`);
  if (!Number.isInteger(quorum) || quorum < 1 || quorum > SENTINELS)
    throw new Error(`quorum must be 1 to ${SENTINELS}, not ${quorum}`);
  const name = options.masterName ?? 'utskick';
  const started: PrivateRedis[] = [];
  try {
    // One at a time: a port picked while another server is still starting could be picked twice.
    const primary = await startDataNode(options);
    started.push(primary);
    const replicas: PrivateRedis[] = [];
    for (let i = 0; i < count; i++) {
      const replica = await startDataNode(options, primary.port);
      started.push(replica);
      replicas.push(replica);
    }
    for (const replica of replicas) await waitForLinkUp(replica, options);
    // After the replicas are linked, so the Sentinels' first INFO of the primary already lists them.
    const sentinelNodes: PrivateRedis[] = [];
    for (let i = 0; i < SENTINELS; i++) {
      const sentinel = await startPrivateRedis(sentinelOptions(options, name, primary.port));
      started.push(sentinel);
      sentinelNodes.push(sentinel);
      await quicken(sentinel.port, options.sentinelPassword);
    }
    const topology = new PrivateSentinels(options, primary, replicas, sentinelNodes);
    await topology.settle(
      primary.port,
      replicas.map((r) => r.port),
    );
    return topology;
  } catch (err) {
    await Promise.all(started.map((n) => n.close()));
    throw err;
  }
}
