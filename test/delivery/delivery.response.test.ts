import { describe, expect, it } from 'vitest';
import {
  ContractViolationError,
  InboxResponseError,
  parseInboxResponse,
  parseRetryAfter,
} from '../../src/delivery/response.js';

const envelope = (body: string, prefix = 'soap') =>
  `<?xml version="1.0"?><${prefix}:Envelope xmlns:${prefix}="http://schemas.xmlsoap.org/soap/envelope/"><${prefix}:Body>${body}</${prefix}:Body></${prefix}:Envelope>`;
const responder = 'urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2';

describe('parseInboxResponse', () => {
  it('reads OK, whatever the prefixes; no case id is returned by AddMessage', () => {
    const xml = envelope(
      `<x:AddMessageResponse xmlns:x="${responder}"><x:resultCode>OK</x:resultCode></x:AddMessageResponse>`,
      'SOAP-ENV',
    );
    expect(parseInboxResponse(xml)).toEqual({ kind: 'response', resultCode: 'OK' });
  });

  it('reads INFO (no 1177 account, or a locked one) with its text', () => {
    const xml = envelope(
      `<AddMessageResponse xmlns="${responder}"><resultCode>INFO</resultCode><resultText>Invånaren har inget konto i 1177.</resultText></AddMessageResponse>`,
    );
    expect(parseInboxResponse(xml)).toEqual({
      kind: 'response',
      resultCode: 'INFO',
      resultText: 'Invånaren har inget konto i 1177.',
    });
  });

  it('reads ERROR with its text, and entities in it', () => {
    const xml = envelope(
      `<r:AddMessageResponse xmlns:r="${responder}"><r:resultCode>ERROR</r:resultCode><r:resultText>fel &amp; fel &lt;1&gt;</r:resultText></r:AddMessageResponse>`,
    );
    expect(parseInboxResponse(xml)).toEqual({
      kind: 'response',
      resultCode: 'ERROR',
      resultText: 'fel & fel <1>',
    });
  });

  it('reads only its own children: an xs:any extension cannot pose as the result', () => {
    const xml = envelope(
      `<r:AddMessageResponse xmlns:r="${responder}"><r:resultCode>OK</r:resultCode>` +
        '<x:ext xmlns:x="urn:other"><x:resultCode>ERROR</x:resultCode><x:errorCode>Unauthorized</x:errorCode></x:ext></r:AddMessageResponse>',
    );
    expect(parseInboxResponse(xml)).toEqual({ kind: 'response', resultCode: 'OK' });
    const onlyInExtension = envelope(
      `<r:AddMessageResponse xmlns:r="${responder}"><x:ext xmlns:x="urn:other"><x:resultCode>OK</x:resultCode></x:ext></r:AddMessageResponse>`,
    );
    expect(() => parseInboxResponse(onlyInExtension)).toThrow(ContractViolationError);
  });

  it.each([
    ['ok', 'lower case'],
    ['Ok', 'mixed case'],
    [' OK', 'a leading blank'],
    ['WARN', 'an unknown code'],
  ])('refuses resultCode %j (%s) as a contract violation', (code) => {
    const xml = envelope(
      `<r:AddMessageResponse xmlns:r="${responder}"><r:resultCode>${code}</r:resultCode></r:AddMessageResponse>`,
    );
    expect(() => parseInboxResponse(xml)).toThrow(ContractViolationError);
    expect(() => parseInboxResponse(xml)).toThrow(/is not OK, ERROR or INFO \(exactly these spellings\)/);
  });

  it('refuses two resultCodes and a Body that holds something else', () => {
    const two = envelope(
      `<r:AddMessageResponse xmlns:r="${responder}"><r:resultCode>OK</r:resultCode><r:resultCode>ERROR</r:resultCode></r:AddMessageResponse>`,
    );
    expect(() => parseInboxResponse(two)).toThrow(/2 resultCode elements/);
    expect(() => parseInboxResponse(envelope(`<r:Other xmlns:r="${responder}"/>`))).toThrow(
      /holds Other, not AddMessageResponse/,
    );
  });

  it('reads a SOAP 1.1 fault with FaultInfo', () => {
    const xml = envelope(
      '<soap:Fault><faultcode>soap:Server</faultcode><faultstring>Unavailable: down for maintenance</faultstring>' +
        '<detail><ns3:FaultInfo xmlns:ns3="urn:x"><ns3:message>Unavailable: back at 06:00</ns3:message></ns3:FaultInfo></detail></soap:Fault>',
    );
    expect(parseInboxResponse(xml)).toEqual({
      kind: 'fault',
      faultCode: 'soap:Server',
      message: 'Unavailable: down for maintenance | Unavailable: back at 06:00',
    });
  });

  it('reads a fault without detail', () => {
    const xml = envelope(
      '<soap:Fault><faultcode>soap:Client</faultcode><faultstring>bad</faultstring></soap:Fault>',
    );
    expect(parseInboxResponse(xml)).toEqual({ kind: 'fault', faultCode: 'soap:Client', message: 'bad' });
  });

  it.each([
    ['an empty body', ''],
    ['plain text', 'Service Unavailable'],
    ['an HTML error page', '<html><body><h1>502 Bad Gateway</h1></body></html>'],
    ['broken XML', '<soap:Envelope><soap:Body></soap:Envelope>'],
    ['an envelope with an empty body', envelope('')],
    ['a response without resultCode', envelope(`<r:AddMessageResponse xmlns:r="${responder}"/>`)],
    [
      'an unknown resultCode',
      envelope(
        `<r:AddMessageResponse xmlns:r="${responder}"><r:resultCode>MAYBE</r:resultCode></r:AddMessageResponse>`,
      ),
    ],
  ])('rejects %s with a clear InboxResponseError', (_name, body) => {
    expect(() => parseInboxResponse(body)).toThrow(InboxResponseError);
    try {
      parseInboxResponse(body);
    } catch (err) {
      expect(['BAD_RESPONSE', 'CONTRACT_VIOLATION']).toContain((err as InboxResponseError).code);
      expect((err as Error).message.length).toBeGreaterThan(10);
    }
  });
});

