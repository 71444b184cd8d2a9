import type { InboxContract } from '../delivery/contract.js';
import { unescapeXml } from '../delivery/soap.js';
import { childrenNamed, parseXmlTree, type XmlElement, XmlTreeError } from './xml-tree.js';

/**
 * Checks an AddMessage request the way the platform's schema validation
 * would: SOAPAction, envelope, LogicalAddress header, element names,
 * namespaces and ORDER, required fields, the subjectOfCareId pattern.
 * Reasons never hold the personnummer.
 */
export type ValidatedRequest =
  | { ok: true; subjectOfCareId: string; messageId: string; logicalAddress: string; notify: boolean }
  | { ok: false; reason: string };

class Invalid extends Error {}

function checkSequence(
  parent: XmlElement,
  sequence: readonly string[],
  required: readonly string[],
  ns: string,
  where: string,
): Map<string, XmlElement> {
  const found = new Map<string, XmlElement>();
  let position = -1;
  for (const child of parent.children) {
    const idx = sequence.indexOf(child.name);
    if (idx < 0) throw new Invalid(`${where}: unexpected element ${child.name}`);
    if (child.ns !== ns) {
      throw new Invalid(`${where}/${child.name}: namespace "${child.ns || '(none)'}" is not "${ns}"`);
    }
    if (found.has(child.name)) throw new Invalid(`${where}/${child.name} appears more than once`);
    if (idx < position) {
      throw new Invalid(`${where}/${child.name} is out of order: it must come before ${sequence[position]}`);
    }
    position = idx;
    found.set(child.name, child);
  }
  for (const name of required) if (!found.has(name)) throw new Invalid(`${where}/${name} is missing`);
  return found;
}

function leafText(el: XmlElement | undefined, where: string): string | undefined {
  if (!el) return undefined;
  if (el.children.length > 0) throw new Invalid(`${where} must hold text, not elements`);
  return el.text;
}

