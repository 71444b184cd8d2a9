/**
 * The follow-up report for the orderer and the case handler.
 *
 *   npm run report -- --campaign ID [--out DIR] [--format html,md,json,csv] [--by NAME]
 *
 * Writes into DIR (default ./out/<ID>/). The CSV files hold personnummer and
 * are written owner-only (0600); the summaries hold none. The report shows the
 * campaign's audit log; writing it (an export of personal data when csv is
 * asked for) is itself recorded there, by --by or the OS user.
 */
import { basename, resolve } from 'node:path';
import { loadKeyring } from '../src/config/env.js';
import { createCampaignRecord } from '../src/queue/campaign-record.js';
import { listDeadLetters } from '../src/queue/control.js';
import { collectReport, recipientRows } from '../src/report/collect.js';
import { createPrometheusSeries } from '../src/report/prometheus.js';
import { type ReportFormat, reportFormats, writeReport } from '../src/report/write-report.js';
import { actorArg } from './lib/audit.js';
import { campaignIdArg, exitCodes, parseCliArgs, runCli, UsageError } from './lib/cli.js';
import { openContext } from './lib/context.js';

const usage = 'usage: npm run report -- --campaign ID [--out DIR] [--format html,md,json,csv] [--by NAME]';

await runCli('report', async () => {
  const { values } = parseCliArgs({
    options: {
      campaign: { type: 'string' },
      out: { type: 'string' },
      format: { type: 'string', default: reportFormats.join(',') },
      by: { type: 'string' },
    },
  });
  if (!values.campaign) throw new UsageError(`--campaign is required\n${usage}`);
  const id = campaignIdArg(values.campaign, '--campaign');
  const formats = values.format.split(',').map((f) => f.trim());
  const bad = formats.filter((f) => !(reportFormats as readonly string[]).includes(f));
  if (bad.length > 0)
    throw new UsageError(`unknown format ${bad.join(', ')}; choose from ${reportFormats.join(', ')}`);
  const actor = actorArg(values.by);
  const keyring = formats.includes('csv') ? loadKeyring(process.env) : undefined;
  const ctx = await openContext(process.env);
  try {
    // An export that cannot be recorded is not made.
    await ctx.audit.assertWritable();
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
    if (data.complete) await createCampaignRecord(ctx.redis, ctx.keys).markReported(id, new Date());
    const personal = result.rows
      ? result.files.map((f) => basename(f)).filter((f) => f.endsWith('.csv'))
      : [];
    await ctx.audit.record({
      actor,
      action: 'report',
      campaignId: id,
      details: {
        dir,
        files: result.files.map((f) => basename(f)),
        personalData: personal.length > 0,
        ...(personal.length > 0 ? { personalDataFiles: personal, rows: result.rows } : {}),
        complete: data.complete,
      },
    });
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
