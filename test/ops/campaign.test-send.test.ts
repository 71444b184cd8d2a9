import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runEntry } from '../../scripts/lib/processes.js';
import { createKeys } from '../../src/queue/keys.js';
import { enqueueNumbers, makeCampaign, tempDir, testEnv } from '../helpers/campaign.js';
import { syntheticList, syntheticPnr } from '../helpers/personnummer.js';
import { connect, deletePrefix, uniquePrefix } from '../helpers/redis.js';
import { startSimulator } from '../helpers/simulator.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('campaign test-send', () => {
  it('sends to the test recipients only, shows what was sent, and refuses a real recipient', async () => {
    const prefix = uniquePrefix('testsend');
    const redis = connect();
    cleanups.push(async () => {
      await deletePrefix(redis, prefix);
      redis.disconnect();
    });
    const sim = await startSimulator();
    cleanups.push(() => sim.stop());
    const campaign = makeCampaign();
    const real = syntheticList(120, 60_000);
    await enqueueNumbers(prefix, campaign, [real]);
    // Held: nobody gets the real send before the test is done.
    await redis.hset(createKeys(prefix).campaign(campaign.id), 'state', 'paused');
    const dir = tempDir('testsend');
    const testFile = join(dir, 'test.txt');
    const testNumbers = ['19121212-1212', syntheticPnr(9_000_001)];
    await writeFile(testFile, testNumbers.join('\n'));
    const env = testEnv(prefix, sim.url);

    const r = await runEntry('scripts/campaign.ts', ['test-send', campaign.id, '--to', testFile], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('19121212-****');
    expect(r.stdout).toContain('<add:AddMessage');
    expect(r.stdout).not.toContain('191212121212');
    const received = sim.simulator.received();
    expect(received).toHaveLength(2);
    expect(sim.stats().requests).toBe(2);

    await writeFile(testFile, `${real[7]}\n`);
    const refused = await runEntry('scripts/campaign.ts', ['test-send', campaign.id, '--to', testFile], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("one of the campaign's real recipients");
    expect(refused.stderr).not.toContain(real[7]);
    expect(sim.stats().requests).toBe(2);
  });
});
