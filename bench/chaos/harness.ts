import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort, type PrivateRedis, startPrivateRedis } from '../../scripts/lib/private-redis.js';
import { type PrivateSentinels, startPrivateSentinels } from '../../scripts/lib/private-sentinel.js';
import { spawnEntry, stopProcess, waitForLine } from '../../scripts/lib/processes.js';
import type { Campaign } from '../../src/campaign/schema.js';
import { createCampaignStore } from '../../src/queue/campaign-store.js';
import { createDeliverQueue, type JobPolicy } from '../../src/queue/deliver-queue.js';
import { type EnqueueResult, enqueueCampaign } from '../../src/queue/enqueue.js';
import { createKeyring } from '../../src/queue/keyring.js';
import { createKeys, type Keys } from '../../src/queue/keys.js';
import { createLedger, type FinalOutcome, finalOutcomes, type SlotState } from '../../src/queue/ledger.js';
import { activateUnit } from '../../src/queue/units.js';
import { todayOf } from '../../src/recipients/personnummer.js';
import { parseRecipientFile } from '../../src/recipients/read-file.js';
import type { LiveOptions } from '../../src/simulator/options.js';
import type { SimulatorStats } from '../../src/simulator/store.js';

/**
 * The moving parts of one chaos scenario, all started here and all stopped
 * by stop(): a private redis-server with AOF on its own port (or a primary,
 * a replica and three Sentinels), the 1177
 * simulator and the delivery workers as real child processes (logs to files,
 * so their pipes are always drained). A class because it has a lifecycle.
 */
export interface HarnessOptions {
  /** Directory for the scenario's log files; must exist. */
  logDir: string;
  /** Simulator arguments besides `--port 0`. Default none. */
  simulatorArgs?: string[];
  /** Worker environment on top of the harness's (REDIS_URL, prefix, key, inbox). */
  workerEnv: Record<string, string>;
  /** AOF fsync policy of the private redis-server. Default 'always'. */
  appendfsync?: 'always' | 'everysec';
  /** How long a child may take to print its ready line, ms. Default 30000. */
  startTimeoutMs?: number;
  /** How long a graceful stop may take before SIGKILL, ms. Default 15000. */
  stopTimeoutMs?: number;
  /**
   * Redis as a primary, a replica and three Sentinels (private processes),
   * the workers pointed at the Sentinels. Default false: one redis-server.
   */
  sentinels?: boolean;
}

/** One worker process and how it ended. */
export interface WorkerProcess {
  /** 1, 2, 3 ... in start order within the scenario. */
  n: number;
  child: ChildProcess;
  pid: number;
  /** Resolves once the worker has logged "worker started"; rejects if it exits or takes too long. */
  ready: Promise<void>;
  isReady: boolean;
}

/** The campaign's end state, for the checks. */
export interface Snapshot {
  valid: number;
  /** Message identity (`campaign.chunk.slot`) → ledger state, for every slot of every chunk. */
  slots: Map<string, SlotState>;
  counts: Record<FinalOutcome, number>;
  stats: SimulatorStats;
  received: ReceivedEntry[];
  /** Delivery jobs still waiting, active, delayed or prioritized. */
  jobsLeft: number;
}

/** What /__received serves for one message identity (the personnummer only as a keyed hash). */
export interface ReceivedEntry {
  messageId: string;
  subjectHash: string;
  verdict: string;
  outcome: 'delivered' | 'unreachable' | 'rejected';
  count: number;
}

const quietRedis = (url: string) => {
  // The harness's own connection: survives the restarts it causes, fails a command fast while Redis is down.
  const r = new Redis(url, {
    maxRetriesPerRequest: 2,
    retryStrategy: () => 100,
    connectTimeout: 2000,
  });
  r.on('error', () => {});
  return r;
};

/** The same, through the Sentinels: after a failover it finds the promoted replica. */
const quietSentinelRedis = (ha: PrivateSentinels) => {
  const r = new Redis({
    sentinels: ha.sentinels,
    name: ha.masterName,
    maxRetriesPerRequest: 2,
    retryStrategy: () => 100,
    sentinelRetryStrategy: () => 100,
    connectTimeout: 2000,
  });
  r.on('error', () => {});
  return r;
};

export class ChaosHarness {
  readonly prefix = `chaos-${randomBytes(4).toString('hex')}`;
  readonly keys: Keys;
  /** A fresh data key for this scenario only; reaches the workers through their environment. */
  readonly dataKey = randomBytes(32).toString('base64');
  readonly workers: WorkerProcess[] = [];
  /** Every worker exit seen: by which signal or with which code. */
  readonly exits: { n: number; code: number | null; signal: string | null }[] = [];
  /** The single redis-server, or with `sentinels` the node started as the primary. */
  redis!: PrivateRedis;
  /** With `sentinels`: the whole topology. */
  ha: PrivateSentinels | undefined;
  client!: Redis;
  inboxUrl = '';
  private simulator: ChildProcess | undefined;
  private started = 0;
  private lastDone = 0;

