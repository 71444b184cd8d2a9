import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contracts } from '../../src/delivery/contract.js';
import { parseInboxResponse } from '../../src/delivery/response.js';
import { unescapeXml } from '../../src/delivery/soap.js';
import { createRequestValidator, validateAddMessage } from '../../src/simulator/validate-request.js';
import { syntheticPnr } from '../helpers/personnummer.js';
import { type StartedSimulator, startSimulator } from '../helpers/simulator.js';

const contract = contracts['mvk-inbox-2'];
const action = `"${contract.soapAction}"`;
const pnr = syntheticPnr(77);
const ns = contract.namespaces;
/** An envelope as the delivery client writes one (hand-written here, so this test holds the validator alone). */
const good =
  '<?xml version="1.0" encoding="UTF-8"?>' +
  `<soapenv:Envelope xmlns:soapenv="${ns.envelope}" xmlns:reg="${ns.logicalAddress}" xmlns:add="${ns.responder}" xmlns:core="${ns.core}">` +
  '<soapenv:Header><reg:LogicalAddress>SE1-L</reg:LogicalAddress></soapenv:Header>' +
  `<soapenv:Body><add:AddMessage><add:subjectOfCareId>${pnr}</add:subjectOfCareId><add:message>` +
  '<core:caseType><core:caseTypeDescription>Kallelse</core:caseTypeDescription></core:caseType>' +
  '<core:healthCareFacility><core:hsaId>SE1-A</core:hsaId><core:healthCareFacilityName>Enhet</core:healthCareFacilityName>' +
  '<core:healthCareFacilityTelephone>018-00 00 00</core:healthCareFacilityTelephone></core:healthCareFacility>' +
  '<core:businessObjectId>v:77</core:businessObjectId><core:headerText>Ämne</core:headerText><core:bodyText>Text</core:bodyText>' +
  '<core:msg>&lt;article&gt;&lt;para&gt;Hej &amp;amp; välkommen&lt;/para&gt;&lt;/article&gt;</core:msg>' +
  '</add:message><add:notify>true</add:notify><add:sourceSystem>SE1-S</add:sourceSystem></add:AddMessage></soapenv:Body></soapenv:Envelope>';

/** Swaps two exact substrings of the good envelope. */
function swap(xml: string, a: string, b: string): string {
  const i = xml.indexOf(a);
  const j = xml.indexOf(b);
  if (i < 0 || j < 0 || i + a.length > j) throw new Error('swap: not found in order');
  return xml.slice(0, i) + b + xml.slice(i + a.length, j) + a + xml.slice(j + b.length);
}
const between = (xml: string, open: string, close: string) =>
  xml.slice(xml.indexOf(open), xml.indexOf(close) + close.length);
const notify = '<add:notify>true</add:notify>';
const message = between(good, '<add:message>', '</add:message>');
const header = between(good, '<core:headerText>', '</core:headerText>');
const body = between(good, '<core:bodyText>', '</core:bodyText>');

const caseType = between(good, '<core:caseType>', '</core:caseType>');

