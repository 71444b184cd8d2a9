import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { type Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type AuditLog, createAuditLog, type SystemAuditInput } from '../audit/audit-log.js';
import type { WorkerConfig } from '../config/worker.js';
import { resolveContract } from '../delivery/contract.js';
import { createInboxClient } from '../delivery/inbox-client.js';
import type { InboxClient } from '../delivery/types.js';
import { createMetrics, type Metrics } from '../metrics/registry.js';
import { createMetricsServer, type MetricsServer } from '../metrics/server.js';
import { assertWorkerUser } from '../queue/acl.js';
import { type CampaignStore, createCampaignStore } from '../queue/campaign-store.js';
import {
  createDeadLetterQueue,
  createDeliverQueue,
  type DeadLetterData,
  type DeliverJobData,
} from '../queue/deliver-queue.js';
import { durabilityFor } from '../queue/durability.js';
import { createKeys, type Keys, queueNames } from '../queue/keys.js';
import { createLedger, type Ledger } from '../queue/ledger.js';
import { createRateLimiter } from '../queue/rate-limiter.js';
import { connectOrExplain } from '../queue/redis.js';
import { explainRedisError, isRedisClientFailure } from '../queue/redis-errors.js';
import { createOutageLog, type OutageLog } from '../queue/redis-outage.js';
import { isUnitActive } from '../queue/units.js';
import { createFailureWatch } from './auto-pause.js';
import { createCallPermits } from './call-permits.js';
import { createCampaignCache } from './campaign-cache.js';
import { createDeliverHandler, type DispatchDeps, type JobSummary } from './deliver-handler.js';
import { warmUpCallPath } from './warm-up.js';
import {
  auditLogger,
  durabilityEvents,
  jobCountSource,
  openConnections,
  retentionSweep,
  type WorkerConnections,
} from './worker-wiring.js';

export type { WorkerConnections } from './worker-wiring.js';

/** Collaborators a test (or another composition root) may pass in; each defaults to the real one. */
export interface DeliveryWorkerDeps {
  /** A clock for sending windows and ledger times. Default Date.now. */
  now?: () => number;
  /** Default: three connections from `config.client.redis`, closed by stop(). Passed-in ones are the caller's to close. */
  redis?: WorkerConnections;
  /** Default: createInboxClient(config.inbox), closed by stop(). A passed-in one is the caller's to close. */
  inbox?: InboxClient;
}

/**
 * One delivery worker process's parts, wired once: Redis connections, the
 * BullMQ worker, the inbox client, the limiter, metrics and their HTTP server.
 * A class because it has a start/stop lifecycle.
 */
export class DeliveryWorker {
  readonly metrics: Metrics;
  private readonly shutdown = new AbortController();
  private readonly data: Redis;
  private readonly connections: WorkerConnections;
  /** Connections this worker opened (and so closes). */
  private readonly ownsConnections: boolean;
  /** Connection problems, logged once and then once a minute while they last. */
  private readonly outage: OutageLog;
  private readonly keys: Keys;
  private readonly worker: Worker<DeliverJobData, JobSummary>;
  private server: MetricsServer | undefined;
  private readonly closers: (() => Promise<unknown>)[] = [];
  private stopping: Promise<void> | undefined;
  private retentionTimer: NodeJS.Timeout | undefined;
  private readonly sweepRetention: () => Promise<void>;
  private readonly audit: AuditLog;
  /** Who this worker is in the audit log. */
  readonly auditActor = `system:${hostname()}:${process.pid}`;
  metricsPort = 0;

