import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseHandlerAcl } from '../../src/queue/acl.js';
import { createDeliverQueue } from '../../src/queue/deliver-queue.js';
import { enqueueCampaign } from '../../src/queue/enqueue.js';
import { createKeys } from '../../src/queue/keys.js';
import { activateUnit } from '../../src/queue/units.js';
import { todayOf } from '../../src/recipients/personnummer.js';
import { parseRecipientFile } from '../../src/recipients/read-file.js';
import { makeCampaign, testKeyring } from '../helpers/campaign.js';
import { syntheticList } from '../helpers/personnummer.js';
import { type PrivateRedis, startPrivateRedis } from '../helpers/private-redis.js';

/**
 * A case handler's Redis user for one campaign (src/queue/acl.ts) can enqueue
 * that campaign through the real enqueue path, and gets NOPERM for any key of
 * another campaign: its sealed chunks, ledger and problems.
 */
let server: PrivateRedis;
let admin: Redis;
const keys = createKeys('utskick');

beforeAll(async () => {
  server = await startPrivateRedis();
  admin = new Redis(server.url, { maxRetriesPerRequest: null });
});
afterAll(async () => {
  admin?.disconnect();
  await server?.close();
});

function parsed(offset: number) {
  return [
    parseRecipientFile(
      { name: 'a.txt', data: Buffer.from(syntheticList(50, offset).join('\n')) },
      { today: todayOf(new Date()), allowCoordinationNumbers: true },
    ),
  ];
}

async function enqueueAs(conn: Redis, campaign: ReturnType<typeof makeCampaign>, offset: number) {
  const queue = createDeliverQueue(conn, keys);
  try {
    return await enqueueCampaign(
      { redis: conn, keys, keyring: testKeyring(), queue, jobPolicy: { attempts: 3, backoffMs: 100 } },
      { campaign, parsed: parsed(offset), skipInvalid: false, dryRun: false },
    );
  } finally {
    await queue.close();
  }
}

describe('per-campaign case-handler ACL', () => {
  it("enqueues its own campaign and cannot read another campaign's personal data", async () => {
    const a = makeCampaign({ id: 'kampanj-a' });
    const b = makeCampaign({ id: 'kampanj-b' });
    await activateUnit(admin, keys, { ...a.unit, activatedAt: new Date().toISOString() });
    await enqueueAs(admin, b, 1000);

    const acl = caseHandlerAcl(keys, a.id);
    expect(await admin.call('ACL', 'SETUSER', acl.user, ...acl.rule)).toBe('OK');
    const handler = new Redis(server.url, {
      username: acl.user,
      password: acl.password,
      maxRetriesPerRequest: null,
    });
    try {
      const result = await enqueueAs(handler, a, 2000);
      expect(result.enqueued).toBe(1);

      const [chunkKey] = await admin.keys('utskick:campaign:kampanj-b:chunk:*');
      expect(chunkKey).toBeDefined();
      await expect(handler.getBuffer(chunkKey!)).rejects.toThrow(/NOPERM/);
      await expect(handler.hgetall(keys.files(b.id))).rejects.toThrow(/NOPERM/);
      await expect(handler.lrange(keys.problems(b.id), 0, -1)).rejects.toThrow(/NOPERM/);
      await expect(handler.getBuffer(keys.ledger(b.id, 'x'))).rejects.toThrow(/NOPERM/);
      // Nor can it enqueue into the other campaign (the enqueue lock alone is refused).
      await expect(enqueueAs(handler, b, 3000)).rejects.toThrow(/NOPERM/);
      // And it cannot activate units.
      await expect(handler.hset(keys.units(), 'SE2321000032-9999', '{}')).rejects.toThrow(/NOPERM/);
      expect(await new Queue('deliver', { connection: admin, prefix: 'utskick' }).count()).toBe(2);
    } finally {
      handler.disconnect();
    }
  });
});
