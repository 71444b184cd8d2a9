import fc from 'fast-check';
import { XMLParser } from 'fast-xml-parser';
import { SaxesParser } from 'saxes';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Campaign } from '../../src/campaign/schema.js';
import { checkDocBookSubset } from '../../src/delivery/docbook.js';
import { createEnvelopeTemplate, type EnvelopeOptions } from '../../src/delivery/soap.js';
import type { MessageSpec } from '../../src/delivery/types.js';
import { messageSpecOf } from '../../src/dispatch/message-spec.js';
import { luhnOk } from '../../src/recipients/personnummer.js';
import {
  type AddMessageSchema,
  extractAddMessage,
  loadAddMessageSchema,
  type XsdVerdict,
} from '../../src/simulator/xsd.js';
import { syntheticPnr } from '../helpers/personnummer.js';
import { describeXsd } from '../helpers/xsd.js';

/**
 * The contract test the issue asks for: whatever a campaign says, every
 * envelope the client builds validates against the published AddMessage 2
 * XSD, and every msg decodes to a document inside the inbox's DocBook subset.
 */

const RUNS = 300;

// ---------------------------------------------------------------------------
// Text: Swedish letters, XML specials, emoji, CRLF, control characters.

const swedish = fc.constantFrom('å', 'ä', 'ö', 'Å', 'Ä', 'Ö', 'é', 'ü');
const specials = fc.constantFrom(
  '&',
  '<',
  '>',
  '"',
  "'",
  ']]>',
  '<![CDATA[',
  '&amp;',
  '&#0;',
  '<!--',
  '<?x?>',
);
const emoji = fc.constantFrom('😀', '👩‍⚕️', '🇸🇪', '💉', '\u{1F9EA}');
const breaks = fc.constantFrom('\r\n', '\r\n\r\n', '\r', '\n', '\t', '\u2028', '\u0085');
const controls = fc
  .oneof(
    fc.integer({ min: 0, max: 0x1f }),
    fc.integer({ min: 0x7f, max: 0x9f }),
    fc.constantFrom(0xd800, 0xdbff, 0xdc00, 0xdfff, 0xfffe, 0xffff, 0xfeff, 0x200b),
  )
  .map((cp) => String.fromCharCode(cp));
const word = fc.stringMatching(/^[A-Za-z0-9åäöÅÄÖ]{1,8}$/);

const piece = fc.oneof(
  { weight: 6, arbitrary: word },
  { weight: 4, arbitrary: fc.constant(' ') },
  { weight: 2, arbitrary: swedish },
  { weight: 2, arbitrary: specials },
  { weight: 1, arbitrary: emoji },
  { weight: 1, arbitrary: breaks },
  { weight: 1, arbitrary: controls },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
);
const text = (maxLength = 10) => fc.array(piece, { maxLength }).map((p) => p.join(''));
/** Mostly what a campaign file would hold, sometimes anything. */
const someText = fc.oneof(
  { weight: 3, arbitrary: text() },
  { weight: 1, arbitrary: fc.string({ unit: 'binary' }) },
);

// ---------------------------------------------------------------------------
// Bodies in the authoring format (src/campaign/message-body.ts), valid or not.

const urlPath = fc.oneof(fc.stringMatching(/^[A-Za-z0-9._~%/-]{0,12}$/), text(3));
const url = fc
  .tuple(fc.constantFrom('https://www.1177.se/', 'http://region.se/', 'https://a.se/?x=1&y=2#'), urlPath)
  .map(([base, path]) => base + path);
