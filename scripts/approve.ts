/**
 * The communicator's command: checks a campaign file and writes the approval
 * block (name, time, SHA-256 of exactly the subject and body) into it.
 *
 *   npm run approve -- <campaign.json> --by "<name>" [--platform-ref <ref>]
 */
import { rename, writeFile } from 'node:fs/promises';
import { contentSha256 } from '../src/campaign/approval.js';
import { parseCampaign, readCampaignJson } from '../src/campaign/load.js';
import { resolveTemplate } from '../src/campaign/template.js';
import { exitCodes, parseCliArgs, runCli, UsageError } from './lib/cli.js';

const usage = 'usage: npm run approve -- <campaign.json> --by "<name>" [--platform-ref <ref>]';

await runCli('approve', async () => {
  const { values, positionals } = parseCliArgs({
    allowPositionals: true,
    options: { by: { type: 'string' }, 'platform-ref': { type: 'string' } },
  });
  const [path] = positionals;
  if (!path || positionals.length > 1) throw new UsageError(usage);
  if (!values.by?.trim())
    throw new UsageError(`--by "<name of the approving communicator>" is required\n${usage}`);
  const json = await readCampaignJson(path);
  // null or an array cannot be destructured into fields; let the schema name the problem.
  if (json === null || typeof json !== 'object' || Array.isArray(json)) parseCampaign(json, path);
  const raw = json as Record<string, unknown>;
  // Validate everything but the approval itself first, so every other mistake is named.
  const { approval: _old, ...rest } = raw;
  const campaign = parseCampaign(await resolveTemplate(rest, path), path);
  const approval = {
    approvedBy: values.by.trim(),
    approvedAt: new Date().toISOString(),
    contentSha256: contentSha256(campaign.message),
    ...(values['platform-ref'] ? { platformApprovalRef: values['platform-ref'] } : {}),
  };
  parseCampaign(await resolveTemplate({ ...rest, approval }, path), path);
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify({ ...rest, approval }, null, 2)}\n`);
  await rename(tmp, path);
  process.stdout.write(
    `approved ${campaign.id} by ${approval.approvedBy} at ${approval.approvedAt} (content sha256 ${approval.contentSha256.slice(0, 12)}…)\n`,
  );
  return exitCodes.ok;
});
