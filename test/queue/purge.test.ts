import { afterEach, describe, expect, it } from 'vitest';
import { CampaignStoreError } from '../../src/queue/campaign-store.js';
import { createDeadLetterQueue, createDeliverQueue } from '../../src/queue/deliver-queue.js';
import { createKeys } from '../../src/queue/keys.js';
import { createLedger, finalOutcomes } from '../../src/queue/ledger.js';
import { purgeCampaign, purgeExpired } from '../../src/queue/purge.js';
import { enqueueNumbers, makeCampaign, startWorker, testEnv, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { connect, deletePrefix, dumpPrefix, uniquePrefix } from '../helpers/redis.js';
import { startSimulator } from '../helpers/simulator.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function deliveredCampaign(n: number) {
  const prefix = uniquePrefix('purge');
  const redis = connect();
  const keys = createKeys(prefix);
  const deliver = createDeliverQueue(redis, keys);
  const deadLetters = createDeadLetterQueue(redis, keys);
  cleanups.push(async () => {
    await deliver.close();
    await deadLetters.close();
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });
  const sim = await startSimulator({ unreachableShare: 0.2 });
  cleanups.push(() => sim.stop());
  const campaign = makeCampaign();
  const numbers = syntheticList(n, 40_000);
  await enqueueNumbers(prefix, campaign, [numbers.slice(0, 250), numbers.slice(250)]);
  const worker = await startWorker(testEnv(prefix, sim.url));
  const ledger = createLedger(redis, keys);
  await waitFor(
    () => ledger.counts(campaign.id),
    (c) => finalOutcomes.reduce((s, o) => s + c[o], 0) === n,
    { what: 'delivery' },
  );
  await worker.stop(2000);
  const deps = { redis, keys, deliver, deadLetters, jobPolicy: { attempts: 3, backoffMs: 100 } };
  return { prefix, redis, keys, deps, campaign, numbers, ledger };
}

describe('purge', () => {
  it('refuses before the report is written, then removes every trace of personal data and keeps the counts', async () => {
    const t = await deliveredCampaign(300);
    await expect(purgeCampaign(t.deps, t.campaign.id, { by: 'test' })).rejects.toThrow(CampaignStoreError);
    await t.redis.hset(t.keys.campaign(t.campaign.id), 'reportWrittenAt', new Date().toISOString());
    const before = await t.ledger.counts(t.campaign.id);
    const r = await purgeCampaign(t.deps, t.campaign.id, { by: 'test' });
    expect(r.keysDeleted).toBeGreaterThanOrEqual(4);

    const dump = await dumpPrefix(t.redis, t.prefix);
    const text = dump.join('\n');
    for (const n of t.numbers) {
      expect(text.includes(n)).toBe(false);
      expect(text.includes(n.slice(2))).toBe(false);
    }
    // No sealed chunk, ledger, problem list, file registry or job of the campaign is left.
    const keys = dump.filter((k) => k.startsWith(`${t.prefix}:`));
    expect(keys.filter((k) => /:(chunk|ledger):/.test(k))).toEqual([]);
    expect(
      keys.filter((k) => k.endsWith(':problems') || k.endsWith(':files') || k.endsWith(':chunks')),
    ).toEqual([]);
    expect(
      (await t.deps.deliver.getRanges(['completed', 'wait', 'delayed', 'failed'], 0, -1)).filter((j) =>
        j.startsWith(t.campaign.id),
      ),
    ).toEqual([]);
    expect(await t.ledger.counts(t.campaign.id)).toEqual(before);
    expect(await t.redis.hget(t.keys.campaign(t.campaign.id), 'purgedAt')).toBeTruthy();
  }, 40_000);

  it('retention purges finished campaigns after their last activity, and not before', async () => {
    const t = await deliveredCampaign(260);
    expect(await purgeExpired(t.deps, 30)).toEqual([]);
    const later = Date.now() + 31 * 86_400_000;
    const purged = await purgeExpired(t.deps, 30, later);
    expect(purged.map((p) => p.campaignId)).toEqual([t.campaign.id]);
    expect((await t.redis.keys(`${t.prefix}:campaign:${t.campaign.id}:chunk:*`)).length).toBe(0);
  }, 40_000);
});
