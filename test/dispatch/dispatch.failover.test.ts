/**
 * Delivery through Sentinels, against a real primary, replica and three
 * Sentinels (private redis-servers): the workers reconnect to the promoted
 * replica and finish, nothing is stored twice in park mode; and no call goes
 * out while a replica that could be promoted does not hold the in-flight mark.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { type PrivateSentinels, startPrivateSentinels } from '../../scripts/lib/private-sentinel.js';
import type { Campaign } from '../../src/campaign/schema.js';
import { createDeliverQueue } from '../../src/queue/deliver-queue.js';
import { enqueueCampaign } from '../../src/queue/enqueue.js';
import { createKeys } from '../../src/queue/keys.js';
import { createLedger, finalOutcomes } from '../../src/queue/ledger.js';
import { createRedis, sentinelTarget } from '../../src/queue/redis.js';
import { activateUnit } from '../../src/queue/units.js';
import { todayOf } from '../../src/recipients/personnummer.js';
import { parseRecipientFile } from '../../src/recipients/read-file.js';
import { makeCampaign, testEnv, testKeyring, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { uniquePrefix } from '../helpers/redis.js';
import { type StartedSimulator, startSimulator } from '../helpers/simulator.js';
import { describeWithTools, tools } from '../helpers/tools.js';
import {
  joinLedgerAndSimulator,
  metricValue,
  readSlots,
  spawnWorkers,
  stopAllWorkers,
  tally,
} from '../helpers/workers.js';

let ha: PrivateSentinels | undefined;
let sim: StartedSimulator | undefined;
let client: Redis | undefined;
afterEach(async () => {
  await stopAllWorkers();
  client?.disconnect();
  await sim?.stop();
  await ha?.close();
  ha = sim = client = undefined;
});

/**
 * The worker environment of testEnv, pointed at the Sentinels; `keepUrl`
 * leaves testEnv's REDIS_URL (the shared Redis) beside them, which the
 * Sentinels must win over.
 */
function sentinelEnv(prefix: string, more: Record<string, string>, keepUrl = false): Record<string, string> {
  const { REDIS_URL: single, ...env } = testEnv(prefix, sim!.url, more);
  return {
    ...env,
    ...(keepUrl ? { REDIS_URL: single! } : {}),
    REDIS_SENTINELS: ha!.sentinelsEnv,
    REDIS_SENTINEL_MASTER: ha!.masterName,
  };
}

async function enqueue(prefix: string, campaign: Campaign, files: string[][]) {
  const keys = createKeys(prefix);
  const queue = createDeliverQueue(client!, keys);
  try {
    await activateUnit(client!, keys, { ...campaign.unit, activatedAt: new Date().toISOString() });
    const options = { today: todayOf(new Date()), allowCoordinationNumbers: false };
    const parsed = files.map((numbers, i) =>
      parseRecipientFile({ name: `file-${i}.txt`, data: Buffer.from(numbers.join('\n')) }, options),
    );
    return await enqueueCampaign(
      { redis: client!, keys, keyring: testKeyring(), queue, jobPolicy: { attempts: 5, backoffMs: 100 } },
      { campaign, parsed, skipInvalid: false, dryRun: false },
    );
  } finally {
    await queue.close();
  }
}

async function done(prefix: string, campaignId: string): Promise<number> {
  const counts = await createLedger(client!, createKeys(prefix)).counts(campaignId);
  return finalOutcomes.reduce((n, o) => n + counts[o], 0);
}

