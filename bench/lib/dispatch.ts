/**
 * Case 2 of `npm run bench`: delivery throughput of one and of two real worker
 * processes (no rate limit) against the simulator answering at once, and CPU
 * per message from /proc, against raw undici calls of the same SOAP bodies at
 * the same concurrency (the baseline, in this process, same run).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { deliveryEnvSchema } from '../../src/config/delivery.js';
import { workerEnvSchema } from '../../src/config/worker.js';
import { createEnvelopeTemplate } from '../../src/delivery/soap.js';
import { messageSpecOf } from '../../src/dispatch/message-spec.js';
import { syntheticPnr } from '../../src/recipients/synthetic.js';
import { type BenchContext, type CaseOutput, freshRedis } from './context.js';
import { benchCampaign, benchLogicalAddress, benchSourceSystem, enqueueSynthetic } from './fixtures.js';
import { type SimulatorProcess, startSimulator, startWorkers } from './fleet.js';
import { closedLoop, createRawInbox } from './http.js';
import { processCpuMs, sleep } from './measure.js';
import { moduleTable, monotonicUs, readProfile, selfTimes, selfTimeTable } from './profile.js';
import type { Metric } from './report.js';

const workerDefaults = workerEnvSchema.parse({});
/** Calls in flight in one worker with the defaults (jobs × calls per job), and its connections. */
export const inFlightPerWorker = workerDefaults.WORKER_CONCURRENCY * workerDefaults.CALLS_PER_JOB;
export const connectionsPerWorker = deliveryEnvSchema.shape.INBOX_CONNECTIONS.parse(undefined);

export interface RawRun {
  rate: number;
  errors: number;
  clientUs: number;
  simulatorUs: number;
}

interface WorkerRun {
  rate: number;
  workerUs: number;
  redisUs: number;
  simulatorUs: number;
  /** The campaign ran out before the window closed (the figure is then too low). */
  exhausted: boolean;
  /** The measured window on the monotonic clock, µs. */
  window: { fromUs: number; toUs: number };
}

/** Raw undici calls of the worker's SOAP bodies at its concurrency against `sim` for `durationMs` (after 500 ms unmeasured). */
export async function rawRun(sim: SimulatorProcess, durationMs: number): Promise<RawRun> {
  const campaign = benchCampaign('bench-raw');
  const render = createEnvelopeTemplate(messageSpecOf(campaign), {
    contract: 'mvk-inbox-2',
    logicalAddress: benchLogicalAddress,
    sourceSystem: benchSourceSystem,
  });
  // Message ids shaped like the worker's: campaign.chunk.slot.
  const raw = createRawInbox(sim.url, {
    connections: connectionsPerWorker,
    contract: 'mvk-inbox-2',
    body: (i) =>
      render({
        subjectOfCareId: syntheticPnr(i),
        messageId: `${campaign.id}.${(i >>> 8).toString(16).padStart(20, '0')}.${i & 255}`,
      }),
  });
  try {
    await sim.reset();
    await closedLoop((i) => raw.call(i + 5_000_000), { concurrency: inFlightPerWorker, durationMs: 500 });
    await sim.reset();
    const cpu0 = process.cpuUsage();
    const sim0 = processCpuMs(sim.child.pid) ?? 0;
    const r = await closedLoop(raw.call, { concurrency: inFlightPerWorker, durationMs });
    const cpu = process.cpuUsage(cpu0);
    const simMs = (processCpuMs(sim.child.pid) ?? 0) - sim0;
    return {
      rate: r.rate,
      errors: r.errors,
      clientUs: (cpu.user + cpu.system) / r.calls,
      simulatorUs: (simMs * 1000) / r.calls,
    };
  } finally {
    await raw.close();
  }
}

async function workerRun(
  ctx: BenchContext,
  sim: SimulatorProcess,
  count: number,
  recipients: number,
  windowMs: number,
  cpuProfDir?: string,
): Promise<WorkerRun> {
  await freshRedis(ctx);
  await sim.reset();
  await enqueueSynthetic({
    redisUrl: ctx.server.url,
    dataKey: ctx.dataKey,
    campaign: benchCampaign(`bench-dispatch-${count}`),
    recipients,
  });
  const workers = await startWorkers(
    ctx,
    `dispatch-${count}`,
    count,
    sim.url,
    0,
    cpuProfDir ? { cpuProfDir } : {},
  );
  try {
    const deadline = Date.now() + 30_000;
    while ((await sim.stats()).requests === 0) {
      if (Date.now() > deadline) throw new Error('the workers sent nothing within 30 s');
      await sleep(50);
    }
    // Warm-up: connections open, JIT done, every job slot busy.
    await sleep(1500);
    const sample = async () => ({
      t: performance.now(),
      requests: (await sim.stats()).requests,
      worker: workers.cpuMs(),
      redis: processCpuMs(ctx.server.pid) ?? 0,
      sim: processCpuMs(sim.child.pid) ?? 0,
    });
    const a = await sample();
    const fromUs = monotonicUs();
    await sleep(windowMs);
    const toUs = monotonicUs();
    const b = await sample();
    const n = Math.max(1, b.requests - a.requests);
    return {
      rate: (n / (b.t - a.t)) * 1000,
      workerUs: ((b.worker - a.worker) * 1000) / n,
      redisUs: ((b.redis - a.redis) * 1000) / n,
      simulatorUs: ((b.sim - a.sim) * 1000) / n,
      exhausted: b.requests >= recipients,
      window: { fromUs, toUs },
    };
  } finally {
    await workers.stop();
  }
}

/**
 * One more one-worker run with the worker under `node --cpu-prof`; the
 * profile's samples inside the measured window, by module and function.
 */
