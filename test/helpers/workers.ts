import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { request } from 'undici';
import { createCampaignStore } from '../../src/queue/campaign-store.js';
import { loadChunk } from '../../src/queue/chunks.js';
import { createKeys } from '../../src/queue/keys.js';
import {
  createLedger,
  type FinalOutcome,
  finalOutcomes,
  type Ledger,
  type SlotState,
} from '../../src/queue/ledger.js';
import type { SimulatorOptions } from '../../src/simulator/options.js';
import type { ReceivedMessage } from '../../src/simulator/store.js';
import { startWorker, testEnv, testKeyring, waitFor } from './campaign.js';
import { type CliResult, runScript } from './cli.js';
import { connect, deletePrefix, uniquePrefix } from './redis.js';
import { type StartedSimulator, startSimulator } from './simulator.js';

/**
 * Real delivery worker processes (`node --import tsx workers/deliver.ts`) for
 * integration tests, and probes that compare the ledger with what the
 * simulator received. Every child is tracked: `stopAllWorkers()` (in
 * afterEach) and the process exit hook SIGKILL whatever is still running.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One pino JSON line of a worker (a line that is not JSON is kept as `{ msg: line }`). */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface WorkerExit {
  /** The exit code; null when the process died of a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when the exit was seen. */
  atMs: number;
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The metrics server's port, from the "worker started" line. */
  readonly metricsPort: number;
  /** Every stdout line so far, parsed (the most recent `maxLines`). */
  readonly lines: readonly LogLine[];
  /** The tail of stderr (at most 8 kB). */
  stderr(): string;
  /** Resolves when the process has exited. */
  readonly exited: Promise<WorkerExit>;
  /** Resolves with the first line (already seen or later) for which `match` holds. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** GET /metrics from the worker's metrics server (Prometheus text). */
  scrape(): Promise<string>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `timeoutMs` (default 15000). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<WorkerExit>;
}

export interface SpawnWorkerOptions {
  /** How long to wait for "worker started", ms. Default 20000. */
  startTimeoutMs?: number;
  /** Also append every stdout/stderr line to this file. Default none. */
  logFile?: string;
  /** Most parsed lines kept in memory. Default 5000. */
  maxLines?: number;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/**
 * Starts one worker process with `env` and waits until it logs "worker started".
 * The child gets only PATH, HOME and TMPDIR from this process besides `env`
 * (nothing from a developer's shell leaks in), and LOG_LEVEL info unless `env`
 * asks for more. Its stdout and stderr are always drained.
 */
export async function spawnWorker(
  env: Record<string, string>,
  options: SpawnWorkerOptions = {},
): Promise<WorkerProcess> {
  const childEnv: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'TMPDIR'] as const) {
    const v = process.env[k];
    if (v !== undefined) childEnv[k] = v;
  }
  Object.assign(childEnv, env);
  if (env.LOG_LEVEL !== 'debug' && env.LOG_LEVEL !== 'trace') childEnv.LOG_LEVEL = 'info';
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'workers', 'deliver.ts')], {
    cwd: root,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const exited = new Promise<WorkerExit>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal, atMs: Date.now() });
    }),
  );
  const maxLines = options.maxLines ?? 5000;
  const lines: LogLine[] = [];
  const waiters = new Set<(line: LogLine) => void>();
  let stderrTail = '';
  let log: WriteStream | undefined;
  if (options.logFile) log = createWriteStream(options.logFile, { flags: 'a' });
  createInterface({ input: child.stdout! }).on('line', (raw) => {
    log?.write(`${raw}\n`);
    let line: LogLine;
    try {
      line = JSON.parse(raw) as LogLine;
    } catch {
      line = { msg: raw };
    }
    lines.push(line);
    if (lines.length > maxLines) lines.shift();
    for (const w of waiters) w(line);
  });
  child.stderr!.on('data', (d: Buffer) => {
    log?.write(d);
    stderrTail = (stderrTail + d.toString('utf8')).slice(-8192);
  });
  exited.then(() => log?.end());

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const seen = lines.find(match);
      if (seen) return resolve(seen);
      const done = (err?: Error, line?: LogLine) => {
        clearTimeout(timer);
        waiters.delete(onLine);
        if (err) reject(err);
        else resolve(line!);
      };
      const onLine = (line: LogLine) => {
        if (match(line)) done(undefined, line);
      };
      const timer = setTimeout(
        () => done(new Error(`worker ${child.pid}: no matching log line within ${timeoutMs} ms`)),
        timeoutMs,
      );
      waiters.add(onLine);
      exited.then((e) =>
        done(
          new Error(
            `worker ${child.pid} exited (code ${e.code}, signal ${e.signal}) before the log line: ${stderrTail.slice(-1000)}`,
          ),
        ),
      );
    });

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<WorkerExit> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const e = await exited;
    clearTimeout(timer);
    return e;
  };

  let started: LogLine;
  try {
    started = await waitForLog((l) => l.msg === 'worker started', options.startTimeoutMs ?? 20_000);
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
  const metricsPort = Number(started.metricsPort);
  return {
    child,
    pid: child.pid ?? 0,
    metricsPort,
    lines,
    stderr: () => stderrTail,
    exited,
    waitForLog,
    async scrape() {
      const res = await request(`http://127.0.0.1:${metricsPort}/metrics`);
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`worker ${child.pid} /metrics: HTTP ${res.statusCode}`);
      return text;
    },
    stop,
  };
}

