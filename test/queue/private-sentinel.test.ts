/**
 * The private Sentinel topology (scripts/lib/private-sentinel.ts) with real
 * redis-server processes: an ioredis Sentinel client follows a real failover
 * after the primary is SIGKILLed, a fresh replica joins the new primary, and
 * passwords never reach a process's command line.
 */
import { readFileSync, statSync } from 'node:fs';
import { Redis } from 'ioredis';
import { expect, it, onTestFinished } from 'vitest';
import { type PrivateSentinels, startPrivateSentinels } from '../../scripts/lib/private-sentinel.js';
import { describeWithTools, tools } from '../helpers/tools.js';

async function useTopology(...args: Parameters<typeof startPrivateSentinels>): Promise<PrivateSentinels> {
  const topology = await startPrivateSentinels(...args);
  onTestFinished(() => topology.close());
  return topology;
}

function useClient(topology: PrivateSentinels, password?: string, sentinelPassword?: string): Redis {
  const client = new Redis({
    sentinels: topology.sentinels,
    name: topology.masterName,
    password,
    sentinelPassword,
    maxRetriesPerRequest: null,
  });
  client.on('error', () => {});
  onTestFinished(() => client.disconnect());
  return client;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const argv = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

describeWithTools('private Sentinel topology', [tools.redisServer], () => {
  it('fails over to the replica when the primary is killed; a new replica joins the new primary', async () => {
    const t0 = Date.now();
    const topology = await useTopology({ replicas: 1 });
    const startMs = Date.now() - t0;
    expect(topology.sentinelsEnv).toBe(topology.sentinels.map((s) => `127.0.0.1:${s.port}`).join(','));
    expect(await topology.currentPrimaryPort()).toBe(topology.primary.port);

    const client = useClient(topology);
    await client.set('before', 'failover');
    expect(await client.call('WAIT', '1', '2000')).toBe(1);

    const oldPid = topology.primary.pid!;
    const t1 = Date.now();
    const oldPort = await topology.killPrimary();
    expect(oldPort).toBe(topology.primary.port);
    const newPort = await topology.waitForFailover(oldPort, 30_000);
    const failoverMs = Date.now() - t1;
    expect(newPort).toBe(topology.replicas[0]!.port);

    // The client follows the Sentinels to the new primary and writes there.
    await client.set('after', 'failover');
    expect(await client.config('GET', 'port')).toEqual(['port', String(newPort)]);
    expect(await client.get('before')).toBe('failover');
    const reconnectMs = Date.now() - t1;

    expect(alive(oldPid)).toBe(false);
    expect(topology.primary.running).toBe(false);

    const t2 = Date.now();
    const added = await topology.addReplica();
    const addMs = Date.now() - t2;
    const info = await client.info('replication');
    expect(info).toMatch(/^role:master\r?$/m);
    expect(info).toMatch(/^connected_slaves:1\r?$/m);
    expect(info).toContain(`port=${added.port},state=online`);
    // Still never back.
    expect(alive(oldPid)).toBe(false);
    console.info(
      `private sentinel: start ${startMs} ms, failover ${failoverMs} ms, client writing again ${reconnectMs} ms, addReplica ${addMs} ms`,
    );
    expect(failoverMs).toBeLessThan(15_000);
  }, 60_000);

  it('keeps passwords off every command line; replicas pause, resume and stop', async () => {
    const password = 'data-secret-3f9a';
    const sentinelPassword = 'sentinel-secret-7c1e';
    const topology = await useTopology({ replicas: 1, password, sentinelPassword });
    const nodes = [topology.primary, ...topology.replicas, ...topology.sentinelNodes];
    expect(nodes).toHaveLength(5);
    for (const node of nodes) {
      const args = argv(node.pid!);
      // The real argv (set-proc-title no), not a title Redis wrote over it.
      expect(args).toContain(node.configFile);
      expect(args.join(' ')).not.toContain('secret');
      expect(statSync(node.dir).mode & 0o077).toBe(0);
    }

    const client = useClient(topology, password, sentinelPassword);
    await client.set('k', 'v');
    expect(await client.get('k')).toBe('v');

    const replica = topology.replicas[0]!;
    const state = () => readFileSync(`/proc/${replica.pid}/stat`, 'utf8').split(') ')[1]![0];
    await topology.pauseReplica(0);
    expect(state()).toBe('T');
    await topology.resumeReplica(0);
    expect(state()).not.toBe('T');
    const pid = replica.pid!;
    await topology.stopReplica(0);
    expect(alive(pid)).toBe(false);
  }, 60_000);
});