const bodyLine = fc.oneof(
  { weight: 4, arbitrary: text(12) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.constantFrom('#', '##', '###', '#\t'), text(5)).map(([h, t]) => `${h} ${t}`),
  },
  { weight: 2, arbitrary: fc.tuple(text(3), text(4)).map(([t, v]) => `- ${t}: ${v}`) },
  { weight: 1, arbitrary: text(5).map((t) => `- ${t}`) },
  { weight: 2, arbitrary: fc.tuple(text(3), text(3), url).map(([a, t, u]) => `${a}[${t}](${u}) ${a}`) },
  { weight: 1, arbitrary: fc.tuple(text(3), url).map(([a, u]) => `${a} ${u}. ${a}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '[x](javascript:alert(1))',
      '[dangling](',
      '[a](https://x.se/"><b>)',
      'https://user@1177.se.evil.example/',
      '<article><emphasis>x</emphasis></article>',
      '&lt;para&gt;',
    ),
  },
);
const separator = fc.constantFrom('\n', '\n\n', '\r\n', '\r\n\r\n', '\r', '\n \n');
const body = fc
  .array(fc.tuple(bodyLine, separator), { minLength: 1, maxLength: 12 })
  .map((lines) => lines.map(([l, s]) => l + s).join(''));

// ---------------------------------------------------------------------------
// Campaigns, delivery options and recipients.

const hsaId = fc.stringMatching(/^SE\d{10}-[A-Za-z0-9]{1,12}$/);
const telephone = fc.oneof(fc.stringMatching(/^\+?[0-9][0-9 ()-]{4,15}$/), someText);
const address = fc.record({
  street: someText,
  postalCode: fc.oneof(fc.stringMatching(/^[0-9]{3} ?[0-9]{2}$/), someText),
  city: someText,
});

type Definition = Pick<Campaign, 'id' | 'message' | 'sender' | 'unit'>;

const definition: fc.Arbitrary<Definition> = fc.record({
  id: fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?$/),
  message: fc.record(
    {
      subject: someText,
      body,
      inboxTitle: someText,
      caseType: fc.record({ id: someText, description: someText }, { requiredKeys: ['id'] }),
      notify: fc.boolean(),
    },
    { requiredKeys: ['subject', 'body', 'notify'] },
  ),
  sender: fc.record({ name: someText, title: someText, organisation: someText }),
  unit: fc.record(
    { hsaId: fc.oneof(hsaId, someText), name: someText, telephone, address },
    { requiredKeys: ['hsaId', 'name'] },
  ),
});

const blankOr = (arb: fc.Arbitrary<string>) => fc.oneof(arb, fc.constantFrom('', '  '));

/** notify needs a sourceSystem (else the builder refuses: see delivery.soap.test.ts); without it, optional. */
const campaign = definition.chain((d) =>
  fc
    .record(
      {
        sourceSystem: d.message.notify
          ? fc.oneof(
              hsaId,
              someText.map((t) => `SE${t}`),
            )
          : blankOr(hsaId),
        logicalAddress: fc.oneof(blankOr(hsaId), someText),
      },
      { requiredKeys: d.message.notify ? ['sourceSystem'] : [] },
    )
    .map((delivery) => ({ definition: d, delivery })),
);

interface Recipient {
  subjectOfCareId: string;
  coordination: boolean;
  messageId: string;
}

/** Synthetic personnummer and samordningsnummer (day + 60) with a valid Luhn digit; ids `campaign.chunk.slot`. */
const recipients = (campaignId: string) =>
  fc.array(
    fc
      .record({
        i: fc.nat({ max: 26_879_999 }),
        coordination: fc.boolean(),
        chunk: fc.nat(9999),
        slot: fc.nat(249),
      })
      .map(
        ({ i, coordination, chunk, slot }): Recipient => ({
          subjectOfCareId: syntheticPnr(i, { coordination }),
          coordination,
          messageId: `${campaignId}.${chunk}.${slot}`,
        }),
      ),
    { minLength: 1, maxLength: 3 },
  );

const cases = campaign.chain((c) => recipients(c.definition.id).map((rs) => ({ ...c, recipients: rs })));

// ---------------------------------------------------------------------------
// Independent readers.

/** One entity decoding of the envelope, as any XML parser does it. */
const flat = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
});

/** The text of each `bibliography` in a DocBook document (strict XML 1.0 parse). */
function bibliographies(docbook: string): string[] {
  const found: string[] = [];
  let inside = false;
  const parser = new SaxesParser();
  parser.on('error', (err) => {
    throw err;
  });
  parser.on('opentag', (tag) => {
    if (tag.name === 'bibliography') {
      inside = true;
      found.push('');
    }
  });
  parser.on('closetag', (tag) => {
    if (tag.name === 'bibliography') inside = false;
  });
  parser.on('text', (t) => {
    if (inside) found[found.length - 1] += t;
  });
  parser.write(docbook).close();
  return found;
}

/** XML 1.0's Char production, and line ends as a parser hands them on. */
function legalXml(value: string): string {
  let out = '';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (
      cp === 0x9 ||
      cp === 0xa ||
      cp === 0xd ||
      (cp >= 0x20 && cp <= 0xd7ff) ||
      (cp >= 0xe000 && cp <= 0xfffd) ||
      cp >= 0x10000
    )
      out += ch;
  }
  return out.replace(/\r\n?/g, '\n');
}

function build(spec: MessageSpec, delivery: Omit<EnvelopeOptions, 'contract'>) {
  return createEnvelopeTemplate(spec, { contract: 'mvk-inbox-2', ...delivery });
}

const fixedSpec: MessageSpec = {
  campaignId: 'rs-2025',
  message: {
    subject: 'Erbjudande om vaccination',
    body: 'Du erbjuds vaccination mot RS-virus.\n\n## Så bokar du\n- Telefon: 018-611 00 00',
    inboxTitle: 'Vaccination',
    signature: 'Anna Andersson, distriktssköterska – Vårdcentralen Centrum, telefon 018-611 00 00',
  },
  notify: true,
  unit: {
    hsaId: 'SE2321000032-1003',
    name: 'Vårdcentralen Centrum',
    telephone: '018-611 00 00',
    address: { street: 'Storgatan 1', postalCode: '751 85', city: 'Uppsala' },
  },
};
const fixedEnvelope = () =>
  build(fixedSpec, { sourceSystem: 'SE5565594230-B31', logicalAddress: 'SE2321000016-7P2M' })({
    subjectOfCareId: syntheticPnr(42),
    messageId: 'rs-2025.0.42',
  });

// ---------------------------------------------------------------------------

describeXsd('AddMessage envelopes against the published XSD', (dir) => {
  let schema: AddMessageSchema | undefined;
  beforeAll(() => {
    schema = loadAddMessageSchema(dir);
  });
  afterAll(() => {
    schema?.dispose();
  });

  /** The verdict on the AddMessage element of `envelope`; errors are printed by the failing assertion. */
  function xsd(envelope: string): XsdVerdict {
    const add = extractAddMessage(envelope);
    if (add === undefined)
      return { ok: false, errors: ['the envelope is not well-formed, or holds no AddMessage'] };
    return schema!.validate(add);
  }

  it(`every envelope validates and every msg stays inside the DocBook subset (property, ${RUNS} runs)`, () => {
    let envelopes = 0;
    fc.assert(
      fc.property(cases, ({ definition: d, delivery, recipients: rs }) => {
        const spec = messageSpecOf(d);
        const template = build(spec, delivery);
        for (const r of rs) {
          expect(luhnOk(r.subjectOfCareId.slice(2))).toBe(true);
          expect(Number(r.subjectOfCareId.slice(6, 8)) > 60).toBe(r.coordination);

          const envelope = template({ subjectOfCareId: r.subjectOfCareId, messageId: r.messageId });
          envelopes++;
          expect(xsd(envelope)).toEqual({ ok: true });

          const add = flat.parse(envelope).Envelope.Body.AddMessage;
          expect(add.subjectOfCareId).toBe(r.subjectOfCareId);
          expect(envelope.split(r.subjectOfCareId)).toHaveLength(2);
          expect(add.message.businessObjectId).toBe(r.messageId);
          expect(add.message.headerText).toBe(legalXml(spec.message.subject));
          expect(add.message.bodyText).toBeUndefined();

          const msg: unknown = add.message.msg;
          expect(typeof msg).toBe('string');
          expect(checkDocBookSubset(msg as string)).toEqual([]);
          const signature = legalXml(spec.message.signature);
          expect(bibliographies(msg as string)).toEqual(signature.trim() === '' ? [] : [signature]);
        }
      }),
      { numRuns: RUNS },
    );
    expect(envelopes).toBeGreaterThanOrEqual(RUNS);
  }, 120_000);

  it('rejects hand-mutated envelopes (so the property above can fail)', () => {
    const envelope = fixedEnvelope();
    expect(xsd(envelope)).toEqual({ ok: true });
    /** `envelope` with `from` (which must be in it) replaced by `to`. */
    const mutate = (from: string, to: string) => {
      expect(envelope).toContain(from);
      return envelope.replace(from, to);
    };
    const headerText = /<core:headerText>.*?<\/core:headerText>/.exec(envelope)![0];
    const businessObjectId = /<core:businessObjectId>.*?<\/core:businessObjectId>/.exec(envelope)![0];

    const accepted = {
      'caseReadStatus Unread in its place': mutate(
        '<add:message>',
        '<add:message><core:caseReadStatus>Unread</core:caseReadStatus>',
      ),
      'bodyText before msg': mutate('<core:msg>', '<core:bodyText>x</core:bodyText><core:msg>'),
    };
    for (const [what, xml] of Object.entries(accepted)) expect(xsd(xml), what).toEqual({ ok: true });

    const rejected = {
      'bodyText after msg': mutate('</core:msg>', '</core:msg><core:bodyText>x</core:bodyText>'),
      'caseReadStatus Foo': mutate(
        '<add:message>',
        '<add:message><core:caseReadStatus>Foo</core:caseReadStatus>',
      ),
      'headerText before businessObjectId': mutate(
        businessObjectId + headerText,
        headerText + businessObjectId,
      ),
      'caseType/id after caseTypeDescription': mutate(
        '</core:caseTypeDescription>',
        '</core:caseTypeDescription><core:id>x</core:id>',
      ),
      'a hyphen in subjectOfCareId': mutate(
        syntheticPnr(42),
        `${syntheticPnr(42).slice(0, 8)}-${syntheticPnr(42).slice(8)}`,
      ),
      'notify yes': mutate('<add:notify>true</add:notify>', '<add:notify>yes</add:notify>'),
      'sourceSystem before notify': mutate(
        '<add:notify>true</add:notify><add:sourceSystem>SE5565594230-B31</add:sourceSystem>',
        '<add:sourceSystem>SE5565594230-B31</add:sourceSystem><add:notify>true</add:notify>',
      ),
      'msg in the responder namespace': mutate('<core:msg>', '<add:msg>').replace(
        '</core:msg>',
        '</add:msg>',
      ),
    };
    for (const [what, xml] of Object.entries(rejected)) {
      const verdict = xsd(xml);
      expect(verdict.ok, what).toBe(false);
      if (!verdict.ok) {
        expect(verdict.errors.length, what).toBeGreaterThan(0);
        expect(verdict.errors.join(' '), `${what}: errors mask the personnummer`).not.toContain(
          syntheticPnr(42),
        );
      }
    }
  });
});

it('the DocBook check rejects a msg outside the subset (so the property above can fail)', () => {
  const msg = flat.parse(fixedEnvelope()).Envelope.Body.AddMessage.message.msg as string;
  expect(checkDocBookSubset(msg)).toEqual([]);
  expect(checkDocBookSubset(msg.replace('<para>', '<p>').replace('</para>', '</p>'))).not.toEqual([]);
  expect(
    checkDocBookSubset(
      msg
        .replace('<bibliography>', '<para><bibliography>')
        .replace('</bibliography>', '</bibliography></para>'),
    ),
  ).not.toEqual([]);
  expect(bibliographies(msg)).toEqual([fixedSpec.message.signature]);
});
