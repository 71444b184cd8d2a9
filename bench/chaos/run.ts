import { createHash } from 'node:crypto';
import { mkdir, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { Campaign } from '../../src/campaign/schema.js';
import { seededRandom } from '../../src/simulator/verdict.js';
import { chaosCampaign, recipientFiles } from './campaign.js';
import { type CheckResult, checkScenario, nothingChecked } from './checks.js';
import { ChaosHarness } from './harness.js';
import type { ChaosContext, ChaosSettings, Faults, Scenario } from './scenarios.js';

/** One scenario's line in the summary (and the JSON). */
export interface ScenarioReport extends CheckResult {
  name: string;
  title: string;
  recipients: number;
  kills: number;
  redisCrashes: number;
  uncertainBound: number;
  /** Most recipients the platform may hold twice: the calls in flight at the crashes (resend mode), else 0. */
  duplicateBound: number;
  /** Enqueue to the last outcome, ms. */
  durationMs: number;
  /** Start of Redis to the last process stopped, ms. */
  wallMs: number;
  /** Graceful stops that did not exit 0. */
  badExits: number;
  events: string[];
  /** Chaos that fired after the campaign had finished (then it tested nothing). */
  warnings: string[];
  /** Set when the harness itself failed (the checks then did not run or ran on a partial state). */
  error?: string;
}

export interface RunOptions {
  /** Parent directory of the scenario's log directory. */
  logRoot: string;
  /** Aborted on SIGINT/SIGTERM: waits end early, everything is stopped. */
  signal: AbortSignal;
  /** A progress line for the operator. */
  say(line: string): void;
}

function abortable(ms: number, signal: AbortSignal): Promise<void> {
  return delay(ms, undefined, { signal }).catch(() => {});
}

/**
 * Runs one scenario end to end: Redis, simulator, workers, a real campaign,
 * the chaos, a bounded wait for every outcome, then the ledger against the
 * simulator. Always stops every process it started.
 */
export async function runScenario(
  scenario: Scenario,
  settings: ChaosSettings,
  options: RunOptions,
): Promise<ScenarioReport> {
  const wallStart = Date.now();
  const result = await runScenarioOnce(scenario, settings, options, wallStart);
  return { ...result, wallMs: Date.now() - wallStart };
}

async function runScenarioOnce(
  scenario: Scenario,
  settings: ChaosSettings,
  options: RunOptions,
  wallStart: number,
): Promise<ScenarioReport> {
  const logDir = join(options.logRoot, scenario.name);
  await mkdir(logDir, { recursive: true, mode: 0o700 });
  const seedOf = (what: string) => `${settings.seed}:${scenario.name}:${what}`;
  const random = seededRandom(seedOf('chaos'));
  const s = settings;
  const events: string[] = [];
  const warnings: string[] = [];
  const faults: Faults = { kills: 0, redisCrashes: 0 };
  let enqueuedAt = 0;
  let finishedAt = 0;
  let badExits = 0;
  const campaign = chaosCampaign(scenario.name);
  let harness: ChaosHarness | undefined;
  const at = () => (enqueuedAt ? `${((Date.now() - enqueuedAt) / 1000).toFixed(1)}s` : 'setup');
  const note = (event: string) => {
    events.push(`${at()} ${event}`);
    options.say(`    ${at().padStart(6)}  ${event}`);
  };
  const report = (check: CheckResult, error?: string): ScenarioReport => {
    const problems = [...check.problems];
    if (error) problems.push(error);
    if (badExits > 0) problems.push(`${badExits} graceful stops did not exit 0 within the grace period`);
    return {
      name: scenario.name,
      title: scenario.title,
      recipients: s.recipients,
      kills: faults.kills,
      redisCrashes: faults.redisCrashes,
      uncertainBound: scenario.uncertainBound(s, faults),
      duplicateBound: scenario.duplicateBound(s, faults),
      durationMs: (finishedAt || Date.now()) - (enqueuedAt || wallStart),
      wallMs: 0,
      badExits,
      events,
      warnings,
      ...check,
      problems,
      ok: problems.length === 0,
      ...(error ? { error } : {}),
    };
  };

  try {
    harness = await ChaosHarness.start(
      {
        logDir,
        sentinels: scenario.sentinels ?? false,
        simulatorArgs: [
          '--seed',
          seedOf('simulator'),
          '--unreachable',
          '0.05',
          '--rejected',
          '0.01',
          '--latency-ms',
          String(s.latencyMs),
          '--jitter-ms',
          String(s.jitterMs),
          '--timeout-ms',
          String(s.simulatorTimeoutMs),
          ...scenario.simulatorArgs(s),
        ],
        workerEnv: {
          RATE_PER_SECOND: '0',
          WORKER_CONCURRENCY: String(s.concurrency),
          CALLS_PER_JOB: String(s.callsPerJob),
          CALL_RETRIES: '3',
          CALL_BACKOFF_MS: '50',
          CALL_BACKOFF_MAX_MS: '1000',
          ON_UNCERTAIN: scenario.onUncertain,
          INBOX_TIMEOUT_MS: String(s.inboxTimeoutMs),
          INBOX_CONNECTIONS: String(s.concurrency * s.callsPerJob),
          LOCK_DURATION_MS: String(s.lockDurationMs),
          STALLED_INTERVAL_MS: String(s.stalledIntervalMs),
          SHUTDOWN_GRACE_MS: String(s.shutdownGraceMs),
          LOG_LEVEL: 'info',
        },
      },
      s.workers,
    );
    const h = harness;
    note(`Redis, simulator and ${s.workers} workers up after ${Date.now() - wallStart} ms`);
    const offset = Number.parseInt(
      createHash('sha256').update(seedOf('recipients')).digest('hex').slice(0, 6),
      16,
    );
    const enq = await h.enqueue(campaign, recipientFiles(s.recipients, offset % 1_000_000), {
      attempts: s.jobAttempts,
      backoffMs: s.jobBackoffMs,
    });
    if (enq.recipients.valid !== s.recipients)
      throw new Error(`enqueued ${enq.recipients.valid} valid recipients, expected ${s.recipients}`);
    enqueuedAt = Date.now();
    note(
      `enqueued ${enq.recipients.valid} valid recipients in ${enq.jobs} jobs (${enq.recipients.invalid} invalid, ${enq.recipients.duplicates} duplicate skipped)`,
    );
    const deadline = enqueuedAt + s.deadlineMs;

    // One poller for the whole campaign: the moment of the last outcome is known to 100 ms.
    let done = 0;
    const monitor = (async () => {
      while (!options.signal.aborted && Date.now() <= deadline && !finishedAt) {
        done = await h.done(campaign.id);
        if (done >= s.recipients) finishedAt = Date.now();
        else await abortable(100, options.signal);
      }
    })();
    const progressAt = async (share: number) => {
      const target = Math.ceil(share * s.recipients);
      while (done < target) {
        if (options.signal.aborted) throw new Error('aborted');
        if (Date.now() > deadline)
          throw new Error(`${done}/${s.recipients} outcomes at the deadline (${s.deadlineMs} ms)`);
        await abortable(50, options.signal);
      }
    };
    const untilProgress = async (share: number) => {
      await progressAt(share);
      if (finishedAt > 0)
        warnings.push(`chaos meant for ${Math.round(share * 100)}% came after the campaign had finished`);
    };
    const pct = () => `${Math.round((done / s.recipients) * 100)}%`;

    const starting: Promise<void>[] = [];
    const ctx: ChaosContext = {
      settings: s,
      harness: h,
      random,
      note,
      untilProgress,
      sleep: (ms) => abortable(ms, options.signal),
      async killWorker() {
        // A worker still starting is no moment of interest: wait (bounded) for one that runs.
        const until = Date.now() + 60_000;
        let live = h.workers.filter((w) => w.isReady);
        while (live.length === 0 && Date.now() < until && !options.signal.aborted) {
          await abortable(50, options.signal);
          live = h.workers.filter((w) => w.isReady);
        }
        const victim = live[Math.floor(random() * live.length)];
        if (!victim) throw new Error('no running worker to kill');
        const where = pct();
        await h.stopWorker(victim, 'SIGKILL');
        faults.kills++;
        // The replacement starts in the background: the next moment does not wait for it.
        const next = h.startWorker();
        note(`SIGKILL worker ${victim.n} at ${where}; worker ${next.n} starting`);
        starting.push(next.ready.then(() => note(`worker ${next.n} started`)));
      },
      async rollingRestart() {
        // One at a time: SIGTERM (the worker finishes its calls and hands its jobs back), then its replacement.
        for (const old of [...h.workers]) {
          const where = pct();
          const t = Date.now();
          const code = await h.stopWorker(old, 'SIGTERM');
          if (code !== 0) badExits++;
          const next = h.startWorker();
          note(
            `SIGTERM worker ${old.n} at ${where}: exit ${code} after ${Date.now() - t} ms; worker ${next.n} starting`,
          );
          await next.ready;
          note(`worker ${next.n} started`);
        }
      },
      async restartRedis(downMs, loseLastMs) {
        const tail = loseLastMs ? await h.aofTail() : undefined;
        if (loseLastMs) await abortable(loseLastMs, options.signal);
        const where = pct();
        const t = Date.now();
        await h.redis.stop('SIGKILL');
        faults.redisCrashes++;
        let lost = '';
        if (tail) {
          const now = await h.aofTail();
          if (now.path !== tail.path)
            throw new Error('the AOF was rewritten in the window; no writes dropped');
          await truncate(tail.path, tail.bytes);
          lost = `, its last ${loseLastMs} ms of writes (${now.bytes - tail.bytes} AOF bytes) dropped`;
        }
        await abortable(downMs, options.signal);
        await h.redis.start();
        note(`redis-server SIGKILLed at ${where}${lost}, back after ${Date.now() - t} ms`);
      },
      async sigtermDuringRedisOutage(downMs) {
        const victim = h.workers.find((w) => w.isReady);
        if (!victim) throw new Error('no running worker to stop');
        const where = pct();
        await h.redis.stop('SIGKILL');
        faults.redisCrashes++;
        const t = Date.now();
        let exitedAfterMs = -1;
        const stopped = h.stopWorker(victim, 'SIGTERM', downMs + 15_000).then((code) => {
          exitedAfterMs = Date.now() - t;
          return code;
        });
        await Promise.race([stopped, abortable(downMs, options.signal)]);
        await h.redis.start();
        const code = await stopped;
        if (exitedAfterMs > s.shutdownGraceMs + 5000) badExits++;
        const next = h.startWorker();
        note(
          `redis-server SIGKILLed and worker ${victim.n} SIGTERMed at ${where}; Redis back after ${downMs} ms; worker exit ${code} after ${exitedAfterMs} ms (grace ${s.shutdownGraceMs} ms); worker ${next.n} starting`,
        );
        await next.ready;
      },
      inbox: (o) => h.inbox(o),
      async failover(lagMs) {
        const ha = h.ha;
        if (!ha) throw new Error(`${scenario.name}: a failover needs the Sentinel topology`);
        const where = pct();
        const t = Date.now();
        await ha.pauseReplica(0);
        // Cut the link too, so the writes of the lag window do not wait in the paused replica's socket.
        const primary = new Redis(await ha.currentPrimaryPort(), '127.0.0.1', { maxRetriesPerRequest: 1 });
        primary.on('error', () => {});
        await primary.client('KILL', 'TYPE', 'replica').finally(() => primary.disconnect());
        await abortable(lagMs, options.signal);
        const old = await ha.killPrimary();
        faults.redisCrashes++;
        await ha.resumeReplica(0);
        const promoted = await ha.waitForFailover(old);
        note(
          `primary :${old} SIGKILLed at ${where} with its replica ${lagMs} ms behind; replica :${promoted} promoted after ${Date.now() - t} ms; the old primary stays down`,
        );
      },
      async addReplica() {
        const ha = h.ha;
        if (!ha) throw new Error(`${scenario.name}: a replica needs the Sentinel topology`);
        const t = Date.now();
        const replica = await ha.addReplica();
        note(`new replica :${replica.port} attached and in sync after ${Date.now() - t} ms`);
      },
    };

    let error: string | undefined;
    try {
      await scenario.chaos(ctx);
      await Promise.all(starting);
      await progressAt(1);
      note(`all ${s.recipients} outcomes recorded`);
    } catch (err) {
      error = (err as Error).message;
      note(`stopped waiting: ${error}`);
    }
    await monitor;
    return report(await collect(h, campaign, scenario, s, faults, options.signal), error);
  } catch (err) {
    const error = (err as Error).message;
    let check: CheckResult;
    try {
      check = harness
        ? await collect(harness, campaign, scenario, s, faults, options.signal)
        : nothingChecked(s.recipients);
    } catch {
      check = nothingChecked(s.recipients);
    }
    return report(check, error);
  } finally {
    await harness?.stop();
  }
}

/** Waits (bounded) for the queue to drain, reads everything, and judges it. */
async function collect(
  h: ChaosHarness,
  campaign: Campaign,
  scenario: Scenario,
  s: ChaosSettings,
  faults: Faults,
  signal: AbortSignal,
): Promise<CheckResult> {
  const snap = await h.snapshot(campaign.id, { drainMs: 30_000, signal });
  return checkScenario({
    campaignId: campaign.id,
    valid: snap.valid,
    slots: snap.slots,
    counts: snap.counts,
    received: snap.received,
    parkMode: scenario.onUncertain === 'park',
    uncertainBound: scenario.uncertainBound(s, faults),
    duplicateBound: scenario.duplicateBound(s, faults),
    jobsLeft: snap.jobsLeft,
    invalidRequests: snap.stats.invalid,
    conflicts: snap.stats.conflicts,
    resends: snap.stats.duplicates,
    expectNoResends: scenario.expectNoResends,
  });
}