/** Starts `n` workers with the same environment, in parallel. */
export async function spawnWorkers(
  n: number,
  env: Record<string, string>,
  options: SpawnWorkerOptions = {},
): Promise<WorkerProcess[]> {
  const settled = await Promise.allSettled(Array.from({ length: n }, () => spawnWorker(env, options)));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await stopAllWorkers();
    throw (failed as PromiseRejectedResult).reason;
  }
  return settled.map((s) => (s as PromiseFulfilledResult<WorkerProcess>).value);
}

/**
 * Kills (default SIGKILL) every worker this module started that is still
 * running and waits for them; resolves with how many there were. For afterEach.
 */
export async function stopAllWorkers(signal: NodeJS.Signals = 'SIGKILL'): Promise<number> {
  const children = [...live];
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill(signal);
        }),
    ),
  );
  return children.length;
}

/**
 * The sum of a metric's samples in Prometheus text whose labels include all of
 * `labels` (0 when there is none): works on a worker's scrape and on
 * `await registry.metrics()` alike.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map<string, string>();
    for (const lm of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      have.set(lm[1]!, lm[2]!);
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[4]);
  }
  return sum;
}

/** One recipient slot of a campaign as the ledger has it, with the person from the sealed chunk. */
export interface SlotView {
  /** The message identity the handler sends: `campaign.chunk.slot`. */
  messageId: string;
  chunkId: string;
  slot: number;
  state: SlotState;
  /** Calls marked in flight for this slot (each attempt counts). */
  calls: number;
  /** Kept in memory only; never print it. */
  subjectOfCareId: string;
}

/** Every slot of every chunk of a campaign: ledger.read per chunk, numbers from the sealed chunks. */
export async function readSlots(redis: Redis, prefix: string, campaignId: string): Promise<SlotView[]> {
  const keys = createKeys(prefix);
  const ledger = createLedger(redis, keys);
  const chunks = await createCampaignStore(redis, keys).chunks(campaignId);
  const out: SlotView[] = [];
  for (const [chunkId, n] of [...chunks].sort(([a], [b]) => a.localeCompare(b))) {
    const numbers = await loadChunk(redis, keys, testKeyring(), campaignId, chunkId);
    const records = await ledger.read(campaignId, chunkId, n);
    records.forEach((r, slot) => {
      out.push({
        messageId: `${campaignId}.${chunkId}.${slot}`,
        chunkId,
        slot,
        state: r.state,
        calls: r.calls,
        subjectOfCareId: numbers[slot]!,
      });
    });
  }
  return out;
}

export interface LedgerSimulatorJoin {
  /** Each slot with what the simulator recorded for its message identity, if anything. */
  slots: (SlotView & { received?: ReceivedMessage })[];
  /** Simulator entries no slot of the campaign sent (should never happen). */
  orphans: ReceivedMessage[];
  /** Slots whose simulator entry names another person (a sender bug). */
  wrongPerson: number;
  /** Slots whose final state differs from the simulator's verdict (delivered/unreachable/rejected only). */
  mismatched: { messageId: string; ledger: SlotState; simulator: string }[];
}

/** Joins the ledger with the simulator's received() by message identity. */
export function joinLedgerAndSimulator(
  slots: readonly SlotView[],
  received: readonly ReceivedMessage[],
): LedgerSimulatorJoin {
  const byId = new Map(received.map((r) => [r.messageId, r]));
  const joined = slots.map((s): SlotView & { received?: ReceivedMessage } => {
    const r = byId.get(s.messageId);
    byId.delete(s.messageId);
    return r ? { ...s, received: r } : { ...s };
  });
  let wrongPerson = 0;
  const mismatched: LedgerSimulatorJoin['mismatched'] = [];
  for (const s of joined) {
    if (!s.received) continue;
    if (s.received.subjectOfCareId !== s.subjectOfCareId) wrongPerson++;
    const settled = s.state === 'delivered' || s.state === 'unreachable' || s.state === 'rejected';
    if (settled && s.state !== s.received.outcome)
      mismatched.push({ messageId: s.messageId, ledger: s.state, simulator: s.received.outcome });
  }
  return { slots: joined, orphans: [...byId.values()], wrongPerson, mismatched };
}