describeWithTools('delivery through Sentinels', [tools.redisServer], () => {
  it('two workers go on after the primary is SIGKILLed behind a lagging replica: every recipient settled, none stored twice (park mode)', async () => {
    ha = await startPrivateSentinels({ replicas: 1, downAfterMs: 1000, aof: true });
    sim = await startSimulator({ latencyMs: 40, jitterMs: 40 });
    client = createRedis(sentinelTarget({ sentinels: ha.sentinelsEnv, master: ha.masterName }), 'worker');
    const prefix = uniquePrefix('failover');
    const env = sentinelEnv(prefix, {
      WORKER_CONCURRENCY: '2',
      CALLS_PER_JOB: '4',
      REDIS_WAIT_TIMEOUT_MS: '300',
      LOCK_DURATION_MS: '5000',
      STALLED_INTERVAL_MS: '1000',
    });
    const workers = await spawnWorkers(2, env);
    const campaign = makeCampaign();
    const n = 600;
    const numbers = syntheticList(n, 310_000);
    await enqueue(prefix, campaign, [numbers.slice(0, 250), numbers.slice(250, 500), numbers.slice(500)]);
    await waitFor(
      () => done(prefix, campaign.id),
      (d) => d >= n * 0.25,
      { what: 'a quarter of the campaign', timeoutMs: 30_000, intervalMs: 20 },
    );
    // The replica lags when the primary dies: paused, its link cut (so nothing waits in its socket),
    // it misses every write of the last 400 ms. That is what a failover loses without WAIT.
    await ha.pauseReplica(0);
    const primary = new Redis(ha.primary.url);
    await primary.client('KILL', 'TYPE', 'replica');
    primary.disconnect();
    await delay(400);
    const old = await ha.killPrimary();
    // /readyz while no primary answers: polled from the kill until the failover is done.
    const readiness: number[] = [];
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const status = await fetch(`http://127.0.0.1:${workers[0]!.metricsPort}/readyz`).then(
          (r) => r.status,
          () => 0,
        );
        readiness.push(status);
        await delay(50);
      }
    })();
    await ha.resumeReplica(0);
    const promoted = await ha.waitForFailover(old);
    await waitFor(
      async () => readiness.at(-1),
      (status) => status === 200,
      { what: '/readyz ready again after the failover', timeoutMs: 20_000 },
    );
    polling = false;
    await poll;
    expect(readiness).toContain(503);
    expect(promoted).not.toBe(old);
    expect(ha.primary.running).toBe(false);
    await waitFor(
      () => done(prefix, campaign.id),
      (d) => d >= n,
      { what: 'every recipient settled after the failover', timeoutMs: 60_000, intervalMs: 100 },
    );

    const slots = await readSlots(client, prefix, campaign.id);
    const join = joinLedgerAndSimulator(slots, sim.simulator.received());
    const t = tally(slots);
    expect(t.pending ?? 0).toBe(0);
    expect(t.inflight ?? 0).toBe(0);
    // Park mode: nothing the platform holds twice, and nothing the ledger calls delivered that it lacks.
    expect(sim.stats().duplicates).toBe(0);
    expect(sim.simulator.received().every((r) => r.count === 1)).toBe(true);
    expect(join.slots.filter((s) => s.state === 'delivered' && !s.received)).toEqual([]);
    expect(join.orphans.length + join.wrongPerson + join.mismatched.length).toBe(0);
    // Uncertain only where a call may have been on the wire when the primary died.
    expect(t.uncertain ?? 0).toBeLessThanOrEqual(2 * 2 * 4);
    // After the failover no replica is left to promote: the workers said so and went on.
    const scrapes = await Promise.all(workers.map((w) => w.scrape()));
    const alone = scrapes.reduce((k, s) => k + metricValue(s, 'utskick_redis_writes_unreplicated_total'), 0);
    expect(alone).toBeGreaterThan(0);
    const ready = await Promise.all(
      workers.map((w) => fetch(`http://127.0.0.1:${w.metricsPort}/readyz`).then((r) => r.status)),
    );
    expect(ready).toEqual([200, 200]);
  }, 120_000);

  it('makes no call while a replica that could be promoted does not acknowledge the in-flight mark', async () => {
    // Sentinels slow to judge the replica down: it stays a candidate for promotion while it is paused.
    ha = await startPrivateSentinels({ replicas: 1, downAfterMs: 60_000 });
    sim = await startSimulator({ latencyMs: 5 });
    client = createRedis(sentinelTarget({ sentinels: ha.sentinelsEnv, master: ha.masterName }), 'worker');
    const prefix = uniquePrefix('no-ack');
    // REDIS_URL set too (a deployment that sets it everywhere): the Sentinels win, and the worker says so.
    const [worker] = await spawnWorkers(1, sentinelEnv(prefix, { REDIS_WAIT_TIMEOUT_MS: '200' }, true));
    await worker!.waitForLog((l) => /^REDIS_URL is ignored: REDIS_SENTINELS is set/.test(String(l.msg)));
    await ha.pauseReplica(0);
    const campaign = makeCampaign();
    const numbers = syntheticList(40, 320_000);
    await enqueue(prefix, campaign, [numbers]);
    try {
      await waitFor(
        () => worker!.scrape(),
        (text) => metricValue(text, 'utskick_redis_writes_not_durable_total', { reason: 'no_ack' }) >= 3,
        { what: 'writes found not durable', timeoutMs: 20_000, intervalMs: 100 },
      );
      expect(sim.stats().requests).toBe(0);
      const slots = await readSlots(client, prefix, campaign.id);
      expect(slots.filter((s) => s.state === 'delivered')).toEqual([]);
      await worker!.waitForLog((l) => /no replica acknowledged a ledger write/.test(String(l.msg)));
    } finally {
      await ha.resumeReplica(0);
    }
    await waitFor(
      () => done(prefix, campaign.id),
      (d) => d >= 40,
      { what: 'every recipient settled once the replica is back', timeoutMs: 30_000 },
    );
    expect(sim.stats().duplicates).toBe(0);
    expect(tally(await readSlots(client, prefix, campaign.id))).toEqual({ delivered: 40 });
  }, 90_000);
});