  constructor(
    private readonly config: WorkerConfig,
    private readonly logger: Logger,
    deps: DeliveryWorkerDeps = {},
  ) {
    // Every call in flight listens for shutdown on this one signal.
    setMaxListeners(0, this.shutdown.signal);
    this.ownsConnections = !deps.redis;
    this.connections = deps.redis ?? openConnections(config);
    this.data = this.connections.data;
    this.outage = createOutageLog(config.client.redis, logger);
    this.watchConnections();
    const keys = createKeys(config.client.prefix);
    this.keys = keys;
    this.audit = createAuditLog({ redis: this.data, keys, logger: auditLogger(logger) });
    const store = createCampaignStore(this.data, keys);
    const durability = durabilityFor(config.client.redis, this.data, {
      timeoutMs: config.client.waitTimeoutMs,
      events: durabilityEvents(logger, () => this.metrics),
    });
    const ledger = createLedger(this.data, keys, durability);
    const deliverQueue = createDeliverQueue(this.connections.queues, keys);
    const deadLetters = createDeadLetterQueue(this.connections.queues, keys);
    for (const q of [deliverQueue, deadLetters]) q.on('error', this.onRedisError('queue connection error'));
    this.closers.push(
      () => deliverQueue.close(),
      () => deadLetters.close(),
    );
    this.metrics = createMetrics(jobCountSource(deliverQueue, deadLetters, store, ledger));
    const inbox = deps.inbox ?? createInboxClient(config.inbox);
    if (!deps.inbox) this.closers.push(() => inbox.close());
    const handler = createDeliverHandler(
      this.dispatchDeps({ keys, store, ledger, inbox, deadLetters, now: deps.now }),
      config.dispatch,
    );
    this.worker = this.createWorker(handler);
    this.sweepRetention = retentionSweep({
      redis: this.data,
      keys,
      deliverQueue,
      deadLetters,
      config,
      logger,
      recordAudit: this.recordAudit,
    });
  }

  /** Logs a connection error, unless it is part of an outage the outage log reports. */
  private readonly onRedisError = (what: string) => (err: Error) => {
    if (!this.outage.error(err)) this.logger.warn({ err: err.message }, what);
  };

  private readonly connectionError = this.onRedisError('redis connection error');
  private readonly connectionReady = () => this.outage.ready();

  private watchConnections(): void {
    for (const r of Object.values(this.connections)) r.on('error', this.connectionError);
    this.data.on('ready', this.connectionReady);
  }

  private readonly recordAudit = (input: SystemAuditInput) =>
    this.audit.record({ ...input, actor: this.auditActor }).then(
      () => {},
      (err: Error) =>
        this.logger.warn(
          { err: err.message, action: input.action, campaign: input.campaignId },
          'audit entry not stored in Redis (its log line above holds it)',
        ),
    );

  private dispatchDeps(parts: {
    keys: Keys;
    store: CampaignStore;
    ledger: Ledger;
    inbox: InboxClient;
    deadLetters: Queue<DeadLetterData>;
    now: (() => number) | undefined;
  }): DispatchDeps {
    const { config, data } = this;
    const { keys, store, now } = parts;
    return {
      redis: data,
      keys,
      keyring: config.keyring,
      ledger: parts.ledger,
      store,
      campaigns: createCampaignCache(store, (hsaId) => isUnitActive(data, keys, hsaId), {
        maxAgeMs: config.campaignStateMaxAgeMs,
      }),
      limiter: createRateLimiter(data, {
        key: keys.rate,
        onRedisError: this.onRedisError('rate limiter waiting for Redis'),
        onSlotDropped: () => this.metrics.limiterSlotsDropped.inc({ stage: 'grant' }),
      }),
      inbox: parts.inbox,
      permits: createCallPermits(config.inbox.connections ?? 16),
      failureWatch: createFailureWatch(config.autoPause),
      deadLetters: parts.deadLetters,
      metrics: this.metrics,
      logger: this.logger,
      audit: this.recordAudit,
      shutdown: this.shutdown.signal,
      ...(now ? { now } : {}),
    };
  }

  private createWorker(handler: ReturnType<typeof createDeliverHandler>): Worker<DeliverJobData, JobSummary> {
    const { config, logger } = this;
    const worker = new Worker<DeliverJobData, JobSummary>(queueNames.deliver, handler, {
      connection: this.connections.blocking,
      prefix: this.keys.prefix,
      concurrency: config.concurrency,
      lockDuration: config.lockDurationMs,
      stalledInterval: config.stalledIntervalMs,
      // The handler is idempotent (the ledger skips settled recipients), so a job
      // that stalls because its worker died may be picked up again many times.
      maxStalledCount: 20,
      autorun: false,
    });
    worker.on('error', (err) => {
      if (!this.outage.error(err)) logger.error({ err: err.message }, 'worker error');
    });
    worker.on('failed', (job, err) => {
      if (job)
        logger.warn({ job: job.id, attempt: job.attemptsMade, err: err.message }, 'job attempt failed');
    });
    return worker;
  }

