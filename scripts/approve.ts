/**
 * The communicator's command: checks a campaign file, prints the message as
 * the resident will see it, and writes the approval block (name, time,
 * SHA-256 of exactly that message: heading, text, inbox title, signature)
 * into it. `--preview` prints the message and writes nothing.
 *
 *   npm run approve -- <campaign.json> --by "<name>" [--platform-ref <ref>]
 *   npm run approve -- <campaign.json> --preview
 */
import { rename, writeFile } from 'node:fs/promises';
import { contentSha256 } from '../src/campaign/approval.js';
import { parseCampaign, readCampaignJson } from '../src/campaign/load.js';
import { previewOf, residentMessage } from '../src/campaign/message.js';
import { renderPlainText } from '../src/campaign/message-body.js';
import { resolveTemplate } from '../src/campaign/template.js';
import { exitCodes, parseCliArgs, runCli, UsageError } from './lib/cli.js';

const usage =
  'usage: npm run approve -- <campaign.json> --by "<name>" [--platform-ref <ref>]  |  npm run approve -- <campaign.json> --preview';

const indent = (text: string) =>
  text
    .split('\n')
    .map((line) => (line ? `  | ${line}` : '  |'))
    .join('\n');

const preview = (campaign: Parameters<typeof residentMessage>[0]) =>
  `The message as the resident will see it in 1177:\n\n${indent(renderPlainText(previewOf(residentMessage(campaign))))}`;

await runCli('approve', async () => {
  const { values, positionals } = parseCliArgs({
    allowPositionals: true,
    options: {
      by: { type: 'string' },
      'platform-ref': { type: 'string' },
      preview: { type: 'boolean', default: false },
    },
  });
  const [path] = positionals;
  if (!path || positionals.length > 1) throw new UsageError(usage);
  if (values.preview) {
    const json = await readCampaignJson(path);
    const { approval: _ignored, ...rest } = (json ?? {}) as Record<string, unknown>;
    const campaign = parseCampaign(await resolveTemplate(rest, path), path);
    process.stdout.write(`${preview(campaign)}\n`);
    return exitCodes.ok;
  }
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
    contentSha256: contentSha256(campaign),
    ...(values['platform-ref'] ? { platformApprovalRef: values['platform-ref'] } : {}),
  };
  parseCampaign(await resolveTemplate({ ...rest, approval }, path), path);
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify({ ...rest, approval }, null, 2)}\n`);
  await rename(tmp, path);
  // The communicator approves what the resident will see, not only the raw text.
  process.stdout.write(`${preview(campaign)}\n\n`);
  process.stdout.write(
    `approved ${campaign.id} by ${approval.approvedBy} at ${approval.approvedAt} (content sha256 ${approval.contentSha256.slice(0, 12)}…)\n`,
  );
  return exitCodes.ok;
});
