import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { contentSha256 } from '../../src/campaign/approval.js';
import { CampaignError, loadApprovedCampaign } from '../../src/campaign/load.js';
import { resolveTemplate, TemplateError } from '../../src/campaign/template.js';
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

describe('message templates: only inside the campaign file folder', () => {
  /** A campaign in its own folder naming `template`; returns the error loading it gives. */
  async function loadError(template: string, setup?: (dir: string) => Promise<void>): Promise<Error> {
    const t = await campaignWithTemplate({ subject: 'Provsvar', body: 'Text' });
    await setup?.(t.dir);
    await writeFile(t.path, JSON.stringify({ ...t.raw, message: { ...t.raw.message, template } }));
    const err = await loadApprovedCampaign(t.path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TemplateError);
    return err as Error;
  }

  const secret = 'HEMLIG-INNEHALL-0417';
  let outside: string;
  beforeAll(async () => {
    outside = join(tempDir('template-outside'), 'mall.json');
    await writeFile(outside, JSON.stringify({ subject: secret, body: secret }));
  });

  it('refuses an absolute path', async () => {
    const e = await loadError(outside);
    expect(e.message).toContain('not an absolute path');
    expect(e.message).not.toContain(secret);
  });

  it('refuses a path that leads out with .., and allows one that stays inside', async () => {
    const e = await loadError(`../${basename(dirname(outside))}/mall.json`);
    expect(e.message).toContain("leads outside the campaign file's folder");
    const inside = await campaignWithTemplate({ subject: 'Hej', body: 'Text' });
    await mkdir(join(inside.dir, 'mallar'));
    await writeFile(join(inside.dir, 'mallar', 'm.json'), JSON.stringify({ subject: 'Hej', body: 'Text' }));
    const raw = { ...inside.raw, message: { ...inside.raw.message, template: 'mallar/../mallar/m.json' } };
    expect(await resolveTemplate(raw, inside.path)).toMatchObject({
      message: { subject: 'Hej', body: 'Text' },
    });
  });

  it('refuses a symbolic link that leads outside the folder, and follows one that stays inside', async () => {
    const e = await loadError('link.json', (dir) => symlink(outside, join(dir, 'link.json')));
    expect(e.message).toContain("is a symbolic link that leads outside the campaign file's folder");
    expect(e.message).not.toContain(secret);
    const inside = await campaignWithTemplate({ subject: 'Hej', body: 'Text' });
    await symlink(join(inside.dir, 'mall.json'), join(inside.dir, 'alias.json'));
    const raw = { ...inside.raw, message: { ...inside.raw.message, template: 'alias.json' } };
    expect(await resolveTemplate(raw, inside.path)).toMatchObject({ message: { subject: 'Hej' } });
  });

  it('refuses a FIFO or a directory without blocking', async () => {
    const fifo = await loadError('fifo.json', async (dir) => {
      execFileSync('mkfifo', [join(dir, 'fifo.json')]);
    });
    expect(fifo.message).toContain('is not a regular file');
    const folder = await loadError('sub', (dir) => mkdir(join(dir, 'sub')));
    expect(folder.message).toContain('is not a regular file');
  });

  it('never quotes the template file in an error: not JSON, or the wrong keys', async () => {
    const broken = await loadError('bad.json', (dir) =>
      writeFile(join(dir, 'bad.json'), `{"subject": "${secret}", "body": ${secret}}`),
    );
    expect(broken.message).toContain('the template is not valid JSON');
    expect(broken.message).not.toContain(secret);
    expect(broken.message).not.toContain('HEMLIG');
    const keys = await loadError('keys.json', (dir) =>
      writeFile(join(dir, 'keys.json'), JSON.stringify({ subject: 'x', body: 'y', [secret]: secret })),
    );
    expect(keys.message).toContain('it has keys other than "subject" and "body"');
    expect(keys.message).not.toContain(secret);
    const types = await loadError('types.json', (dir) =>
      writeFile(join(dir, 'types.json'), JSON.stringify({ subject: 17, body: '' })),
    );
    expect(types.message).toContain(
      '"subject" must be a non-empty string; "body" must be a non-empty string',
    );
  });
});
