/**
 * What the worker records of its own actions: an automatic pause (the
 * platform refuses us) and a retention purge, each with actor
 * `system:<host>:<pid>`, in the stream and as a pino line with `audit: true`.
 * The purge keeps the audit entries.
 */
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit/audit-log.js';
import { createCampaignStore } from '../../src/queue/campaign-store.js';
import { createKeys } from '../../src/queue/keys.js';
import { enqueueNumbers, makeCampaign, waitFor } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { dumpPrefix } from '../helpers/redis.js';
import { type Harness, openHarness } from '../helpers/workers.js';
import { expectNoPersonnummer } from './leak-scan.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('the worker in the audit log', { timeout: 90_000 }, () => {
  it('an automatic pause is recorded once, by the worker, with the reason', async () => {
    h = await openHarness('audit-auto-pause', { unauthorized: true }, { WORKER_CONCURRENCY: '2' });
    const campaign = makeCampaign();
    const numbers = syntheticList(100, 330_000);
    await enqueueNumbers(h.prefix, campaign, [numbers]);
    const keys = createKeys(h.prefix);
    const worker = await h.startWorker();
    await waitFor(
      () => createCampaignStore(h!.redis, keys).state(campaign.id),
      (s) => s?.state === 'paused',
      { what: 'the campaign paused by the service' },
    );
    const log = createAuditLog({ redis: h.redis, keys });
    const entries = await waitFor(
      () => log.read({ campaignId: campaign.id }),
      (e) => e.length > 0,
      { what: 'the auto-pause entry' },
    );
    expect(worker.auditActor).toBe(`system:${hostname()}:${process.pid}`);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor: worker.auditActor,
      action: 'auto-pause',
      campaignId: campaign.id,
      details: {
        kind: 'unauthorized',
        reason: expect.stringContaining('the platform refused this system (HTTP 403, unauthorised)'),
      },
    });
    expectNoPersonnummer([JSON.stringify(entries)], numbers);
  });

  it('a retention purge is recorded by the worker process and logged as an audit line; the entries stay', async () => {
    h = await openHarness('audit-retention');
    const campaign = makeCampaign();
    const numbers = syntheticList(40, 340_000);
    await enqueueNumbers(h.prefix, campaign, [numbers]);
    const keys = createKeys(h.prefix);
    const log = createAuditLog({ redis: h.redis, keys });
    await log.record({ actor: 'Cia', action: 'enqueue', campaignId: campaign.id, details: { jobs: 1 } });
    const [delivering] = await h.spawnWorkers(1);
    await h.waitDone(campaign.id, numbers.length);
    await delivering!.stop('SIGTERM');

    await h.redis.hset(keys.campaign(campaign.id), 'lastActivityAt', '2000-01-01T00:00:00Z');
    await h.redis.del(`${h.prefix}:retention-lock`);
    const [sweeping] = await h.spawnWorkers(1, { RETENTION_DAYS: '1', LOG_LEVEL: 'warn' });
    const line = await sweeping!.waitForLog((l) => l.audit === true && l.action === 'retention-purge');
    expect(line).toMatchObject({
      level: 30,
      campaignId: campaign.id,
      actor: expect.stringMatching(/^system:/),
    });
    const entries = await waitFor(
      () => log.read({ campaignId: campaign.id }),
      (e) => e.some((x) => x.action === 'retention-purge'),
      { what: 'the retention-purge entry' },
    );
    expect(entries.map((e) => [e.action, e.actor])).toEqual([
      ['enqueue', 'Cia'],
      ['retention-purge', `system:${hostname()}:${sweeping!.pid}`],
    ]);
    expect(entries[1]!.details).toMatchObject({ retentionDays: 1, deadLettersRemoved: 0 });
    expect(await h.redis.hget(keys.campaign(campaign.id), 'purgedBy')).toBe('retention');
    expectNoPersonnummer(await dumpPrefix(h.redis, h.prefix), numbers);
  });
});
