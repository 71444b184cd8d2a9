import { describe, expect, it } from 'vitest';
import { type MessageDoc, parseMessageBody } from '../../src/campaign/message-body.js';
import { checkDocBookSubset, docbookSubset, renderDocBook } from '../../src/delivery/docbook.js';

const decl = '<?xml version="1.0" encoding="UTF-8"?>';

describe('renderDocBook', () => {
  it('renders paragraphs, links, sections and lists inside the subset, signature last', () => {
    const { doc } = parseMessageBody(
      'Hej & välkommen <3\n\nLäs [mer](https://a.se/?x=1&y=2).\n\n## Så bokar du\n- Telefon: 018-00 00 00',
    );
    const xml = renderDocBook(doc, 'Vårdcentralen "Centrum"');
    expect(xml).toBe(
      `${decl}<article>` +
        '<para>Hej &amp; välkommen &lt;3</para>' +
        '<para>Läs <ulink url="https://a.se/?x=1&amp;y=2" type="_blank">mer</ulink>.</para>' +
        '<section><title>Så bokar du</title><variablelist><varlistentry><term>Telefon</term>' +
        '<listitem>018-00 00 00</listitem></varlistentry></variablelist></section>' +
        '<bibliography>Vårdcentralen "Centrum"</bibliography></article>',
    );
    expect(checkDocBookSubset(xml)).toEqual([]);
  });

  it('leaves out the bibliography when the signature is empty, and an empty title', () => {
    const doc: MessageDoc = { blocks: [{ kind: 'section', line: 1, title: ' ', blocks: [] }] };
    expect(renderDocBook(doc, '')).toBe(`${decl}<article><section></section></article>`);
    expect(renderDocBook({ blocks: [] }, '  ')).toBe(`${decl}<article></article>`);
  });

  it('escapes attributes and drops what XML 1.0 cannot carry, even in a document built by hand', () => {
    const doc: MessageDoc = {
      blocks: [
        {
          kind: 'para',
          line: 1,
          content: [
            { kind: 'text', text: 'a\u0000b\ud800c\uffff]]>' },
            { kind: 'link', url: 'https://a.se/"><x y="', text: '<b>' },
          ],
        },
      ],
    };
    const xml = renderDocBook(doc, 'sig\u0001');
    expect(xml).toContain('<para>abc]]&gt;<ulink url="https://a.se/&quot;&gt;&lt;x y=&quot;" type="_blank">');
    expect(xml).toContain('<bibliography>sig</bibliography>');
    expect(checkDocBookSubset(xml)).toEqual([]);
  });
});

describe('checkDocBookSubset', () => {
  it('accepts the contract example', () => {
    const example = `<?xml version="1.0"?>
<article>
  <info><title>Erbjudande om vaccination</title></info>
  <para>Du erbjuds vaccination mot RS-virus.</para>
  <section><title>Så bokar du</title><para>Ring 018-00 00 00.</para></section>
  <bibliography>Vårdcentralen Centrum</bibliography>
</article>`;
    expect(checkDocBookSubset(example)).toEqual([]);
  });

  it('names elements outside the subset or under the wrong parent, and nested sections', () => {
    const v = checkDocBookSubset(
      '<article><section><section/></section><para><emphasis>x</emphasis></para><ulink url="https://a.se"/></article>',
    );
    expect(v).toEqual([
      expect.stringContaining('<section> under <section>'),
      expect.stringContaining('<emphasis> is not in the subset'),
      expect.stringContaining('<ulink> under <article>'),
    ]);
  });

  it('names text where only elements stand, but allows whitespace anywhere', () => {
    expect(checkDocBookSubset('<article>\n  <para>a</para>\t</article>')).toEqual([]);
    expect(checkDocBookSubset('<article>text<variablelist>x</variablelist></article>')).toEqual([
      expect.stringContaining('text in <article>'),
      expect.stringContaining('text in <variablelist>'),
    ]);
  });

  it('names unknown attributes and values, and a ulink without url', () => {
    const v = checkDocBookSubset(
      '<article xmlns="http://docbook.org/ns/docbook"><para><ulink url="https://a.se" type="_top">a</ulink><ulink>b</ulink></para></article>',
    );
    expect(v).toEqual([
      expect.stringContaining('<article> has attribute xmlns'),
      expect.stringContaining('type="_top"'),
      expect.stringContaining('<ulink> without url'),
    ]);
  });

  it('names a wrong root, comments, processing instructions and a DOCTYPE', () => {
    expect(checkDocBookSubset('<para>x</para>')).toEqual([expect.stringContaining('root is <para>')]);
    expect(checkDocBookSubset('<!DOCTYPE article><article><!-- c --><?pi x?></article>')).toEqual([
      expect.stringContaining('DOCTYPE'),
      expect.stringContaining('a comment'),
      expect.stringContaining('processing instruction <?pi?>'),
    ]);
  });

  it('says when the document is not well-formed', () => {
    for (const xml of ['', '<article><para></article>', '<article>&nbsp;</article>', 'text']) {
      expect(checkDocBookSubset(xml).at(-1), xml).toMatch(/^not well-formed: /);
    }
  });

  it('holds the contract table as data', () => {
    expect(docbookSubset.article.parents).toEqual(['#root']);
    expect(docbookSubset.section.parents).toEqual(['article']);
    expect(docbookSubset.ulink.attributes).toEqual({ url: null, type: ['_self', '_blank'] });
    expect(Object.keys(docbookSubset).sort()).toEqual(
      [
        'article',
        'bibliography',
        'info',
        'listitem',
        'para',
        'section',
        'term',
        'title',
        'ulink',
        'variablelist',
        'varlistentry',
      ].sort(),
    );
  });
});
