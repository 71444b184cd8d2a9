/**
 * Character rules shared by the message-body parser and its previews: which
 * characters are control characters, how input is quoted in a problem message,
 * and which web addresses a resident may be sent to.
 */

/** How much of the author's input a problem message quotes, at most (in characters). */
export const QUOTE_MAX_CHARS = 40;

/**
 * A control character in the sense of the authoring format: C0 except tab and
 * LF, DEL and C1, a lone surrogate, U+FFFE and U+FFFF. None of them reaches the
 * inbox or a preview.
 */
export function isControlCodePoint(cp: number): boolean {
  if (cp <= 0x1f) return cp !== 0x09 && cp !== 0x0a;
  if (cp >= 0x7f && cp <= 0x9f) return true;
  if (cp >= 0xd800 && cp <= 0xdfff) return true;
  return cp === 0xfffe || cp === 0xffff;
}

/** Format and separator characters that could hide or reorder text on a terminal. */
function isInvisibleCodePoint(cp: number): boolean {
  return (
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x2028 && cp <= 0x202e) ||
    (cp >= 0x2060 && cp <= 0x2069) ||
    cp === 0xfeff
  );
}

/** `U+001B`: the name of a code point in a message. */
export function codePointName(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

function escapeCodePoint(cp: number): string {
  const hex = cp.toString(16);
  return cp <= 0xff ? `\\x${hex.padStart(2, '0')}` : `\\u${hex.padStart(4, '0')}`;
}

/**
 * The author's input as a message may quote it: at most {@link QUOTE_MAX_CHARS}
 * characters (then `…`), control and invisible characters as `\x1b`-style
 * escapes, in double quotes.
 */
export function quote(input: string): string {
  const chars = Array.from(input);
  const shown = chars.slice(0, QUOTE_MAX_CHARS).map((ch) => {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x09 || cp === 0x0a || isControlCodePoint(cp) || isInvisibleCodePoint(cp)) {
      return escapeCodePoint(cp);
    }
    return ch;
  });
  return `"${shown.join('')}${chars.length > QUOTE_MAX_CHARS ? '…' : ''}"`;
}

/**
 * Text that must stay on one line of a preview: tab, LF and CR become spaces,
 * every other control character is dropped.
 */
export function oneLine(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x09 || cp === 0x0a || cp === 0x0d) out += ' ';
    else if (!isControlCodePoint(cp)) out += ch;
  }
  return out;
}

/** Characters a web address in a message never contains (besides control characters). */
const unsafeUrlChar = /[\s<>"\\]/u;

/**
 * Why `url` cannot be a link in a message, or undefined when it can: only
 * absolute http and https addresses with a host, without spaces, control
 * characters or a user name (which makes `https://1177.se@example.com` look
 * like 1177).
 */
export function webUrlProblem(url: string): string | undefined {
  if (!/^https?:\/\//i.test(url)) return 'only http and https links work in the inbox';
  if (unsafeUrlChar.test(url) || Array.from(url).some((ch) => isControlCodePoint(ch.codePointAt(0)!))) {
    return 'a web address cannot contain spaces, control characters or < > " \\';
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'this is not a complete web address';
  }
  if (parsed.hostname === '') return 'this is not a complete web address';
  if (parsed.username !== '' || parsed.password !== '') {
    return 'a web address with a user name (…@) hides where the link goes';
  }
  return undefined;
}

/** True when `url` may be a link in a message (see {@link webUrlProblem}). */
export function isWebUrl(url: string): boolean {
  return webUrlProblem(url) === undefined;
}
