import fc from 'fast-check';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import { contracts } from '../../src/delivery/contract.js';
import { checkDocBookSubset } from '../../src/delivery/docbook.js';
import {
  createEnvelopeTemplate,
  type EnvelopeOptions,
  escapeXml,
  messageDocBook,
  SourceSystemRequiredError,
  unescapeXml,
} from '../../src/delivery/soap.js';
import type { MessageSpec } from '../../src/delivery/types.js';
import { validateAddMessage } from '../../src/simulator/validate-request.js';
import { syntheticPnr } from '../helpers/personnummer.js';

// ---------------------------------------------------------------------------
// Fixtures

const signature =
  'Anna Andersson, distriktssköterska, Region Uppsala – Vårdcentralen Norr, telefon 018-611 00 00';
const body = [
  'Hej!',
  'Du är välkommen att vaccinera dig & ta med "vaccinationskortet".',
  '',
  'Läs mer på [1177](https://www.1177.se/vaccination?a=1&b=2).',
  '',
  '## Så bokar du',
  '- Telefon: 018-611 00 00',
  '- Webb: https://1177.se',
  '',
  'Ring <oss> före kl. 10.',
].join('\n');

const spec: MessageSpec = {
  campaignId: 'c-1',
  message: { subject: 'Inbjudan till vaccination', body, inboxTitle: 'Vaccination', signature },
  notify: true,
  unit: {
    hsaId: 'SE2321000016-A1B2',
    name: 'Vårdcentralen Norr',
    telephone: '018-611 00 00',
    address: { street: 'Storgatan 1', postalCode: '751 85', city: 'Uppsala' },
  },
};
const bareSpec: MessageSpec = {
  campaignId: 'c-2',
  message: { subject: 'Hej', body: 'Text.', signature: 'Vårdcentralen Norr' },
  notify: false,
  unit: { hsaId: 'SE2321000016-A1B2', name: 'Vårdcentralen Norr' },
};
const options = {
  contract: 'mvk-inbox-2',
  logicalAddress: 'SE2321000016-7P2M',
  sourceSystem: 'SE5565-0001',
} as const satisfies EnvelopeOptions;

const call = (i: number, messageId = `c-1.0.${i}`) => ({ subjectOfCareId: syntheticPnr(i), messageId });

// ---------------------------------------------------------------------------
// Independent readers: fast-xml-parser for the envelope, saxes for the DocBook.

/** Entity processing on: one decoding of the envelope, as any XML parser does it. */
const flat = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
});
const ordered = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  ignoreDeclaration: true,
});

type Ordered = Record<string, unknown>;
const tagOf = (n: Ordered) => Object.keys(n).find((k) => k !== ':@')!;
function child(nodes: Ordered[], tag: string): Ordered[] {
  const n = nodes.find((x) => tagOf(x) === tag);
  if (!n) throw new Error(`no ${tag} among ${nodes.map(tagOf).join(', ')}`);
  return n[tag] as Ordered[];
}
const elementTags = (nodes: Ordered[]) => nodes.map(tagOf).filter((t) => t !== '#text');

