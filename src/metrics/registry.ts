import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The worker's metrics, on a registry of its own. Labels carry campaign ids,
 * outcomes and result classes only: never a personnummer or message text.
 */
export const callResults = [
  'delivered',
  'unreachable',
  'rejected',
  'transient_error',
  'rate_limited',
  'stop_campaign',
] as const;
export type CallResult = (typeof callResults)[number];

export interface JobCountSource {
  /** Counts per queue and state (waiting, active, delayed, failed, completed, ...). */
  jobCounts(): Promise<Record<string, Record<string, number>>>;
  /** Per campaign: valid recipients and how many have a final outcome. */
  campaignProgress(): Promise<{ campaign: string; total: number; done: number; pausedBySystem: boolean }[]>;
}

export interface Metrics {
  readonly registry: Registry;
  messages: Counter<'campaign' | 'outcome'>;
  calls: Counter<'result'>;
  callDuration: Histogram<'result'>;
  retries: Counter<'campaign' | 'reason'>;
  retryAfterWaitSeconds: Counter;
  limiterWaitSeconds: Histogram;
  limiterSlotsDropped: Counter<'stage'>;
  inflight: Gauge;
  deadLettered: Counter<'campaign'>;
  autoPauses: Counter<'campaign' | 'reason'>;
  jobsProcessed: Counter<'result'>;
  redisNotDurable: Counter<'reason'>;
  redisAlone: Counter;
}

export function createMetrics(source?: JobCountSource, options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const metrics: Metrics = {
    registry,
    messages: new Counter({
      name: 'utskick_messages_total',
      help: 'Recipients given a final outcome, by campaign and outcome.',
      labelNames: ['campaign', 'outcome'],
      registers,
    }),
    calls: new Counter({
      name: 'utskick_inbox_calls_total',
      help: 'AddMessage calls to the inbox, by result class.',
      labelNames: ['result'],
      registers,
    }),
    callDuration: new Histogram({
      name: 'utskick_inbox_call_duration_seconds',
      help: 'Duration of one AddMessage call, by result class.',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    retries: new Counter({
      name: 'utskick_call_retries_total',
      help: 'Calls retried after a transient error or a 429, by campaign and reason.',
      labelNames: ['campaign', 'reason'],
      registers,
    }),
    retryAfterWaitSeconds: new Counter({
      name: 'utskick_retry_after_wait_seconds_total',
      help: 'Seconds spent waiting because the inbox answered 429/503 with Retry-After.',
      registers,
    }),
    limiterWaitSeconds: new Histogram({
      name: 'utskick_rate_limiter_wait_seconds',
      help: 'Time a call waited for the global (and campaign) rate limiter.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60],
      registers,
    }),
    limiterSlotsDropped: new Counter({
      name: 'utskick_rate_limiter_slots_dropped_total',
      help: 'Rate slots given up because the call could not start on time; stage "grant": the slot came due while the event loop was busy, "call": the bookkeeping or the wait for a connection after the grant made it stale. Each costs one call of rate.',
      labelNames: ['stage'],
      registers,
    }),
    inflight: new Gauge({
      name: 'utskick_inbox_inflight_calls',
      help: 'AddMessage calls in flight in this worker.',
      registers,
    }),
    deadLettered: new Counter({
      name: 'utskick_dead_lettered_recipients_total',
      help: 'Recipients moved to the dead-letter queue, by campaign.',
      labelNames: ['campaign'],
      registers,
    }),
    autoPauses: new Counter({
      name: 'utskick_campaign_auto_pauses_total',
      help: 'Campaigns the service paused by itself, by campaign and reason.',
      labelNames: ['campaign', 'reason'],
      registers,
    }),
    jobsProcessed: new Counter({
      name: 'utskick_jobs_processed_total',
      help: 'Delivery jobs this worker finished, by result (completed, retry, dead_lettered, delayed, lock_lost).',
      labelNames: ['result'],
      registers,
    }),
    redisNotDurable: new Counter({
      name: 'utskick_redis_writes_not_durable_total',
      help: 'Ledger writes found not durable and written again: no replica acknowledged them in time (no_ack), or the connection was lost before it could (reconnected). No call goes out meanwhile.',
      labelNames: ['reason'],
      registers,
    }),
    redisAlone: new Counter({
      name: 'utskick_redis_writes_unreplicated_total',
      help: 'Writes taken as durable on the primary alone, because no replica could be promoted (after a failover that used the only replica, or with every replica down).',
      registers,
    }),
  };

  if (source) registerSourceGauges(source, registers);
  return metrics;
}

/** Gauges read from Redis at scrape time: job counts per queue and state, campaign progress. */
function registerSourceGauges(source: JobCountSource, registers: Registry[]): void {
  new Gauge({
    name: 'utskick_queue_jobs',
    help: 'Jobs by queue and state (read from Redis at scrape time).',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      const counts = await source.jobCounts();
      for (const [queue, states] of Object.entries(counts)) {
        for (const [state, n] of Object.entries(states)) this.set({ queue, state }, n);
      }
    },
  });
  const progress = async () => source.campaignProgress();
  new Gauge({
    name: 'utskick_campaign_recipients',
    help: 'Valid recipients of each campaign not yet purged.',
    labelNames: ['campaign'],
    registers,
    async collect() {
      this.reset();
      for (const p of await progress()) this.set({ campaign: p.campaign }, p.total);
    },
  });
  new Gauge({
    name: 'utskick_campaign_done_recipients',
    help: 'Recipients of each campaign with a final outcome.',
    labelNames: ['campaign'],
    registers,
    async collect() {
      this.reset();
      for (const p of await progress()) this.set({ campaign: p.campaign }, p.done);
    },
  });
  new Gauge({
    name: 'utskick_campaign_paused_by_system',
    help: '1 while the service itself has paused the campaign (Unauthorized, too many permanent failures).',
    labelNames: ['campaign'],
    registers,
    async collect() {
      this.reset();
      for (const p of await progress()) this.set({ campaign: p.campaign }, p.pausedBySystem ? 1 : 0);
    },
  });
}
