import { setMaxListeners } from 'node:events';
import { hostname } from 'node:os';
import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type AuditLog, createAuditLog, type SystemAuditInput } from '../audit/audit-log.js';
import type { WorkerConfig } from '../config/worker.js';
import { resolveContract } from '../delivery/contract.js';
import { createInboxClient } from '../delivery/inbox-client.js';
import { createMetrics, type Metrics } from '../metrics/registry.js';
import { createMetricsServer, type MetricsServer } from '../metrics/server.js';
import { assertWorkerUser } from '../queue/acl.js';
import { createCampaignStore } from '../queue/campaign-store.js';
import { createDeadLetterQueue, createDeliverQueue, type DeliverJobData } from '../queue/deliver-queue.js';
import { createKeys, type Keys, queueNames } from '../queue/keys.js';
import { createLedger, finalOutcomes } from '../queue/ledger.js';
import { purgeExpired } from '../queue/purge.js';
import { createRateLimiter } from '../queue/rate-limiter.js';
import { connectOrExplain, createRedis } from '../queue/redis.js';
import { explainRedisError, isRedisClientFailure } from '../queue/redis-errors.js';
import { createOutageLog, type OutageLog } from '../queue/redis-outage.js';
import { isUnitActive } from '../queue/units.js';
import { createFailureWatch } from './auto-pause.js';
import { createCallPermits } from './call-permits.js';
import { createCampaignCache } from './campaign-cache.js';
import { createDeliverHandler, type JobSummary } from './deliver-handler.js';
import { warmUpCallPath } from './warm-up.js';

/**
 * The audit entries' log lines are written at info even when LOG_LEVEL is
 * warn or above (they are the audit log's second copy); `silent` stays silent.
 */