/** The Envelope's element children, and AddMessage and message below it, as qualified names in order. */
function orderOf(xml: string) {
  const root = ordered.parse(xml) as Ordered[];
  const envelopeNode = root.find((n) => tagOf(n) === 'soapenv:Envelope')!;
  const envelope = envelopeNode['soapenv:Envelope'] as Ordered[];
  const add = child(child(envelope, 'soapenv:Body'), 'add:AddMessage');
  const message = child(add, 'add:message');
  return {
    namespaces: envelopeNode[':@'],
    envelope: elementTags(envelope),
    header: envelope.some((n) => tagOf(n) === 'soapenv:Header')
      ? elementTags(child(envelope, 'soapenv:Header'))
      : undefined,
    add: elementTags(add),
    message: elementTags(message),
    caseType: message.some((n) => tagOf(n) === 'core:caseType')
      ? elementTags(child(message, 'core:caseType'))
      : undefined,
    facility: elementTags(child(message, 'core:healthCareFacility')),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: a parsed document of any shape
type Parsed = any;
const addMessageOf = (xml: string): Parsed => flat.parse(xml).Envelope.Body.AddMessage;

interface El {
  name: string;
  attributes: Record<string, string>;
  children: (El | string)[];
}
const isEl = (n: El | string): n is El => typeof n !== 'string';

/** A strict XML 1.0 parse (saxes refuses every character outside the Char production). */
function tree(xml: string): El {
  const top: El = { name: '#document', attributes: {}, children: [] };
  const stack: El[] = [top];
  const parser = new SaxesParser();
  parser.on('error', (err) => {
    throw err;
  });
  parser.on('opentag', (tag) => {
    const el: El = { name: tag.name, attributes: { ...tag.attributes }, children: [] };
    stack[stack.length - 1]!.children.push(el);
    stack.push(el);
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  parser.on('text', (text) => {
    if (stack.length > 1) stack[stack.length - 1]!.children.push(text);
  });
  parser.write(xml).close();
  return top.children.find(isEl)!;
}
const textOf = (n: El | string): string => (isEl(n) ? n.children.map(textOf).join('') : n);
const kids = (el: El, name?: string) => el.children.filter(isEl).filter((c) => !name || c.name === name);

function wellFormed(xml: string): void {
  expect(XMLValidator.validate(xml)).toBe(true);
  expect(() => tree(xml)).not.toThrow();
}

/** The decoded msg: the envelope parsed once, so its entities are resolved once. */
function msgOf(xml: string): string {
  const msg = addMessageOf(xml).message.msg;
  expect(typeof msg).toBe('string');
  return msg as string;
}

/** Independent statement of XML 1.0's Char production, with line ends as a parser hands them on. */
function legalXml(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const ok =
      cp === 0x9 ||
      cp === 0xa ||
      cp === 0xd ||
      (cp >= 0x20 && cp <= 0xd7ff) ||
      (cp >= 0xe000 && cp <= 0xfffd) ||
      cp >= 0x10000;
    if (ok) out += ch;
  }
  return out.replace(/\r\n?/g, '\n');
}

/** Any UTF-16 text, lone surrogates included, with the troublemakers made likely. */
const anyText = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          '&',
          '<',
          '>',
          '"',
          "'",
          ']]>',
          '&amp;',
          '<![CDATA[',
          '\r\n',
          '\r',
          '\u0000',
          '\u000B',
          '\uD800',
          '\uDFFF',
          '\uFFFE',
          '😀',
          '👩‍⚕️',
          'å',
          'Ö',
        ),
      },
    ),
    { maxLength: 30 },
  )
  .map((parts) => parts.join(''));

/** The schema's sequences (copied from the published XSD, not from contract.ts). */
const XSD = {
  addMessage: ['subjectOfCareId', 'message', 'notify', 'sourceSystem'],
  message: [
    'id',
    'caseReadStatus',
    'actionDate',
    'actionTime',
    'caseType',
    'userSelectionStatus',
    'healthCareFacility',
    'booking',
    'businessObjectId',
    'headerText',
    'bodyText',
    'details',
    'msg',
    'urlConfiguration',
  ],
  caseType: ['id', 'caseTypeDescription'],
  facility: [
    'hsaId',
    'healthCareFacilityName',
    'healthCareFacilityAddress',
    'healthCareFacilityPostalCode',
    'healthCareFacilityPostalCity',
    'healthCareFacilityTelephone',
    'childHsaId',
    'isServiceCategory',
  ],
};

/** True when `names` (prefixed) appear in `sequence`'s order, each at most once. */
function followsSequence(names: string[], sequence: string[]): boolean {
  const at = names.map((n) => sequence.indexOf(n.slice(n.indexOf(':') + 1)));
  return at.every((i, k) => i >= 0 && (k === 0 || i > at[k - 1]!));
}

// ---------------------------------------------------------------------------

