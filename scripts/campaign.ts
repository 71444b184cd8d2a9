/**
 *   npm run campaign -- status [ID] [--json]
 *   npm run campaign -- pause ID [--reason "..."]     (no new call within a second, across workers)
 *   npm run campaign -- resume ID
 *   npm run campaign -- cancel ID [--reason "..."]    (recipients not yet sent get `cancelled`)
 *   npm run campaign -- test-send ID|campaign.json --to <file>   (the team's own test recipients only)
 *   npm run campaign -- purge ID [--force]             (after the report: remove all personal data)
 *   npm run campaign -- acl ID --password-file FILE    (a Redis user for this campaign's case handler only)
 *
 * Every ID is checked with the campaign schema's pattern before it is used.
 * Every command but status takes --by NAME (default: the OS user) and is
 * recorded in the audit log; a user that may not append to it changes nothing.
 */
import { writeFile } from 'node:fs/promises';
import type { AuditAction, AuditLog } from '../src/audit/audit-log.js';
import { loadApprovedCampaign } from '../src/campaign/load.js';
import { loadClientConfig } from '../src/config/client.js';
import { loadDeliveryConfig } from '../src/config/delivery.js';
import { loadKeyring } from '../src/config/env.js';
import { TestSendError, testSend } from '../src/dispatch/test-send.js';
import { assertOperationsUser, caseHandlerAcl } from '../src/queue/acl.js';
import { CampaignStoreError, createCampaignStore } from '../src/queue/campaign-store.js';
import { cancelCampaign, pauseCampaign, resumeCampaign } from '../src/queue/control.js';
import { createKeys } from '../src/queue/keys.js';
import { purgeCampaign } from '../src/queue/purge.js';
import { type CampaignStatus, campaignStatus } from '../src/queue/status.js';
import { readInputs } from '../src/recipients/inputs.js';
import { todayOf } from '../src/recipients/personnummer.js';
import { parseRecipientFile } from '../src/recipients/read-file.js';
import { actorArg, openAuditBestEffort } from './lib/audit.js';
import { campaignIdArg, exitCodes, parseCliArgs, runCli, UsageError } from './lib/cli.js';
import { type CliContext, openContext } from './lib/context.js';

const usage =
  'usage: npm run campaign -- status [ID] [--json] | pause ID [--reason R] | resume ID | cancel ID [--reason R] | test-send ID|campaign.json --to FILE | purge ID [--force] | acl ID --password-file FILE   (all but status: [--by NAME])';

const options = {
  json: { type: 'boolean', default: false },
  reason: { type: 'string' },
  by: { type: 'string' },
  to: { type: 'string' },
  force: { type: 'boolean', default: false },
  'password-file': { type: 'string' },
} as const;

type Values = ReturnType<typeof parseCliArgs<{ allowPositionals: true; options: typeof options }>>['values'];

/** What a command gets: its checked campaign id (or campaign file for test-send), the options, a writer. */
interface Call {
  id: string | undefined;
  values: Values;
  by: string;
  out(human: string, json: unknown): void;
}

function formatStatus(s: CampaignStatus): string {
  const o = s.outcomes;
  const pct = (s.progress * 100).toFixed(1);
  const lines = [
    `${s.campaignId}  ${s.state}${s.stateReason && s.state !== 'active' && s.state !== 'done' ? ` (${s.stateReason}${s.stateBy ? `, by ${s.stateBy}` : ''})` : ''}  ${pct}% done`,
    `  recipients: ${s.recipients.valid} valid, ${s.recipients.invalid} invalid, ${s.recipients.duplicates} duplicates`,
    `  outcomes:   delivered ${o.delivered}, unreachable ${o.unreachable}, rejected ${o.rejected}, failed ${o.failed}, uncertain ${o.uncertain}, cancelled ${o.cancelled}, pending ${o.pending}`,
    `  jobs:       waiting ${s.jobs.waiting}, active ${s.jobs.active}, delayed ${s.jobs.delayed}, failed ${s.jobs.failed}, dead-lettered ${s.jobs.deadLettered}`,
  ];
  if (s.currentRatePerSec !== undefined) {
    lines.push(
      `  rate:       ${s.currentRatePerSec.toFixed(1)}/s${s.etaSec !== undefined ? `, about ${Math.ceil(s.etaSec / 60)} min left` : ''}`,
    );
  }
  return lines.join('\n');
}