const invalid: [string, string, string | undefined, RegExp][] = [
  ['message after notify', swap(good, message, notify), action, /AddMessage\/message is out of order/],
  ['bodyText before headerText', swap(good, header, body), action, /message\/headerText is out of order/],
  [
    'no subjectOfCareId',
    good.replace(`<add:subjectOfCareId>${pnr}</add:subjectOfCareId>`, ''),
    action,
    /AddMessage\/subjectOfCareId is missing/,
  ],
  ['no notify', good.replace(notify, ''), action, /AddMessage\/notify is missing/],
  ['no message', good.replace(message, ''), action, /AddMessage\/message is missing/],
  ['a hyphenated number', good.replace(pnr, `${pnr.slice(0, 8)}-${pnr.slice(8)}`), action, /does not match/],
  ['an 11-digit number', good.replace(pnr, pnr.slice(1)), action, /does not match/],
  ['a padded number', good.replace(pnr, ` ${pnr}`), action, /subjectOfCareId does not match/],
  ['a wrong SOAPAction', good, '"urn:other:AddMessage"', /SOAPAction is not/],
  ['no SOAPAction', good, undefined, /SOAPAction header is missing/],
  [
    'notify in the core namespace',
    good.replace(notify, '<core:notify>true</core:notify>'),
    action,
    /AddMessage\/notify: namespace/,
  ],
  [
    'an unknown element',
    good.replace(notify, `${notify}<add:priority>1</add:priority>`),
    action,
    /unexpected element priority/,
  ],
  ['notify twice', good.replace(notify, notify + notify), action, /notify appears more than once/],
  [
    'notify not a boolean',
    good.replace(notify, '<add:notify>yes</add:notify>'),
    action,
    /AddMessage\/notify: "yes" is not an xs:boolean/,
  ],
  [
    'caseReadStatus Foo',
    good.replace(caseType, `<core:caseReadStatus>Foo</core:caseReadStatus>${caseType}`),
    action,
    /AddMessage\/message\/caseReadStatus: "Foo" is not one of Read, Unread/,
  ],
  [
    'actionDate not-a-date',
    good.replace(caseType, `<core:actionDate>not-a-date</core:actionDate>${caseType}`),
    action,
    /AddMessage\/message\/actionDate: "not-a-date" is not an xs:date/,
  ],
  [
    'an attribute',
    good.replace('<core:headerText>', '<core:headerText lang="sv">'),
    action,
    /message\/headerText: attribute lang is not allowed/,
  ],
  [
    'text in a complex element',
    good.replace('<add:message>', '<add:message>hej'),
    action,
    /AddMessage\/message: text is not allowed here/,
  ],
  [
    'an element in a simple one',
    good.replace('<core:headerText>Ämne', '<core:headerText><core:b>Ämne</core:b>'),
    action,
    /message\/headerText must hold text, not elements/,
  ],
  [
    'a case in details (abstract type)',
    good.replace(body, `${body}<core:details><core:Cases/></core:details>`),
    action,
    /details\/Cases: its type CaseType is abstract/,
  ],
  ['not XML', 'hello', action, /not well-formed/],
  ['broken XML', good.slice(0, -20), action, /not well-formed/],
  [
    'a DTD',
    good.replace('<soapenv:Envelope', '<!DOCTYPE x [<!ENTITY e "1">]><soapenv:Envelope'),
    action,
    /document type declaration/,
  ],
  [
    'a SOAP 1.2 envelope',
    good.replaceAll(contract.namespaces.envelope, 'http://www.w3.org/2003/05/soap-envelope'),
    action,
    /SOAP 1\.1 Envelope/,
  ],
  [
    'an undeclared prefix',
    good.replace('<add:notify>true</add:notify>', '<zz:notify>true</zz:notify>'),
    action,
    /unbound namespace prefix: "zz"/,
  ],
  [
    'two Bodies',
    good.replace('</soapenv:Envelope>', '<soapenv:Body/></soapenv:Envelope>'),
    action,
    /nothing may follow the Body/,
  ],
  [
    'two LogicalAddress headers',
    good.replace('</soapenv:Header>', '<reg:LogicalAddress>SE1-M</reg:LogicalAddress></soapenv:Header>'),
    action,
    /more than one LogicalAddress/,
  ],
];

