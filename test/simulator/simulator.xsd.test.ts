import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contracts } from '../../src/delivery/contract.js';
import { createRequestValidator, type Disagreement } from '../../src/simulator/validate-request.js';
import { type AddMessageSchema, extractAddMessage, loadAddMessageSchema } from '../../src/simulator/xsd.js';
import { resolveXsdDir, XSD_FILES } from '../../src/simulator/xsd-dir.js';
import { describeXsd } from '../helpers/xsd.js';

const contract = contracts['mvk-inbox-2'];
const R = contract.namespaces.responder;
const C = contract.namespaces.core;
const SOAP = contract.namespaces.envelope;
const action = `"${contract.soapAction}"`;
/** The well-known test number of Skatteverket's examples: synthetic. */
const PNR = '191212121212';

function addMessage(pnr: string, message = '', decl = ` xmlns:a="${R}" xmlns:c="${C}"`): string {
  return (
    `<a:AddMessage${decl}><a:subjectOfCareId>${pnr}</a:subjectOfCareId>` +
    `<a:message>${message}</a:message><a:notify>true</a:notify><a:sourceSystem>SE1-S</a:sourceSystem></a:AddMessage>`
  );
}

function envelope(body: string, header = ''): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="${SOAP}" xmlns:a="${R}" xmlns:c="${C}">` +
    `${header}<soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`
  );
}

describe('resolveXsdDir', () => {
  let empty: string;
  beforeAll(() => {
    empty = mkdtempSync(join(tmpdir(), 'utskick-xsd-empty-'));
  });
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it('names INBOX_XSD_DIR and the missing file when the folder lacks the schema', () => {
    expect(() => resolveXsdDir({ INBOX_XSD_DIR: empty })).toThrow(
      /INBOX_XSD_DIR=.*AddMessageResponder_2\.0\.xsd/,
    );
    expect(() => resolveXsdDir({ INBOX_XSD_DIR: join(empty, 'nope') })).toThrow(
      /INBOX_XSD_DIR=.*no such folder/,
    );
  });

  it('falls back to ../shared/contracts/mvk-inbox-2 beside the package root, when present', () => {
    const dir = resolveXsdDir({});
    if (dir !== undefined) expect(dir).toMatch(/[/\\]shared[/\\]contracts[/\\]mvk-inbox-2$/);
  });
});

describeXsd('the published AddMessage schema (libxml2)', (dir) => {
  let schema: AddMessageSchema;
  beforeAll(() => {
    schema = loadAddMessageSchema(dir);
  });
  afterAll(() => schema.dispose());

  it('loads, with the published namespaces', () => {
    expect(schema.namespaces).toEqual({ responder: R, core: C });
  });

  it('accepts a hand-written AddMessage', () => {
    const message =
      '<c:caseReadStatus>Unread</c:caseReadStatus><c:caseType><c:caseTypeDescription>Kallelse</c:caseTypeDescription></c:caseType>' +
      '<c:healthCareFacility><c:hsaId>SE1-A</c:hsaId><c:healthCareFacilityName>Enhet</c:healthCareFacilityName></c:healthCareFacility>' +
      '<c:businessObjectId>v:1</c:businessObjectId><c:headerText>Ämne</c:headerText>' +
      '<c:msg>&lt;article&gt;&lt;para&gt;Hej&lt;/para&gt;&lt;/article&gt;</c:msg>' +
      '<c:urlConfiguration><c:systemId>s</c:systemId><c:urlText>Boka</c:urlText><c:urlLinkType>NewWindow</c:urlLinkType></c:urlConfiguration>';
    expect(schema.validate(addMessage(PNR, message))).toEqual({ ok: true });
  });

  it('has the pattern defect fixed: 191212121212 passes, 19121212121X and the anchored text fail', () => {
    expect(schema.validate(addMessage(PNR))).toEqual({ ok: true });
    expect(schema.validate(addMessage('19121212P121'))).toEqual({ ok: true });
    expect(schema.validate(addMessage('19121212121X')).ok).toBe(false);
    expect(schema.validate(addMessage(`^${PNR}$`)).ok).toBe(false);
    expect(schema.validate(addMessage(` ${PNR}`)).ok).toBe(false);
  });

  it.each([
    ['a padded number', addMessage(`${PNR} `)],
    ['a hyphenated number', addMessage('19121212-1212')],
    ['a number with a letter', addMessage('19121212T1212')],
    ['the number as caseReadStatus', addMessage(PNR, `<c:caseReadStatus>${PNR}</c:caseReadStatus>`)],
    ['the number as actionDate', addMessage(PNR, `<c:actionDate>${PNR}</c:actionDate>`)],
    ['the number as actionTime', addMessage(PNR, `<c:actionTime>T${PNR}</c:actionTime>`)],
    ['the number inside a message that is not well-formed', addMessage(PNR, `<c:headerText>${PNR}</c:msg>`)],
  ])('never puts the 12-digit number in an error: %s', (_name, xml) => {
    const verdict = schema.validate(xml);
    expect(verdict.ok).toBe(false);
    if (verdict.ok) return;
    for (const error of verdict.errors) {
      expect(error).not.toMatch(/[0-9]{6}/);
      expect(error).not.toContain('\n');
    }
  });

  it('validates the AddMessage that extractAddMessage cuts out of an envelope', () => {
    const xml = envelope(addMessage(PNR, '', ''));
    const extracted = extractAddMessage(xml);
    expect(extracted).toBeDefined();
    expect(schema.validate(extracted!)).toEqual({ ok: true });
  });

  it('reads the schema files unmodified and fails loudly when the known defect is not found', () => {
    const changed = mkdtempSync(join(tmpdir(), 'utskick-xsd-changed-'));
    try {
      const core = readFileSync(join(dir, XSD_FILES.core), 'utf8');
      const responder = readFileSync(join(dir, XSD_FILES.responder), 'utf8');
      writeFileSync(join(changed, XSD_FILES.responder), responder);
      writeFileSync(
        join(changed, XSD_FILES.core),
        core.replace('value="^[0-9]', 'value="[0-9]').replace('{3}$"', '{3}"'),
      );
      expect(() => loadAddMessageSchema(changed)).toThrow(/SubjectOfCareIdType pattern .* has changed/);
      writeFileSync(join(changed, XSD_FILES.core), core);
      writeFileSync(join(changed, XSD_FILES.responder), responder.replace('../../core_components/', './'));
      expect(() => loadAddMessageSchema(changed)).toThrow(/import .* is not there as published/);
    } finally {
      rmSync(changed, { recursive: true, force: true });
    }
  });

  it('compiles twice in one process (each load has its own in-memory import)', () => {
    const second = loadAddMessageSchema(dir);
    expect(second.validate(addMessage(PNR))).toEqual({ ok: true });
    second.dispose();
    expect(() => second.validate(addMessage(PNR))).toThrow(/disposed/);
    expect(schema.validate(addMessage(PNR))).toEqual({ ok: true });
  });

  it('refuses a schema whose namespace is not the contract’s', () => {
    expect(() => createRequestValidator(contracts['patientportal-2'], { schema })).toThrow(/namespace/);
  });

  it('the request validator answers with the XSD verdict', () => {
    const validate = createRequestValidator(contract, { schema });
    const good = envelope(addMessage(PNR, '<c:businessObjectId>v:1</c:businessObjectId>', ''));
    expect(validate(good, action)).toMatchObject({ ok: true, request: { subjectOfCareId: PNR } });
    const bad = envelope(addMessage(PNR, '<c:caseReadStatus>Foo</c:caseReadStatus>', ''));
    expect(validate(bad, action)).toMatchObject({
      ok: false,
      reason: /caseReadStatus: "Foo" is not one of Read, Unread/,
    });
  });
});

describe('extractAddMessage', () => {
  it('adds the namespace declarations in scope at AddMessage to its start tag', () => {
    const xml =
      `<S:Envelope xmlns:S="${SOAP}" xmlns:a="${R}" xmlns="${C}" xmlns:other="urn:x"><S:Body>` +
      `<a:AddMessage xmlns:other="urn:y"><a:subjectOfCareId>${PNR}</a:subjectOfCareId><a:message><headerText>&amp;</headerText></a:message>` +
      `<a:notify>1</a:notify></a:AddMessage></S:Body></S:Envelope>`;
    const extracted = extractAddMessage(xml)!;
    expect(extracted.startsWith('<a:AddMessage ')).toBe(true);
    expect(extracted).toContain(`xmlns:S="${SOAP}"`);
    expect(extracted).toContain(`xmlns:a="${R}"`);
    expect(extracted).toContain(`xmlns="${C}"`);
    expect(extracted).toContain('xmlns:other="urn:y"');
    expect(extracted).not.toContain('urn:x');
    expect(extracted).toContain('<headerText>&amp;</headerText>');
    expect(extracted.endsWith('</a:AddMessage>')).toBe(true);
  });

  it('finds AddMessage in the namespace asked for, and nothing in a broken envelope', () => {
    const xml = envelope(addMessage(PNR, '', ''));
    expect(extractAddMessage(xml, 'urn:other')).toBeUndefined();
    expect(extractAddMessage(xml.slice(0, -10))).toBeUndefined();
  });
});

describe('createRequestValidator with a schema that disagrees', () => {
  const good = envelope(addMessage(PNR, '<c:businessObjectId>v:1</c:businessObjectId>', ''));
  const fake = (
    verdict: { ok: true } | { ok: false; errors: string[] },
  ): AddMessageSchema & { calls: number } => {
    const schema = {
      calls: 0,
      namespaces: { responder: R, core: C },
      validate: () => {
        schema.calls++;
        return verdict;
      },
      dispose: () => {},
    };
    return schema;
  };

  it('rejects when the XSD rejects what the fast validator accepted, and reports the disagreement', () => {
    const seen: Disagreement[] = [];
    const schema = fake({
      ok: false,
      errors: ["Element 'x': [facet 'pattern'] The value '[value]' is bad."],
    });
    const validate = createRequestValidator(contract, { schema, onDisagreement: (d) => seen.push(d) });
    expect(validate(good, action)).toMatchObject({ ok: false, reason: /^AddMessage \(XSD\): Element 'x'/ });
    expect(seen).toEqual([{ fastReason: undefined, xsdErrors: [expect.stringContaining('facet')] }]);
    // Not remembered as a good shape: the XSD is asked again.
    validate(good.replace('v:1', 'v:2'), action);
    expect(schema.calls).toBe(2);
  });

  it('accepts when the XSD accepts what the fast validator rejected', () => {
    const seen: Disagreement[] = [];
    const validate = createRequestValidator(contract, {
      schema: fake({ ok: true }),
      onDisagreement: (d) => seen.push(d),
    });
    const odd = good.replace('<a:notify>true</a:notify>', '<a:notify>yes</a:notify>');
    expect(validate(odd, action)).toMatchObject({
      ok: true,
      request: { subjectOfCareId: PNR, businessObjectId: 'v:1' },
    });
    expect(seen).toEqual([{ fastReason: expect.stringMatching(/notify/), xsdErrors: [] }]);
  });

  it('runs the XSD on every Nth new shape only with sampleEvery, and never on a known shape', () => {
    const schema = fake({ ok: true });
    const validate = createRequestValidator(contract, { schema, sampleEvery: 3 });
    for (let i = 0; i < 6; i++) {
      const shape = good.replace('SE1-S', `SE1-S${i}`);
      expect(validate(shape, action).ok).toBe(true);
      expect(validate(shape.replace('v:1', `v:1${i}`), action).ok).toBe(true);
    }
    expect(schema.calls).toBe(2);
  });
});
