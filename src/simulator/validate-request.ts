import { SaxesParser, type SaxesTagNS } from 'saxes';
import type { InboxContract } from '../delivery/contract.js';
import {
  addMessageElement,
  type ComplexTypeDecl,
  complexTypes,
  type ElementDecl,
  isSimpleType,
  type SchemaNamespace,
  simpleTypes,
  subjectOfCareIdPattern,
} from './schema-model.js';
import type { AddMessageSchema, XsdVerdict } from './xsd.js';

/**
 * Judges an AddMessage request the way the published producer would: the
 * SOAPAction, a SOAP 1.1 envelope (Header optional, an optional RIV-TA
 * LogicalAddress read from it), one AddMessage element in the Body, checked
 * faithfully against the published schema (see schema-model.ts). Reasons are
 * one line, name the element path and never hold a personnummer.
 */
export interface AddMessageRequest {
  subjectOfCareId: string;
  notify: boolean;
  sourceSystem?: string;
  logicalAddress?: string;
  businessObjectId?: string;
  headerText?: string;
  bodyText?: string;
  caseTypeDescription?: string;
  /** Decoded text of message/msg (entities resolved): the DocBook document. */
  msg?: string;
  facility: {
    hsaId?: string;
    name?: string;
    address?: string;
    postalCode?: string;
    postalCity?: string;
    telephone?: string;
  };
}

export type ValidatedRequest = { ok: true; request: AddMessageRequest } | { ok: false; reason: string };

class Invalid extends Error {}

// ---------------------------------------------------------------------------
// A namespace-resolved element tree with source offsets, built with saxes.

interface XNode {
  readonly uri: string;
  readonly local: string;
  readonly qname: string;
  readonly parent: XNode | undefined;
  /** Namespace declarations made on this element. */
  readonly declarations: Readonly<Record<string, string>>;
  /** Offset of `<`, and just past the end tag (or `/>`), in the source string. */
  readonly start: number;
  end: number;
  /** Names of attributes other than namespace declarations. */
  readonly attributes: string[];
  readonly children: XNode[];
  /** Text and CDATA directly inside, entities resolved, comments and PIs left out. */
  text: string;
  hasCdata: boolean;
}

const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
const NOT_BLANK = /[^ \t\n\r]/;

function parseXml(xml: string): XNode {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XNode[] = [];
  let root: XNode | undefined;
  let start = 0;
  parser.on('error', (err) => {
    throw new Invalid(`not well-formed XML: ${err.message}`);
  });
  // Six handlers at most: a seventh makes saxes several times slower (V8 turns
  // the parser's properties into a dictionary). So no doctype handler: a DTD
  // can only be in the prolog, which is looked at when the root element opens.
  parser.on('opentagstart', (tag) => {
    start = parser.position - tag.name.length - 2;
    if (stack.length === 0 && xml.lastIndexOf('<!DOCTYPE', start) >= 0) {
      throw new Invalid('a SOAP message must not hold a document type declaration');
    }
  });
  parser.on('opentag', (tag: SaxesTagNS) => {
    const parent = stack[stack.length - 1];
    const node: XNode = {
      uri: tag.uri,
      local: tag.local,
      qname: tag.name,
      parent,
      declarations: tag.ns,
      start,
      end: -1,
      attributes: Object.values(tag.attributes)
        .filter((a) => a.uri !== XMLNS_NS)
        .map((a) => a.name),
      children: [],
      text: '',
      hasCdata: false,
    };
    if (parent) parent.children.push(node);
    else root = node;
    stack.push(node);
  });
  parser.on('closetag', () => {
    stack.pop()!.end = parser.position;
  });
  parser.on('text', (text) => {
    const top = stack[stack.length - 1];
    if (top) top.text += text;
  });
  parser.on('cdata', (text) => {
    const top = stack[stack.length - 1]!;
    top.text += text;
    top.hasCdata = true;
  });
  parser.write(xml).close();
  if (!root) throw new Invalid('not well-formed XML: no root element');
  return root;
}

/** The namespace bindings in scope at `node` (its own and its ancestors'), nearest first. */
function inScope(node: XNode): Map<string, string> {
  const scope = new Map<string, string>();
  for (let n: XNode | undefined = node; n; n = n.parent) {
    for (const [prefix, uri] of Object.entries(n.declarations))
      if (!scope.has(prefix)) scope.set(prefix, uri);
  }
  return scope;
}