/** How many slots are in each state. */
export function tally(slots: readonly { state: SlotState }[]): Partial<Record<SlotState, number>> {
  const out: Partial<Record<SlotState, number>> = {};
  for (const s of slots) out[s.state] = (out[s.state] ?? 0) + 1;
  return out;
}

/** One test's world: a key prefix, an in-process simulator, a Redis connection, workers and CLIs. */
export interface Harness {
  prefix: string;
  redis: Redis;
  sim: StartedSimulator;
  ledger: Ledger;
  /** testEnv(prefix, sim.url, extra) plus the harness's own extra variables. */
  env: Record<string, string>;
  counts(campaignId: string): Promise<Record<FinalOutcome, number>>;
  /** Recipients with a final outcome. */
  done(campaignId: string): Promise<number>;
  /** Waits until `n` recipients have a final outcome; resolves with the counts. */
  waitDone(campaignId: string, n: number, timeoutMs?: number): Promise<Record<FinalOutcome, number>>;
  slots(campaignId: string): Promise<SlotView[]>;
  join(campaignId: string): Promise<LedgerSimulatorJoin>;
  /** Runs `scripts/<name>.ts` with this harness's environment (plus `extraEnv`). */
  cli(name: 'campaign' | 'dlq', args: string[], extraEnv?: Record<string, string>): Promise<CliResult>;
  /** Runs a CLI with --json, expects exit 0 and parses its stdout. */
  cliJson<T>(name: 'campaign' | 'dlq', args: string[], extraEnv?: Record<string, string>): Promise<T>;
  /** Worker processes with the harness env plus `extraEnv`. */
  spawnWorkers(n: number, extraEnv?: Record<string, string>): Promise<WorkerProcess[]>;
  /** An in-process DeliveryWorker (for tests that do not kill it), stopped by close(). */
  startWorker(extraEnv?: Record<string, string>): ReturnType<typeof startWorker>;
  /** Kills every worker, stops the simulator, deletes the prefix. Safe to call twice. */
  close(): Promise<void>;
}

export async function openHarness(
  name: string,
  simOptions: SimulatorOptions = {},
  extraEnv: Record<string, string> = {},
): Promise<Harness> {
  const prefix = uniquePrefix(name);
  const sim = await startSimulator(simOptions);
  const redis = connect();
  const ledger = createLedger(redis, createKeys(prefix));
  const env = testEnv(prefix, sim.url, extraEnv);
  const inProcess: Awaited<ReturnType<typeof startWorker>>[] = [];
  let closed = false;
  const counts = (id: string) => ledger.counts(id);
  const done = async (id: string) => {
    const c = await counts(id);
    return finalOutcomes.reduce((n, o) => n + c[o], 0);
  };
  const cli = (script: 'campaign' | 'dlq', args: string[], more: Record<string, string> = {}) =>
    runScript(script, args, { env: { ...env, ...more }, timeoutMs: 20_000 });
  const harness: Harness = {
    prefix,
    redis,
    sim,
    ledger,
    env,
    counts,
    done,
    async waitDone(id, n, timeoutMs = 20_000) {
      return waitFor(
        () => counts(id),
        (c) => finalOutcomes.reduce((k, o) => k + c[o], 0) >= n,
        { timeoutMs, what: `${n} final outcomes of ${id}` },
      );
    },
    slots: (id) => readSlots(redis, prefix, id),
    async join(id) {
      return joinLedgerAndSimulator(await readSlots(redis, prefix, id), sim.simulator.received());
    },
    cli,
    async cliJson<T>(script: 'campaign' | 'dlq', args: string[], more: Record<string, string> = {}) {
      const r = await cli(script, [...args, '--json'], more);
      if (r.code !== 0) throw new Error(`${script} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    },
    spawnWorkers: (n, more = {}) => spawnWorkers(n, { ...env, ...more }),
    async startWorker(more = {}) {
      const w = await startWorker({ ...env, ...more });
      inProcess.push(w);
      return w;
    },
    async close() {
      if (closed) return;
      closed = true;
      await stopAllWorkers();
      await Promise.all(inProcess.map((w) => w.stop(2000)));
      await sim.stop();
      await deletePrefix(redis, prefix);
      redis.disconnect();
    },
  };
  return harness;
}
