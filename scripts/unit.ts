/**
 *   npm run unit -- activate <HSA-id> --name "<unit name>" [--by NAME]
 *   npm run unit -- deactivate <HSA-id> [--by NAME]
 *   npm run unit -- list [--json]
 *
 * activate and deactivate are recorded in the audit log (campaign '': a unit
 * belongs to no one campaign), by --by or the OS user.
 */
import { hsaIdSchema } from '../src/campaign/schema.js';
import { activateUnit, deactivateUnit, listUnits } from '../src/queue/units.js';
import { actorArg } from './lib/audit.js';
import { exitCodes, parseCliArgs, runCli, UsageError } from './lib/cli.js';
import { openRedis } from './lib/context.js';

const usage =
  'usage: npm run unit -- activate <HSA-id> --name "<name>" [--by NAME] | deactivate <HSA-id> [--by NAME] | list [--json]';

await runCli('unit', async () => {
  const { values, positionals } = parseCliArgs({
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      by: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [command, hsaId] = positionals;
  if (!command || !['activate', 'deactivate', 'list'].includes(command)) throw new UsageError(usage);
  if (command !== 'list') {
    if (!hsaId) throw new UsageError(`${command} needs an HSA-id\n${usage}`);
    const check = hsaIdSchema.safeParse(hsaId);
    if (!check.success) throw new UsageError(`${hsaId}: ${check.error.issues[0]?.message}`);
  }
  if (command === 'activate' && !values.name) throw new UsageError(`activate needs --name\n${usage}`);
  const actor = command === 'list' ? '' : actorArg(values.by);
  const { redis, keys, audit, close, durability, confirmWrites } = await openRedis(process.env);
  const since = durability.epoch();
  try {
    if (command === 'activate') {
      await audit.assertWritable();
      await activateUnit(redis, keys, {
        hsaId: hsaId!,
        name: values.name!,
        activatedAt: new Date().toISOString(),
      });
      await audit.record({ actor, action: 'unit.activate', details: { hsaId, name: values.name } });
      await confirmWrites(since, 'the activation');
      process.stdout.write(`unit ${hsaId} (${values.name}) is active\n`);
    } else if (command === 'deactivate') {
      await audit.assertWritable();
      const removed = await deactivateUnit(redis, keys, hsaId!);
      await audit.record({ actor, action: 'unit.deactivate', details: { hsaId, wasActive: removed } });
      await confirmWrites(since, 'the deactivation');
      process.stdout.write(
        removed ? `unit ${hsaId} is no longer active\n` : `unit ${hsaId} was not active\n`,
      );
    } else {
      const units = await listUnits(redis, keys);
      if (values.json) process.stdout.write(`${JSON.stringify(units)}\n`);
      else if (units.length === 0) process.stdout.write('no active units\n');
      else
        for (const u of units) process.stdout.write(`${u.hsaId}\t${u.name}\tactive since ${u.activatedAt}\n`);
    }
    return exitCodes.ok;
  } finally {
    await close();
  }
});