describe('envelope template', () => {
  it('renders a well-formed envelope that parses back to the campaign and the call', () => {
    const xml = createEnvelopeTemplate(spec, options)(call(7, 'c-1.0.7'));
    wellFormed(xml);
    const doc = flat.parse(xml).Envelope;
    expect(doc.Header.LogicalAddress).toBe('SE2321000016-7P2M');
    const add = doc.Body.AddMessage;
    expect(add.subjectOfCareId).toBe(syntheticPnr(7));
    expect(add.notify).toBe('true');
    expect(add.sourceSystem).toBe('SE5565-0001');
    expect(add.message.businessObjectId).toBe('c-1.0.7');
    expect(add.message.headerText).toBe('Inbjudan till vaccination');
    expect(add.message.caseType).toEqual({ caseTypeDescription: 'Vaccination' });
    expect(add.message.healthCareFacility).toEqual({
      hsaId: 'SE2321000016-A1B2',
      healthCareFacilityName: 'Vårdcentralen Norr',
      healthCareFacilityAddress: 'Storgatan 1',
      healthCareFacilityPostalCode: '751 85',
      healthCareFacilityPostalCity: 'Uppsala',
      healthCareFacilityTelephone: '018-611 00 00',
    });
    expect(Object.keys(add.message)).toEqual([
      'caseType',
      'healthCareFacility',
      'businessObjectId',
      'headerText',
      'msg',
    ]);
  });

  it('never sends bodyText (AddMessage ignores it): the text goes into msg only', () => {
    fc.assert(
      fc.property(anyText, fc.boolean(), (text, withTitle) => {
        const s: MessageSpec = {
          ...spec,
          message: { ...spec.message, body: text, ...(withTitle ? {} : { inboxTitle: undefined }) },
        };
        const xml = createEnvelopeTemplate(s, options)(call(1));
        expect(xml).not.toMatch(/bodyText/i);
        expect(addMessageOf(xml).message.bodyText).toBeUndefined();
      }),
      { numRuns: 100 },
    );
  });

  it('fills in only the recipient and the message identity per call', () => {
    const render = createEnvelopeTemplate(spec, options);
    const a = render(call(1, 'c-1.0.1'));
    const b = render(call(2, 'c-1.0.2'));
    expect(a).not.toBe(b);
    const neutral = (s: string, pnr: string, id: string) => s.split(pnr).join('P').split(id).join('I');
    expect(neutral(a, syntheticPnr(1), 'c-1.0.1')).toBe(neutral(b, syntheticPnr(2), 'c-1.0.2'));
  });

  it('escapeXml leaves clean text alone and escapes the five specials; unescapeXml decodes once', () => {
    expect(escapeXml('plain text åäö')).toBe('plain text åäö');
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
    expect(unescapeXml('&amp;lt;&lt;&#x41;&#66;')).toBe('&lt;<AB');
    fc.assert(fc.property(anyText, (text) => unescapeXml(escapeXml(text)) === legalXml(text)));
  });
});

