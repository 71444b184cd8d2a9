import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contracts } from '../../src/delivery/contract.js';
import { parseInboxResponse } from '../../src/delivery/response.js';
import { createEnvelopeTemplate, unescapeXml } from '../../src/delivery/soap.js';
import { createRequestValidator, validateAddMessage } from '../../src/simulator/validate-request.js';
import { syntheticPnr } from '../helpers/personnummer.js';
import { type StartedSimulator, startSimulator } from '../helpers/simulator.js';

const contract = contracts['mvk-inbox-2'];
const action = `"${contract.soapAction}"`;
const pnr = syntheticPnr(77);
const good = createEnvelopeTemplate(
  {
    campaignId: 'v',
    subject: 'Ämne',
    body: 'Text',
    notify: true,
    caseType: { id: 'k' },
    unit: { hsaId: 'SE1-A', name: 'Enhet' },
  },
  { contract, logicalAddress: 'SE1-L', sourceSystem: 'SE1-S' },
)({ subjectOfCareId: pnr, messageId: 'v:77' });

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
  ['a wrong SOAPAction', good, '"urn:other:AddMessage"', /SOAPAction is not/],
  ['no SOAPAction', good, undefined, /SOAPAction header is missing/],
  [
    'no LogicalAddress',
    good.replace('<reg:LogicalAddress>SE1-L</reg:LogicalAddress>', ''),
    action,
    /LogicalAddress header .* missing/,
  ],
  [
    'a LogicalAddress in the wrong namespace',
    good
      .replace('<reg:LogicalAddress>', '<add:LogicalAddress>')
      .replace('</reg:LogicalAddress>', '</add:LogicalAddress>'),
    action,
    /LogicalAddress header/,
  ],
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
    /notify is not a boolean/,
  ],
  [
    'no message identity',
    good.replace('<core:businessObjectId>v:77</core:businessObjectId>', ''),
    action,
    /businessObjectId is missing/,
  ],
  ['not XML', 'hello', action, /not well-formed/],
  ['broken XML', good.slice(0, -20), action, /not well-formed/],
  [
    'a SOAP 1.2 envelope',
    good.replace(contract.namespaces.envelope, 'http://www.w3.org/2003/05/soap-envelope'),
    action,
    /SOAP 1\.1 Envelope/,
  ],
  [
    'an undeclared prefix',
    good.replace('<add:notify>true</add:notify>', '<zz:notify>true</zz:notify>'),
    action,
    /prefix "zz"/,
  ],
];

describe('validateAddMessage', () => {
  it('accepts the client envelope', () => {
    expect(validateAddMessage(good, action, contract)).toMatchObject({ ok: true, messageId: 'v:77' });
  });

  it.each(invalid)('rejects %s', (_name, xml, soapAction, reason) => {
    const result = validateAddMessage(xml, soapAction, contract);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toMatch(reason);
      expect(result.reason).not.toContain(pnr.slice(8));
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
    expect(validate(good, action)).toMatchObject({ ok: true, messageId: 'v:77' });
    const other = good.replace(pnr, syntheticPnr(78)).replace('v:77', 'v:78');
    expect(validate(other, action)).toEqual(validateAddMessage(other, action, contract));
    expect(validate(other, action)).toMatchObject({
      ok: true,
      subjectOfCareId: syntheticPnr(78),
      messageId: 'v:78',
    });
    expect(validate(good.replace(pnr, '12345'), action)).toMatchObject({
      ok: false,
      reason: /does not match/,
    });
    expect(validate(good.replace('v:77', ' '), action)).toMatchObject({
      ok: false,
      reason: /businessObjectId/,
    });
    expect(validate(good, '"urn:other"')).toMatchObject({ ok: false, reason: /SOAPAction/ });
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
      expect(parsed).toMatchObject({ kind: 'fault', faultCode: 'S:Client', errorCode: 'IllegalArgument' });
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
