import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../src/config/worker.js';
import { createInboxClient } from '../../src/delivery/inbox-client.js';
import type { InboxClient } from '../../src/delivery/types.js';
import { messageSpecOf } from '../../src/dispatch/message-spec.js';
import { DeliveryWorker, type WorkerConnections } from '../../src/dispatch/runtime.js';
import { createRedis } from '../../src/queue/redis.js';
import { enqueueNumbers, makeCampaign } from '../helpers/campaign.js';
import { syntheticList, syntheticPnr } from '../helpers/personnummer.js';
import { type Harness, openHarness } from '../helpers/workers.js';

const cleanups: (() => Promise<unknown>)[] = [];
let h: Harness | undefined;
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  await h?.close();
  h = undefined;
});

describe('the delivery worker as a composition root', () => {
  it('runs in-process with the Redis connections and inbox client it is given, and leaves them open', async () => {
    h = await openHarness('composition');
    const config = loadWorkerConfig(h.env);
    const target = config.client.redis;
    const redis: WorkerConnections = {
      data: createRedis(target, 'worker'),
      queues: createRedis(target, 'worker'),
      blocking: createRedis(target, 'worker'),
    };
    cleanups.push(async () => {
      for (const r of Object.values(redis)) await r.quit();
    });
    const commands = { data: 0, queues: 0, blocking: 0 };
    for (const name of ['data', 'queues', 'blocking'] as const) {
      const r = redis[name];
      const send = r.sendCommand.bind(r);
      r.sendCommand = (...args: Parameters<typeof send>) => {
        commands[name]++;
        return send(...args);
      };
    }
    const real = createInboxClient(config.inbox);
    cleanups.push(() => real.close());
    const sent: string[] = [];
    const inbox: InboxClient = {
      forCampaign(spec) {
        const sender = real.forCampaign(spec);
        return {
          send(request, signal) {
            sent.push(request.messageId);
            return sender.send(request, signal);
          },
        };
      },
      close: () => real.close(),
    };

    const worker = new DeliveryWorker(config, pino({ level: 'silent' }), { redis, inbox });
    cleanups.push(() => worker.stop(2000));
    const campaign = makeCampaign();
    await worker.start();
    await enqueueNumbers(h.prefix, campaign, [syntheticList(20, 190_000)]);
    const counts = await h.waitDone(campaign.id, 20);
    expect(counts.delivered).toBe(20);
    expect(sent).toHaveLength(20);
    // Ledger, limiter and campaign state on `data`, the queues on `queues`, the BullMQ worker on `blocking`.
    expect(commands.data).toBeGreaterThan(20);
    expect(commands.queues).toBeGreaterThan(0);
    expect(commands.blocking).toBeGreaterThan(0);
    expect(h.sim.stats().accepted).toBe(20);
    await worker.stop(2000);

    // The caller's collaborators are the caller's to close.
    for (const r of Object.values(redis)) expect(await r.ping()).toBe('PONG');
    const again = await real
      .forCampaign(messageSpecOf(campaign))
      .send({ subjectOfCareId: syntheticPnr(190_100), messageId: 'after-stop' });
    expect(again.outcome).toBe('delivered');
  }, 30_000);
});
