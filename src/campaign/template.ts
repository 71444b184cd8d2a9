import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';

/**
 * Message templates: a campaign may take its subject and body from a template
 * file, `{"subject": "...", "body": "..."}`, with `{{name}}` fields filled from
 * the campaign's own `message.fields` and its parties (unit.name, sender.title,
 * ...). The text is the same for every recipient: nothing personal is ever
 * filled in, and the approval covers the rendered text.
 */
export class TemplateError extends Error {
  readonly code = 'CAMPAIGN';
}

const templateFileSchema = z.object({ subject: z.string().min(1), body: z.string().min(1) }).strict();

const placeholder = /\{\{\s*([A-Za-z][A-Za-z0-9_.]*)\s*\}\}/g;

/** The campaign values a template may name. */
function campaignFields(raw: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>();
  for (const party of ['unit', 'sender', 'orderer', 'caseHandler'] as const) {
    const v = raw[party];
    if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out.set(`${party}.${k}`, x);
    }
  }
  if (typeof raw.title === 'string') out.set('title', raw.title);
  return out;
}

export function renderTemplate(text: string, fields: Map<string, string>, source: string): string {
  return text.replace(placeholder, (_, name: string) => {
    const value = fields.get(name);
    if (value === undefined) {
      throw new TemplateError(
        `${source}: the template names {{${name}}}, which neither message.fields nor the campaign has`,
      );
    }
    return value;
  });
}

/**
 * Returns the raw campaign with `message.template` (a path relative to the
 * campaign file) rendered into `message.subject` and `message.body`.
 */
export async function resolveTemplate(raw: unknown, campaignPath: string): Promise<unknown> {
  if (!raw || typeof raw !== 'object') return raw;
  const campaign = raw as Record<string, unknown>;
  const message = campaign.message as Record<string, unknown> | undefined;
  if (!message || typeof message !== 'object' || message.template === undefined) return raw;
  const { template, fields: extra, ...rest } = message;
  if (typeof template !== 'string' || template.length === 0) {
    throw new TemplateError(`${campaignPath}: message.template must be the path of a template file`);
  }
  if ('subject' in rest || 'body' in rest) {
    throw new TemplateError(
      `${campaignPath}: message has both a template and its own subject/body; keep one`,
    );
  }
  const path = resolve(dirname(campaignPath), template);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new TemplateError(
      `${campaignPath}: message.template ${template} cannot be read (${(cause as NodeJS.ErrnoException).code})`,
    );
  }
  let parsed: z.infer<typeof templateFileSchema>;
  try {
    parsed = templateFileSchema.parse(JSON.parse(text));
  } catch (cause) {
    throw new TemplateError(
      `${path}: a template is JSON with exactly "subject" and "body" strings (${(cause as Error).message.split('\n')[0]})`,
    );
  }
  const fields = campaignFields(campaign);
  if (extra !== undefined) {
    if (!extra || typeof extra !== 'object' || Array.isArray(extra)) {
      throw new TemplateError(`${campaignPath}: message.fields must be an object of strings`);
    }
    for (const [k, v] of Object.entries(extra)) {
      if (typeof v !== 'string')
        throw new TemplateError(`${campaignPath}: message.fields.${k} must be a string`);
      fields.set(k, v);
    }
  }
  return {
    ...campaign,
    message: {
      ...rest,
      subject: renderTemplate(parsed.subject, fields, path),
      body: renderTemplate(parsed.body, fields, path),
    },
  };
}