function auditLogger(logger: Logger): Logger {
  if (logger.level === 'silent' || logger.isLevelEnabled('info')) return logger;
  return logger.child({}, { level: 'info' });
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
  private readonly queues: Redis;
  private readonly blocking: Redis;
  /** Connection problems, logged once and then once a minute while they last. */
  private readonly outage: OutageLog;
  private readonly keys: Keys;
  private worker: Worker<DeliverJobData, JobSummary> | undefined;
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
    /** A clock for sending windows and ledger times (tests inject one). Default Date.now. */
    clock: { now?: () => number } = {},
  ) {
    const { client } = config;
    // Every call in flight listens for shutdown on this one signal.
    setMaxListeners(0, this.shutdown.signal);
    // The per-call traffic (ledger, limiter, campaign state) goes on its own
    // connection, BullMQ's queues on another. Not auto-pipelined: answers
    // arrive one per socket event, so each tick has about one command, and a
    // pipeline per command cost more than it saved (ioredis copies every
    // script defined on the connection into each pipeline). Measured with npm
    // run bench -- --cases dispatch: 327 -> 309 us of worker CPU per message.
    this.data = createRedis(client.redis, 'worker');
    this.queues = createRedis(client.redis, 'worker');
    this.blocking = createRedis(client.redis, 'worker');
    this.outage = createOutageLog(client.redis.url, logger);
    const onRedisError = (what: string) => (err: Error) => {
      if (!this.outage.error(err)) logger.warn({ err: err.message }, what);
    };
    for (const r of [this.data, this.queues, this.blocking])
      r.on('error', onRedisError('redis connection error'));
    this.data.on('ready', () => this.outage.ready());
    const keys = createKeys(client.prefix);
    this.keys = keys;
    this.audit = createAuditLog({ redis: this.data, keys, logger: auditLogger(logger) });
    const recordAudit = (input: SystemAuditInput) =>
      this.audit.record({ ...input, actor: this.auditActor }).then(
        () => {},
        (err: Error) =>
          logger.warn(
            { err: err.message, action: input.action, campaign: input.campaignId },
            'audit entry not stored in Redis (its log line above holds it)',
          ),
      );
    const store = createCampaignStore(this.data, keys);
    const ledger = createLedger(this.data, keys);
    const deliverQueue = createDeliverQueue(this.queues, keys);
    const deadLetters = createDeadLetterQueue(this.queues, keys);
    for (const q of [deliverQueue, deadLetters]) q.on('error', onRedisError('queue connection error'));
    this.closers.push(
      () => deliverQueue.close(),
      () => deadLetters.close(),
    );
    this.metrics = createMetrics({
      async jobCounts() {
        const states = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized'] as const;
        const [d, dl] = await Promise.all([
          deliverQueue.getJobCounts(...states),
          deadLetters.getJobCounts(...states),
        ]);
        return { [queueNames.deliver]: d, [queueNames.deadLetter]: dl };
      },
      async campaignProgress() {
        const ids = await store.list();
        return Promise.all(
          ids.map(async (id) => {
            const [c, counts, state] = await Promise.all([store.get(id), ledger.counts(id), store.state(id)]);
            const done = finalOutcomes.reduce((n, o) => n + counts[o], 0);
            return {
              campaign: id,
              total: c?.recipients.valid ?? 0,
              done,
              pausedBySystem: state?.state === 'paused' && state.by === 'system',
            };
          }),
        );
      },
    });
    const inbox = createInboxClient(config.inbox);
    this.closers.push(() => inbox.close());
    const handler = createDeliverHandler(
      {
        redis: this.data,
        keys,
        keyring: config.keyring,
        ledger,
        store,
        campaigns: createCampaignCache(store, (hsaId) => isUnitActive(this.data, keys, hsaId), {
          maxAgeMs: config.campaignStateMaxAgeMs,
        }),
        inbox,
        limiter: createRateLimiter(this.data, {
          key: keys.rate,
          onRedisError: onRedisError('rate limiter waiting for Redis'),
          onSlotDropped: () => this.metrics.limiterSlotsDropped.inc({ stage: 'grant' }),
        }),
        permits: createCallPermits(config.inbox.connections ?? 16),
        failureWatch: createFailureWatch(config.autoPause),
        deadLetters,
        metrics: this.metrics,
        logger,
        audit: recordAudit,
        shutdown: this.shutdown.signal,
        ...(clock.now ? { now: clock.now } : {}),
      },
      config.dispatch,
    );
    this.worker = new Worker<DeliverJobData, JobSummary>(queueNames.deliver, handler, {
      connection: this.blocking,
      prefix: keys.prefix,
      concurrency: config.concurrency,
      lockDuration: config.lockDurationMs,
      stalledInterval: config.stalledIntervalMs,
      // The handler is idempotent (the ledger skips settled recipients), so a job
      // that stalls because its worker died may be picked up again many times.
      maxStalledCount: 20,
      autorun: false,
    });
    this.sweepRetention = async () => {
      if (config.retentionDays <= 0) return;
      // One worker an hour does the sweep.
      const got = await this.data.set(`${keys.prefix}:retention-lock`, String(process.pid), 'EX', 3600, 'NX');
      if (got !== 'OK') return;
      await purgeExpired(
        { redis: this.data, keys, deliver: deliverQueue, deadLetters, jobPolicy: config.client.jobPolicy },
        config.retentionDays,
        Date.now(),
        async (p) => {
          logger.info({ campaign: p.campaignId, keys: p.keysDeleted }, 'retention: campaign purged');
          await recordAudit({
            action: 'retention-purge',
            campaignId: p.campaignId,
            details: {
              retentionDays: config.retentionDays,
              keysDeleted: p.keysDeleted,
              jobsRemoved: p.jobsRemoved,
              deadLettersRemoved: p.deadLettersRemoved,
            },
          });
        },
      );
    };
    this.worker.on('error', (err) => {
      if (!this.outage.error(err)) logger.error({ err: err.message }, 'worker error');
    });
    this.worker.on('failed', (job, err) => {
      if (job)
        logger.warn({ job: job.id, attempt: job.attemptsMade, err: err.message }, 'job attempt failed');
    });
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
    void this.worker?.run();
    const sweep = () =>
      this.sweepRetention().catch((err) =>
        this.logger.warn({ err: (err as Error).message }, 'retention sweep failed'),
      );
    void sweep();
    this.retentionTimer = setInterval(sweep, 3_600_000);
    this.retentionTimer.unref();
    await this.worker?.waitUntilReady();
    const contract = resolveContract(this.config.inbox.contract ?? 'mvk-inbox-2');
    this.logger.info(
      {
        metricsPort: this.metricsPort,
        concurrency: this.config.concurrency,
        ratePerSecond: this.config.dispatch.ratePerSecond,
        contract: contract.name,
        onUncertain: this.config.dispatch.onUncertain,
      },
      'worker started',
    );
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
      throw isRedisClientFailure(err) ? explainRedisError(err, target.url) : err;
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
      await this.data.quit().catch(() => {});
      await this.queues.quit().catch(() => {});
      await this.blocking.quit().catch(() => {});
      this.logger.info('stopped');
    })();
    return this.stopping;
  }
}
