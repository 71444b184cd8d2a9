/**
 * The fault-injection suite: every scenario runs a real campaign through real
 * worker processes, a private redis-server (AOF, appendfsync always) and the
 * 1177 simulator while something breaks, then checks the ledger against what
 * the simulator received: every valid recipient exactly one final outcome,
 * nothing left waiting, and nobody accepted twice beyond the scenario's bound.
 * The simulator stores every resend, as the platform does (businessObjectId
 * threads, it does not de-duplicate): park mode and graceful stops must show
 * 0 accepted twice; resend mode at most the calls in flight at each crash.
 *
 *   npm run chaos [-- --short] [--scenario NAME]... [--recipients N] [--seed S]
 *                 [--json FILE] [--keep-logs]
 *
 * The default scenarios: worker-kill, redis-restart, inbox-down, flaky-inbox,
 * rolling-restart, park-kill, park-redis-restart, redis-failover (park) and
 * redis-failover-resend (a primary, a replica and three Sentinels; the primary
 * SIGKILLed behind a lagging replica) (20,000 recipients each; --short: 2,000).
 * --scenario NAME runs NAME and its variants (NAME-…).
 * Extra ones, only by name: redis-lost-writes (the AOF cut back by its last
 * second, as appendfsync everysec loses on a host crash), park-lost-writes (the
 * same under ON_UNCERTAIN=park: expected to FAIL, which
 * is why the harness runs appendfsync always), sigterm-redis-down, mayhem.
 *
 * Prints a table per scenario and writes it as JSON (default
 * bench/results/chaos-latest.json, or chaos-short-latest.json with --short).
 * Exit 0 when every scenario passed, 1 when any lost, doubled, mismatched or
 * parked too many recipients, 2 on a usage error. Logs of the workers and the
 * simulator are kept (and their directory printed) when a scenario fails.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { exitCodes, parseCliArgs, runCli, UsageError } from '../scripts/lib/cli.js';
import { root } from '../scripts/lib/processes.js';
import { runScenario, type ScenarioReport } from './chaos/run.js';
import { type ChaosSettings, findScenarios } from './chaos/scenarios.js';
import { type ChaosSummary, renderTable, summaryOk } from './chaos/table.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

function settingsFor(short: boolean, recipients: number | undefined, seed: string): ChaosSettings {
  return {
    variant: short ? 'short' : 'full',
    recipients: recipients ?? (short ? 2000 : 20_000),
    workers: 2,
    concurrency: 4,
    callsPerJob: 8,
    lockDurationMs: 3000,
    stalledIntervalMs: 1000,
    shutdownGraceMs: 10_000,
    inboxTimeoutMs: 1000,
    simulatorTimeoutMs: 3000,
    jobAttempts: 30,
    jobBackoffMs: 250,
    // Pacing: the short campaign is slowed by latency (mean 160 ms, at most ~400 calls/s over 64 in flight)
    // so its chaos lands mid-run; the full one is bound by this machine's CPU rather than by latency.
    latencyMs: short ? 120 : 30,
    jitterMs: short ? 80 : 30,
    deadlineMs: short ? 75_000 : 240_000,
    seed,
  };
}

await runCli('chaos', async () => {
  const { values } = parseCliArgs({
    options: {
      short: { type: 'boolean', default: false },
      scenario: { type: 'string', multiple: true },
      recipients: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'string' },
      'keep-logs': { type: 'boolean', default: false },
    },
  });
  const recipients = values.recipients === undefined ? undefined : Number(values.recipients);
  if (recipients !== undefined && (!Number.isInteger(recipients) || recipients < 300 || recipients > 200_000))
    throw new UsageError('--recipients must be an integer from 300 to 200000');
  const chosen = findScenarios(values.scenario);
  const seed = values.seed ?? randomBytes(4).toString('hex');
  const settings = settingsFor(values.short, recipients, seed);
  const jsonPath = resolve(
    values.json ??
      join(root, 'bench', 'results', values.short ? 'chaos-short-latest.json' : 'chaos-latest.json'),
  );

  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) process.exit(130);
    say(`chaos: ${signal}: stopping every process started`);
    controller.abort();
    setTimeout(() => process.exit(130), 30_000).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const logRoot = await mkdtemp(join(tmpdir(), 'utskick-chaos-'));
  const started = Date.now();
  say(
    `Chaos (${settings.variant}): ${chosen.length} scenarios × ${settings.recipients} recipients, ${settings.workers} workers × ${settings.concurrency} jobs × ${settings.callsPerJob} calls, seed ${seed}`,
  );
  say(`Logs: ${logRoot}`);
  const reports: ScenarioReport[] = [];
  for (const scenario of chosen) {
    if (controller.signal.aborted) break;
    say(`▶ ${scenario.name}: ${scenario.title}`);
    const r = await runScenario(scenario, settings, { logRoot, signal: controller.signal, say });
    reports.push(r);
    say(
      `  ${r.ok ? 'ok' : 'FAIL'} ${scenario.name}: lost ${r.lost}, accepted twice ${r.acceptedTwice} (bound ${r.duplicateBound}; ${r.kills} SIGKILLs, ${r.redisCrashes} Redis crashes), uncertain ${r.uncertain}, campaign ${(r.durationMs / 1000).toFixed(1)} s, scenario ${(r.wallMs / 1000).toFixed(1)} s`,
    );
    for (const p of r.problems) say(`    problem: ${p}`);
  }
  const ok = summaryOk(reports) && reports.length === chosen.length;
  const summary: ChaosSummary = {
    variant: settings.variant,
    ok,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    settings: { ...settings, appendfsync: 'always' },
    scenarios: reports,
  };
  await mkdir(dirname(jsonPath), { recursive: true });
  await writeFile(jsonPath, `${JSON.stringify(summary, null, 2)}\n`);
  say('');
  say(renderTable(reports));
  say('');
  say(`Whole run ${(summary.durationMs / 1000).toFixed(1)} s; JSON in ${jsonPath}`);
  if (ok && !values['keep-logs']) await rm(logRoot, { recursive: true, force: true });
  else say(`Worker and simulator logs kept in ${logRoot}`);
  say(ok ? 'CHAOS OK' : 'CHAOS FAILED');
  return ok ? exitCodes.ok : exitCodes.failed;
});
