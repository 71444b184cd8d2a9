import fc from 'fast-check';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { contracts } from '../../src/delivery/contract.js';
import { createEnvelopeTemplate, escapeXml } from '../../src/delivery/soap.js';
import type { MessageSpec } from '../../src/delivery/types.js';
import { validateAddMessage } from '../../src/simulator/validate-request.js';
import { syntheticPnr } from '../helpers/personnummer.js';

const spec: MessageSpec = {
  campaignId: 'c-1',
  subject: 'Inbjudan till vaccination',
  body: 'Hej!\nDu är välkommen.',
  notify: true,
  caseType: { id: 'vacc', description: 'Vaccination' },
  unit: { hsaId: 'SE2321000016-A1B2', name: 'Vårdcentralen Norr' },
};
const options = {
  contract: 'mvk-inbox-2',
  logicalAddress: 'SE2321000016-7P2M',
  sourceSystem: 'SE5565-0001',
} as const;

const flat = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  htmlEntities: true,
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
  if (!n) throw new Error(`no ${tag}`);
  return n[tag] as Ordered[];
}

/** Independent statement of XML 1.0's Char production. */
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

describe('envelope template', () => {
  it('renders a well-formed envelope that parses back to the campaign and the call', () => {
    const xml = createEnvelopeTemplate(
      spec,
      options,
    )({ subjectOfCareId: syntheticPnr(7), messageId: 'c-1:0007' });
    expect(XMLValidator.validate(xml)).toBe(true);
    const doc = flat.parse(xml).Envelope;
    expect(doc.Header.LogicalAddress).toBe('SE2321000016-7P2M');
    const add = doc.Body.AddMessage;
    expect(add.subjectOfCareId).toBe(syntheticPnr(7));
    expect(add.notify).toBe('true');
    expect(add.sourceSystem).toBe('SE5565-0001');
    expect(add.message.businessObjectId).toBe('c-1:0007');
    expect(add.message.headerText).toBe(spec.subject);
    expect(add.message.bodyText).toBe(spec.body);
    expect(add.message.healthCareFacility).toEqual({
      hsaId: 'SE2321000016-A1B2',
      healthCareFacilityName: 'Vårdcentralen Norr',
    });
    expect(add.message.caseType).toEqual({ id: 'vacc', caseTypeDescription: 'Vaccination' });
  });

  it('escapes hostile text so that it parses back as text', () => {
    const hostile = `</core:bodyText><script>alert("x")</script> & 'q' \u0001\u0008\u000B\uFFFE\uD800 ok 😀 \r\nslut]]>`;
    const xml = createEnvelopeTemplate(
      { ...spec, subject: hostile, body: hostile, unit: { hsaId: 'SE<1>', name: '"A&B"' } },
      { ...options, sourceSystem: "S'&" },
    )({ subjectOfCareId: syntheticPnr(1), messageId: '<id&"x">' });
    expect(XMLValidator.validate(xml)).toBe(true);
    const add = flat.parse(xml).Envelope.Body.AddMessage;
    const expected = `</core:bodyText><script>alert("x")</script> & 'q'  ok 😀 \nslut]]>`;
    expect(add.message.headerText).toBe(expected);
    expect(add.message.bodyText).toBe(expected);
    expect(add.message.businessObjectId).toBe('<id&"x">');
    expect(add.message.healthCareFacility.hsaId).toBe('SE<1>');
    expect(add.message.healthCareFacility.healthCareFacilityName).toBe('"A&B"');
    expect(add.sourceSystem).toBe("S'&");
  });

  it('round-trips any text (property)', () => {
    const anyText = fc
      .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 })
      .map((codes) => String.fromCharCode(...codes));
    fc.assert(
      fc.property(anyText, fc.string({ unit: 'binary', maxLength: 20 }), (subject, body) => {
        const xml = createEnvelopeTemplate(
          { ...spec, subject, body },
          options,
        )({
          subjectOfCareId: syntheticPnr(2),
          messageId: 'm',
        });
        expect(XMLValidator.validate(xml)).toBe(true);
        const message = flat.parse(xml).Envelope.Body.AddMessage.message;
        expect(message.headerText).toBe(legalXml(subject));
        expect(message.bodyText).toBe(legalXml(body));
      }),
      { numRuns: 300 },
    );
  });

  it('fills in only the recipient and the message identity per call', () => {
    const render = createEnvelopeTemplate(spec, options);
    const a = render({ subjectOfCareId: syntheticPnr(1), messageId: 'c-1:1' });
    const b = render({ subjectOfCareId: syntheticPnr(2), messageId: 'c-1:2' });
    expect(a).not.toBe(b);
    const neutral = (s: string, pnr: string, id: string) => s.split(pnr).join('P').split(id).join('I');
    expect(neutral(a, syntheticPnr(1), 'c-1:1')).toBe(neutral(b, syntheticPnr(2), 'c-1:2'));
  });

  it('escapeXml leaves clean text alone and escapes the five specials', () => {
    expect(escapeXml('plain text åäö')).toBe('plain text åäö');
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });
});