const escapeAttr = (v: string) =>
  v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;').replace(/\t/g, '&#9;');

/** `node` cut out of `xml` as a document, with the declarations it inherits added to its start tag. */
function standalone(xml: string, node: XNode): string {
  let declarations = '';
  for (const [prefix, uri] of inScope(node)) {
    if (prefix in node.declarations || (prefix === '' && uri === '')) continue;
    declarations += ` ${prefix ? `xmlns:${prefix}` : 'xmlns'}="${escapeAttr(uri)}"`;
  }
  const nameEnd = node.start + 1 + node.qname.length;
  return xml.slice(node.start, nameEnd) + declarations + xml.slice(nameEnd, node.end);
}

function findElement(node: XNode, uri: string, local: string): XNode | undefined {
  if (node.uri === uri && node.local === local) return node;
  for (const child of node.children) {
    const found = findElement(child, uri, local);
    if (found) return found;
  }
  return undefined;
}

/**
 * The AddMessage element (in `responderNamespace`) of a SOAP envelope, as a
 * standalone XML document that keeps every namespace binding in scope at it.
 * Undefined when the envelope is not well-formed or holds no such element.
 */
export function extractAddMessage(
  envelope: string,
  responderNamespace = 'urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2',
): string | undefined {
  let root: XNode;
  try {
    root = parseXml(envelope);
  } catch (err) {
    if (err instanceof Invalid) return undefined;
    throw err;
  }
  const node = findElement(root, responderNamespace, addMessageElement.name);
  return node && standalone(envelope, node);
}

// ---------------------------------------------------------------------------
// Reasons never hold a personnummer: values are quoted only for types that
// cannot hold one, shortened, and any run of digits that could be one is masked.

const NUMBER_RUN = /[0-9\p{Nd}]{6,}(?:[-+]?[0-9\p{Nd}pPtTfF]+)?/gu;

/** Masks every run of 6+ digits (with what follows it in a personnummer) as `[number]`. */
export function redactNumbers(text: string): string {
  return text.replace(NUMBER_RUN, '[number]');
}

function quote(value: string): string {
  const short = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return redactNumbers(JSON.stringify(short));
}

// ---------------------------------------------------------------------------
// The AddMessage element against the model of the published schema.

type Namespaces = Readonly<Record<SchemaNamespace, string>>;

function checkElement(node: XNode, decl: ElementDecl, path: string, ns: Namespaces): void {
  if (node.attributes.length > 0) {
    throw new Invalid(`${path}: attribute ${node.attributes[0]} is not allowed (the schema declares none)`);
  }
  if (isSimpleType(decl.type)) {
    if (node.children.length > 0) throw new Invalid(`${path} must hold text, not elements`);
    const type = simpleTypes[decl.type];
    if (type.accepts(node.text)) return;
    if (decl.type === 'SubjectOfCareIdType') throw new Invalid(`${path} does not match ${type.expected}`);
    throw new Invalid(`${path}: ${quote(node.text)} is not ${type.expected}`);
  }
  const type = complexTypes[decl.type];
  if (type.abstract) {
    throw new Invalid(`${path}: its type ${type.name} is abstract, and xsi:type is not supported`);
  }
  if (NOT_BLANK.test(node.text)) throw new Invalid(`${path}: text is not allowed here, only elements`);
  if (node.hasCdata) throw new Invalid(`${path}: a CDATA section is not allowed here, only elements`);
  for (const [child, childDecl] of matchSequence(node, type, path, ns[type.ns])) {
    checkElement(child, childDecl, `${path}/${child.local}`, ns);
  }
}