async function status(ctx: CliContext, { id, out }: Call): Promise<number> {
  const deps = { ...ctx, jobPolicy: ctx.config.jobPolicy };
  const ids = id ? [id] : await createCampaignStore(ctx.redis, ctx.keys).list();
  const list = await Promise.all(ids.map((c) => campaignStatus(deps, c)));
  if (id) out(formatStatus(list[0]!), list[0]);
  else out(list.length === 0 ? 'no campaigns' : list.map(formatStatus).join('\n\n'), list);
  return exitCodes.ok;
}

/** Records what a command did, as `by`, for campaign `id`. */
const record = (audit: AuditLog, action: AuditAction, call: Call, details: Record<string, unknown>) =>
  audit.record({ actor: call.by, action, campaignId: call.id ?? '', details });

async function pause(ctx: CliContext, call: Call): Promise<number> {
  const { id, values, by, out } = call;
  const deps = { ...ctx, jobPolicy: ctx.config.jobPolicy };
  const reason = values.reason ?? 'paused by an operator';
  const r = await pauseCampaign(deps, id!, reason, by);
  await record(ctx.audit, 'pause', call, { reason, previous: r.from });
  out(
    r.changed
      ? `campaign ${id} paused (was ${r.from}); calls in flight finish, no new call starts`
      : `campaign ${id} was paused already; nothing changed`,
    { campaignId: id, state: 'paused', previous: r.from, changed: r.changed },
  );
  return exitCodes.ok;
}

async function resume(ctx: CliContext, call: Call): Promise<number> {
  const { id, values, by, out } = call;
  const r = await resumeCampaign({ ...ctx, jobPolicy: ctx.config.jobPolicy }, id!, by);
  await record(ctx.audit, 'resume', call, {
    ...(values.reason ? { reason: values.reason } : {}),
    promoted: r.promoted,
  });
  out(
    r.changed
      ? `campaign ${id} resumed (${r.promoted} held jobs released)`
      : `campaign ${id} was active already; nothing changed`,
    { campaignId: id, state: 'active', ...r },
  );
  return exitCodes.ok;
}

async function cancel(ctx: CliContext, call: Call): Promise<number> {
  const { id, values, by, out } = call;
  const deps = { ...ctx, jobPolicy: ctx.config.jobPolicy };
  const reason = values.reason ?? 'cancelled by an operator';
  const r = await cancelCampaign(deps, id!, reason, by);
  await record(ctx.audit, 'cancel', call, { reason, cancelled: r.cancelled });
  out(
    `campaign ${id} ${r.changed ? 'cancelled' : 'was cancelled already'}; ${r.cancelled} recipients not yet sent are marked cancelled`,
    { campaignId: id, state: 'cancelled', ...r },
  );
  return exitCodes.ok;
}

async function purge(ctx: CliContext, call: Call): Promise<number> {
  const { id, values, by, out } = call;
  await assertOperationsUser(ctx.redis, ctx.keys);
  const r = await purgeCampaign({ ...ctx, jobPolicy: ctx.config.jobPolicy }, id!, {
    force: values.force,
    by,
  });
  await record(ctx.audit, 'purge', call, {
    force: values.force,
    keysDeleted: r.keysDeleted,
    jobsRemoved: r.jobsRemoved,
    deadLettersRemoved: r.deadLettersRemoved,
  });
  out(
    `campaign ${id} purged: ${r.keysDeleted} keys, ${r.jobsRemoved} jobs and ${r.deadLettersRemoved} dead letters removed; counts kept`,
    r,
  );
  return exitCodes.ok;
}

async function testSendTo(ctx: CliContext, call: Call): Promise<number> {
  const { id, values, out } = call;
  if (!values.to) throw new UsageError(`test-send needs --to <file of test recipients>\n${usage}`);
  const campaign = id!.endsWith('.json')
    ? await loadApprovedCampaign(id!)
    : (await createCampaignStore(ctx.redis, ctx.keys).require(id!)).definition;
  const inbox = loadDeliveryConfig(process.env);
  const keyring = loadKeyring(process.env);
  const [file] = await readInputs([values.to], { password: async () => undefined });
  const parsed = parseRecipientFile(file!, {
    today: todayOf(new Date()),
    allowCoordinationNumbers: campaign.allowCoordinationNumbers,
  });
  if (parsed.problems.length > 0) {
    const p = parsed.problems[0]!;
    throw new UsageError(`${p.file}:${p.line}: ${p.code} ${p.value}`);
  }
  const r = await testSend({ redis: ctx.redis, keys: ctx.keys, keyring, inbox }, campaign, parsed.numbers);
  const outcomes: Record<string, number> = {};
  for (const x of r.results) outcomes[x.outcome] = (outcomes[x.outcome] ?? 0) + 1;
  await ctx.audit.record({
    actor: call.by,
    action: 'test-send',
    campaignId: campaign.id,
    details: { count: r.results.length, outcomes },
  });
  out(
    [
      `test send of ${campaign.id} to ${r.results.length} test recipients:`,
      ...r.results.map((x) => `  ${x.recipient}  ${x.outcome}  ${x.detail}`),
      'the envelope as sent (personnummer masked):',
      r.envelope,
    ].join('\n'),
    r,
  );
  return r.results.every((x) => x.outcome === 'delivered') ? exitCodes.ok : exitCodes.failed;
}