function unquote(value: string): string {
  const v = value.trim();
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

/** Validates one request body against `contract`. */
export function validateAddMessage(
  body: string,
  soapAction: string | undefined,
  contract: InboxContract,
): ValidatedRequest {
  try {
    return { ok: true, ...check(body, soapAction, contract) };
  } catch (err) {
    if (err instanceof Invalid || err instanceof XmlTreeError) return { ok: false, reason: err.message };
    throw err;
  }
}

function check(body: string, soapAction: string | undefined, contract: InboxContract) {
  const ns = contract.namespaces;
  if (soapAction === undefined) throw new Invalid('SOAPAction header is missing');
  if (unquote(soapAction) !== contract.soapAction) {
    throw new Invalid(`SOAPAction is not "${contract.soapAction}"`);
  }
  const root = parseXmlTree(body);
  if (root.ns !== ns.envelope || root.name !== 'Envelope') {
    throw new Invalid(`the root element is not a SOAP 1.1 Envelope (${ns.envelope})`);
  }
  const envelope = checkSequence(root, ['Header', 'Body'], ['Header', 'Body'], ns.envelope, 'Envelope');
  const header = envelope.get('Header')!;
  const addresses = childrenNamed(header, ns.logicalAddress, contract.elements.logicalAddress);
  const logicalAddress = leafText(addresses[0], 'LogicalAddress')?.trim();
  if (!logicalAddress) {
    throw new Invalid(
      `the ${contract.elements.logicalAddress} header (${ns.logicalAddress}) is missing or empty`,
    );
  }
  if (addresses.length > 1) throw new Invalid('more than one LogicalAddress header');

  const soapBody = envelope.get('Body')!;
  if (soapBody.children.length !== 1) throw new Invalid('the Body must hold exactly one element');
  const request = soapBody.children[0]!;
  if (request.ns !== ns.responder || request.name !== contract.elements.request) {
    throw new Invalid(`the Body holds ${request.name}, not ${contract.elements.request} in ${ns.responder}`);
  }
  const where = contract.elements.request;
  const fields = checkSequence(
    request,
    contract.requestSequence,
    contract.requestRequired,
    ns.responder,
    where,
  );

  const subjectOfCareId = leafText(fields.get('subjectOfCareId'), `${where}/subjectOfCareId`)!.trim();
  if (!contract.subjectOfCareIdPattern.test(subjectOfCareId)) {
    throw new Invalid(`${where}/subjectOfCareId does not match ${contract.subjectOfCareIdPattern.source}`);
  }
  const notifyText = leafText(fields.get('notify'), `${where}/notify`)!.trim();
  if (!['true', 'false', '1', '0'].includes(notifyText))
    throw new Invalid(`${where}/notify is not a boolean`);
  leafText(fields.get('sourceSystem'), `${where}/sourceSystem`);

  const message = fields.get('message')!;
  const m = checkSequence(message, contract.messageSequence, [], ns.core, `${where}/message`);
  const caseType = m.get('caseType');
  if (caseType)
    checkSequence(caseType, contract.caseTypeSequence, ['id'], ns.core, `${where}/message/caseType`);
  const facility = m.get('healthCareFacility');
  if (facility) {
    checkSequence(
      facility,
      contract.healthCareFacilitySequence,
      ['hsaId'],
      ns.core,
      `${where}/message/healthCareFacility`,
    );
  }
  for (const leaf of ['id', 'businessObjectId', 'headerText', 'bodyText']) {
    leafText(m.get(leaf), `${where}/message/${leaf}`);
  }
  const identity = contract.identityElement;
  const messageId = m.get(identity)?.text.trim() || m.get('id')?.text.trim();
  if (!messageId) {
    throw new Invalid(`${where}/message/${identity} is missing: the simulator needs a message identity`);
  }
  return { subjectOfCareId, messageId, logicalAddress, notify: notifyText === 'true' || notifyText === '1' };
}

export type RequestValidator = (body: string, soapAction: string | undefined) => ValidatedRequest;

function leafPattern(name: string): RegExp {
  return new RegExp(`<((?:[A-Za-z_][\\w.-]*:)?)${name}>([^<]*)</\\1${name}>`);
}

/**
 * validateAddMessage with a memory of envelope shapes: a campaign's envelopes
 * differ only in subjectOfCareId and the message identity, so once one has
 * passed the full check, another with the same remaining text needs only
 * those two values checked. Anything else gets the full check.
 */
export function createRequestValidator(contract: InboxContract, maxShapes = 1000): RequestValidator {
  const pnrPattern = leafPattern('subjectOfCareId');
  const idPattern = leafPattern(contract.identityElement);
  const shapes = new Map<string, { logicalAddress: string; notify: boolean }>();
  return (body, soapAction) => {
    const p = pnrPattern.exec(body);
    const i = p ? idPattern.exec(body) : null;
    if (!p || !i || i.index < p.index + p[0].length) return validateAddMessage(body, soapAction, contract);
    const pStart = p.index + p[0].indexOf('>') + 1;
    const pEnd = pStart + p[2]!.length;
    const iStart = i.index + i[0].indexOf('>') + 1;
    const iEnd = iStart + i[2]!.length;
    const shape = `${body.slice(0, pStart)}\u0000${body.slice(pEnd, iStart)}\u0000${body.slice(iEnd)}`;
    const known = shapes.get(shape);
    if (!known) {
      const full = validateAddMessage(body, soapAction, contract);
      if (full.ok) {
        if (shapes.size >= maxShapes) shapes.clear();
        shapes.set(shape, { logicalAddress: full.logicalAddress, notify: full.notify });
      }
      return full;
    }
    if (soapAction === undefined || unquote(soapAction) !== contract.soapAction) {
      return validateAddMessage(body, soapAction, contract);
    }
    const subjectOfCareId = unescapeXml(p[2]!).trim();
    const messageId = unescapeXml(i[2]!).trim();
    if (!contract.subjectOfCareIdPattern.test(subjectOfCareId) || !messageId) {
      return validateAddMessage(body, soapAction, contract);
    }
    return { ok: true, subjectOfCareId, messageId, ...known };
  };
}
