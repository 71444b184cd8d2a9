import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentSha256 } from '../../src/campaign/approval.js';
import { CampaignError, loadApprovedCampaign } from '../../src/campaign/load.js';
import { TemplateError } from '../../src/campaign/template.js';
import { makeCampaign, tempDir } from '../helpers/campaign.js';

async function campaignWithTemplate(template: unknown, fields?: Record<string, unknown>) {
  const dir = tempDir('template');
  await writeFile(join(dir, 'mall.json'), JSON.stringify(template));
  const { message, approval: _a, ...base } = makeCampaign({ id: 'mall-test' });
  const raw = {
    ...base,
    message: { template: 'mall.json', notify: message.notify, ...(fields ? { fields } : {}) },
  };
  const path = join(dir, 'campaign.json');
  await writeFile(path, JSON.stringify(raw));
  return { dir, path, raw };
}

describe('message templates', () => {
  it('fills named fields from message.fields and the campaign, and the approval covers the rendered text', async () => {
    const t = await campaignWithTemplate(
      {
        subject: 'Provsvar från {{unit.name}}',
        body: 'Hej! {{ info }} Med vänlig hälsning {{sender.name}}, {{sender.title}}',
      },
      { info: 'Ditt provsvar finns i 1177.' },
    );
    const rendered = {
      subject: 'Provsvar från Vårdcentralen Test',
      body: 'Hej! Ditt provsvar finns i 1177. Med vänlig hälsning Avsändare Test, Verksamhetschef',
    };
    const approval = {
      approvedBy: 'K',
      approvedAt: '2026-11-01T08:00:00+01:00',
      contentSha256: contentSha256({ message: rendered, sender: t.raw.sender, unit: t.raw.unit }),
    };
    await writeFile(t.path, JSON.stringify({ ...t.raw, approval }));
    const campaign = await loadApprovedCampaign(t.path);
    expect(campaign.message.subject).toBe(rendered.subject);
    expect(campaign.message.body).toBe(rendered.body);
  });

  it('names an unknown field and the template file', async () => {
    const t = await campaignWithTemplate({ subject: 'Hej {{patient.name}}', body: 'x' });
    const err = await loadApprovedCampaign(t.path).catch((e) => e);
    expect(err).toBeInstanceOf(TemplateError);
    expect(err.message).toContain('{{patient.name}}');
    expect(err.message).toContain('mall.json');
  });

  it('refuses a campaign whose rendered text differs from what was approved', async () => {
    const t = await campaignWithTemplate({ subject: 'Provsvar', body: 'Text {{x}}' }, { x: 'ny' });
    const approval = {
      approvedBy: 'K',
      approvedAt: '2026-11-01T08:00:00+01:00',
      contentSha256: contentSha256({
        message: { subject: 'Provsvar', body: 'Text gammal' },
        sender: t.raw.sender,
        unit: t.raw.unit,
      }),
    };
    await writeFile(t.path, JSON.stringify({ ...t.raw, approval }));
    await expect(loadApprovedCampaign(t.path)).rejects.toThrow(CampaignError);
  });
});