describe('element order and namespaces', () => {
  it('follows the published AddMessage 2 sequence with every optional part present', () => {
    const order = orderOf(createEnvelopeTemplate(spec, options)(call(3)));
    expect(order.namespaces).toEqual({
      'xmlns:soapenv': 'http://schemas.xmlsoap.org/soap/envelope/',
      'xmlns:reg': 'urn:riv:itintegration:registry:1',
      'xmlns:add': 'urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2',
      'xmlns:core': 'urn:mvk:crm:casemanagement:inbox:2',
    });
    expect(order.envelope).toEqual(['soapenv:Header', 'soapenv:Body']);
    expect(order.header).toEqual(['reg:LogicalAddress']);
    expect(order.add).toEqual(['add:subjectOfCareId', 'add:message', 'add:notify', 'add:sourceSystem']);
    expect(order.message).toEqual([
      'core:caseType',
      'core:healthCareFacility',
      'core:businessObjectId',
      'core:headerText',
      'core:msg',
    ]);
    expect(order.caseType).toEqual(['core:caseTypeDescription']);
    expect(order.facility).toEqual([
      'core:hsaId',
      'core:healthCareFacilityName',
      'core:healthCareFacilityAddress',
      'core:healthCareFacilityPostalCode',
      'core:healthCareFacilityPostalCity',
      'core:healthCareFacilityTelephone',
    ]);
  });

  it('keeps the schema order for every combination of optional parts (property)', () => {
    const optional = fc.record({
      inboxTitle: fc.boolean(),
      telephone: fc.boolean(),
      address: fc.boolean(),
      logicalAddress: fc.boolean(),
      sourceSystem: fc.boolean(),
    });
    fc.assert(
      fc.property(optional, (o) => {
        const { telephone, address, ...unit } = spec.unit;
        const s: MessageSpec = {
          ...spec,
          notify: false,
          message: { ...spec.message, inboxTitle: o.inboxTitle ? 'Vaccination' : undefined },
          unit: { ...unit, ...(o.telephone ? { telephone } : {}), ...(o.address ? { address } : {}) },
        };
        const order = orderOf(
          createEnvelopeTemplate(s, {
            contract: 'mvk-inbox-2',
            ...(o.logicalAddress ? { logicalAddress: 'SE1' } : {}),
            ...(o.sourceSystem ? { sourceSystem: 'SE2' } : {}),
          })(call(4)),
        );
        expect(followsSequence(order.add, XSD.addMessage)).toBe(true);
        expect(followsSequence(order.message, XSD.message)).toBe(true);
        expect(followsSequence(order.facility, XSD.facility)).toBe(true);
        expect(order.add.includes('add:sourceSystem')).toBe(o.sourceSystem);
        expect(order.message.includes('core:caseType')).toBe(o.inboxTitle);
        expect(order.caseType).toEqual(o.inboxTitle ? ['core:caseTypeDescription'] : undefined);
        expect(order.facility).toHaveLength(2 + (o.telephone ? 1 : 0) + (o.address ? 3 : 0));
        expect(order.envelope).toEqual(
          o.logicalAddress ? ['soapenv:Header', 'soapenv:Body'] : ['soapenv:Body'],
        );
      }),
    );
  });

  it('names the SOAPAction and namespaces of both contracts, and the fast validator reads the request back', () => {
    expect(contracts['mvk-inbox-2'].soapAction).toBe(
      'urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2:AddMessage',
    );
    expect(contracts['patientportal-2'].verified).toBe(false);
    expect(contracts['patientportal-2'].serviceContract).toBe(
      'urn:riv-application:infrastructure:eservicesupply:patientportal:AddMessage:2:rivtabp21',
    );
    for (const contract of Object.values(contracts)) {
      const xml = createEnvelopeTemplate(spec, { ...options, contract })(call(4, 'id-1'));
      expect(xml).toContain(`xmlns:add="${contract.namespaces.responder}"`);
      expect(xml).toContain(`xmlns:core="${contract.namespaces.core}"`);
      expect(validateAddMessage(xml, `"${contract.soapAction}"`, contract)).toEqual({
        ok: true,
        request: {
          subjectOfCareId: syntheticPnr(4),
          notify: true,
          sourceSystem: 'SE5565-0001',
          logicalAddress: 'SE2321000016-7P2M',
          businessObjectId: 'id-1',
          headerText: 'Inbjudan till vaccination',
          caseTypeDescription: 'Vaccination',
          msg: messageDocBook(spec),
          facility: {
            hsaId: 'SE2321000016-A1B2',
            name: 'Vårdcentralen Norr',
            address: 'Storgatan 1',
            postalCode: '751 85',
            postalCity: 'Uppsala',
            telephone: '018-611 00 00',
          },
        },
      });
    }
  });
});

