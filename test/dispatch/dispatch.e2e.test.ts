import { afterEach, describe, expect, it } from 'vitest';
import type { DeliveryWorker } from '../../src/dispatch/runtime.js';
import { createKeys } from '../../src/queue/keys.js';
import { createLedger, finalOutcomes } from '../../src/queue/ledger.js';
import { enqueueNumbers, makeCampaign, startWorker, testEnv, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { connect, deletePrefix, dumpPrefix, uniquePrefix } from '../helpers/redis.js';
import { type StartedSimulator, startSimulator } from '../helpers/simulator.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  simOptions: Parameters<typeof startSimulator>[0],
  envExtra: Record<string, string> = {},
) {
  const prefix = uniquePrefix('dispatch');
  const sim: StartedSimulator = await startSimulator(simOptions);
  cleanups.push(() => sim.stop());
  const redis = connect();
  cleanups.push(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });
  const env = testEnv(prefix, sim.url, envExtra);
  const ledger = createLedger(redis, createKeys(prefix));
  const counts = async (id: string) => ledger.counts(id);
  const done = (c: Record<string, number>) => finalOutcomes.reduce((n, o) => n + (c[o] ?? 0), 0);
  const worker = async () => {
    const w: DeliveryWorker = await startWorker(env);
    cleanups.push(() => w.stop(2000));
    return w;
  };
  return { prefix, sim, redis, env, counts, done, worker };
}

describe('delivery end to end (real Redis, real simulator over HTTP)', () => {
  it('gives every recipient exactly one outcome that matches what the simulator accepted', async () => {
    const t = await setup({ unreachableShare: 0.1, rejectedShare: 0.05 });
    const campaign = makeCampaign();
    const numbers = syntheticList(600);
    const result = await enqueueNumbers(t.prefix, campaign, [
      numbers.slice(0, 250),
      numbers.slice(250, 500),
      numbers.slice(500),
    ]);
    expect(result.jobs).toBe(3);
    await t.worker();
    const counts = await waitFor(
      () => t.counts(campaign.id),
      (c) => t.done(c) === 600,
      { what: 'all outcomes' },
    );
    const stats = t.sim.stats();
    expect(counts.delivered).toBe(stats.accepted);
    expect(counts.unreachable).toBe(stats.unreachable);
    expect(counts.rejected).toBe(stats.rejected);
    expect(counts.unreachable).toBeGreaterThan(20);
    expect(counts.rejected).toBeGreaterThan(5);
    expect(stats.duplicates).toBe(0);
    expect(counts.failed + counts.uncertain + counts.cancelled).toBe(0);
    // No personnummer in clear anywhere under the prefix.
    const dump = (await dumpPrefix(t.redis, t.prefix)).join('\n');
    for (const n of numbers) expect(dump.includes(n)).toBe(false);
  });

  it('retries transient failures until they recover', async () => {
    const t = await setup({ errorRate: 0.3 });
    const campaign = makeCampaign();
    await enqueueNumbers(t.prefix, campaign, [syntheticList(200, 1000)]);
    await t.worker();
    const counts = await waitFor(
      () => t.counts(campaign.id),
      (c) => t.done(c) === 200,
      { what: 'all outcomes' },
    );
    expect(counts.delivered).toBe(200);
    expect(t.sim.stats().faults).toBeGreaterThan(10);
    expect(t.sim.stats().duplicates).toBe(0);
  });
});
