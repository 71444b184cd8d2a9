import { describe, expect, it } from 'vitest';
import {
  type Block,
  type MessageDoc,
  messageCardCss,
  parseMessageBody,
  renderHtmlCard,
  renderPlainText,
} from '../../src/campaign/message-body.js';

const paraTexts = (blocks: Block[]) =>
  blocks.map((b) => (b.kind === 'para' ? b.content.map((p) => p.text).join('') : `<${b.kind}>`));

const problemAt = (body: string) => parseMessageBody(body).problems.map((p) => p.line);

describe('message body: paragraphs', () => {
  it('reads a plain multi-paragraph body as paragraphs with exactly its text, and no problems', () => {
    const body = 'Hej!\n\nDu erbjuds vaccination mot RS-virus.\nVaccinationen är kostnadsfri.\n\nVälkommen.';
    const { doc, problems } = parseMessageBody(body);
    expect(problems).toEqual([]);
    expect(doc.blocks.every((b) => b.kind === 'para')).toBe(true);
    expect(paraTexts(doc.blocks)).toEqual([
      'Hej!',
      'Du erbjuds vaccination mot RS-virus. Vaccinationen är kostnadsfri.',
      'Välkommen.',
    ]);
    expect(doc.blocks.map((b) => b.line)).toEqual([1, 3, 6]);
  });

  it('trims lines, joins them with one space and separates blocks at any run of blank lines', () => {
    const { doc } = parseMessageBody('  Ett \n\ttvå  \n \n\t\n\n  tre\n');
    expect(paraTexts(doc.blocks)).toEqual(['Ett två', 'tre']);
  });

  it('normalises CRLF and CR and keeps the line numbers of the body as written', () => {
    const { doc } = parseMessageBody('Ett\r\ntvå\r\n\r\ntre\rfyra\r\rfem');
    expect(paraTexts(doc.blocks)).toEqual(['Ett två', 'tre fyra', 'fem']);
    expect(doc.blocks.map((b) => b.line)).toEqual([1, 4, 7]);
    expect(problemAt('ok\r\n\r\n- fel\r\n')).toEqual([3]);
  });

  it('keeps XML specials, emoji and Swedish letters as text', () => {
    const text = `Å & ä < ö > "citat" 'enkel' 😀 ]]>`;
    const { doc, problems } = parseMessageBody(text);
    expect(problems).toEqual([]);
    expect(paraTexts(doc.blocks)).toEqual([text]);
  });

  it('calls a body without content a problem', () => {
    for (const body of ['', '   ', '\n\n\t\n', '\u0000\u001b']) {
      const { doc, problems } = parseMessageBody(body);
      expect(doc.blocks).toEqual([]);
      expect(problems.some((p) => p.line === 1 && p.message.includes('empty'))).toBe(true);
    }
  });
});

describe('message body: headings', () => {
  it('starts a section at # or ##; content before the first heading stays in the article', () => {
    const { doc, problems } = parseMessageBody('Intro\n\n# Så bokar du\nRing oss.\n\n## Mer\n\nText\n- a: b');
    expect(problems).toEqual([]);
    expect(doc.blocks.map((b) => b.kind)).toEqual(['para', 'section', 'section']);
    const [, first, second] = doc.blocks;
    expect(first).toMatchObject({ kind: 'section', line: 3, title: 'Så bokar du' });
    expect(first?.kind === 'section' && paraTexts(first.blocks)).toEqual(['Ring oss.']);
    expect(second?.kind === 'section' && paraTexts(second.blocks)).toEqual(['Text - a: b']);
  });

  it('ends the current block: lines after a heading form a new block', () => {
    const { doc } = parseMessageBody('före\n## Rubrik\nefter');
    expect(paraTexts(doc.blocks)).toEqual(['före', '<section>']);
    const section = doc.blocks[1];
    expect(section?.kind === 'section' && paraTexts(section.blocks)).toEqual(['efter']);
  });

  it('allows one heading level: ### is a problem but still a section heading', () => {
    const { doc, problems } = parseMessageBody('Text\n\n### Djup');
    expect(problems).toEqual([{ line: 3, message: expect.stringContaining("write '## Title'") }]);
    expect(doc.blocks[1]).toMatchObject({ kind: 'section', title: 'Djup' });
  });

  it('calls a heading without text a problem', () => {
    expect(problemAt('Text\n#')).toEqual([2]);
    expect(problemAt('Text\n\n##   ')).toEqual([3]);
    expect(parseMessageBody('##').doc.blocks).toEqual([{ kind: 'section', line: 1, title: '', blocks: [] }]);
  });

  it('takes any text after the #, line separators included', () => {
    expect(parseMessageBody('# a\u2028b').doc.blocks[0]).toMatchObject({
      kind: 'section',
      title: 'a\u2028b',
    });
  });

  it('needs a space after the #: #hashtag and #1 are paragraph text', () => {
    const { doc, problems } = parseMessageBody('#hashtag\n#1');
    expect(problems).toEqual([]);
    expect(paraTexts(doc.blocks)).toEqual(['#hashtag #1']);
  });

  it('shows a link in a heading as plain text, with a problem', () => {
    const { doc, problems } = parseMessageBody('Intro\n\n## Läs [här](https://1177.se)');
    expect(problems).toEqual([{ line: 3, message: expect.stringContaining('links only in paragraphs') }]);
    expect(doc.blocks[1]).toMatchObject({ title: 'Läs här (https://1177.se)' });
  });
});