describe('msg: the body as a DocBook article', () => {
  it('is entity-encoded into the string (no CDATA) and decodes once to exactly the rendered DocBook', () => {
    const xml = createEnvelopeTemplate(spec, options)(call(5));
    expect(xml).toContain('<core:msg>&lt;?xml version=&quot;1.0&quot;');
    expect(xml).not.toContain('<![CDATA[');
    const msg = msgOf(xml);
    expect(msg).toBe(messageDocBook(spec));
    expect(msg.startsWith('<?xml version="1.0" encoding="UTF-8"?><article>')).toBe(true);
    expect(checkDocBookSubset(msg)).toEqual([]);
  });

  it('carries the paragraphs, the section, the list and the link, and the signature as bibliography', () => {
    const article = tree(msgOf(createEnvelopeTemplate(spec, options)(call(5))));
    expect(article.name).toBe('article');
    expect(kids(article).map((k) => k.name)).toEqual(['para', 'para', 'section', 'bibliography']);
    const [first, second] = kids(article, 'para');
    expect(textOf(first!)).toBe('Hej! Du är välkommen att vaccinera dig & ta med "vaccinationskortet".');
    expect(textOf(second!)).toBe('Läs mer på 1177.');
    expect(kids(second!, 'ulink')).toEqual([
      {
        name: 'ulink',
        attributes: { url: 'https://www.1177.se/vaccination?a=1&b=2', type: '_blank' },
        children: ['1177'],
      },
    ]);
    const section = kids(article, 'section')[0]!;
    expect(kids(section).map((k) => k.name)).toEqual(['title', 'variablelist', 'para']);
    expect(textOf(kids(section, 'title')[0]!)).toBe('Så bokar du');
    const entries = kids(kids(section, 'variablelist')[0]!, 'varlistentry').map((e) =>
      kids(e).map((k) => [k.name, textOf(k)]),
    );
    expect(entries).toEqual([
      [
        ['term', 'Telefon'],
        ['listitem', '018-611 00 00'],
      ],
      [
        ['term', 'Webb'],
        ['listitem', 'https://1177.se'],
      ],
    ]);
    expect(textOf(kids(section, 'para')[0]!)).toBe('Ring <oss> före kl. 10.');
    expect(textOf(kids(article, 'bibliography')[0]!)).toBe(signature);
  });

  it('round-trips plain paragraphs through both entity layers (property)', () => {
    // Words without markup of the authoring format: `#`, `- `, `[`, `:` and `http` cannot start a block or a link.
    const word = fc
      .array(
        fc.constantFrom(
          'a',
          'Z',
          'å',
          'Ä',
          'ö',
          '1',
          '&',
          '<',
          '>',
          '"',
          "'",
          ']]>',
          '&amp;',
          '😀',
          '.',
          ',',
        ),
        {
          minLength: 1,
          maxLength: 6,
        },
      )
      .map((cs) => cs.join(''));
    const paragraph = fc.array(word, { minLength: 1, maxLength: 6 }).map((ws) => ws.join(' '));
    fc.assert(
      fc.property(fc.array(paragraph, { minLength: 1, maxLength: 5 }), (paragraphs) => {
        const s: MessageSpec = {
          ...bareSpec,
          message: { ...bareSpec.message, body: paragraphs.join('\r\n\r\n') },
        };
        const msg = msgOf(createEnvelopeTemplate(s, { contract: 'mvk-inbox-2' })(call(6)));
        expect(checkDocBookSubset(msg)).toEqual([]);
        const article = tree(msg);
        expect(kids(article, 'para').map(textOf)).toEqual(paragraphs);
        expect(textOf(kids(article, 'bibliography')[0]!)).toBe('Vårdcentralen Norr');
      }),
      { numRuns: 200 },
    );
  });
});