export async function profileDispatch(ctx: BenchContext): Promise<{ title: string; body: string }> {
  const dir = join(ctx.workDir, 'worker-profile');
  const sim = await startSimulator(ctx, 'dispatch-profile');
  let run: WorkerRun;
  try {
    const raw = await rawRun(sim, 1000);
    const recipients = Math.min(400_000, Math.ceil((raw.rate * 12) / 250) * 250);
    run = await workerRun(ctx, sim, 1, recipients, 5000, dir);
  } finally {
    await sim.stop();
  }
  // One profile per thread (the tsx loader has one of its own): the main thread's is thread id 0,
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile.
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'));
  const main = files.find((f) => f.split('.')[4] === '0');
  if (!main) throw new Error(`no main-thread worker profile in ${dir} (${files.join(', ')})`);
  const times = selfTimes(await readProfile(join(dir, main)), run.window);
  return {
    title: 'Where a worker spends its CPU (node --cpu-prof)',
    body:
      `One more one-worker run with the worker under \`node --cpu-prof\`: ${Math.round(run.rate).toLocaleString('en-US')} messages/s, ` +
      `${Math.round(run.workerUs)} µs of worker CPU per message; only the samples inside the 5 s measured window count. ` +
      'Self time by module, then by function:\n\n' +
      `${moduleTable(times)}\n\n${selfTimeTable(times, 20)}`,
  };
}

export interface DispatchCaseResult extends CaseOutput {
  /** Median messages/s of one worker without a rate limit. */
  oneWorkerRate: number;
  twoWorkerRate: number;
}

export async function dispatchCase(ctx: BenchContext): Promise<DispatchCaseResult> {
  const rawMs = ctx.quick ? 2000 : 4000;
  const windowMs = ctx.quick ? 3000 : 6000;
  const sim = await startSimulator(ctx, 'dispatch');
  const raws: RawRun[] = [];
  const runs: Record<1 | 2, WorkerRun[]> = { 1: [], 2: [] };
  try {
    for (let run = 1; run <= ctx.runs; run++) {
      const raw = await rawRun(sim, rawMs);
      raws.push(raw);
      const line = [`  run ${run}: raw ${raw.rate}/s`];
      for (const count of [1, 2] as const) {
        // Enough recipients to keep the workers busy past the window, from the raw rate.
        const seconds = (1500 + windowMs + 6000) / 1000;
        const recipients = Math.min(
          400_000,
          Math.ceil((raw.rate * seconds * (count === 2 ? 1.3 : 1)) / 250) * 250,
        );
        const r = await workerRun(ctx, sim, count, recipients, windowMs);
        runs[count].push(r);
        line.push(
          `${count} worker${count > 1 ? 's' : ''} ${Math.round(r.rate)}/s${r.exhausted ? ' (ran out)' : ''}`,
        );
      }
      ctx.log(line.join(', '));
    }
  } finally {
    await sim.stop();
  }
  const rawBase = (name: string, f: (r: RawRun) => number) => ({ baseline: { name, values: raws.map(f) } });
  const metrics: Metric[] = [];
  for (const count of [1, 2] as const) {
    const c = `dispatch ${count} worker${count > 1 ? 's' : ''}`;
    const rs = runs[count];
    metrics.push(
      {
        case: c,
        name: 'messages/s',
        unit: 'no rate limit',
        values: rs.map((r) => r.rate),
        ...rawBase('raw undici', (r) => r.rate),
        ...(count === 1 ? { aim: { op: '>=', value: 0.5, text: '≥ 0.5× raw', on: 'ratio' } as const } : {}),
      },
      {
        case: c,
        name: 'CPU, worker process(es)',
        unit: 'µs/message',
        values: rs.map((r) => r.workerUs),
        ...rawBase('raw client', (r) => r.clientUs),
      },
      { case: c, name: 'CPU, redis-server', unit: 'µs/message', values: rs.map((r) => r.redisUs) },
      {
        case: c,
        name: 'CPU, simulator',
        unit: 'µs/message',
        values: rs.map((r) => r.simulatorUs),
        ...rawBase('raw', (r) => r.simulatorUs),
      },
    );
  }
  const exhausted = [...runs[1], ...runs[2]].filter((r) => r.exhausted).length;
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  return {
    metrics,
    notes: [
      {
        case: 'dispatch',
        text:
          `Real worker processes (workers/deliver.ts, defaults: ${workerDefaults.WORKER_CONCURRENCY} jobs × ${workerDefaults.CALLS_PER_JOB} calls = ` +
          `${inFlightPerWorker} in flight, ${connectionsPerWorker} connections each; RATE_PER_SECOND=0) and the simulator (scripts/simulator.ts, ` +
          'answering at once, every number accepted) as child processes, both compiled (dist/, as the container runs them), on the private Redis. ' +
          'The campaign is enqueued first, ' +
          `sized from the raw rate to outlast the window; after the first answer and 1.5 s of warm-up, messages = simulator requests over a ${windowMs / 1000} s window; ` +
          'CPU = utime+stime from /proc/<pid>/stat over the same window, per message. Baseline: raw undici Pool calls (bench/lib/http.ts, ' +
          `shared with bench/delivery.ts) of the same SOAP bodies at the same concurrency (${inFlightPerWorker} in flight, ${connectionsPerWorker} connections) ` +
          `against the same simulator for ${rawMs / 1000} s, in the bench process, each run just before the workers. Everything shares the machine's CPUs.` +
          (exhausted > 0
            ? ` WARNING: in ${exhausted} run(s) the campaign ran out inside the window; that rate is too low.`
            : ''),
      },
    ],
    oneWorkerRate: med(runs[1].map((r) => r.rate)),
    twoWorkerRate: med(runs[2].map((r) => r.rate)),
  };
}