describe('message body: term/value lists', () => {
  it('reads a block starting with "- " as a list, splitting each line at the first ": "', () => {
    const { doc, problems } = parseMessageBody(
      '- Telefon: 018-00 00 00\n- Tid:  kl. 10: 30 \n- Plats: Mottagningen',
    );
    expect(problems).toEqual([]);
    expect(doc.blocks).toEqual([
      {
        kind: 'list',
        line: 1,
        entries: [
          { term: 'Telefon', value: '018-00 00 00', line: 1 },
          { term: 'Tid', value: 'kl. 10: 30', line: 2 },
          { term: 'Plats', value: 'Mottagningen', line: 3 },
        ],
      },
    ]);
  });

  it('names each line that is not "- term: value" and keeps its text in an entry without term', () => {
    const body = 'Intro\n\n- Telefon: 018\n- ta med legitimation\nfortsättning\n- Tom: \n- : värde';
    const { doc, problems } = parseMessageBody(body);
    expect(problems.map((p) => p.line)).toEqual([4, 5, 6, 7]);
    expect(problems[0]?.message).toContain("a list line is written '- term: value'");
    expect(problems[0]?.message).toContain('"- ta med legitimation"');
    const list = doc.blocks[1];
    expect(list?.kind === 'list' && list.entries.map((e) => [e.term, e.value])).toEqual([
      ['Telefon', '018'],
      ['', 'ta med legitimation'],
      ['', 'fortsättning'],
      ['', 'Tom:'],
      ['', ': värde'],
    ]);
  });

  it('shows a written link in a list line as "text (url)", with a problem; a bare address stays, without one', () => {
    const { doc, problems } = parseMessageBody('- Webb: [1177](https://www.1177.se)\n- Mer: https://a.se/x');
    expect(problems.map((p) => p.line)).toEqual([1]);
    expect(problems.every((p) => p.message.includes('links only in paragraphs'))).toBe(true);
    const list = doc.blocks[0];
    expect(list?.kind === 'list' && list.entries.map((e) => e.value)).toEqual([
      '1177 (https://www.1177.se)',
      'https://a.se/x',
    ]);
  });
});

describe('message body: links in paragraphs', () => {
  it('turns [text](url) and bare http(s) addresses into links, leaving trailing punctuation outside', () => {
    const { doc, problems } = parseMessageBody(
      'Boka [här](https://e-tjanster.1177.se/boka?a=1&b=2) eller på https://www.1177.se/vaccin.\n(Se HTTP://a.se), http://b.se/x?y=1!',
    );
    expect(problems).toEqual([]);
    expect(doc.blocks[0]).toEqual({
      kind: 'para',
      line: 1,
      content: [
        { kind: 'text', text: 'Boka ' },
        { kind: 'link', url: 'https://e-tjanster.1177.se/boka?a=1&b=2', text: 'här' },
        { kind: 'text', text: ' eller på ' },
        { kind: 'link', url: 'https://www.1177.se/vaccin', text: 'https://www.1177.se/vaccin' },
        { kind: 'text', text: '. (Se ' },
        { kind: 'link', url: 'HTTP://a.se', text: 'HTTP://a.se' },
        { kind: 'text', text: '), ' },
        { kind: 'link', url: 'http://b.se/x?y=1', text: 'http://b.se/x?y=1' },
        { kind: 'text', text: '!' },
      ],
    });
  });

  it('keeps other schemes, spaces, user names and unclosed links as plain text, naming the line', () => {
    const cases: [string, string][] = [
      ['[klicka](javascript:alert(1))', 'only http and https'],
      ['[fil](ftp://a.se/x)', 'only http and https'],
      ['[mejla](mailto:a@example.com)', 'only http and https'],
      ['[x](https://a b.se)', 'cannot contain spaces'],
      ['[1177](https://1177.se@example.com)', 'user name'],
      ['[x](https://a.se', 'is written [text](https://…)'],
      ['se https:// här', 'not a complete web address'],
    ];
    for (const [line, why] of cases) {
      const { doc, problems } = parseMessageBody(`Första raden\nText ${line} slut`);
      expect(problems, line).toEqual([{ line: 2, message: expect.stringContaining(why) }]);
      const para = doc.blocks[0];
      const links = para?.kind === 'para' ? para.content.filter((p) => p.kind === 'link') : [];
      if (!line.startsWith('[x](https://a.se')) expect(links, line).toEqual([]);
      expect(paraTexts(doc.blocks)[0]).toBe(`Första raden Text ${line} slut`);
    }
  });

  it('names the line a link is on, not only where its paragraph starts', () => {
    expect(problemAt('ett\ntvå\n[x](ftp://a)\n\nfem [y](javascript:z)')).toEqual([3, 5]);
  });
});