/** Pairs each child with its declaration; throws unless the children follow the sequence. */
function matchSequence(
  node: XNode,
  type: ComplexTypeDecl,
  path: string,
  uri: string,
): [XNode, ElementDecl][] {
  const seq = type.sequence;
  const children = node.children;
  const pairs: [XNode, ElementDecl][] = [];
  const missing = (j: number, from: number): Invalid => {
    const name = seq[j]!.name;
    const later = children.slice(from).some((c) => c.local === name && c.uri === uri);
    return new Invalid(
      later
        ? `${path}/${name} is out of order: it must come before ${children[from]!.local}`
        : `${path}/${name} is missing`,
    );
  };
  let at = 0;
  let count = 0;
  for (let c = 0; c < children.length; c++) {
    const child = children[c]!;
    const k = seq.findIndex((d) => d.name === child.local);
    if (k < 0) throw new Invalid(`${path}: unexpected element ${child.local}`);
    if (child.uri !== uri) {
      throw new Invalid(`${path}/${child.local}: namespace "${child.uri || '(none)'}" is not "${uri}"`);
    }
    if (k === at && count < seq[at]!.maxOccurs) count++;
    else if (k > at) {
      for (let j = at; j < k; j++) if ((j === at ? count : 0) < seq[j]!.minOccurs) throw missing(j, c);
      at = k;
      count = 1;
    } else if (k === at || children.slice(0, c).some((p) => p.local === child.local)) {
      throw new Invalid(`${path}/${child.local} appears more than once`);
    } else {
      throw new Invalid(`${path}/${child.local} is out of order: it must come before ${seq[at]!.name}`);
    }
    pairs.push([child, seq[k]!]);
  }
  for (let j = at; j < seq.length; j++) {
    if ((j === at ? count : 0) < seq[j]!.minOccurs) throw missing(j, children.length);
  }
  return pairs;
}

// ---------------------------------------------------------------------------
// The envelope.

function unquote(value: string): string {
  const v = value.trim();
  return v.length >= 2 && v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v;
}

const childOf = (node: XNode | undefined, uri: string, local: string) =>
  node?.children.find((c) => c.uri === uri && c.local === local);

const BOOLEAN_TRUE = /^[ \t\n\r]*(?:true|1)[ \t\n\r]*$/;