describe('parseInboxResponse on damaged bodies', () => {
  const ok = envelope(
    `<r:AddMessageResponse xmlns:r="${responder}"><r:resultCode>OK</r:resultCode></r:AddMessageResponse>`,
  );
  it('accepts trailing whitespace but not a truncated envelope', () => {
    expect(parseInboxResponse(`${ok}\r\n  `)).toMatchObject({ resultCode: 'OK' });
    expect(() => parseInboxResponse(ok.slice(0, ok.lastIndexOf('</')))).toThrow(/not well-formed XML/);
  });
  it('says precisely what is malformed', () => {
    expect(() => parseInboxResponse('<soap:Envelope><soap:Body></soap:Envelope>')).toThrow(
      'response is not well-formed XML (line 1, column 42: unexpected close tag)',
    );
    expect(() => parseInboxResponse(envelope('<r:X xmlns:r="u">&nbsp;</r:X>'))).toThrow(/undefined entity/);
    expect(() => parseInboxResponse(`${ok}<second/>`)).toThrow(/only one root/);
    expect(() => parseInboxResponse('Service Unavailable')).toThrow(/not well-formed XML/);
    expect(() => parseInboxResponse('<html><body>502</body></html>')).toThrow(
      /not a SOAP envelope|Envelope end tag/,
    );
  });
});

describe('parseInboxResponse on unusual but valid bodies', () => {
  it('reads CDATA and character references', () => {
    const xml = envelope(
      `<r:AddMessageResponse xmlns:r="${responder}"><r:resultCode><![CDATA[O]]>&#x4B;</r:resultCode><r:resultText><![CDATA[a <b> & c]]> &#x41;</r:resultText></r:AddMessageResponse>`,
    );
    expect(parseInboxResponse(xml)).toEqual({
      kind: 'response',
      resultCode: 'OK',
      resultText: 'a <b> & c A',
    });
  });
  it('refuses a hostile nesting depth instead of building it', () => {
    const deep = `${'<a>'.repeat(100)}${'</a>'.repeat(100)}`;
    expect(() => parseInboxResponse(envelope(deep))).toThrow(/nested deeper than 32/);
  });
  it('reads a SOAP 1.2 fault', () => {
    const xml = `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><e:Fault><e:Code><e:Value>e:Receiver</e:Value></e:Code><e:Reason><e:Text xml:lang="en">Unavailable: later</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>`;
    expect(parseInboxResponse(xml)).toEqual({
      kind: 'fault',
      faultCode: 'e:Receiver',
      message: 'Unavailable: later',
    });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-03-01T10:00:00Z');
  it('reads seconds and HTTP dates as ms', () => {
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('Sat, 01 Mar 2025 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter(['2', '9'], now)).toBe(2000);
  });
  it('never goes negative and ignores what it cannot read', () => {
    expect(parseRetryAfter('Sat, 01 Mar 2025 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
  });
});
