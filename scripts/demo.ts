/**
 * The whole routine on one machine, with nothing but Node and a Redis server:
 * an approved demo campaign, synthetic recipient files (one in an encrypted
 * 7-Zip archive), the 1177 simulator with some unreachable residents and
 * transient faults, two worker processes, the enqueue command, progress, and
 * the follow-up report in ./out/<campaign id>/. Stops everything it started.
 *
 *   npm run demo [-- --recipients 1000 --rate 200 --out out]
 */

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { contentSha256 } from '../src/campaign/approval.js';
import { createKeys } from '../src/queue/keys.js';
import { createLedger, finalOutcomes } from '../src/queue/ledger.js';
import { createRedis } from '../src/queue/redis.js';
import { activateUnit } from '../src/queue/units.js';
import { syntheticPnr } from '../src/recipients/synthetic.js';
import { exitCodes, parseCliArgs, runCli } from './lib/cli.js';
import { packEncrypted } from './lib/make-archive.js';
import { noRedisHelp, type PrivateRedis, redisAnswers, startPrivateRedis } from './lib/private-redis.js';
import { runEntry, spawnEntry, stopProcess, waitForLine } from './lib/processes.js';

const say = (line: string) => process.stdout.write(`${line}\n`);

await runCli('demo', async () => {
  const { values } = parseCliArgs({
    options: {
      recipients: { type: 'string', default: '1000' },
      rate: { type: 'string', default: '200' },
      out: { type: 'string', default: 'out' },
    },
  });
  const total = Number(values.recipients);
  const rate = Number(values.rate);
  if (!Number.isInteger(total) || total < 10 || total > 100_000)
    throw Object.assign(new Error('--recipients must be 10..100000'), { code: 'USAGE' });
  if (!(rate >= 0)) throw Object.assign(new Error('--rate must be a number >= 0'), { code: 'USAGE' });

  const started = Date.now();
  const cleanups: (() => Promise<unknown>)[] = [];
  let privateRedis: PrivateRedis | undefined;
  try {
    // 1. Redis: REDIS_URL, the default port, or a private redis-server for this run.
    let redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    if (!(await redisAnswers(redisUrl))) {
      const redisServerOnPath = spawnSync('redis-server', ['--version']).status === 0;
      if (process.env.REDIS_URL || !redisServerOnPath) {
        throw Object.assign(
          new Error(noRedisHelp(redisUrl, { explicitUrl: !!process.env.REDIS_URL, redisServerOnPath })),
          { code: 'REDIS_UNREACHABLE' },
        );
      }
      privateRedis = await startPrivateRedis();
      redisUrl = privateRedis.url;
      say(`Started a private redis-server for this run at ${redisUrl}`);
    }
    const prefix = 'utskick-demo';
    const stamp = new Date().toISOString().replace(/[-:]/g, '').slice(0, 15).toLowerCase();
    const campaignId = `demo-${stamp}`;
    const env: Record<string, string> = {
      REDIS_URL: redisUrl,
      UTSKICK_PREFIX: prefix,
      // A fresh data key for this run only; it reaches the children through their environment, never argv.
      UTSKICK_DATA_KEY: randomBytes(32).toString('base64'),
      // This system's HSA-id (sourceSystem): the demo campaign notifies residents.
      INBOX_SOURCE_SYSTEM: 'SE2321000016-UTSK',
      LOG_LEVEL: 'info',
    };
    const out = resolve(values.out, campaignId);
    const logs = join(out, 'logs');
    await mkdir(logs, { recursive: true, mode: 0o700 });

    // 2. The campaign and the recipient files, as the unit and the decision-support team deliver them.
    const dir = await mkdtemp(join(tmpdir(), 'utskick-demo-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const message = {
      subject: 'Vaccination mot RS-virus',
      inboxTitle: 'Erbjudande om vaccination',
      body: [
        'Hej! Du som är 75 år eller äldre erbjuds vaccination mot RS-virus.',
        '## Så bokar du',
        'Boka tid på [1177.se](https://www.1177.se) eller ring din vårdcentral.',
        '- Telefon: 018-611 00 00\n- Öppet: vardagar 8–16',
        'Meddelandet går inte att svara på.',
      ].join('\n\n'),
      notify: true,
    };
    const sender = {
      name: 'Bertil Avsändare',
      title: 'Verksamhetschef',
      organisation: 'Region Uppsala (demo)',
    };
    const unit = { hsaId: 'SE2321000032-1003', name: 'Vårdcentralen Demo', telephone: '018-611 00 00' };
    const campaign = {
      id: campaignId,
      title: 'Demo: erbjudande om RS-vaccination',
      targetGroup: 'Syntetiska testpersoner 75 år och äldre (demo)',
      orderer: { name: 'Anna Beställare', email: 'anna.bestallare@example.org' },
      sender,
      unit,
      caseHandler: { name: 'Cecilia Handläggare' },
      message,
      approval: {
        approvedBy: 'David Kommunikatör',
        approvedAt: new Date().toISOString(),
        contentSha256: contentSha256({ message, sender, unit }),
      },
      unreachable: 'letter',
    };
    const campaignFile = join(dir, 'campaign.json');
    await writeFile(campaignFile, JSON.stringify(campaign, null, 2));
    const numbers = Array.from({ length: total }, (_, i) => syntheticPnr(i * 7 + 11));
    const files: { name: string; content: string }[] = [];
    for (let i = 0; i * 250 < total; i++) {
      const part = numbers.slice(i * 250, (i + 1) * 250);
      // The demo's first file carries a header line and two bad lines, to show how problems are reported.
      const content =
        i === 0
          ? ['personnummer', ...part, '19121212-1213', 'inte ett nummer'].join('\r\n')
          : part.join('\n');
      files.push({ name: `mottagare-${String(i + 1).padStart(2, '0')}.txt`, content });
    }
    const plain = files.slice(0, -1);
    for (const f of plain) await writeFile(join(dir, f.name), f.content);
    const archivePassword = randomBytes(12).toString('base64url');
    const archive = join(dir, 'leverans.7z');
    await packEncrypted(archive, files.slice(-1), archivePassword);
    say(
      `Campaign ${campaignId}: ${total} synthetic recipients in ${plain.length} files and 1 encrypted 7-Zip archive`,
    );

    // 3. The 1177 simulator: 8% not active in 1177, 1% rejected, 3% transient 503s.
    const sim = spawnEntry(
      'scripts/simulator.ts',
      ['--port', '0', '--unreachable', '0.08', '--rejected', '0.01', '--error-rate', '0.03'],
      env,
      { logFile: join(logs, 'simulator.log') },
    );
    cleanups.push(() => stopProcess(sim));
    const inboxUrl = (await waitForLine(sim, /^INBOX_URL=(\S+)/))[1]!;
    say(`Simulator listening at ${inboxUrl}`);

    // 4. The unit is activated in the e-services, then two workers start.
    const redis = createRedis(redisUrl, 'client');
    redis.on('error', () => {});
    cleanups.push(async () => redis.disconnect());
    const keys = createKeys(prefix);
    await activateUnit(redis, keys, { ...campaign.unit, activatedAt: new Date().toISOString() });
    const workerEnv = {
      ...env,
      INBOX_URL: inboxUrl,
      INBOX_ALLOW_INSECURE: 'true',
      RATE_PER_SECOND: String(rate),
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      CALL_BACKOFF_MS: '50',
    };
    const workers = [1, 2].map((n) =>
      spawnEntry('workers/deliver.ts', [], workerEnv, { logFile: join(logs, `worker-${n}.log`) }),
    );
    for (const w of workers) cleanups.push(() => stopProcess(w));
    await Promise.all(workers.map((w) => waitForLine(w, /worker started/)));
    say(`Two workers started (global rate ${rate > 0 ? `${rate}/s` : 'unlimited'})`);

    // 5. The case handler enqueues: plain files and the archive, password through an environment variable.
    const enq = await runEntry(
      'scripts/enqueue.ts',
      [
        '--campaign',
        campaignFile,
        '--skip-invalid',
        '--password-env',
        'DEMO_ARCHIVE_PASSWORD',
        ...plain.map((f) => join(dir, f.name)),
        archive,
      ],
      { ...env, DEMO_ARCHIVE_PASSWORD: archivePassword },
    );
    process.stdout.write(enq.stdout);
    if (enq.code !== 0) throw new Error(`enqueue failed (${enq.code}): ${enq.stderr.trim()}`);

    // 6. Progress until every valid recipient has an outcome.
    const valid = Number(await redis.hget(keys.campaign(campaignId), 'valid'));
    const ledger = createLedger(redis, keys);
    const deadline = Date.now() + 5 * 60_000;
    let done = 0;
    while (done < valid) {
      if (Date.now() > deadline) throw new Error(`not finished after 5 minutes (${done}/${valid})`);
      await new Promise((r) => setTimeout(r, 500));
      const counts = await ledger.counts(campaignId);
      done = finalOutcomes.reduce((n, o) => n + counts[o], 0);
      const line = `  progress ${done}/${valid}  delivered ${counts.delivered}  unreachable ${counts.unreachable}  rejected ${counts.rejected}  failed ${counts.failed}`;
      if (process.stdout.isTTY) process.stdout.write(`\r${line}`);
      else if (done === valid) say(line);
    }
    if (process.stdout.isTTY) process.stdout.write('\n');

    // 7. The follow-up report for the orderer.
    const report = await runEntry('scripts/report.ts', ['--campaign', campaignId, '--out', out], env);
    process.stdout.write(report.stdout);
    if (report.code !== 0) throw new Error(`report failed (${report.code}): ${report.stderr.trim()}`);
    // 8. The report is written: remove the campaign's personal data from Redis, keeping the counts.
    const purge = await runEntry('scripts/campaign.ts', ['purge', campaignId], env);
    process.stdout.write(purge.stdout);
    if (purge.code !== 0) throw new Error(`purge failed (${purge.code}): ${purge.stderr.trim()}`);
    say(`Logs of the simulator and the workers (no personal data): ${logs}`);
    say(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s. Open ${join(out, 'report.html')}`);
    return exitCodes.ok;
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await privateRedis?.close().catch(() => {});
  }
});