/** Reads the request's fields by name; order and types are checked elsewhere. */
function readRequest(
  addMessage: XNode,
  logicalAddress: string | undefined,
  ns: Namespaces,
): AddMessageRequest {
  const r = (name: string) => childOf(addMessage, ns.responder, name);
  const message = r('message');
  const c = (name: string, parent = message) => childOf(parent, ns.core, name)?.text;
  const facility = childOf(message, ns.core, 'healthCareFacility');
  const fields: Partial<AddMessageRequest> = {
    sourceSystem: r('sourceSystem')?.text,
    logicalAddress,
    businessObjectId: c('businessObjectId'),
    headerText: c('headerText'),
    bodyText: c('bodyText'),
    caseTypeDescription: c('caseTypeDescription', childOf(message, ns.core, 'caseType')),
    msg: c('msg'),
  };
  const facilityFields = {
    hsaId: c('hsaId', facility),
    name: c('healthCareFacilityName', facility),
    address: c('healthCareFacilityAddress', facility),
    postalCode: c('healthCareFacilityPostalCode', facility),
    postalCity: c('healthCareFacilityPostalCity', facility),
    telephone: c('healthCareFacilityTelephone', facility),
  };
  return {
    subjectOfCareId: r('subjectOfCareId')?.text ?? '',
    notify: BOOLEAN_TRUE.test(r('notify')?.text ?? ''),
    ...dropUndefined(fields),
    facility: dropUndefined(facilityFields),
  };
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** The outcome of one full check, with what the XSD and the shape memory need. */
type Inspection =
  | { stage: 'soap'; reason: string }
  | {
      stage: 'addMessage';
      node: XNode;
      /** The fast validator's verdict on the AddMessage element: undefined = valid. */
      reason: string | undefined;
      request: () => AddMessageRequest;
    };

function inspect(body: string, soapAction: string | undefined, contract: InboxContract): Inspection {
  try {
    const ns = contract.namespaces;
    if (soapAction === undefined) throw new Invalid('SOAPAction header is missing');
    if (unquote(soapAction) !== contract.soapAction)
      throw new Invalid(`SOAPAction is not "${contract.soapAction}"`);
    const root = parseXml(body);
    if (root.uri !== ns.envelope || root.local !== 'Envelope') {
      throw new Invalid(`the root element is not a SOAP 1.1 Envelope (${ns.envelope})`);
    }
    const [first, second, third] = root.children;
    const hasHeader = first?.uri === ns.envelope && first.local === 'Header';
    const header = hasHeader ? first : undefined;
    const soapBody = hasHeader ? second : first;
    if (soapBody?.uri !== ns.envelope || soapBody.local !== 'Body') {
      throw new Invalid(`Envelope: expected ${hasHeader ? '' : 'an optional Header, then '}a Body`);
    }
    if ((hasHeader ? third : second) !== undefined)
      throw new Invalid('Envelope: nothing may follow the Body');
    for (const n of [root, header, soapBody]) {
      if (n && NOT_BLANK.test(n.text))
        throw new Invalid(`${n.local}: text is not allowed here, only elements`);
    }
    const addresses = (header?.children ?? []).filter(
      (c) => c.uri === ns.logicalAddress && c.local === contract.elements.logicalAddress,
    );
    if (addresses.length > 1) throw new Invalid(`Header: more than one ${contract.elements.logicalAddress}`);
    if (addresses[0] && addresses[0].children.length > 0) {
      throw new Invalid(`Header/${contract.elements.logicalAddress} must hold text, not elements`);
    }
    const logicalAddress = addresses[0]?.text.trim() || undefined;
    if (soapBody.children.length !== 1) throw new Invalid('the Body must hold exactly one element');
    const node = soapBody.children[0]!;
    const name = contract.elements.request;
    if (node.uri !== ns.responder || node.local !== name) {
      throw new Invalid(`the Body holds ${node.local}, not ${name} in ${ns.responder}`);
    }
    let reason: string | undefined;
    try {
      checkElement(node, addMessageElement, name, ns);
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      reason = redactNumbers(err.message);
    }
    return { stage: 'addMessage', node, reason, request: () => readRequest(node, logicalAddress, ns) };
  } catch (err) {
    if (err instanceof Invalid) return { stage: 'soap', reason: redactNumbers(err.message) };
    throw err;
  }
}

/** Validates one request body against `contract` with the fast validator alone. */
export function validateAddMessage(
  body: string,
  soapAction: string | undefined,
  contract: InboxContract,
): ValidatedRequest {
  const checked = inspect(body, soapAction, contract);
  if (checked.stage === 'soap') return { ok: false, reason: checked.reason };
  if (checked.reason !== undefined) return { ok: false, reason: checked.reason };
  return { ok: true, request: checked.request() };
}

// ---------------------------------------------------------------------------
// The validator the simulator runs: the fast check, the XSD, and a memory of
// envelope shapes.

export type RequestValidator = (body: string, soapAction: string | undefined) => ValidatedRequest;

/** A new envelope shape on which the fast validator and the XSD disagreed (the XSD verdict was used). */
export interface Disagreement {
  /** The fast validator's reason; undefined when it found the AddMessage valid. */
  fastReason: string | undefined;
  /** The XSD's errors (redacted); empty when it found the AddMessage valid. */
  xsdErrors: readonly string[];
}

export interface RequestValidatorOptions {
  /**
   * The compiled published schema. When given, the AddMessage element of every
   * new envelope shape is also validated by it, and its verdict wins.
   * Default: none (the fast validator alone).
   */
  schema?: AddMessageSchema;
  /** Run the XSD on every Nth new shape only (benchmarks). Default 1: every new shape. */
  sampleEvery?: number;
  /** Envelope shapes remembered before the memory is cleared. Default 1000. */
  maxShapes?: number;
  /** Told about every disagreement between the fast validator and the XSD. */
  onDisagreement?: (disagreement: Disagreement) => void;
}

function leafPattern(name: string): RegExp {
  return new RegExp(`<((?:[A-Za-z_][\\w.-]*:)?)${name}>([^<]*)</\\1${name}>`, 'g');
}

/** Text that means the same raw and decoded, and cannot change how the rest parses. */
const PLAIN_TEXT = /^[^<&\]\r\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]*$/;

type Remembered = Omit<AddMessageRequest, 'subjectOfCareId' | 'businessObjectId'>;

/**
 * The request validator the simulator runs. A campaign's envelopes differ
 * only in subjectOfCareId and businessObjectId: once an envelope has passed
 * the full check, another with the same remaining text (its "shape") needs
 * only those two values checked. A new shape gets the full check: the fast
 * validator, and, when `schema` is given, the XSD on the AddMessage element
 * (the XSD's verdict wins). Requests without a businessObjectId always get the
 * full check.
 */
