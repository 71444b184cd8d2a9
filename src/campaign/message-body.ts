/**
 * The authoring format of a campaign's message body, and the document it
 * becomes. The inbox shows `message/msg` only when it stays inside a small
 * DocBook subset, so the format offers exactly what that subset can show:
 *
 * - blocks separated by blank lines; a block is a paragraph (its lines joined
 *   with one space), or a term/value list when its first line starts with `- `
 *   (every line `- term: value`);
 * - `# Title` or `## Title` starts a section (one level, no nesting);
 * - in paragraphs only, `[text](https://…)` and bare http(s) addresses are links.
 *
 * Whatever the input, parsing never throws and the document renders inside the
 * subset; everything the inbox would not show as written is a {@link BodyProblem}.
 */
import { type BodyProblem, type Inline, parseInline, plainInline } from './message-inline.js';
import { codePointName, isControlCodePoint, quote } from './message-text.js';

export type { BodyProblem, Inline } from './message-inline.js';
export { messageCardCss, renderHtmlCard, renderPlainText } from './message-preview.js';

/** A paragraph: text and links. */
export interface ParaBlock {
  kind: 'para';
  /** 1-based line of its first line in the body as written. */
  line: number;
  content: Inline[];
}

/** One `- term: value` line. */
export interface ListEntry {
  /** Empty for a line that was not written `- term: value` (a problem). */
  term: string;
  value: string;
  line: number;
}

/** A term/value list (DocBook variablelist). */
export interface ListBlock {
  kind: 'list';
  line: number;
  entries: ListEntry[];
}

/** A heading and what follows it, up to the next heading. Sections do not nest. */
export interface SectionBlock {
  kind: 'section';
  /** The heading's line. */
  line: number;
  /** Empty when the heading has no text (a problem). */
  title: string;
  blocks: (ParaBlock | ListBlock)[];
}

/** A top-level block of the message. */
export type Block = ParaBlock | ListBlock | SectionBlock;

/** The message body as a document: paragraphs and lists, then sections. */
export interface MessageDoc {
  blocks: Block[];
}

/** What {@link parseMessageBody} returns: always a document, and what is wrong with the body. */
export interface ParsedMessageBody {
  doc: MessageDoc;
  /** Ordered by line; empty when the body shows in the inbox as written. */
  problems: BodyProblem[];
}

interface Line {
  no: number;
  text: string;
}

const headingLine = /^(#+)(?:[ \t]+(.*))?$/s;
const listMarker = '- ';

/** The line without control characters (each one a problem naming its column), tabs as spaces. */
function cleanLine(raw: string, no: number, problems: BodyProblem[]): string {
  let out = '';
  const found: { column: number; cp: number }[] = [];
  let column = 0;
  for (const ch of raw) {
    column++;
    const cp = ch.codePointAt(0)!;
    if (cp === 0x09) out += ' ';
    else if (isControlCodePoint(cp)) found.push({ column, cp });
    else out += ch;
  }
  const first = found[0];
  if (first !== undefined) {
    const more = found.length > 1 ? ` (and ${found.length - 1} more on this line)` : '';
    problems.push({
      line: no,
      message: `control character ${codePointName(first.cp)} at column ${first.column}${more}; it is left out`,
    });
  }
  return out;
}

/** The section a heading line starts, or undefined when the line is not a heading. */
function headingOf(line: Line, problems: BodyProblem[]): SectionBlock | undefined {
  const m = headingLine.exec(line.text);
  if (m === null) return undefined;
  if (m[1]!.length > 2) {
    problems.push({
      line: line.no,
      message: `only one heading level: write '## Title' (got ${quote(line.text)})`,
    });
  }
  const title = plainInline((m[2] ?? '').trim(), line.no, problems);
  if (title === '') problems.push({ line: line.no, message: 'a heading needs text after the #' });
  return { kind: 'section', line: line.no, title, blocks: [] };
}

function listEntryOf(line: Line, problems: BodyProblem[]): ListEntry {
  const rest = line.text.startsWith(listMarker) ? line.text.slice(listMarker.length) : line.text;
  const text = plainInline(rest.trim(), line.no, problems);
  const colon = text.indexOf(': ');
  const term = colon < 0 ? '' : text.slice(0, colon).trim();
  const value = colon < 0 ? '' : text.slice(colon + 2).trim();
  if (term !== '' && value !== '' && line.text.startsWith(listMarker)) return { term, value, line: line.no };
  problems.push({
    line: line.no,
    message: `a list line is written '- term: value'; the inbox shows only term/value lists (got ${quote(line.text.trim())})`,
  });
  return { term: '', value: text.trim(), line: line.no };
}

function blockOf(lines: Line[], problems: BodyProblem[]): ParaBlock | ListBlock {
  const first = lines[0]!;
  if (first.text.startsWith(listMarker)) {
    return { kind: 'list', line: first.no, entries: lines.map((l) => listEntryOf(l, problems)) };
  }
  const starts: { offset: number; no: number }[] = [];
  let text = '';
  for (const l of lines) {
    if (starts.length > 0) text += ' ';
    starts.push({ offset: text.length, no: l.no });
    text += l.text.trim();
  }
  const lineAt = (offset: number) => starts.findLast((s) => s.offset <= offset)?.no ?? first.no;
  return { kind: 'para', line: first.no, content: parseInline(text, lineAt, problems) };
}

function buildDoc(lines: Line[], problems: BodyProblem[]): MessageDoc {
  const blocks: Block[] = [];
  let section: SectionBlock | undefined;
  let pending: Line[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    (section ? section.blocks : blocks).push(blockOf(pending, problems));
    pending = [];
  };
  for (const line of lines) {
    if (line.text.trim() === '') {
      flush();
      continue;
    }
    const heading = headingOf(line, problems);
    if (heading === undefined) {
      pending.push(line);
      continue;
    }
    flush();
    section = heading;
    blocks.push(section);
  }
  flush();
  return { blocks };
}

/**
 * Reads a message body written in the authoring format. Never throws; the
 * document always renders inside the inbox's DocBook subset, with control
 * characters left out and anything the format does not allow kept as plain text.
 */
export function parseMessageBody(body: string): ParsedMessageBody {
  const problems: BodyProblem[] = [];
  const text = typeof body === 'string' ? body : '';
  const lines = text
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((raw, i) => ({ no: i + 1, text: cleanLine(raw, i + 1, problems) }));
  const doc = buildDoc(lines, problems);
  if (doc.blocks.length === 0) {
    problems.push({ line: 1, message: 'the message body is empty: write at least one paragraph' });
  }
  problems.sort((a, b) => a.line - b.line);
  return { doc, problems };
}