  private constructor(private readonly options: HarnessOptions) {
    this.keys = createKeys(this.prefix);
  }

  /**
   * Starts Redis, then the simulator and `workers` worker processes at once (the
   * simulator's port is picked first, so the workers need not wait for it); on
   * failure stops whatever did start.
   */
  static async start(options: HarnessOptions, workers: number): Promise<ChaosHarness> {
    const h = new ChaosHarness(options);
    try {
      if (options.sentinels) {
        h.ha = await startPrivateSentinels({ replicas: 1, downAfterMs: 1000, aof: true });
        h.redis = h.ha.primary;
        h.client = quietSentinelRedis(h.ha);
      } else {
        h.redis = await startPrivateRedis({ aof: true, appendfsync: options.appendfsync ?? 'always' });
        h.client = quietRedis(h.redis.url);
      }
      const port = await freePort();
      h.inboxUrl = `http://127.0.0.1:${port}/inbox`;
      h.simulator = spawnEntry(
        'scripts/simulator.ts',
        ['--port', String(port), ...(options.simulatorArgs ?? [])],
        {},
        { logFile: join(options.logDir, 'simulator.log') },
      );
      const simulatorUp = waitForLine(h.simulator, /^INBOX_URL=(\S+)/, h.startTimeoutMs).then((m) => {
        if (m[1] !== h.inboxUrl) throw new Error(`the simulator listens at ${m[1]}, not ${h.inboxUrl}`);
      });
      const started = Array.from({ length: workers }, () => h.startWorker().ready);
      await Promise.all([simulatorUp, ...started]);
      return h;
    } catch (err) {
      await h.stop();
      throw err;
    }
  }

  private get startTimeoutMs(): number {
    return this.options.startTimeoutMs ?? 30_000;
  }

  /** The environment every worker of this scenario gets. */
  workerEnv(): Record<string, string> {
    const redis: Record<string, string> = this.ha
      ? { REDIS_SENTINELS: this.ha.sentinelsEnv, REDIS_SENTINEL_MASTER: this.ha.masterName }
      : { REDIS_URL: this.redis.url };
    return {
      ...redis,
      UTSKICK_PREFIX: this.prefix,
      UTSKICK_DATA_KEY: this.dataKey,
      INBOX_URL: this.inboxUrl,
      INBOX_ALLOW_INSECURE: 'true',
      INBOX_LOGICAL_ADDRESS: 'SE2321000016-CHAOS',
      INBOX_SOURCE_SYSTEM: 'SE2321000016-UTSK',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      ...this.options.workerEnv,
    };
  }

  /** Starts one more worker process; its `ready` resolves when it says it has started. */
  startWorker(): WorkerProcess {
    const n = ++this.started;
    const child = spawnEntry('workers/deliver.ts', [], this.workerEnv(), {
      logFile: join(this.options.logDir, `worker-${n}.log`),
    });
    const w: WorkerProcess = {
      n,
      child,
      pid: child.pid ?? 0,
      isReady: false,
      ready: waitForLine(child, /worker started/, this.startTimeoutMs).then(() => {
        w.isReady = true;
      }),
    };
    w.ready.catch(() => {});
    this.workers.push(w);
    child.once('exit', (code, signal) => {
      this.exits.push({ n, code, signal });
      const i = this.workers.indexOf(w);
      if (i >= 0) this.workers.splice(i, 1);
    });
    return w;
  }

  /** Signals a worker and waits for it to exit (SIGKILL after the stop timeout); the exit code, null if killed. */
  async stopWorker(w: WorkerProcess, signal: NodeJS.Signals, timeoutMs?: number): Promise<number | null> {
    return stopProcess(w.child, signal, timeoutMs ?? this.options.stopTimeoutMs ?? 15_000);
  }

  private simulatorUrl(path: string): string {
    return new URL(path, this.inboxUrl).toString();
  }