describe('element order and namespaces', () => {
  it('follows the published AddMessage 2 sequence (inbox domain)', () => {
    const xml = createEnvelopeTemplate(spec, options)({ subjectOfCareId: syntheticPnr(3), messageId: 'x' });
    const root = ordered.parse(xml) as Ordered[];
    const envelope = root.find((n) => tagOf(n) === 'soapenv:Envelope')!;
    expect(envelope[':@']).toEqual({
      'xmlns:soapenv': 'http://schemas.xmlsoap.org/soap/envelope/',
      'xmlns:reg': 'urn:riv:itintegration:registry:1',
      'xmlns:add': 'urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2',
      'xmlns:core': 'urn:mvk:crm:casemanagement:inbox:2',
    });
    const children = envelope['soapenv:Envelope'] as Ordered[];
    expect(children.map(tagOf)).toEqual(['soapenv:Header', 'soapenv:Body']);
    expect(child(children, 'soapenv:Header').map(tagOf)).toEqual(['reg:LogicalAddress']);
    const add = child(child(children, 'soapenv:Body'), 'add:AddMessage');
    expect(add.map(tagOf)).toEqual(['add:subjectOfCareId', 'add:message', 'add:notify', 'add:sourceSystem']);
    const message = child(add, 'add:message');
    expect(message.map(tagOf)).toEqual([
      'core:caseType',
      'core:healthCareFacility',
      'core:businessObjectId',
      'core:headerText',
      'core:bodyText',
    ]);
    expect(child(message, 'core:caseType').map(tagOf)).toEqual(['core:id', 'core:caseTypeDescription']);
    expect(child(message, 'core:healthCareFacility').map(tagOf)).toEqual([
      'core:hsaId',
      'core:healthCareFacilityName',
    ]);
  });

  it('leaves out optional parts that are not set', () => {
    const { caseType: _, ...bare } = spec;
    const xml = createEnvelopeTemplate(bare, { contract: 'mvk-inbox-2', logicalAddress: 'SE1' })({
      subjectOfCareId: syntheticPnr(3),
      messageId: 'x',
    });
    const add = flat.parse(xml).Envelope.Body.AddMessage;
    expect(add.sourceSystem).toBeUndefined();
    expect(add.message.caseType).toBeUndefined();
  });

  it('names the SOAPAction and namespaces of both contracts', () => {
    expect(contracts['mvk-inbox-2'].soapAction).toBe(
      'urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2:AddMessage',
    );
    expect(contracts['patientportal-2'].verified).toBe(false);
    expect(contracts['patientportal-2'].serviceContract).toBe(
      'urn:riv-application:infrastructure:eservicesupply:patientportal:AddMessage:2:rivtabp21',
    );
    for (const contract of Object.values(contracts)) {
      const xml = createEnvelopeTemplate(spec, { ...options, contract })({
        subjectOfCareId: syntheticPnr(4),
        messageId: 'id-1',
      });
      expect(xml).toContain(`xmlns:add="${contract.namespaces.responder}"`);
      const checked = validateAddMessage(xml, `"${contract.soapAction}"`, contract);
      expect(checked).toEqual({
        ok: true,
        subjectOfCareId: syntheticPnr(4),
        messageId: 'id-1',
        logicalAddress: 'SE2321000016-7P2M',
        notify: true,
      });
    }
  });
});
