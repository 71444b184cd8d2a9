/**
 * Makes text that came from an input (a line of a recipient file, a file or
 * entry name) safe to show on a terminal: a recipient line such as `ESC[2J`
 * must never reach stdout or stderr as it is.
 *
 * Escaped: C0 controls (line breaks and tabs included: a value is shown on one
 * line), DEL, C1 controls (a UTF-8 terminal may act on U+009B as on ESC [),
 * the bidirectional and line-separator format characters (which reorder or
 * break what follows), a BOM, and a lone surrogate (shown as U+FFFD, as
 * invalid UTF-8 already is when a buffer is decoded).
 */

const DEFAULT_MAX_CHARS = 40;

function needsEscape(c: number): boolean {
  return (
    c < 0x20 ||
    (c >= 0x7f && c <= 0x9f) ||
    c === 0x061c ||
    c === 0x200e ||
    c === 0x200f ||
    (c >= 0x2028 && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069) ||
    c === 0xfeff
  );
}

function escapeOf(c: number): string {
  return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}

/** The printable pieces of a string, one per code point (an escape is one piece). */
function* pieces(value: string): Generator<string> {
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    if (c >= 0xd800 && c <= 0xdfff) yield '\ufffd';
    else yield needsEscape(c) ? escapeOf(c) : ch;
  }
}

/**
 * A value from an input file as one printable line of at most `maxChars`
 * characters (default 40): control characters as `\x1b`-style escapes, a
 * value cut short ending in `…`. An escape is never cut in half.
 */
export function printable(value: string, maxChars = DEFAULT_MAX_CHARS): string {
  const kept: string[] = [];
  let length = 0;
  for (const piece of pieces(value)) {
    // A piece is one code point: a character (length 1, or 2 for a surrogate pair) or an escape.
    const pieceLength = piece.length > 2 ? piece.length : 1;
    if (length + pieceLength > maxChars) {
      while (kept.length > 0 && length + 1 > maxChars) {
        const last = kept.pop()!;
        length -= last.length > 2 ? last.length : 1;
      }
      return `${kept.join('')}…`;
    }
    kept.push(piece);
    length += pieceLength;
  }
  return kept.join('');
}

/** A file, directory or archive entry name, escaped like printable() but never cut. */
export function printableName(name: string): string {
  let out = '';
  for (const piece of pieces(name)) out += piece;
  return out;
}
