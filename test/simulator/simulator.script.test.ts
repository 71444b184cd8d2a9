import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultOutcomeTablePath } from '../../src/config/delivery.js';
import { createInboxClient } from '../../src/delivery/inbox-client.js';
import { loadOutcomeTable } from '../../src/delivery/outcome-table.js';
import { syntheticPnr } from '../helpers/personnummer.js';
import { makeTestPki, type SpawnedSimulator, spawnSimulator } from '../helpers/simulator.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outcomeTable = loadOutcomeTable(defaultOutcomeTablePath());
const spawned: SpawnedSimulator[] = [];
afterAll(async () => {
  await Promise.all(spawned.map((s) => s.kill('SIGKILL')));
});

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'scripts', 'simulator.ts'), ...args],
      {
        cwd: root,
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe.concurrent('scripts/simulator.ts', () => {
  it('prints its URL, answers with the given shares, and exits 0 on SIGTERM', async () => {
    const sim = await spawnSimulator(['--unreachable', '1', '--seed', 'script']);
    spawned.push(sim);
    expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/inbox$/);
    const client = createInboxClient({ url: sim.url, logicalAddress: 'SE1-L', outcomeTable });
    try {
      const result = await client
        .forCampaign({
          campaignId: 'c',
          message: { subject: 's', body: 'b', signature: 'E' },
          notify: false,
          unit: { hsaId: 'SE1-A', name: 'E' },
        })
        .send({ subjectOfCareId: syntheticPnr(5), messageId: 'c:5' });
      expect(result.outcome).toBe('unreachable');
    } finally {
      await client.close();
    }
    expect(await sim.stats()).toMatchObject({ requests: 1, unreachable: 1 });
    await sim.setOptions({ unreachableShare: 0 });
    await sim.reset();
    expect(await sim.stats()).toMatchObject({ requests: 0 });
    expect(await sim.kill('SIGTERM')).toBe(0);
  });

  it('exits 0 on SIGINT and serves TLS from files', async () => {
    const pki = makeTestPki();
    try {
      const p = pki.paths;
      const sim = await spawnSimulator(
        ['--tls', '--cert', p.serverCert, '--key', p.serverKey, '--ca', p.ca],
        {
          tls: { cert: pki.clientCert, key: pki.clientKey, ca: pki.ca },
        },
      );
      spawned.push(sim);
      expect(sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/inbox$/);
      expect(await sim.stats()).toMatchObject({ requests: 0 });
      expect(await sim.kill('SIGINT')).toBe(0);
    } finally {
      pki.remove();
    }
  });

  it.each<[string[], RegExp]>([[['--error-rate', '1.5'], /errorRate/]])(
    'refuses %j with one line on stderr and exit 2',
    async (args, message) => {
      const { code, stdout, stderr } = await run(args);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr).toMatch(message);
    },
  );
});