describe('message body: control characters', () => {
  it('drops them, naming line and column, and turns tabs into spaces', () => {
    const { doc, problems } = parseMessageBody('Hej\n\nett\u001b[31mrött\u0007\n\ta\tb\u0085\uffff\ud800');
    expect(problems).toEqual([
      { line: 3, message: expect.stringContaining('control character U+001B at column 4 (and 1 more') },
      { line: 4, message: expect.stringContaining('control character U+0085 at column 5 (and 2 more') },
    ]);
    expect(paraTexts(doc.blocks)).toEqual(['Hej', 'ett[31mrött a b']);
  });

  it('keeps a surrogate pair (emoji) but drops a lone surrogate', () => {
    const { doc, problems } = parseMessageBody('a😀b\udc00c');
    expect(problems).toEqual([{ line: 1, message: expect.stringContaining('U+DC00 at column 4') }]);
    expect(paraTexts(doc.blocks)).toEqual(['a😀bc']);
  });
});

describe('message body: problem messages', () => {
  it('quote at most 40 characters of the input, with invisible characters escaped', () => {
    const long = `- ${'x'.repeat(30)}\u202e${'y'.repeat(30)}`;
    const [problem] = parseMessageBody(long).problems;
    const quoted = /"([^"]*)"/.exec(problem!.message)?.[1];
    expect(quoted).toBe(`- ${'x'.repeat(30)}\\u202e${'y'.repeat(7)}…`);
  });
});

const sample: MessageDoc = parseMessageBody(
  `Du erbjuds vaccination. Läs på https://www.1177.se.\n\n## Så bokar du\nRing [oss](https://a.se/?a=1&b='2').\n\n- Telefon: 018-00 00 00\n- Plats: <Mottagningen>`,
).doc;

describe('renderPlainText', () => {
  it('shows the inbox title and subject, a rule, the blocks, and the signature last', () => {
    const text = renderPlainText({ subject: 'Vaccination', doc: sample, signature: 'Vårdcentralen Centrum' });
    expect(text).toBe(
      [
        'Meddelande — Vaccination',
        '========================',
        '',
        'Du erbjuds vaccination. Läs på https://www.1177.se.',
        '',
        'Så bokar du',
        '-----------',
        '',
        "Ring oss <https://a.se/?a=1&b='2'>.",
        '',
        'Telefon: 018-00 00 00',
        'Plats: <Mottagningen>',
        '',
        'Vårdcentralen Centrum',
      ].join('\n'),
    );
  });

  it('uses the given inbox title and keeps control characters out of every part', () => {
    const text = renderPlainText({
      subject: 'Rubrik\u001b[2J\r\nmer',
      inboxTitle: 'Kallelse\t',
      doc: { blocks: [{ kind: 'para', line: 1, content: [{ kind: 'text', text: 'a\u0000b\u009bc\nd' }] }] },
      signature: 'Avs\u0007',
    });
    expect(text).toBe(`Kallelse — Rubrik[2J  mer\n${'='.repeat(25)}\n\nabc d\n\nAvs`);
  });
});

describe('renderHtmlCard', () => {
  it('shows the same parts as escaped HTML, links shown (with their address) but not followed, no style', () => {
    const html = renderHtmlCard({
      subject: 'Vaccination <b>',
      inboxTitle: 'Kallelse & info',
      doc: sample,
      signature: `Vårdcentralen "Centrum"`,
    });
    expect(html.startsWith('<article class="message-card">')).toBe(true);
    expect(html).toContain('<p class="message-card__inbox-title">Kallelse &amp; info</p>');
    expect(html).toContain('<h2 class="message-card__subject">Vaccination &lt;b&gt;</h2>');
    expect(html).toContain(
      '<span class="message-card__link">oss</span> <span class="message-card__url">(https://a.se/?a=1&amp;b=&#39;2&#39;)</span>',
    );
    expect(html).not.toMatch(/href|<a /);
    expect(html).toContain('<h3>Så bokar du</h3>');
    expect(html).toContain(
      '<dl><dt>Telefon</dt><dd>018-00 00 00</dd><dt>Plats</dt><dd>&lt;Mottagningen&gt;</dd></dl>',
    );
    expect(html).toContain('<p class="message-card__signature">Vårdcentralen &quot;Centrum&quot;</p>');
    expect(html).not.toMatch(/style|script/i);
  });

  it('links only to http(s) addresses, even in a document built by hand', () => {
    const doc: MessageDoc = {
      blocks: [{ kind: 'para', line: 1, content: [{ kind: 'link', url: 'javascript:alert(1)', text: 'x' }] }],
    };
    const html = renderHtmlCard({ subject: 's', doc, signature: '' });
    expect(html).not.toContain('message-card__link');
    expect(html).not.toContain('message-card__signature');
  });

  it('comes with a stylesheet for its classes', () => {
    expect(messageCardCss).toContain('.message-card');
    expect(messageCardCss).toContain('.message-card__signature');
  });
});
