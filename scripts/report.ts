/**
 * The follow-up report for the orderer and the case handler.
 *
 *   npm run report -- --campaign ID [--out DIR] [--format html,md,json,csv]
 *
 * Writes into DIR (default ./out/<ID>/). The CSV files hold personnummer and
 * are written owner-only (0600); the summaries hold none.
 */
import { resolve } from 'node:path';
import { loadKeyring } from '../src/config/env.js';
import { listDeadLetters } from '../src/queue/control.js';
import { collectReport, recipientRows } from '../src/report/collect.js';
import { createPrometheusSeries } from '../src/report/prometheus.js';
import { type ReportFormat, reportFormats, writeReport } from '../src/report/write-report.js';
import { campaignIdArg, exitCodes, parseCliArgs, runCli, UsageError } from './lib/cli.js';
import { openContext } from './lib/context.js';

const usage = 'usage: npm run report -- --campaign ID [--out DIR] [--format html,md,json,csv]';

await runCli('report', async () => {
  const { values } = parseCliArgs({
    options: {
      campaign: { type: 'string' },
      out: { type: 'string' },
      format: { type: 'string', default: reportFormats.join(',') },
    },
  });
  if (!values.campaign) throw new UsageError(`--campaign is required\n${usage}`);
  const id = campaignIdArg(values.campaign, '--campaign');
  const formats = values.format.split(',').map((f) => f.trim());
  const bad = formats.filter((f) => !(reportFormats as readonly string[]).includes(f));
  if (bad.length > 0)
    throw new UsageError(`unknown format ${bad.join(', ')}; choose from ${reportFormats.join(', ')}`);
  const keyring = formats.includes('csv') ? loadKeyring(process.env) : undefined;
  const ctx = await openContext(process.env);
  try {
    const deps = { ...ctx, jobPolicy: ctx.config.jobPolicy };
    const prometheusUrl = process.env.PROMETHEUS_URL;
    const data = await collectReport(
      {
        redis: ctx.redis,
        keys: ctx.keys,
        deadLetters: async (c) => (await listDeadLetters(deps, c)).reduce((n, l) => n + l.slots.length, 0),
        ...(prometheusUrl ? { prometheus: createPrometheusSeries(prometheusUrl) } : {}),
      },
      id,
    );
    const dir = resolve(values.out ?? `out/${id}`);
    const result = await writeReport(
      dir,
      data,
      () => recipientRows(ctx.redis, ctx.keys, keyring!, id),
      formats as ReportFormat[],
    );
    if (data.complete)
      await ctx.redis.hset(ctx.keys.campaign(id), 'reportWrittenAt', new Date().toISOString());
    const o = data.outcomes;
    process.stdout.write(
      `${data.complete ? 'Report' : 'Interim report (the campaign is still running)'} for ${id} in ${dir}\n` +
        `  delivered ${o.delivered}, unreachable ${o.unreachable}, rejected ${o.rejected}, failed ${o.failed}, uncertain ${o.uncertain}, cancelled ${o.cancelled}, pending ${o.pending} (of ${data.recipients.valid} valid)\n` +
        result.files.map((f) => `  ${f}`).join('\n') +
        '\n',
    );
    if (formats.includes('csv')) {
      process.stdout.write(
        '  The .csv files hold personnummer: owner-only (0600); keep them inside the care unit.\n',
      );
    }
    return exitCodes.ok;
  } finally {
    await ctx.close();
  }
});
