import fc from 'fast-check';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { parseMessageBody, renderHtmlCard, renderPlainText } from '../../src/campaign/message-body.js';
import { checkDocBookSubset, renderDocBook } from '../../src/delivery/docbook.js';

const runs = { numRuns: 400 };

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

/** Pieces of the authoring format and of what breaks XML, HTML and terminals. */
const piece = fc.constantFrom(
  '# ',
  '## ',
  '### ',
  '#',
  '- ',
  ': ',
  '[x](y)',
  '[x](javascript:alert(1))',
  '[a](https://a.se/?q=1&r=<2>)',
  '[',
  '](',
  ')',
  'https://',
  'https://1177.se/a?b=1&c=2.',
  'http://x.se@evil.example/',
  '<script>',
  '</para>',
  ']]>',
  '&amp;',
  '&',
  '<',
  '>',
  '"',
  "'",
  '\n',
  '\r\n',
  '\r',
  '\n\n',
  ' ',
  '\t',
  '\u0000',
  '\u001b[2J',
  '\u007f',
  '\u0085',
  '\u009b',
  '\ud800',
  '\udfff',
  '\ufffe',
  '\uffff',
  '\u202e',
  '😀',
  'åäö ÅÄÖ',
  'ord',
);

const markupish = fc
  .array(fc.oneof(piece, fc.string({ maxLength: 6 })), { maxLength: 40 })
  .map((a) => a.join(''));

const anyBody = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'binary-ascii', maxLength: 200 }),
  fc.string({ unit: codeUnit, maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  markupish,
);

const anySignature = fc.oneof(fc.constant(''), fc.string({ unit: codeUnit, maxLength: 30 }), markupish);

/** A control character other than LF, as the plain text must never hold one. */
const controlOtherThanLf = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\ufffe\uffff]|\p{Cs}/u;

/** The tags the HTML card writes; attribute values are escaped, so never hold < or >. */
const cardTag = /<\/?(?:article|header|p|h2|h3|div|section|dl|dt|dd|span)(?:\s[^<>]*)?>/g;

describe('message body properties', () => {
  it('any body and signature render inside the DocBook subset', () => {
    fc.assert(
      fc.property(anyBody, anySignature, (body, signature) => {
        const { doc } = parseMessageBody(body);
        expect(checkDocBookSubset(renderDocBook(doc, signature))).toEqual([]);
      }),
      runs,
    );
  });

  it('the plain text never holds a control character other than LF', () => {
    fc.assert(
      fc.property(anyBody, anySignature, anySignature, (body, signature, subject) => {
        const { doc } = parseMessageBody(body);
        const text = renderPlainText({ subject, doc, signature, inboxTitle: subject });
        expect(text).not.toMatch(controlOtherThanLf);
      }),
      runs,
    );
  });

  it('the HTML card holds no < or > of the input, and no control character', () => {
    fc.assert(
      fc.property(anyBody, anySignature, anySignature, (body, signature, subject) => {
        const { doc } = parseMessageBody(body);
        const html = renderHtmlCard({ subject, doc, signature, inboxTitle: subject });
        if (`${body}${signature}${subject}`.includes('<script>')) expect(html).not.toContain('<script');
        expect(html.replace(cardTag, '')).not.toMatch(/[<>]/);
        expect(html).not.toMatch(controlOtherThanLf);
      }),
      runs,
    );
  });

  it('problems name a line of the body and quote it printably', () => {
    fc.assert(
      fc.property(anyBody, (body) => {
        const lineCount = body.split(/\r\n?|\n/).length;
        for (const p of parseMessageBody(body).problems) {
          expect(p.line).toBeGreaterThanOrEqual(1);
          expect(p.line).toBeLessThanOrEqual(lineCount);
          expect(p.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\ufffe\uffff]|\p{Cs}/u);
        }
      }),
      runs,
    );
  });
});

/** Words without any markup character. */
const word = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzåäöÅÄÖ0123456789.,!?'.split('')),
  minLength: 1,
  maxLength: 8,
});
const line = fc.array(word, { minLength: 1, maxLength: 6 });
const paragraph = fc.array(line, { minLength: 1, maxLength: 4 });
const separator = fc.constantFrom('\n\n', '\n\n\n', '\n \n', '\r\n\r\n', '\n\t\n\n');

/** The text of every `para` in a DocBook document. */
function docbookParas(xml: string): string[] {
  const paras: string[] = [];
  let current: string | undefined;
  const parser = new SaxesParser();
  parser.on('opentag', (tag) => {
    if (tag.name === 'para') current = '';
  });
  parser.on('text', (t) => {
    if (current !== undefined) current += t;
  });
  parser.on('closetag', (tag) => {
    if (tag.name === 'para' && current !== undefined) paras.push(current);
    current = undefined;
  });
  parser.write(xml).close();
  return paras;
}

describe('plain paragraphs', () => {
  it('carry exactly their words, one space apart, into DocBook paras', () => {
    fc.assert(
      fc.property(fc.array(paragraph, { minLength: 1, maxLength: 5 }), separator, (paras, sep) => {
        const body = paras.map((p) => p.map((l) => ` ${l.join(' ')}  `).join('\n')).join(sep);
        const { doc, problems } = parseMessageBody(body);
        expect(problems).toEqual([]);
        expect(doc.blocks.every((b) => b.kind === 'para')).toBe(true);
        const xml = renderDocBook(doc, 'Vårdcentralen');
        expect(docbookParas(xml)).toEqual(paras.map((p) => p.flat().join(' ')));
      }),
      runs,
    );
  });
});
