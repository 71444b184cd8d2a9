import { type ContractName, type InboxContract, resolveContract } from './contract.js';
import type { DeliveryRequest, MessageSpec } from './types.js';

/**
 * SOAP 1.1 envelopes for AddMessage. Everything that is the same for a whole
 * campaign is rendered once into a template; a call only fills in the
 * recipient and the message identity.
 */

// Characters outside XML 1.0's Char production, and lone surrogates.
const ILLEGAL_XML_CHARS =
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const NEEDS_WORK = /[&<>"'\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/;
const SPECIAL = /[&<>"']/g;
const ENTITY: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

/**
 * Escapes text for an XML element or attribute value: the five special
 * characters become entities, characters XML 1.0 cannot carry are dropped and
 * line breaks are normalised to `\n` (what any XML parser would hand on anyway).
 */
export function escapeXml(text: string): string {
  if (!NEEDS_WORK.test(text)) return text;
  return text
    .replace(ILLEGAL_XML_CHARS, '')
    .replace(/\r\n?/g, '\n')
    .replace(SPECIAL, (c) => ENTITY[c]!);
}

const XML_ENTITY = /&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]{1,6}|#[0-9]{1,7});/g;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/**
 * Decodes the five predefined entities and character references in one pass
 * (so `&amp;lt;` stays `&lt;`). For parsers run with entity processing off.
 */
export function unescapeXml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(XML_ENTITY, (whole, e: string) => {
    const named = NAMED[e];
    if (named !== undefined) return named;
    const cp = e[1] === 'x' ? Number.parseInt(e.slice(2), 16) : Number.parseInt(e.slice(1), 10);
    return cp <= 0x10ffff ? String.fromCodePoint(cp) : whole;
  });
}

export interface EnvelopeOptions {
  contract: ContractName | InboxContract;
  /** The receiving system's HSA-id, sent in the RIV-TA LogicalAddress header. */
  logicalAddress: string;
  /** The sending system's HSA-id (AddMessage/sourceSystem); omitted when not set. */
  sourceSystem?: string;
}

/** Renders one call's envelope; pure string concatenation. */
export type EnvelopeTemplate = (request: DeliveryRequest) => string;

const PNR = '\u0000pnr\u0000';
const ID = '\u0000id\u0000';

function element(prefix: string, name: string, content: string): string {
  return `<${prefix}:${name}>${content}</${prefix}:${name}>`;
}

function inOrder(sequence: readonly string[], parts: Record<string, string | undefined>): string {
  let out = '';
  for (const name of sequence) {
    const part = parts[name];
    if (part !== undefined) out += part;
  }
  for (const name of Object.keys(parts)) {
    if (!sequence.includes(name)) throw new Error(`contract has no element ${name} here`);
  }
  return out;
}

/**
 * Builds the campaign's envelope template once. Per call, only the
 * subjectOfCareId and the message identity (businessObjectId) are filled in.
 */
export function createEnvelopeTemplate(spec: MessageSpec, options: EnvelopeOptions): EnvelopeTemplate {
  const contract = resolveContract(options.contract);
  if (!options.logicalAddress.trim()) throw new TypeError('logicalAddress must not be empty');
  const ns = contract.namespaces;
  const r = 'add';
  const c = 'core';
  const core = (name: string, content: string) => element(c, name, content);

  const caseType = spec.caseType
    ? core(
        'caseType',
        inOrder(contract.caseTypeSequence, {
          id: core('id', escapeXml(spec.caseType.id)),
          caseTypeDescription:
            spec.caseType.description === undefined
              ? undefined
              : core('caseTypeDescription', escapeXml(spec.caseType.description)),
        }),
      )
    : undefined;
  const facility = core(
    'healthCareFacility',
    inOrder(contract.healthCareFacilitySequence, {
      hsaId: core('hsaId', escapeXml(spec.unit.hsaId)),
      healthCareFacilityName: core('healthCareFacilityName', escapeXml(spec.unit.name)),
    }),
  );
  const message = inOrder(contract.messageSequence, {
    caseType,
    healthCareFacility: facility,
    [contract.identityElement]: core(contract.identityElement, ID),
    headerText: core('headerText', escapeXml(spec.subject)),
    bodyText: core('bodyText', escapeXml(spec.body)),
  });
  const request = inOrder(contract.requestSequence, {
    subjectOfCareId: element(r, 'subjectOfCareId', PNR),
    message: element(r, 'message', message),
    notify: element(r, 'notify', spec.notify ? 'true' : 'false'),
    sourceSystem:
      options.sourceSystem === undefined
        ? undefined
        : element(r, 'sourceSystem', escapeXml(options.sourceSystem)),
  });
  const whole =
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="${ns.envelope}" xmlns:reg="${ns.logicalAddress}" xmlns:${r}="${ns.responder}" xmlns:${c}="${ns.core}">` +
    `<soapenv:Header>${element('reg', contract.elements.logicalAddress, escapeXml(options.logicalAddress))}</soapenv:Header>` +
    `<soapenv:Body>${element(r, contract.elements.request, request)}</soapenv:Body>` +
    '</soapenv:Envelope>';

  const [beforePnr, afterPnr] = whole.split(PNR) as [string, string];
  const [middle, tail] = afterPnr.split(ID) as [string, string];
  return (req) => beforePnr + escapeXml(req.subjectOfCareId) + middle + escapeXml(req.messageId) + tail;
}
