/**
 * The case handler's command: validate a campaign and its recipient files, then
 * put them on the delivery queue, all or nothing.
 *
 *   npm run enqueue -- --campaign <campaign.json> [--dry-run] [--json] [--skip-invalid]
 *                      [--paused] [--password-env VAR] <file|directory|archive.7z>...
 *
 * --paused stores the campaign paused (its jobs wait) so a test send can go
 * first; `npm run campaign -- resume ID` then starts it.
 *
 * Every run that reaches Redis is recorded in the audit log by --by NAME (or
 * the OS user): enqueued, nothing new, dry run, rejected lines, or refused
 * (unit not active, another enqueue running, a changed or cancelled campaign);
 * the first time a campaign's approved content is seen, its approval too.
 */
import { assertApproved, loadCampaign } from '../src/campaign/load.js';
import { loadClientConfig } from '../src/config/client.js';
import { assertSourceSystem } from '../src/config/delivery.js';
import { loadKeyring } from '../src/config/env.js';
import { EnqueueError, type EnqueueResult, enqueueCampaign } from '../src/queue/enqueue.js';
import { assertUnitActive, UnitError } from '../src/queue/units.js';
import { readInputs } from '../src/recipients/inputs.js';
import { todayOf } from '../src/recipients/personnummer.js';
import { printable, printableName } from '../src/recipients/printable.js';
import { parseRecipientFile } from '../src/recipients/read-file.js';
import { maxRecipientFileBytesFromEnv } from '../src/recipients/regular-file.js';
import { actorArg } from './lib/audit.js';
import { createProgress, exitCodes, parseCliArgs, promptSecret, runCli, UsageError } from './lib/cli.js';
import { openContext } from './lib/context.js';
import { type EnqueueFlags, enqueueDetails, recordEnqueue, refusedDetails } from './lib/enqueue-audit.js';

const usage =
  'usage: npm run enqueue -- --campaign <campaign.json> [--dry-run] [--json] [--skip-invalid] [--paused] [--password-env VAR] [--by NAME] <file|directory|archive.7z>...';

/**
 * Human output. Every value that came from the inputs (file and entry names,
 * problem values, warnings naming files) is escaped first: a recipient line
 * such as `ESC[2J` must not reach the terminal as it is.
 */
function printHuman(r: EnqueueResult, paused: boolean): void {
  const out = process.stdout;
  const id = printableName(r.campaignId);
  const verb = {
    enqueued: 'Enqueued',
    'nothing-new': 'Nothing new for',
    'dry-run': 'Dry run for',
    rejected: 'REJECTED',
  }[r.status];
  out.write(`${verb} campaign ${id}\n`);
  out.write(
    `  recipients: ${r.recipients.valid} valid, ${r.recipients.invalid} invalid, ${r.recipients.duplicates} duplicates (of ${r.recipients.total} lines)\n`,
  );
  out.write(
    `  jobs: ${r.jobs} (${r.enqueued} newly enqueued, ${r.alreadyEnqueued} already enqueued${r.restored ? `, ${r.restored} restored` : ''})\n`,
  );
  for (const w of r.warnings) out.write(`  warning: ${printableName(w)}\n`);
  const shown = r.problems.slice(0, 50);
  for (const p of shown) out.write(`  ${printableName(p.file)}:${p.line}: ${p.code} ${printable(p.value)}\n`);
  if (r.problems.length > shown.length)
    out.write(`  … and ${r.problems.length - shown.length} more problems (use --json for all)\n`);
  if (r.status === 'enqueued' && paused) {
    out.write(
      `  The campaign is PAUSED: test it (npm run campaign -- test-send ${id} --to <file>), then npm run campaign -- resume ${id}\n`,
    );
  }
  if (r.status === 'rejected') {
    out.write(
      '  Nothing was enqueued. Fix the files, or rerun with --skip-invalid to send to the valid ones.\n',
    );
  }
}

/**
 * JSON output: JSON.stringify escapes C0 controls already; the C1 controls and
 * the bidirectional and line-separator characters it leaves raw are escaped too
 * (as \u escapes: the same JSON value).
 */
function printJson(r: EnqueueResult): void {
  const text = JSON.stringify(r).replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  process.stdout.write(`${text}\n`);
}

await runCli('enqueue', async () => {
  const { values, positionals } = parseCliArgs({
    allowPositionals: true,
    options: {
      campaign: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      'skip-invalid': { type: 'boolean', default: false },
      paused: { type: 'boolean', default: false },
      'password-env': { type: 'string' },
      by: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    return exitCodes.ok;
  }
  if (!values.campaign) throw new UsageError(`--campaign is required\n${usage}`);
  if (positionals.length === 0)
    throw new UsageError(`name at least one recipient file, directory or archive\n${usage}`);
  const passwordEnv = values['password-env'];
  if (passwordEnv !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(passwordEnv)) {
    throw new UsageError('--password-env takes the NAME of an environment variable, not the password');
  }
  if (passwordEnv !== undefined && process.env[passwordEnv] === undefined) {
    // The name is not echoed: a password typed here by mistake must not reach the terminal log.
    throw new UsageError('the environment variable named by --password-env is not set');
  }

  const actor = actorArg(values.by);
  // A bad REDIS_URL or setting fails before any file is read.
  loadClientConfig(process.env);
  const maxFileBytes = maxRecipientFileBytesFromEnv(process.env);
  const keyring = loadKeyring(process.env);
  const campaign = await loadCampaign(values.campaign);
  assertApproved(campaign, values.campaign);
  assertSourceSystem(process.env, campaign);

  const progress = createProgress(
    'reading',
    positionals.length > 3 || positionals.some((p) => !/\.(txt|csv)$/i.test(p)),
  );
  const sources = await readInputs(positionals, {
    password: async () =>
      passwordEnv !== undefined ? process.env[passwordEnv] : await promptSecret('Archive password: '),
    onProgress: (done, total) => progress.update(done, total),
    maxFileBytes,
  });
  progress.end();
  const options = { today: todayOf(new Date()), allowCoordinationNumbers: campaign.allowCoordinationNumbers };
  const parsed = sources.map((s) => parseRecipientFile(s, options));

  // Connected only now: a bad REDIS_URL or login is one line naming REDIS_URL (exit 2), an outage exit 1.
  const ctx = await openContext(process.env);
  const since = ctx.durability.epoch();
  try {
    // A user that may not append to the audit log is refused before anything is written.
    await ctx.audit.assertWritable();
    const flags: EnqueueFlags = {
      dryRun: values['dry-run'],
      paused: values.paused,
      skipInvalid: values['skip-invalid'],
    };
    let result: EnqueueResult;
    try {
      await assertUnitActive(ctx.redis, ctx.keys, campaign.unit.hsaId);
      result = await enqueueCampaign(
        { redis: ctx.redis, keys: ctx.keys, keyring, queue: ctx.deliver, jobPolicy: ctx.config.jobPolicy },
        { campaign, parsed, ...flags },
      );
    } catch (err) {
      if (err instanceof UnitError || err instanceof EnqueueError)
        await recordEnqueue(ctx.audit, actor, campaign, refusedDetails(err, flags));
      throw err;
    }
    await recordEnqueue(ctx.audit, actor, campaign, enqueueDetails(result, flags));
    // With Sentinels: the chunks, the jobs and the audit entry are on a replica before we say so.
    await ctx.confirmWrites(since, 'the enqueue');
    if (values.json) printJson(result);
    else printHuman(result, values.paused);
    return result.status === 'rejected' ? exitCodes.failed : exitCodes.ok;
  } finally {
    await ctx.close();
  }
});
