import { quote, webUrlProblem } from './message-text.js';

/** A run of text inside a paragraph, or a link the resident can follow. */
export type Inline = { kind: 'text'; text: string } | { kind: 'link'; url: string; text: string };

/** Something in a message body the inbox cannot show as written. */
export interface BodyProblem {
  /** 1-based line in the body as written. */
  line: number;
  message: string;
}

/**
 * `[text](url)`. The url may hold spaces, so that such a link is named rather
 * than half-linked, and one level of parentheses (`javascript:alert(1)`).
 */
const markdownLink = /\[([^[\]\n]*)\]\(((?:[^()\n]|\([^()\n]*\))*)\)/g;
/** Between markdown links: the start of one that never closes, or a bare http(s) address. */
const danglingOrBare = /(\[[^[\]\n]*\]\()|(?<![\p{L}\p{N}_])https?:\/\/[^\s<>"]*/giu;
const trailingPunctuation = /[.,;:!?)]+$/u;

interface Found {
  start: number;
  end: number;
  source: string;
  url: string;
  /** The link text as written; the url for a bare address. */
  text: string;
  /** `[text](` with no usable end: never a link. */
  dangling?: boolean;
}

/** Every link written in `text` (and every `[text](` that does not close), in order. */
function findLinks(text: string): Found[] {
  const found: Found[] = [];
  let from = 0;
  const scanBetween = (start: number, end: number) => {
    for (const m of text.slice(start, end).matchAll(danglingOrBare)) {
      const at = start + m.index;
      if (m[1] !== undefined) {
        found.push({ start: at, end: at + m[0].length, source: m[0], url: '', text: m[0], dangling: true });
        continue;
      }
      const url = m[0].replace(trailingPunctuation, '');
      found.push({ start: at, end: at + url.length, source: url, url, text: url });
    }
  };
  for (const m of text.matchAll(markdownLink)) {
    scanBetween(from, m.index);
    const url = m[2]!.trim();
    const label = m[1]!.trim();
    found.push({ start: m.index, end: m.index + m[0].length, source: m[0], url, text: label || url });
    from = m.index + m[0].length;
  }
  scanBetween(from, text.length);
  return found;
}

function pushText(parts: Inline[], text: string): void {
  if (text === '') return;
  const last = parts[parts.length - 1];
  if (last?.kind === 'text') last.text += text;
  else parts.push({ kind: 'text', text });
}

/**
 * Paragraph text as text and link parts. A link whose address is not a
 * usable http(s) address is a problem, named by `lineAt(offset in text)`, and
 * stays plain text as written.
 */
export function parseInline(
  text: string,
  lineAt: (offset: number) => number,
  problems: BodyProblem[],
): Inline[] {
  const parts: Inline[] = [];
  let at = 0;
  for (const link of findLinks(text)) {
    pushText(parts, text.slice(at, link.start));
    const why = link.dangling ? 'a link is written [text](https://…)' : webUrlProblem(link.url);
    if (why === undefined) {
      parts.push({ kind: 'link', url: link.url, text: link.text });
    } else {
      problems.push({ line: lineAt(link.start), message: `${why}: ${quote(link.source)} stays plain text` });
      pushText(parts, link.source);
    }
    at = link.end;
  }
  pushText(parts, text.slice(at));
  return parts;
}

/**
 * Text of a heading or a list line, where the inbox shows no links: each
 * written link `[text](url)` becomes `text (url)`, with one problem for the
 * line. A bare address is plain text the resident can read, so it stays as it
 * is, without a problem (`- Webb: https://1177.se`).
 */
export function plainInline(text: string, line: number, problems: BodyProblem[]): string {
  const links = findLinks(text);
  const first = links.find((l) => l.dangling || l.source !== l.url);
  if (first === undefined) return text;
  problems.push({
    line,
    message: `links only in paragraphs; ${quote(first.source)} shows as plain text here`,
  });
  let out = '';
  let at = 0;
  for (const link of links) {
    out += text.slice(at, link.start);
    if (link.dangling) out += link.source;
    else out += link.text === link.url ? link.url : `${link.text} (${link.url})`;
    at = link.end;
  }
  return out + text.slice(at);
}