export function createRequestValidator(
  contract: InboxContract,
  options: RequestValidatorOptions = {},
): RequestValidator {
  const { schema, sampleEvery = 1, maxShapes = 1000, onDisagreement } = options;
  if (schema && schema.namespaces.responder !== contract.namespaces.responder) {
    throw new TypeError(
      `the schema's namespace ${schema.namespaces.responder} is not contract ${contract.name}'s ${contract.namespaces.responder}`,
    );
  }
  if (!Number.isInteger(sampleEvery) || sampleEvery < 1)
    throw new TypeError('sampleEvery must be an integer ≥ 1');
  const pnrPattern = leafPattern('subjectOfCareId');
  const idPattern = leafPattern('businessObjectId');
  const shapes = new Map<string, Remembered>();
  let newShapes = 0;

  const full = (
    body: string,
    soapAction: string | undefined,
    shape: Located | undefined,
  ): ValidatedRequest => {
    const checked = inspect(body, soapAction, contract);
    if (checked.stage === 'soap') return { ok: false, reason: checked.reason };
    let verdict: ValidatedRequest =
      checked.reason === undefined
        ? { ok: true, request: checked.request() }
        : { ok: false, reason: checked.reason };
    if (schema && newShapes++ % sampleEvery === 0) {
      const xsd: XsdVerdict = schema.validate(standalone(body, checked.node));
      if (xsd.ok !== verdict.ok) {
        onDisagreement?.({ fastReason: checked.reason, xsdErrors: xsd.ok ? [] : xsd.errors });
        verdict = xsd.ok
          ? { ok: true, request: checked.request() }
          : { ok: false, reason: `${contract.elements.request} (XSD): ${xsd.errors[0] ?? 'invalid'}` };
        return verdict;
      }
    }
    if (verdict.ok && shape && locatedAt(checked.node, shape, contract)) {
      if (shapes.size >= maxShapes) shapes.clear();
      const { subjectOfCareId: _p, businessObjectId: _b, ...rest } = verdict.request;
      shapes.set(shape.key, rest);
    }
    return verdict;
  };

  return (body, soapAction) => {
    const shape = locate(body, pnrPattern, idPattern);
    const known = shape && shapes.get(shape.key);
    if (!shape || !known) return full(body, soapAction, shape);
    if (soapAction === undefined || unquote(soapAction) !== contract.soapAction) {
      return full(body, soapAction, shape);
    }
    if (!subjectOfCareIdPattern.test(shape.pnr) || !PLAIN_TEXT.test(shape.id)) {
      return full(body, soapAction, shape);
    }
    return { ok: true, request: { ...known, subjectOfCareId: shape.pnr, businessObjectId: shape.id } };
  };
}

interface Located {
  key: string;
  pnr: string;
  id: string;
  pnrAt: number;
  idAt: number;
}

/** The first subjectOfCareId leaf and the first businessObjectId leaf after it, and the text around them. */
function locate(body: string, pnrPattern: RegExp, idPattern: RegExp): Located | undefined {
  pnrPattern.lastIndex = 0;
  const p = pnrPattern.exec(body);
  if (!p) return undefined;
  idPattern.lastIndex = p.index + p[0].length;
  const i = idPattern.exec(body);
  if (!i) return undefined;
  const pStart = p.index + p[0].indexOf('>') + 1;
  const pEnd = pStart + p[2]!.length;
  const iStart = i.index + i[0].indexOf('>') + 1;
  const iEnd = iStart + i[2]!.length;
  return {
    key: `${body.slice(0, pStart)}\u0000${body.slice(pEnd, iStart)}\u0000${body.slice(iEnd)}`,
    pnr: p[2]!,
    id: i[2]!,
    pnrAt: p.index,
    idAt: i.index,
  };
}

/**
 * True when the leaves `locate` found are AddMessage/subjectOfCareId and
 * message/businessObjectId themselves, written as plain text: only then may
 * another envelope of the same shape skip the full check.
 */
function locatedAt(addMessage: XNode, shape: Located, contract: InboxContract): boolean {
  const ns = contract.namespaces;
  const pnr = childOf(addMessage, ns.responder, 'subjectOfCareId');
  const id = childOf(childOf(addMessage, ns.responder, 'message'), ns.core, 'businessObjectId');
  return (
    pnr?.start === shape.pnrAt &&
    id?.start === shape.idAt &&
    PLAIN_TEXT.test(shape.pnr) &&
    PLAIN_TEXT.test(shape.id)
  );
}
