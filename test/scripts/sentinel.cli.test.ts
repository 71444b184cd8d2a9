/**
 * The case handler's commands through Sentinels (real private Sentinels and
 * data nodes): enqueue and campaign pause confirm their writes on a replica
 * before they say they are done, and say so when no replica could take over.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type PrivateSentinels, startPrivateSentinels } from '../../scripts/lib/private-sentinel.js';
import { createKeys } from '../../src/queue/keys.js';
import { createRedis, sentinelTarget } from '../../src/queue/redis.js';
import { activateUnit } from '../../src/queue/units.js';
import {
  makeCampaign,
  testDataKey,
  testSourceSystem,
  testUnit,
  writeCampaignFile,
} from '../helpers/campaign.js';
import { runScript } from '../helpers/cli.js';
import { syntheticList } from '../helpers/personnummer.js';
import { uniquePrefix } from '../helpers/redis.js';
import { describeWithTools, tools } from '../helpers/tools.js';

describeWithTools('the commands through Sentinels', [tools.redisServer], () => {
  let ha: PrivateSentinels;
  let dir: string;
  beforeAll(async () => {
    // Sentinels slow to judge a replica down: a paused replica stays one they could promote.
    ha = await startPrivateSentinels({ replicas: 1, downAfterMs: 60_000 });
    dir = mkdtempSync(join(tmpdir(), 'utskick-sentinel-cli-'));
  }, 60_000);
  afterAll(async () => {
    await ha?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function setUp(name: string) {
    const prefix = uniquePrefix(name);
    const campaign = makeCampaign();
    const campaignPath = writeCampaignFile(join(dir), { ...campaign });
    const file = join(dir, `${name}.txt`);
    writeFileSync(file, syntheticList(30, 330_000).join('\n'));
    const redis = createRedis(
      sentinelTarget({ sentinels: ha.sentinelsEnv, master: ha.masterName }),
      'client',
    );
    await activateUnit(redis, createKeys(prefix), { ...testUnit, activatedAt: new Date().toISOString() });
    redis.disconnect();
    const env = {
      REDIS_SENTINELS: ha.sentinelsEnv,
      REDIS_SENTINEL_MASTER: ha.masterName,
      UTSKICK_PREFIX: prefix,
      UTSKICK_DATA_KEY: testDataKey,
      INBOX_SOURCE_SYSTEM: testSourceSystem,
    };
    return { prefix, campaign, campaignPath, file, env };
  }

  it('enqueue waits while the replica does not acknowledge, and reports success once it holds the writes', async () => {
    const s = await setUp('sentinel-enqueue');
    await ha.pauseReplica(0);
    let finished = false;
    const running = runScript('enqueue', ['--campaign', s.campaignPath, s.file], {
      env: { ...s.env, REDIS_WAIT_TIMEOUT_MS: '200' },
      timeoutMs: 45_000,
    }).finally(() => {
      finished = true;
    });
    try {
      await delay(3000);
      expect(finished).toBe(false);
    } finally {
      await ha.resumeReplica(0);
    }
    const enq = await running;
    expect(enq.code, enq.stderr).toBe(0);
    expect(enq.stderr).not.toMatch(/primary alone/);
    const pause = await runScript(
      'campaign',
      ['pause', s.campaign.id, '--reason', 'test', '--by', 'tester'],
      {
        env: s.env,
        timeoutMs: 30_000,
      },
    );
    expect(pause.code, pause.stderr).toBe(0);
    // Read from the replica itself: what the commands confirmed is there.
    const replica = new Redis(ha.replicas[0]!.port, '127.0.0.1');
    try {
      const keys = createKeys(s.prefix);
      expect(await replica.exists(keys.campaign(s.campaign.id))).toBe(1);
      expect(await replica.hget(keys.campaign(s.campaign.id), 'state')).toBe('paused');
    } finally {
      replica.disconnect();
    }
  }, 90_000);

  it('with no replica the Sentinels could promote, enqueue goes on and says its writes are on the primary alone', async () => {
    const s = await setUp('sentinel-alone');
    await ha.stopReplica(0, 'SIGKILL');
    const enq = await runScript('enqueue', ['--campaign', s.campaignPath, s.file], {
      env: { ...s.env, REDIS_WAIT_TIMEOUT_MS: '200' },
      timeoutMs: 45_000,
    });
    expect(enq.code, enq.stderr).toBe(0);
    expect(enq.stderr).toMatch(
      /^note: REDIS_SENTINELS .* \(primary utskick\): no replica could take over from the primary, so this command's writes are on the primary alone/m,
    );
  }, 90_000);
});
