import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SystemAuditInput } from '../audit/audit-log.js';
import type { WorkerConfig } from '../config/worker.js';
import type { JobCountSource, Metrics } from '../metrics/registry.js';
import type { CampaignStore } from '../queue/campaign-store.js';
import type { DeadLetterData, DeliverJobData } from '../queue/deliver-queue.js';
import type { DurabilityEvents } from '../queue/durability.js';
import { type Keys, queueNames } from '../queue/keys.js';
import { finalOutcomes, type Ledger } from '../queue/ledger.js';
import { purgeExpired } from '../queue/purge.js';
import { createRedis } from '../queue/redis.js';

/** Parts of the delivery worker's wiring (runtime.ts) that need none of its state. */

/** The worker's Redis connections. */
export interface WorkerConnections {
  /** The per-call traffic: ledger, limiter, campaign state, audit. */
  data: Redis;
  /** BullMQ's queues (deliver, dead letters). */
  queues: Redis;
  /** The BullMQ worker's connection. */
  blocking: Redis;
}

/**
 * The per-call traffic (ledger, limiter, campaign state) goes on its own
 * connection, BullMQ's queues on another. Not auto-pipelined: answers arrive
 * one per socket event, so each tick has about one command, and a pipeline
 * per command cost more than it saved (ioredis copies every script defined on
 * the connection into each pipeline). Measured with npm run bench -- --cases
 * dispatch: 327 -> 309 us of worker CPU per message.
 */
export function openConnections(config: WorkerConfig): WorkerConnections {
  const target = config.client.redis;
  return {
    data: createRedis(target, 'worker'),
    queues: createRedis(target, 'worker'),
    blocking: createRedis(target, 'worker'),
  };
}

/** What /metrics reads from Redis at scrape time: job counts and campaign progress. */
export function jobCountSource(
  deliverQueue: Queue<DeliverJobData>,
  deadLetters: Queue<DeadLetterData>,
  store: CampaignStore,
  ledger: Ledger,
): JobCountSource {
  return {
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
  };
}

/** The hourly retention sweep: one worker an hour purges the campaigns past RETENTION_DAYS. */
export function retentionSweep(parts: {
  redis: Redis;
  keys: Keys;
  deliverQueue: Queue<DeliverJobData>;
  deadLetters: Queue<DeadLetterData>;
  config: WorkerConfig;
  logger: Logger;
  recordAudit: (input: SystemAuditInput) => Promise<void>;
}): () => Promise<void> {
  const { redis, keys, deliverQueue, deadLetters, config, logger, recordAudit } = parts;
  return async () => {
    if (config.retentionDays <= 0) return;
    const got = await redis.set(keys.retentionLock(), String(process.pid), 'EX', 3600, 'NX');
    if (got !== 'OK') return;
    await purgeExpired(
      { redis, keys, deliver: deliverQueue, deadLetters, jobPolicy: config.client.jobPolicy },
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
}

/**
 * The audit entries' log lines are written at info even when LOG_LEVEL is
 * warn or above (they are the audit log's second copy); `silent` stays silent.
 */
export function auditLogger(logger: Logger): Logger {
  if (logger.level === 'silent' || logger.isLevelEnabled('info')) return logger;
  return logger.child({}, { level: 'info' });
}

/**
 * Counts writes that were not durable (metrics) and says so in the log, at
 * most once per `everyMs` for each kind, with how many were not logged.
 */
export function durabilityEvents(logger: Logger, metrics: () => Metrics, everyMs = 10_000): DurabilityEvents {
  const last = new Map<string, { at: number; unlogged: number }>();
  const say = (kind: string, line: (unlogged: number) => void) => {
    const now = Date.now();
    const seen = last.get(kind);
    if (seen && now - seen.at < everyMs) {
      seen.unlogged++;
      return;
    }
    line(seen?.unlogged ?? 0);
    last.set(kind, { at: now, unlogged: 0 });
  };
  return {
    notDurable(reason, attempt) {
      metrics().redisNotDurable.inc({ reason: reason === 'no-ack' ? 'no_ack' : 'reconnected' });
      say(reason, (unlogged) =>
        logger.warn(
          { reason, attempt, notLogged: unlogged },
          reason === 'no-ack'
            ? 'no replica acknowledged a ledger write in time; no call goes out until one does (writing it again)'
            : 'the Redis connection was lost before a replica acknowledged a ledger write; writing it again',
        ),
      );
    },
    unanswered(err) {
      say('unanswered', (unlogged) =>
        logger.warn(
          { err: err instanceof Error ? err.message : String(err), notLogged: unlogged },
          'a Sentinel did not say which replicas it could promote (check its login and ACL: sentinel|replicas); counting on a replica',
        ),
      );
    },
    alone() {
      metrics().redisAlone.inc();
      say('alone', (unlogged) =>
        logger.warn(
          { notLogged: unlogged },
          'no replica could take over from the Redis primary: writes are as safe as on a single node until a replica is back',
        ),
      );
    },
  };
}