describe('optional parts and the TKB rules', () => {
  it('sends the LogicalAddress header only when a logical address is set (blank counts as unset)', () => {
    for (const logicalAddress of [undefined, '', '   ']) {
      const xml = createEnvelopeTemplate(bareSpec, { contract: 'mvk-inbox-2', logicalAddress })(call(1));
      wellFormed(xml);
      expect(xml).not.toContain('Header');
      expect(xml).not.toContain('LogicalAddress');
      expect(xml).not.toContain('urn:riv:itintegration:registry:1');
      expect(orderOf(xml).envelope).toEqual(['soapenv:Body']);
    }
    const xml = createEnvelopeTemplate(bareSpec, { contract: 'mvk-inbox-2', logicalAddress: ' SE1-x ' })(
      call(1),
    );
    expect(orderOf(xml).header).toEqual(['reg:LogicalAddress']);
    expect(flat.parse(xml).Envelope.Header.LogicalAddress).toBe('SE1-x');
  });

  it('refuses a notifying campaign without sourceSystem, naming INBOX_SOURCE_SYSTEM, and nothing else (property)', () => {
    const sourceSystems = fc.constantFrom(undefined, '', '  \t', 'SE5565-0001', ' SE5565-0002 ');
    fc.assert(
      fc.property(fc.boolean(), sourceSystems, (notify, sourceSystem) => {
        const s: MessageSpec = { ...bareSpec, notify };
        const build = () =>
          createEnvelopeTemplate(s, {
            contract: 'mvk-inbox-2',
            ...(sourceSystem === undefined ? {} : { sourceSystem }),
          })(call(2));
        const given = (sourceSystem ?? '').trim();
        if (notify && given === '') {
          expect(build).toThrow(SourceSystemRequiredError);
          let error: unknown;
          try {
            build();
          } catch (err) {
            error = err;
          }
          expect(error).toBeInstanceOf(SourceSystemRequiredError);
          expect((error as SourceSystemRequiredError).code).toBe('SOURCE_SYSTEM_REQUIRED');
          expect((error as Error).message).toContain('INBOX_SOURCE_SYSTEM');
          expect((error as Error).message).toContain('c-2');
          return;
        }
        const add = addMessageOf(build());
        expect(add.notify).toBe(notify ? 'true' : 'false');
        expect(add.sourceSystem).toBe(given === '' ? undefined : given);
      }),
      { numRuns: 50 },
    );
  });

  it('sends the facility as the sender: hsaId and name, and address and telephone when given', () => {
    const full = addMessageOf(createEnvelopeTemplate(spec, options)(call(1))).message.healthCareFacility;
    expect(full).toEqual({
      hsaId: 'SE2321000016-A1B2',
      healthCareFacilityName: 'Vårdcentralen Norr',
      healthCareFacilityAddress: 'Storgatan 1',
      healthCareFacilityPostalCode: '751 85',
      healthCareFacilityPostalCity: 'Uppsala',
      healthCareFacilityTelephone: '018-611 00 00',
    });
    const bare = addMessageOf(createEnvelopeTemplate(bareSpec, options)(call(1))).message.healthCareFacility;
    expect(bare).toEqual({ hsaId: 'SE2321000016-A1B2', healthCareFacilityName: 'Vårdcentralen Norr' });
  });

  it('sends caseType/caseTypeDescription only with an inbox title, and never caseType/id', () => {
    const withTitle = createEnvelopeTemplate(spec, options)(call(1));
    expect(addMessageOf(withTitle).message.caseType).toEqual({ caseTypeDescription: 'Vaccination' });
    const without = createEnvelopeTemplate(bareSpec, options)(call(1));
    expect(without).not.toContain('caseType');
    expect(addMessageOf(without).message.caseType).toBeUndefined();
    for (const xml of [withTitle, without]) expect(xml).not.toMatch(/<core:id>/);
  });
});

