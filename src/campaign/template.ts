import { constants } from 'node:fs';
import { type FileHandle, open, realpath } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { printableName } from '../recipients/printable.js';

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

/** Largest template file, in bytes: a message is a few KiB. */
const MAX_TEMPLATE_BYTES = 1024 * 1024;

/** Whether `path` is `folder` or lies below it (both absolute and resolved). */
function isInside(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel !== '' && !isAbsolute(rel) && rel.split(sep)[0] !== '..';
}

/**
 * Reads the template named by `message.template`: a relative path that, with
 * `..` resolved and symbolic links followed, stays inside the campaign file's
 * folder, to a regular file of at most 1 MiB. Errors name the path, never the
 * content.
 */
async function readTemplateFile(
  campaignPath: string,
  template: string,
): Promise<{ path: string; text: string }> {
  const where = `${campaignPath}: message.template ${printableName(JSON.stringify(template))}`;
  if (isAbsolute(template) || /^[A-Za-z]:/.test(template) || template.startsWith('\\')) {
    throw new TemplateError(
      `${where} must be a path relative to the campaign file's folder, not an absolute path`,
    );
  }
  const folder = dirname(resolve(campaignPath));
  const path = resolve(folder, template);
  if (!isInside(folder, path)) {
    throw new TemplateError(
      `${where} leads outside the campaign file's folder (..); keep the template beside the campaign file`,
    );
  }
  let real: string;
  try {
    real = await realpath(path);
    if (!isInside(await realpath(folder), real)) {
      throw new TemplateError(`${where} is a symbolic link that leads outside the campaign file's folder`);
    }
  } catch (cause) {
    if (cause instanceof TemplateError) throw cause;
    throw new TemplateError(`${where} cannot be read (${(cause as NodeJS.ErrnoException).code ?? cause})`, {
      cause,
    });
  }
  let handle: FileHandle;
  try {
    // The resolved path, not followed again: a link swapped in after realpath is refused (ELOOP).
    handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (cause) {
    throw new TemplateError(`${where} cannot be read (${(cause as NodeJS.ErrnoException).code ?? cause})`, {
      cause,
    });
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new TemplateError(`${where} is not a regular file`);
    if (stats.size > MAX_TEMPLATE_BYTES) {
      throw new TemplateError(
        `${where} is ${stats.size} bytes, more than a template's limit of ${MAX_TEMPLATE_BYTES}`,
      );
    }
    const buffer = Buffer.alloc(MAX_TEMPLATE_BYTES + 1);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled > MAX_TEMPLATE_BYTES)
        throw new TemplateError(`${where} grew past a template's limit of ${MAX_TEMPLATE_BYTES} bytes`);
    }
    return { path, text: buffer.subarray(0, filled).toString('utf8') };
  } finally {
    await handle.close();
  }
}

/**
 * The template file's {subject, body}, or why it is not that: naming the keys
 * the schema knows, never the file's content (zod's messages quote unknown keys).
 */
function templateOf(value: unknown): z.infer<typeof templateFileSchema> | string {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'it is not a JSON object';
  const result = templateFileSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = new Set<string>();
  for (const issue of result.error.issues) {
    const key = issue.path[0];
    if (issue.code === 'unrecognized_keys') problems.add('it has keys other than "subject" and "body"');
    else if (key === 'subject' || key === 'body') problems.add(`"${key}" must be a non-empty string`);
    else problems.add('it is not {"subject": "...", "body": "..."}');
  }
  return [...problems].join('; ');
}

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
  const file = await readTemplateFile(campaignPath, template);
  const path = printableName(file.path);
  let json: unknown;
  try {
    json = JSON.parse(file.text.replace(/^\uFEFF/, ''));
  } catch {
    // JSON.parse's message quotes the text around the error: never shown.
    throw new TemplateError(
      `${path}: the template is not valid JSON; a template is {"subject": "...", "body": "..."}`,
    );
  }
  const parsed = templateOf(json);
  if (typeof parsed === 'string') {
    throw new TemplateError(
      `${path}: a template is JSON with exactly "subject" and "body" strings (${parsed})`,
    );
  }
  const fields = campaignFields(campaign);
  if (extra !== undefined) {
    if (!extra || typeof extra !== 'object' || Array.isArray(extra)) {
      throw new TemplateError(`${campaignPath}: message.fields must be an object of strings`);
    }
    for (const [k, v] of Object.entries(extra)) {
      if (typeof v !== 'string')
        throw new TemplateError(`${campaignPath}: message.fields.${printableName(k)} must be a string`);
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