/** Valid in the published schema, though the delivery client never writes them like this. */
const valid: [string, string][] = [
  ['no SOAP Header', good.replace(between(good, '<soapenv:Header>', '</soapenv:Header>'), '')],
  [
    'an empty Header',
    good.replace(between(good, '<soapenv:Header>', '</soapenv:Header>'), '<soapenv:Header/>'),
  ],
  [
    'a LogicalAddress in another namespace (just another header block)',
    good
      .replace('<reg:LogicalAddress>', '<add:LogicalAddress>')
      .replace('</reg:LogicalAddress>', '</add:LogicalAddress>'),
  ],
  ['no businessObjectId', good.replace('<core:businessObjectId>v:77</core:businessObjectId>', '')],
  ['no sourceSystem', good.replace('<add:sourceSystem>SE1-S</add:sourceSystem>', '')],
  ['notify as 1 with whitespace', good.replace(notify, '<add:notify>\n 1 \n</add:notify>')],
  ['whitespace and comments between elements', good.replaceAll('><core:', '>\n  <!-- c -->\n  <core:')],
  ['an empty details', good.replace(body, `${body}<core:details/>`)],
  [
    'a samordningsnummer-shaped number with a letter',
    good.replace(pnr, `${pnr.slice(0, 8)}T${pnr.slice(9)}`),
  ],
  ['an unquoted SOAPAction', good],
];

describe('validateAddMessage', () => {
  it('accepts the client envelope and reads the request out of it', () => {
    expect(validateAddMessage(good, action, contract)).toEqual({
      ok: true,
      request: {
        subjectOfCareId: pnr,
        notify: true,
        sourceSystem: 'SE1-S',
        logicalAddress: 'SE1-L',
        businessObjectId: 'v:77',
        headerText: 'Ämne',
        bodyText: 'Text',
        caseTypeDescription: 'Kallelse',
        msg: '<article><para>Hej &amp; välkommen</para></article>',
        facility: { hsaId: 'SE1-A', name: 'Enhet', telephone: '018-00 00 00' },
      },
    });
  });

  it.each(valid)('accepts %s', (name, xml) => {
    const soapAction = name.startsWith('an unquoted') ? contract.soapAction : action;
    expect(validateAddMessage(xml, soapAction, contract)).toMatchObject({ ok: true });
  });

  it('does not need a Header: logicalAddress is then absent', () => {
    const result = validateAddMessage(valid[0]![1], action, contract);
    expect(result.ok && result.request.logicalAddress).toBeUndefined();
  });

  it.each(invalid)('rejects %s', (_name, xml, soapAction, reason) => {
    const result = validateAddMessage(xml, soapAction, contract);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toMatch(reason);
      expect(result.reason).not.toContain(pnr.slice(4));
      expect(result.reason).not.toContain('\n');
    }
  });

  it('never quotes a personnummer, wherever it is put', () => {
    for (const where of ['caseReadStatus', 'actionDate', 'actionTime', 'userSelectionStatus']) {
      const xml = good.replace(caseType, `<core:${where}>${pnr}</core:${where}>${caseType}`);
      const result = validateAddMessage(xml, action, contract);
      expect(result).toMatchObject({ ok: false, reason: new RegExp(`message/${where}: "\\[number\\]"`) });
    }
  });

  it('checks the other contract namespaces too', () => {
    expect(
      validateAddMessage(good, `"${contracts['patientportal-2'].soapAction}"`, contracts['patientportal-2']),
    ).toMatchObject({ ok: false });
  });
});