describe('hostile text', () => {
  it('cannot break out of its element, and parses back as the XML 1.0-legal characters', () => {
    const hostile = `</core:headerText><script>alert("x")</script> & 'q' \u0001\u0008\u000B\uFFFE\uD800 ok 😀 \r\nslut]]>`;
    const expected = `</core:headerText><script>alert("x")</script> & 'q'  ok 😀 \nslut]]>`;
    const s: MessageSpec = {
      campaignId: 'c-3',
      message: { subject: hostile, body: hostile, inboxTitle: hostile, signature: hostile },
      notify: true,
      unit: {
        hsaId: 'SE<1>',
        name: '"A&B"',
        telephone: '<tel>',
        address: { street: ']]>', postalCode: '&', city: '\uDC00Å' },
      },
    };
    const xml = createEnvelopeTemplate(s, { ...options, sourceSystem: "S'&" })({
      subjectOfCareId: syntheticPnr(1),
      messageId: '<id&"x">',
    });
    wellFormed(xml);
    const add = addMessageOf(xml);
    expect(add.message.headerText).toBe(expected);
    expect(add.message.caseType.caseTypeDescription).toBe(expected);
    expect(add.message.businessObjectId).toBe('<id&"x">');
    expect(add.message.healthCareFacility).toEqual({
      hsaId: 'SE<1>',
      healthCareFacilityName: '"A&B"',
      healthCareFacilityAddress: ']]>',
      healthCareFacilityPostalCode: '&',
      healthCareFacilityPostalCity: 'Å',
      healthCareFacilityTelephone: '<tel>',
    });
    expect(add.sourceSystem).toBe("S'&");
    const msg = msgOf(xml);
    expect(checkDocBookSubset(msg)).toEqual([]);
    const article = tree(msg);
    expect(kids(article, 'para').map(textOf)).toEqual([
      `</core:headerText><script>alert("x")</script> & 'q'  ok 😀 slut]]>`,
    ]);
    expect(textOf(kids(article, 'bibliography')[0]!)).toBe(expected);
  });

  it('round-trips any UTF-16 text in every field as its XML 1.0-legal characters (property)', () => {
    const fields = fc.record({
      subject: anyText,
      body: anyText,
      inboxTitle: anyText,
      signature: anyText,
      hsaId: anyText,
      name: anyText,
      street: anyText,
      postalCode: anyText,
      city: anyText,
      telephone: anyText,
      sourceSystem: anyText,
      logicalAddress: anyText,
      messageId: anyText,
    });
    fc.assert(
      fc.property(fields, (f) => {
        const s: MessageSpec = {
          campaignId: 'c-4',
          message: { subject: f.subject, body: f.body, inboxTitle: f.inboxTitle, signature: f.signature },
          notify: false,
          unit: {
            hsaId: f.hsaId,
            name: f.name,
            telephone: f.telephone,
            address: { street: f.street, postalCode: f.postalCode, city: f.city },
          },
        };
        const xml = createEnvelopeTemplate(s, {
          contract: 'mvk-inbox-2',
          sourceSystem: f.sourceSystem,
          logicalAddress: f.logicalAddress,
        })({ subjectOfCareId: syntheticPnr(2), messageId: f.messageId });
        wellFormed(xml);
        const envelope = flat.parse(xml).Envelope;
        const add = envelope.Body.AddMessage;
        const trimmed = (v: string) => (v.trim() === '' ? undefined : legalXml(v.trim()));
        expect(add.subjectOfCareId).toBe(syntheticPnr(2));
        expect(add.sourceSystem).toBe(trimmed(f.sourceSystem));
        expect(envelope.Header?.LogicalAddress).toBe(trimmed(f.logicalAddress));
        expect(add.message.headerText).toBe(legalXml(f.subject));
        expect(add.message.caseType.caseTypeDescription).toBe(legalXml(f.inboxTitle));
        expect(add.message.businessObjectId).toBe(legalXml(f.messageId));
        expect(add.message.healthCareFacility).toEqual({
          hsaId: legalXml(f.hsaId),
          healthCareFacilityName: legalXml(f.name),
          healthCareFacilityAddress: legalXml(f.street),
          healthCareFacilityPostalCode: legalXml(f.postalCode),
          healthCareFacilityPostalCity: legalXml(f.city),
          healthCareFacilityTelephone: legalXml(f.telephone),
        });
        const msg = msgOf(xml);
        expect(checkDocBookSubset(msg)).toEqual([]);
        const bibliography = kids(tree(msg), 'bibliography').map(textOf);
        const sig = legalXml(f.signature);
        expect(bibliography).toEqual(sig.trim() === '' ? [] : [sig]);
      }),
      { numRuns: 300 },
    );
  });
});

describe('personal data', () => {
  it('puts a personnummer or samordningsnummer in subjectOfCareId and nowhere else (property)', () => {
    const recipient = fc
      .record({ i: fc.nat({ max: 26_879_999 }), coordination: fc.boolean() })
      .map(({ i, coordination }) => syntheticPnr(i, { coordination }));
    const render = createEnvelopeTemplate(spec, options);
    fc.assert(
      fc.property(recipient, fc.nat(999), fc.nat(249), (pnr, chunk, slot) => {
        const xml = render({ subjectOfCareId: pnr, messageId: `c-1.${chunk}.${slot}` });
        const element = `<add:subjectOfCareId>${pnr}</add:subjectOfCareId>`;
        expect(xml.split(element)).toHaveLength(2);
        const rest = xml.replace(element, '');
        for (const form of [pnr, pnr.slice(2), `${pnr.slice(0, 8)}-${pnr.slice(8)}`]) {
          expect(rest).not.toContain(form);
        }
        expect(addMessageOf(xml).subjectOfCareId).toBe(pnr);
      }),
      { numRuns: 200 },
    );
  });
});
