/**
 *   npm run dlq -- list [--campaign ID] [--json]
 *   npm run dlq -- redrive --campaign ID [--by NAME]   (back to the queue; delivered recipients are not touched)
 *   npm run dlq -- discard --campaign ID [--by NAME]   (give up: they keep outcome `failed`)
 *
 * redrive and discard are recorded in the audit log, by --by or the OS user.
 */

import { loadKeyring } from '../src/config/env.js';
import { assertOperationsUser } from '../src/queue/acl.js';
import { loadChunk } from '../src/queue/chunks.js';
import { discardDeadLetters, listDeadLetters, redriveDeadLetters } from '../src/queue/control.js';
import { maskPersonnummer } from '../src/recipients/personnummer.js';
import { actorArg } from './lib/audit.js';
import { campaignIdArg, exitCodes, parseCliArgs, runCli, UsageError } from './lib/cli.js';
import { openContext } from './lib/context.js';

const usage =
  'usage: npm run dlq -- list [--campaign ID] [--json] | redrive --campaign ID [--by NAME] | discard --campaign ID [--by NAME]';

await runCli('dlq', async () => {
  const { values, positionals } = parseCliArgs({
    allowPositionals: true,
    options: {
      campaign: { type: 'string' },
      by: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [command] = positionals;
  if (command !== 'list' && command !== 'redrive' && command !== 'discard') throw new UsageError(usage);
  if (command !== 'list' || values.campaign !== undefined)
    campaignIdArg(values.campaign, `${command} --campaign`);
  const actor = command === 'list' ? '' : actorArg(values.by);
  const ctx = await openContext(process.env);
  const since = ctx.durability.epoch();
  try {
    const deps = { ...ctx, jobPolicy: ctx.config.jobPolicy };
    // redrive and discard change several things: another role is refused before the first.
    if (command !== 'list') {
      await assertOperationsUser(ctx.redis, ctx.keys);
      await ctx.audit.assertWritable();
    }
    const record = (action: 'dlq.redrive' | 'dlq.discard', details: Record<string, unknown>) =>
      ctx.audit.record({ actor, action, campaignId: values.campaign!, details });
    if (command === 'list') {
      const found = await listDeadLetters(deps, values.campaign);
      // With the data key at hand, show whom each letter holds, masked (19121212-****).
      let keyring: ReturnType<typeof loadKeyring> | undefined;
      try {
        keyring = loadKeyring(process.env);
      } catch {
        keyring = undefined;
      }
      const letters = await Promise.all(
        found.map(async (l) => {
          if (!keyring) return l;
          const numbers = await loadChunk(ctx.redis, ctx.keys, keyring, l.campaignId, l.chunkId).catch(
            () => undefined,
          );
          return numbers ? { ...l, recipients: l.slots.map((i) => maskPersonnummer(numbers[i] ?? '')) } : l;
        }),
      );
      if (values.json) {
        process.stdout.write(`${JSON.stringify(letters)}\n`);
      } else if (letters.length === 0) {
        process.stdout.write('the dead-letter queue is empty\n');
      } else {
        for (const l of letters) {
          process.stdout.write(
            `${l.id}  campaign ${l.campaignId}  chunk ${l.chunkId}  ${l.slots.length} recipients  after ${l.attempts} attempts  at ${l.deadLetteredAt}\n    last error: ${l.lastError}\n${'recipients' in l ? `    recipients: ${(l.recipients as string[]).join(' ')}\n` : ''}`,
          );
        }
      }
    } else if (command === 'discard') {
      const r = await discardDeadLetters(deps, values.campaign!);
      await record('dlq.discard', { letters: r.letters, recipients: r.recipients });
      await ctx.confirmWrites(since, 'the discard');
      process.stdout.write(
        values.json
          ? `${JSON.stringify({ campaignId: values.campaign, ...r })}\n`
          : `discarded ${r.letters} dead letters (${r.recipients} recipients keep outcome failed) of campaign ${values.campaign}\n`,
      );
    } else {
      const r = await redriveDeadLetters(deps, values.campaign!);
      await record('dlq.redrive', { jobs: r.jobs, recipients: r.recipients });
      await ctx.confirmWrites(since, 'the redrive');
      process.stdout.write(
        values.json
          ? `${JSON.stringify({ campaignId: values.campaign, ...r })}\n`
          : `redrove ${r.recipients} recipients in ${r.jobs} jobs of campaign ${values.campaign}\n`,
      );
    }
    return exitCodes.ok;
  } finally {
    await ctx.close();
  }
});