describe('createRequestValidator (memory of envelope shapes)', () => {
  it('answers like the full check for a known shape, checking the number and identity each time', () => {
    const validate = createRequestValidator(contract);
    expect(validate(good, action)).toMatchObject({ ok: true, request: { businessObjectId: 'v:77' } });
    const other = good.replace(pnr, syntheticPnr(78)).replace('v:77', 'v:78');
    expect(validate(other, action)).toEqual(validateAddMessage(other, action, contract));
    expect(validate(other, action)).toMatchObject({
      ok: true,
      request: { subjectOfCareId: syntheticPnr(78), businessObjectId: 'v:78', logicalAddress: 'SE1-L' },
    });
    expect(validate(good.replace(pnr, '12345'), action)).toMatchObject({
      ok: false,
      reason: /does not match/,
    });
    // Values that are not plain text get the full check, and the same answer as it.
    for (const id of [' ', 'a&amp;b', '<![CDATA[x]]>', 'x]]>y', 'a\r\nb']) {
      const xml = good.replace('v:77', id);
      expect(validate(xml, action)).toEqual(validateAddMessage(xml, action, contract));
    }
    expect(validate(good.replace(pnr, `&#49;${pnr.slice(1)}`), action)).toMatchObject({
      ok: true,
      request: { subjectOfCareId: `1${pnr.slice(1)}` },
    });
    expect(validate(good, '"urn:other"')).toMatchObject({ ok: false, reason: /SOAPAction/ });
  });

  it('copes with requests without a businessObjectId (always the full check)', () => {
    const validate = createRequestValidator(contract);
    const anonymous = good.replace('<core:businessObjectId>v:77</core:businessObjectId>', '');
    for (let i = 0; i < 3; i++) {
      const xml = anonymous.replace(pnr, syntheticPnr(100 + i));
      expect(validate(xml, action)).toEqual(validateAddMessage(xml, action, contract));
    }
    expect(validate(anonymous.replace(pnr, '1'), action)).toMatchObject({ ok: false });
  });

  it('does not let a subjectOfCareId in a comment stand in for the real one', () => {
    const validate = createRequestValidator(contract);
    const decoy = (value: string) =>
      good.replace(
        '<soapenv:Body>',
        `<!-- <add:subjectOfCareId>${value}</add:subjectOfCareId> --><soapenv:Body>`,
      );
    expect(validate(decoy(syntheticPnr(1)), action)).toMatchObject({
      ok: true,
      request: { subjectOfCareId: pnr },
    });
    expect(validate(decoy(syntheticPnr(2)), action)).toMatchObject({
      ok: true,
      request: { subjectOfCareId: pnr },
    });
  });

  it.each(invalid)('still rejects %s after the good shape was seen', (_name, xml, soapAction, reason) => {
    const validate = createRequestValidator(contract);
    expect(validate(good, action).ok).toBe(true);
    const result = validate(xml, soapAction);
    expect(result).toMatchObject({ ok: false });
    if (!result.ok) expect(result.reason).toMatch(reason);
  });
});

describe('unescapeXml', () => {
  it('decodes entities and character references in one pass', () => {
    expect(unescapeXml('a &amp;lt; &lt;b&gt; &quot;&apos; &#65;&#x42; &#x1F600; &unknown;')).toBe(
      'a &lt; <b> "\' AB 😀 &unknown;',
    );
    expect(unescapeXml('plain')).toBe('plain');
  });
});

describe('the simulator answers an invalid request with a SOAP Fault', () => {
  let sim: StartedSimulator;
  beforeAll(async () => {
    sim = await startSimulator();
  });
  afterAll(async () => {
    await sim.stop();
  });

  it.each([
    ['a badly ordered envelope', swap(good, message, notify), /out of order/],
    ['an incomplete envelope', good.replace(notify, ''), /notify is missing/],
  ])(
    '%s: HTTP 500, FaultInfo with the reason, counted invalid, nothing stored',
    async (_name, xml, reason) => {
      const before = sim.stats().invalid;
      const res = await request(sim.url, {
        method: 'POST',
        body: xml,
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: action },
      });
      const text = await res.body.text();
      expect(res.statusCode).toBe(500);
      const parsed = parseInboxResponse(text);
      expect(parsed).toMatchObject({ kind: 'fault', faultCode: 'S:Client' });
      expect(parsed.kind === 'fault' && parsed.message).toMatch(reason);
      expect(sim.stats().invalid).toBe(before + 1);
      expect(sim.simulator.received()).toEqual([]);
    },
  );

  it('accepts the valid envelope over HTTP', async () => {
    const res = await request(sim.url, {
      method: 'POST',
      body: good,
      headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: action },
    });
    expect(res.statusCode).toBe(200);
    expect(parseInboxResponse(await res.body.text())).toMatchObject({ kind: 'response', resultCode: 'OK' });
  });
});