/**
 * Records the acl command when a Redis connection is configured and answers
 * quickly; otherwise one line on stderr says it was not recorded.
 */
async function recordAcl(call: Call, user: string): Promise<void> {
  const opened = await openAuditBestEffort(process.env);
  if ('notRecorded' in opened) {
    process.stderr.write(`campaign: note: not recorded in the audit log (${opened.notRecorded})\n`);
    return;
  }
  try {
    await record(opened.audit, 'acl', call, { user });
  } catch (err) {
    process.stderr.write(
      `campaign: note: not recorded in the audit log (${(err as Error).message.split('\n')[0]})\n`,
    );
  } finally {
    opened.redis.disconnect();
  }
}

/** Prints the ACL rule for an admin to apply; needs no Redis connection (the audit entry is best effort). */
async function acl(call: Call): Promise<number> {
  const { id, values, out } = call;
  const file = values['password-file'];
  if (!file)
    throw new UsageError(
      `acl needs --password-file FILE (the new user's password is written there, 0600)\n${usage}`,
    );
  const rule = caseHandlerAcl(createKeys(loadClientConfig(process.env).prefix), id!);
  await writeFile(file, `${rule.password}\n`, { mode: 0o600, flag: 'wx' });
  out(
    [
      `Redis user ${rule.user}: password written to ${file} (0600). Apply as an admin:`,
      `ACL SETUSER ${rule.user} ${rule.rule.join(' ')}`,
    ].join('\n'),
    { user: rule.user, passwordFile: file, rule: rule.rule },
  );
  await recordAcl(call, rule.user);
  return exitCodes.ok;
}

const withRedis = { status, pause, resume, cancel, purge, 'test-send': testSendTo } as const;

/** The command's campaign id, checked; test-send also takes a campaign file. */
function idOf(command: string, id: string | undefined): string | undefined {
  if (command === 'status' && id === undefined) return undefined;
  if (command === 'test-send' && id?.endsWith('.json')) return id;
  return campaignIdArg(id, `${command} ID`);
}

async function run(command: string, call: Call): Promise<number> {
  if (command === 'acl') return acl(call);
  const handler = withRedis[command as keyof typeof withRedis];
  const ctx = await openContext(process.env);
  const since = ctx.durability.epoch();
  try {
    // A user that may not append to the audit log is refused before the first change.
    if (command !== 'status') await ctx.audit.assertWritable();
    const code = await handler(ctx, call);
    // With Sentinels: a pause, resume, cancel or purge is on a replica before we say it is done
    // (not a test send: "run it again" would send the test messages again).
    if (command !== 'status' && command !== 'test-send') await ctx.confirmWrites(since, `the ${command}`);
    return code;
  } catch (err) {
    if (err instanceof CampaignStoreError || err instanceof TestSendError) {
      process.stderr.write(`campaign: ${err.message}\n`);
      return exitCodes.failed;
    }
    throw err;
  } finally {
    await ctx.close();
  }
}

await runCli('campaign', async () => {
  const { values, positionals } = parseCliArgs({ allowPositionals: true, options });
  const [command, rawId] = positionals;
  if (!command) throw new UsageError(usage);
  if (command !== 'acl' && !(command in withRedis))
    throw new UsageError(`unknown command ${command}\n${usage}`);
  const id = idOf(command, rawId);
  const out = (human: string, json: unknown) =>
    process.stdout.write(values.json ? `${JSON.stringify(json)}\n` : `${human}\n`);
  const by = command === 'status' ? '' : actorArg(values.by);
  return run(command, { id, values, by, out });
});