  async start(): Promise<void> {
    this.server = createMetricsServer(
      {
        port: this.config.metrics.port,
        host: this.config.metrics.host,
        registry: this.metrics.registry,
        ready: async () => {
          const reasons: string[] = [];
          if (this.shutdown.signal.aborted) reasons.push('shutting down');
          if (!this.worker?.isRunning()) reasons.push('worker not running');
          const redis = await this.redisProblem();
          if (redis) reasons.push(redis);
          return { ok: reasons.length === 0, reasons };
        },
      },
      { logger: this.logger },
    );
    this.metricsPort = (await this.server.start()).port;
    await this.assertRedisUsable();
    if (this.config.warmUpCalls > 0) {
      try {
        const warm = await warmUpCallPath(this.config.inbox, { calls: this.config.warmUpCalls });
        this.logger.info({ calls: warm.calls, ms: Math.round(warm.ms) }, 'call path warmed up');
      } catch (err) {
        this.logger.warn({ err: (err as Error).message }, 'warm-up failed; starting cold');
      }
    }
    void this.worker.run();
    const sweep = () =>
      this.sweepRetention().catch((err) =>
        this.logger.warn({ err: (err as Error).message }, 'retention sweep failed'),
      );
    void sweep();
    this.retentionTimer = setInterval(sweep, 3_600_000);
    this.retentionTimer.unref();
    await this.worker.waitUntilReady();
    const contract = resolveContract(this.config.inbox.contract ?? 'mvk-inbox-2');
    this.logger.info(
      {
        metricsPort: this.metricsPort,
        concurrency: this.config.concurrency,
        ratePerSecond: this.config.dispatch.ratePerSecond,
        contract: contract.name,
        onUncertain: this.config.dispatch.onUncertain,
        redis: this.config.client.redis.where,
      },
      'worker started',
    );
    for (const note of this.config.client.notes) this.logger.warn(note);
    if (!contract.verified) {
      this.logger.warn(
        { contract: contract.name, note: contract.note },
        'UNVERIFIED inbox contract: its names are not checked against published schemas; verify before sending to the real platform',
      );
    }
  }

  /**
   * Waits through an outage (/readyz says why meanwhile); a refused login or a
   * database out of range throws RedisConnectionError REDIS_CONFIG, a user
   * without a worker's permissions REDIS_PERMISSION.
   */
  private async assertRedisUsable(): Promise<void> {
    const target = this.config.client.redis;
    await connectOrExplain(this.data, target);
    try {
      await assertWorkerUser(this.data, this.keys);
      await this.audit.assertWritable();
    } catch (err) {
      throw isRedisClientFailure(err) ? explainRedisError(err, target) : err;
    }
  }

  /** Why Redis cannot be used now, for /readyz; undefined when it answers. */
  private async redisProblem(): Promise<string | undefined> {
    const down = this.outage.problem() ?? 'redis unreachable';
    if (this.data.status !== 'ready') return down;
    try {
      await this.data.ping();
      return undefined;
    } catch {
      return down;
    }
  }

  /** Quits the connections this worker opened; leaves passed-in ones open, without its listeners. */
  private async releaseConnections(): Promise<void> {
    for (const r of Object.values(this.connections)) {
      if (this.ownsConnections) await r.quit().catch(() => {});
      else r.off('error', this.connectionError);
    }
    if (!this.ownsConnections) this.data.off('ready', this.connectionReady);
  }

  /**
   * Graceful stop: no new job or call starts; calls in flight finish and their
   * outcomes are recorded; unfinished jobs go back to the queue. After the grace
   * period the worker closes without waiting (the jobs' locks then expire and
   * another worker takes them).
   */
  stop(graceMs = this.config.shutdownGraceMs): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.info({ graceMs }, 'shutting down');
      this.shutdown.abort(new Error('worker shutting down'));
      clearInterval(this.retentionTimer);
      const worker = this.worker;
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const closed = await Promise.race([worker?.close().then(() => 'closed' as const), grace]);
      clearTimeout(timer);
      if (closed === 'timeout') {
        this.logger.warn('grace period over; closing without waiting for active jobs');
        await worker?.close(true);
      }
      for (const close of this.closers) await close().catch(() => {});
      await this.server?.stop();
      await this.releaseConnections();
      this.logger.info('stopped');
    })();
    return this.stopping;
  }
}
