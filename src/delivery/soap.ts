import { parseMessageBody } from '../campaign/message-body.js';
import { type ContractName, type InboxContract, resolveContract } from './contract.js';
import { renderDocBook } from './docbook.js';
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
  /**
   * The receiving system's HSA-id, sent in the RIV-TA LogicalAddress header
   * when set. The inbox domain's WSDL binds no header; calls routed through
   * the national service platform need it. Default: no header at all.
   */
  logicalAddress?: string;
  /**
   * The calling system's HSA-id (AddMessage/sourceSystem). TKB: required when
   * notify is true, so a notifying campaign without it is refused here.
   */
  sourceSystem?: string;
}

/** A campaign that notifies the resident but no source system is configured. */
export class SourceSystemRequiredError extends Error {
  override readonly name = 'SourceSystemRequiredError';
  readonly code = 'SOURCE_SYSTEM_REQUIRED';
  /** A setting is missing: retrying cannot help. */
  readonly retryable = false;
  constructor(campaignId: string) {
    super(
      `campaign ${campaignId} notifies residents (message.notify), and AddMessage then requires sourceSystem: set INBOX_SOURCE_SYSTEM to this system's HSA-id`,
    );
  }
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
 * The message text as the platform shows it: the body in the authoring
 * format rendered as a DocBook article (with the signature as its
 * bibliography). It goes into `msg`, entity-encoded; bodyText is ignored by
 * AddMessage and never sent.
 */
export function messageDocBook(spec: MessageSpec): string {
  return renderDocBook(parseMessageBody(spec.message.body).doc, spec.message.signature);
}

/** healthCareFacility: the sender the resident sees (nothing is looked up in HSA). */
function facilityParts(spec: MessageSpec, core: (name: string, content: string) => string) {
  const u = spec.unit;
  const text = (name: string, value: string | undefined) =>
    value === undefined ? undefined : core(name, escapeXml(value));
  return {
    hsaId: text('hsaId', u.hsaId),
    healthCareFacilityName: text('healthCareFacilityName', u.name),
    healthCareFacilityAddress: text('healthCareFacilityAddress', u.address?.street),
    healthCareFacilityPostalCode: text('healthCareFacilityPostalCode', u.address?.postalCode),
    healthCareFacilityPostalCity: text('healthCareFacilityPostalCity', u.address?.city),
    healthCareFacilityTelephone: text('healthCareFacilityTelephone', u.telephone),
  };
}

/**
 * Builds the campaign's envelope template once. Per call, only the
 * subjectOfCareId and the message identity (businessObjectId) are filled in.
 */
export function createEnvelopeTemplate(spec: MessageSpec, options: EnvelopeOptions): EnvelopeTemplate {
  const contract = resolveContract(options.contract);
  const logicalAddress = options.logicalAddress?.trim() || undefined;
  const sourceSystem = options.sourceSystem?.trim() || undefined;
  if (spec.notify && !sourceSystem) throw new SourceSystemRequiredError(spec.campaignId);
  const ns = contract.namespaces;
  const r = 'add';
  const c = 'core';
  const core = (name: string, content: string) => element(c, name, content);

  const inboxTitle = spec.message.inboxTitle;
  const caseType =
    inboxTitle === undefined
      ? undefined
      : core(
          'caseType',
          inOrder(contract.caseTypeSequence, {
            caseTypeDescription: core('caseTypeDescription', escapeXml(inboxTitle)),
          }),
        );
  const facility = core(
    'healthCareFacility',
    inOrder(contract.healthCareFacilitySequence, facilityParts(spec, core)),
  );
  const message = inOrder(contract.messageSequence, {
    caseType,
    healthCareFacility: facility,
    [contract.identityElement]: core(contract.identityElement, ID),
    headerText: core('headerText', escapeXml(spec.message.subject)),
    msg: core('msg', escapeXml(messageDocBook(spec))),
  });
  const request = inOrder(contract.requestSequence, {
    subjectOfCareId: element(r, 'subjectOfCareId', PNR),
    message: element(r, 'message', message),
    notify: element(r, 'notify', spec.notify ? 'true' : 'false'),
    sourceSystem:
      sourceSystem === undefined ? undefined : element(r, 'sourceSystem', escapeXml(sourceSystem)),
  });
  const header =
    logicalAddress === undefined
      ? ''
      : `<soapenv:Header>${element('reg', contract.elements.logicalAddress, escapeXml(logicalAddress))}</soapenv:Header>`;
  const whole =
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="${ns.envelope}"${logicalAddress === undefined ? '' : ` xmlns:reg="${ns.logicalAddress}"`} xmlns:${r}="${ns.responder}" xmlns:${c}="${ns.core}">` +
    header +
    `<soapenv:Body>${element(r, contract.elements.request, request)}</soapenv:Body>` +
    '</soapenv:Envelope>';

  const [beforePnr, afterPnr] = whole.split(PNR) as [string, string];
  const [middle, tail] = afterPnr.split(ID) as [string, string];
  return (req) => beforePnr + escapeXml(req.subjectOfCareId) + middle + escapeXml(req.messageId) + tail;
}