  /** Changes the simulator's faults while it runs (POST /__options). */
  async inbox(partial: Partial<LiveOptions> | Record<string, unknown>): Promise<void> {
    const res = await fetch(this.simulatorUrl('/__options'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(partial),
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`simulator refused options ${JSON.stringify(partial)}: ${await res.text()}`);
  }

  async simulatorStats(): Promise<SimulatorStats> {
    const res = await fetch(this.simulatorUrl('/__stats'), { signal: AbortSignal.timeout(10_000) });
    return (await res.json()) as SimulatorStats;
  }

  async simulatorReceived(): Promise<ReceivedEntry[]> {
    const res = await fetch(this.simulatorUrl('/__received'), { signal: AbortSignal.timeout(30_000) });
    return ((await res.json()) as { messages: ReceivedEntry[] }).messages;
  }

  /** Activates the unit and enqueues the files through the library's enqueue path. */
  async enqueue(campaign: Campaign, files: string[][], jobPolicy: JobPolicy): Promise<EnqueueResult> {
    await activateUnit(this.client, this.keys, { ...campaign.unit, activatedAt: new Date().toISOString() });
    const parseOptions = {
      today: todayOf(new Date()),
      allowCoordinationNumbers: campaign.allowCoordinationNumbers,
    };
    const parsed = files.map((lines, i) =>
      parseRecipientFile(
        { name: `mottagare-${String(i + 1).padStart(3, '0')}.txt`, data: Buffer.from(lines.join('\n')) },
        parseOptions,
      ),
    );
    const queue = createDeliverQueue(this.client, this.keys);
    try {
      return await enqueueCampaign(
        {
          redis: this.client,
          keys: this.keys,
          keyring: createKeyring(Buffer.from(this.dataKey, 'base64')),
          queue,
          jobPolicy,
        },
        { campaign, parsed, skipInvalid: true, dryRun: false },
      );
    } finally {
      await queue.close();
    }
  }

  /** Recipients with a final outcome; the last value read while Redis is down. */
  async done(campaignId: string): Promise<number> {
    try {
      const counts = await createLedger(this.client, this.keys).counts(campaignId);
      this.lastDone = finalOutcomes.reduce((n, o) => n + counts[o], 0);
    } catch {
      // Redis restarting: keep the last value.
    }
    return this.lastDone;
  }

  /**
   * The end state: waits up to `drainMs` for the delivery queue to empty (the
   * last job completes just after its last outcome; one in a backoff takes
   * longer), then reads every ledger slot, the outcome counters and the simulator.
   */
  async snapshot(campaignId: string, options: { drainMs: number; signal: AbortSignal }): Promise<Snapshot> {
    const deliver = createDeliverQueue(this.client, this.keys);
    try {
      const left = async () => {
        const c = await deliver.getJobCounts(
          'waiting',
          'active',
          'delayed',
          'prioritized',
          'waiting-children',
        );
        return Object.values(c).reduce((a, b) => a + b, 0);
      };
      let jobsLeft = await left();
      for (const until = Date.now() + options.drainMs; jobsLeft > 0 && Date.now() < until; ) {
        if (options.signal.aborted) break;
        await delay(200);
        jobsLeft = await left();
      }
      const store = createCampaignStore(this.client, this.keys);
      const ledger = createLedger(this.client, this.keys);
      const stored = await store.require(campaignId);
      const slots = new Map<string, SlotState>();
      for (const [chunkId, n] of await store.chunks(campaignId)) {
        const records = await ledger.read(campaignId, chunkId, n);
        records.forEach((r, slot) => {
          slots.set(`${campaignId}.${chunkId}.${slot}`, r.state);
        });
      }
      const [counts, stats, received] = await Promise.all([
        ledger.counts(campaignId),
        this.simulatorStats(),
        this.simulatorReceived(),
      ]);
      return { valid: stored.recipients.valid, slots, counts, stats, received, jobsLeft };
    } finally {
      await deliver.close().catch(() => {});
    }
  }

  /** The AOF's growing file (Redis 7 multi-part AOF: the last `type i` file in the manifest) and its length now. */
  async aofTail(): Promise<{ path: string; bytes: number }> {
    const dir = join(this.redis.dir, 'appendonlydir');
    const manifest = await readFile(join(dir, 'appendonly.aof.manifest'), 'utf8');
    const incr = manifest
      .split('\n')
      .filter((line) => / type i\b/.test(line))
      .map((line) => line.split(' ')[1])
      .at(-1);
    if (!incr) throw new Error(`no incremental AOF file in ${dir}`);
    const path = join(dir, incr);
    return { path, bytes: (await stat(path)).size };
  }

  /** Stops everything: workers gracefully (SIGKILL after the timeout), the simulator, Redis. Safe twice. */
  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.stopWorker(w, 'SIGTERM').catch(() => {})));
    if (this.simulator) await stopProcess(this.simulator, 'SIGTERM', 5000).catch(() => {});
    this.client?.disconnect();
    if (this.ha) await this.ha.close().catch(() => {});
    else await this.redis?.close().catch(() => {});
  }
}
