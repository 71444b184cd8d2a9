import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { unescapeXml } from '../delivery/soap.js';

/**
 * A namespace-resolved element tree in document order, so that a validator
 * can check element order and namespaces the way a schema would.
 */
export interface XmlElement {
  /** Namespace URI ('' when none). */
  ns: string;
  /** Local name. */
  name: string;
  children: XmlElement[];
  /** Concatenated text content directly inside this element (entities decoded). */
  text: string;
}

export class XmlTreeError extends Error {}

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  removeNSPrefix: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: '#cdata',
});

type OrderedNode = Record<string, unknown>;
type Scope = ReadonlyMap<string, string>;

function convert(node: OrderedNode, scope: Scope, depth: number): XmlElement {
  if (depth > 64) throw new XmlTreeError('elements nested too deep');
  const attrs = (node[':@'] ?? {}) as Record<string, string>;
  let s = scope;
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'xmlns' || key.startsWith('xmlns:')) {
      if (s === scope) s = new Map(scope);
      (s as Map<string, string>).set(key === 'xmlns' ? '' : key.slice(6), unescapeXml(value));
    }
  }
  const tag = Object.keys(node).find((k) => k !== ':@');
  if (tag === undefined) throw new XmlTreeError('empty node');
  const colon = tag.indexOf(':');
  const prefix = colon < 0 ? '' : tag.slice(0, colon);
  const name = colon < 0 ? tag : tag.slice(colon + 1);
  const ns = s.get(prefix);
  if (ns === undefined && prefix !== '')
    throw new XmlTreeError(`namespace prefix "${prefix}" is not declared`);
  const el: XmlElement = { ns: ns ?? '', name, children: [], text: '' };
  const content = node[tag];
  if (Array.isArray(content)) {
    for (const child of content as OrderedNode[]) {
      if ('#text' in child) el.text += unescapeXml(String(child['#text']));
      else if ('#cdata' in child) {
        for (const part of child['#cdata'] as OrderedNode[]) el.text += String(part['#text'] ?? '');
      } else if (!Object.keys(child).some((k) => k.startsWith('#') || k.startsWith('?')))
        el.children.push(convert(child, s, depth + 1));
    }
  }
  return el;
}

/** Parses a document into its root element. Throws XmlTreeError when it is not well-formed. */
export function parseXmlTree(xml: string): XmlElement {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new XmlTreeError(`not well-formed XML: ${valid.err.msg} (line ${valid.err.line})`);
  }
  const nodes = parser.parse(xml) as OrderedNode[];
  const elements = nodes.filter((n) => !('#text' in n));
  if (elements.length !== 1)
    throw new XmlTreeError(`a document has one root element, not ${elements.length}`);
  return convert(elements[0]!, new Map([['xml', 'http://www.w3.org/XML/1998/namespace']]), 0);
}

/** Child elements only (whitespace between them is ignored by the callers). */
export function childrenNamed(el: XmlElement, ns: string, name: string): XmlElement[] {
  return el.children.filter((c) => c.ns === ns && c.name === name);
}
