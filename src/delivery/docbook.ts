/**
 * The message text as the inbox reads it: `message/msg` holds a document in a
 * small DocBook subset (TKB, "Formatering av meddelande"). Anything outside the
 * subset makes the inbox show "##### Mismatched Element in Source #####"
 * instead of the message, so the subset is kept here as data, the renderer
 * stays inside it, and {@link checkDocBookSubset} says where a document leaves it.
 */
import { SaxesParser, type SaxesTag } from 'saxes';
import type { Block, ListBlock, MessageDoc, ParaBlock } from '../campaign/message-body.js';
import type { Inline } from '../campaign/message-inline.js';

/** The elements the inbox shows. */
export type DocBookElement =
  | 'article'
  | 'info'
  | 'section'
  | 'title'
  | 'para'
  | 'variablelist'
  | 'varlistentry'
  | 'term'
  | 'listitem'
  | 'bibliography'
  | 'ulink';

/** Where an element may stand and what it may hold. */
export interface DocBookElementRule {
  /** The elements it may stand under; `#root` for the document element. */
  parents: readonly (DocBookElement | '#root')[];
  children: readonly DocBookElement[];
  /** Whether it may hold text other than whitespace. */
  text: boolean;
  /** Its allowed attributes: the allowed values, or `null` for any value. */
  attributes: Readonly<Record<string, readonly string[] | null>>;
}

/** The DocBook subset of the inbox contract, as data. */
export const docbookSubset: Readonly<Record<DocBookElement, DocBookElementRule>> = {
  article: {
    parents: ['#root'],
    children: ['info', 'para', 'section', 'bibliography', 'variablelist'],
    text: false,
    attributes: {},
  },
  info: { parents: ['article', 'section'], children: ['title'], text: false, attributes: {} },
  section: {
    parents: ['article'],
    children: ['info', 'title', 'para', 'bibliography', 'variablelist'],
    text: false,
    attributes: {},
  },
  title: { parents: ['info', 'section', 'variablelist'], children: [], text: true, attributes: {} },
  para: { parents: ['article', 'section'], children: ['ulink'], text: true, attributes: {} },
  variablelist: {
    parents: ['article', 'section'],
    children: ['title', 'varlistentry'],
    text: false,
    attributes: {},
  },
  varlistentry: { parents: ['variablelist'], children: ['term', 'listitem'], text: false, attributes: {} },
  term: { parents: ['varlistentry'], children: [], text: true, attributes: {} },
  listitem: { parents: ['varlistentry'], children: [], text: true, attributes: {} },
  bibliography: { parents: ['article', 'section'], children: [], text: true, attributes: {} },
  ulink: {
    parents: ['para'],
    children: [],
    text: true,
    attributes: { url: null, type: ['_self', '_blank'] },
  },
};

/** Every character XML 1.0 cannot carry (C0 but tab, LF and CR; surrogates; U+FFFE, U+FFFF). */
const notXmlChar = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Text content: escaped, without the characters XML cannot carry. */
function xmlText(text: string): string {
  return text.replace(notXmlChar, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A double-quoted attribute value. */
function xmlAttr(text: string): string {
  return xmlText(text).replace(/"/g, '&quot;');
}

function inline(parts: Inline[]): string {
  return parts
    .map((p) =>
      p.kind === 'link'
        ? `<ulink url="${xmlAttr(p.url)}" type="_blank">${xmlText(p.text)}</ulink>`
        : xmlText(p.text),
    )
    .join('');
}

function block(b: ParaBlock | ListBlock): string {
  if (b.kind === 'para') return `<para>${inline(b.content)}</para>`;
  const entries = b.entries.map(
    (e) =>
      `<varlistentry><term>${xmlText(e.term)}</term><listitem>${xmlText(e.value)}</listitem></varlistentry>`,
  );
  return `<variablelist>${entries.join('')}</variablelist>`;
}

function topBlock(b: Block): string {
  if (b.kind !== 'section') return block(b);
  const title = b.title.trim() === '' ? '' : `<title>${xmlText(b.title)}</title>`;
  return `<section>${title}${b.blocks.map(block).join('')}</section>`;
}

/**
 * The `msg` document for a message: `<?xml …?><article>…</article>`, the
 * signature last as `bibliography` (left out when empty). All text is escaped
 * and characters XML 1.0 cannot carry are dropped, so the result is always
 * well-formed and inside {@link docbookSubset}. The SOAP builder entity-encodes it.
 */
export function renderDocBook(doc: MessageDoc, signature: string): string {
  const sig = xmlText(signature);
  const bibliography = sig.trim() === '' ? '' : `<bibliography>${sig}</bibliography>`;
  return `<?xml version="1.0" encoding="UTF-8"?><article>${doc.blocks.map(topBlock).join('')}${bibliography}</article>`;
}

const isSubsetElement = (name: string): name is DocBookElement => Object.hasOwn(docbookSubset, name);

function attributeValue(value: unknown): string {
  return typeof value === 'string' ? value : String((value as { value?: unknown })?.value ?? '');
}

/** What is wrong with one opening tag, given the element it stands under. */
function tagViolations(tag: SaxesTag, parent: string): string[] {
  const out: string[] = [];
  const name = tag.name;
  if (!isSubsetElement(name)) return [`<${name}> is not in the subset`];
  const rule = docbookSubset[name];
  const parentRule = isSubsetElement(parent) ? docbookSubset[parent] : undefined;
  const fits = parent === '#root' ? rule.parents.includes('#root') : parentRule?.children.includes(name);
  if (!fits)
    out.push(parent === '#root' ? `the root is <${name}>, not <article>` : `<${name}> under <${parent}>`);
  for (const [attr, raw] of Object.entries(tag.attributes)) {
    const allowed = rule.attributes[attr];
    const value = attributeValue(raw);
    if (allowed === undefined) out.push(`<${name}> has attribute ${attr}`);
    else if (allowed !== null && !allowed.includes(value))
      out.push(`<${name} ${attr}="${value}"> is not allowed`);
  }
  if (name === 'ulink' && tag.attributes.url === undefined) out.push('<ulink> without url');
  return out;
}

/**
 * Where `xml` leaves the inbox's DocBook subset: elements outside it or under
 * the wrong parent, text where only elements may stand, unknown attributes or
 * values, comments, processing instructions, a DOCTYPE, a root other than
 * `article`, or not being well-formed (then the list ends there). Each entry
 * starts with `line:column`. An empty list means the inbox shows the message.
 */
export function checkDocBookSubset(xml: string): string[] {
  const violations: string[] = [];
  const parser = new SaxesParser({ position: true });
  const stack: string[] = ['#root'];
  const at = () => `${parser.line}:${parser.column}`;
  const report = (what: string) => violations.push(`${at()} ${what}`);
  parser.on('opentag', (tag) => {
    for (const v of tagViolations(tag, stack[stack.length - 1]!)) report(v);
    stack.push(tag.name);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  const onText = (text: string) => {
    const here = stack[stack.length - 1]!;
    // Text outside the root is saxes' to refuse; an unknown element is named already.
    if (!isSubsetElement(here) || /^[ \t\r\n]*$/.test(text)) return;
    if (!docbookSubset[here].text) report(`text in <${here}>`);
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('comment', () => report('a comment'));
  parser.on('processinginstruction', (pi) => report(`a processing instruction <?${pi.target}?>`));
  parser.on('doctype', () => report('a DOCTYPE'));
  try {
    parser.write(xml).close();
  } catch (cause) {
    violations.push(`not well-formed: ${(cause as Error).message}`);
  }
  return violations;
}
