/**
 * What a resident will see, for people who approve and follow up a campaign:
 * a plain-text preview for the terminal and an HTML card for the report.
 * Both show the same parts as the inbox: the inbox-list title, the heading
 * (subject), the body and the signature.
 */
import type { Block, ListBlock, MessageDoc, ParaBlock } from './message-body.js';
import type { Inline } from './message-inline.js';
import { isWebUrl, oneLine } from './message-text.js';

/** The inbox-list title when a campaign sets none (the platform's own default). */
export const DEFAULT_INBOX_TITLE = 'Meddelande';

/** What the previews show. */
export interface MessagePreviewInput {
  /** The heading of the message's detail view (`headerText`). */
  subject: string;
  doc: MessageDoc;
  /** The signature line (DocBook `bibliography`); nothing is shown when empty. */
  signature: string;
  /** The title in the inbox list (`caseTypeDescription`); default {@link DEFAULT_INBOX_TITLE}. */
  inboxTitle?: string;
}

const RULE_MAX_CHARS = 72;

function rule(text: string, ch: string): string {
  return ch.repeat(Math.min(RULE_MAX_CHARS, Math.max(3, Array.from(text).length)));
}

function plainInline(parts: Inline[]): string {
  return parts
    .map((p) => {
      const text = oneLine(p.text);
      if (p.kind === 'text') return text;
      const url = oneLine(p.url);
      return text === url || text.trim() === '' ? url : `${text} <${url}>`;
    })
    .join('');
}

function plainBlock(block: ParaBlock | ListBlock): string {
  if (block.kind === 'para') return plainInline(block.content);
  return block.entries
    .map((e) => {
      const term = oneLine(e.term).trim();
      const value = oneLine(e.value);
      return term === '' ? value : `${term}: ${value}`;
    })
    .join('\n');
}

function plainTopBlock(block: Block): string {
  if (block.kind !== 'section') return plainBlock(block);
  const title = oneLine(block.title).trim();
  const head = title === '' ? [] : [`${title}\n${rule(title, '-')}`];
  return [...head, ...block.blocks.map(plainBlock)].join('\n\n');
}

/**
 * The message as plain text for a terminal: the inbox title and the subject on
 * the first line, a rule, the blocks separated by blank lines (section titles
 * underlined, list entries as `term: value` lines, links as `text <url>`) and
 * the signature last. Contains no control character but LF, and no ANSI codes;
 * it does not end with a newline.
 */
export function renderPlainText(input: MessagePreviewInput): string {
  const inboxTitle = oneLine(input.inboxTitle ?? DEFAULT_INBOX_TITLE).trim() || DEFAULT_INBOX_TITLE;
  const subject = oneLine(input.subject).trim();
  const head = subject === '' ? inboxTitle : `${inboxTitle} — ${subject}`;
  const signature = oneLine(input.signature).trim();
  const parts = [`${head}\n${rule(head, '=')}`, ...input.doc.blocks.map(plainTopBlock)];
  if (signature !== '') parts.push(signature);
  return parts.filter((p) => p !== '').join('\n\n');
}

const htmlEscapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text for HTML content or a quoted attribute: escaped, on one line, without control characters. */
function html(text: string): string {
  return oneLine(text).replace(/[&<>"']/g, (ch) => htmlEscapes[ch]!);
}

function htmlInline(parts: Inline[]): string {
  return parts
    .map((p) => {
      if (p.kind === 'text' || !isWebUrl(p.url)) return html(p.text);
      // Shown, not followed: the report references nothing outside itself.
      const text = p.text.trim() === '' ? p.url : p.text;
      const url = text === p.url ? '' : ` <span class="message-card__url">(${html(p.url)})</span>`;
      return `<span class="message-card__link">${html(text)}</span>${url}`;
    })
    .join('');
}

function htmlBlock(block: ParaBlock | ListBlock): string {
  if (block.kind === 'para') return `<p>${htmlInline(block.content)}</p>`;
  const entries = block.entries.map((e) => `<dt>${html(e.term)}</dt><dd>${html(e.value)}</dd>`);
  return `<dl>${entries.join('')}</dl>`;
}

function htmlTopBlock(block: Block): string {
  if (block.kind !== 'section') return htmlBlock(block);
  const title = block.title.trim() === '' ? '' : `<h3>${html(block.title)}</h3>`;
  return `<section>${title}${block.blocks.map(htmlBlock).join('\n')}</section>`;
}

/**
 * The message as a self-contained HTML fragment, `<article class="message-card">`:
 * every text escaped, links only to http(s) addresses (opening in a new tab,
 * without referrer), and no inline style or script, so it suits a report
 * under a strict Content-Security-Policy. Style it with {@link messageCardCss}.
 */
export function renderHtmlCard(input: MessagePreviewInput): string {
  const inboxTitle = oneLine(input.inboxTitle ?? DEFAULT_INBOX_TITLE).trim() || DEFAULT_INBOX_TITLE;
  const signature = oneLine(input.signature).trim();
  return [
    '<article class="message-card">',
    '<header class="message-card__header">',
    `<p class="message-card__inbox-title">${html(inboxTitle)}</p>`,
    `<h2 class="message-card__subject">${html(input.subject)}</h2>`,
    '</header>',
    '<div class="message-card__body">',
    ...input.doc.blocks.map(htmlTopBlock),
    '</div>',
    signature === '' ? '' : `<p class="message-card__signature">${html(signature)}</p>`,
    '</article>',
  ]
    .filter((line) => line !== '')
    .join('\n');
}

/** The stylesheet rules for {@link renderHtmlCard}'s markup, for the report's own stylesheet. */
export const messageCardCss = `.message-card {
  max-width: 40rem;
  padding: 1rem 1.25rem;
  border: 1px solid #c9c9c9;
  border-radius: 0.5rem;
  background: #fff;
  color: #1b1b1b;
  font: 1rem/1.5 system-ui, sans-serif;
  overflow-wrap: anywhere;
}
.message-card__header { margin-bottom: 1rem; }
.message-card__inbox-title { margin: 0; color: #555; font-size: 0.875rem; }
.message-card__subject { margin: 0.25rem 0 0; font-size: 1.25rem; }
.message-card p { margin: 0 0 0.75rem; }
.message-card h3 { margin: 1.25rem 0 0.5rem; font-size: 1.05rem; }
.message-card dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; margin: 0 0 0.75rem; }
.message-card dt { font-weight: 600; }
.message-card dd { margin: 0; }
.message-card__link { color: #1c5ba3; text-decoration: underline; }
.message-card__url { color: #55606e; font-size: .9em; overflow-wrap: anywhere; }
.message-card__signature { margin-top: 1.25rem; padding-top: 0.75rem; border-top: 1px solid #e3e3e3; }
`;
