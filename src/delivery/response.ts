import { SaxesParser } from 'saxes';
import { type ResultCode, resultCodes } from './contract.js';

/**
 * Reads an AddMessage response or a SOAP Fault. Namespace prefixes vary
 * between platforms, so everything is matched on local names.
 *
 * The parser is saxes: a strict, non-validating XML 1.0 parser (the one jsdom
 * uses). It checks well-formedness and decodes entities in the same single
 * pass that builds the small tree read here, about four times faster than the
 * object-building parser it replaced (scripts/bench-delivery.ts).
 */

export type InboxResponse =
  | {
      kind: 'response';
      /** Exactly OK, ERROR or INFO (the schema's enumeration; case matters). */
      resultCode: ResultCode;
      resultText?: string;
    }
  | {
      kind: 'fault';
      /** faultcode (SOAP 1.1) or Code/Value (SOAP 1.2), e.g. `soap:Server`. */
      faultCode: string;
      /** faultstring, plus FaultInfo/message when that says something else. */
      message: string;
    };

/** The body could not be read as a SOAP response. */
export class InboxResponseError extends Error {
  readonly code: string = 'BAD_RESPONSE';
}

/**
 * An answer that is not per the contract: the call reached the platform, so
 * it may have stored the message; the caller must not guess.
 */
export class ContractViolationError extends InboxResponseError {
  override readonly code: string = 'CONTRACT_VIOLATION';
}

/** An element by local name, its child elements and its own text. */
interface El {
  name: string;
  children: El[];
  text: string;
}

/** Deeper than any SOAP response needs; a bound on what a hostile body can make us build. */
const MAX_DEPTH = 32;
const MAX_ELEMENTS = 4096;

const localName = (qname: string) => {
  const colon = qname.indexOf(':');
  return colon < 0 ? qname : qname.slice(colon + 1);
};

/** Parses the whole body, strictly; throws InboxResponseError with line and column when it is not well-formed. */
function parseTree(body: string): El {
  const root: El = { name: '#document', children: [], text: '' };
  const stack: El[] = [root];
  let count = 0;
  let tooBig = false;
  const parser = new SaxesParser({ position: true });
  parser.on('opentag', (tag) => {
    if (tooBig) return;
    if (stack.length > MAX_DEPTH || ++count > MAX_ELEMENTS) {
      tooBig = true;
      return;
    }
    const el: El = { name: localName(tag.name), children: [], text: '' };
    stack[stack.length - 1]!.children.push(el);
    stack.push(el);
  });
  parser.on('closetag', () => {
    if (!tooBig) stack.pop();
  });
  const onText = (t: string) => {
    if (!tooBig) stack[stack.length - 1]!.text += t;
  };
  parser.on('text', onText);
  parser.on('cdata', onText);
  try {
    parser.write(body).close();
  } catch (cause) {
    const message = (cause as Error).message;
    const at = /^(?:[^:]*:)?(\d+):(\d+): (.*?)\.?$/s.exec(message);
    throw new InboxResponseError(
      at
        ? `response is not well-formed XML (line ${at[1]}, column ${at[2]}: ${at[3]})`
        : `response is not well-formed XML (${message})`,
      { cause },
    );
  }
  if (tooBig)
    throw new InboxResponseError(
      `response is nested deeper than ${MAX_DEPTH} or has more than ${MAX_ELEMENTS} elements`,
    );
  return root;
}

const child = (el: El | undefined, name: string) => el?.children.find((c) => c.name === name);

/** Depth-first search for the first element with this local name, below `el`. */
function find(el: El | undefined, name: string): El | undefined {
  if (!el) return undefined;
  for (const c of el.children) {
    if (c.name === name) return c;
    const hit = find(c, name);
    if (hit) return hit;
  }
  return undefined;
}

/** The element's text, trimmed; undefined when there is no element or no text. */
function text(el: El | undefined): string | undefined {
  if (!el) return undefined;
  const t = el.text.trim();
  return t === '' ? undefined : t;
}

/** Parses one response body. Throws InboxResponseError when it is not a SOAP response. */
export function parseInboxResponse(body: string): InboxResponse {
  if (body.trim() === '') throw new InboxResponseError('empty response body');
  const doc = parseTree(body);
  const envelope = doc.children[0];
  if (envelope?.name !== 'Envelope') {
    throw new InboxResponseError(
      `response is not a SOAP envelope (root element ${envelope?.name ?? 'none'})`,
    );
  }
  const soapBody = child(envelope, 'Body');
  if (!soapBody) throw new InboxResponseError('response is not a SOAP envelope with a Body');

  const fault = child(soapBody, 'Fault');
  if (fault) {
    const faultCode =
      text(child(fault, 'faultcode')) ?? text(find(child(fault, 'Code'), 'Value')) ?? 'unknown';
    const faultString = text(child(fault, 'faultstring')) ?? text(find(child(fault, 'Reason'), 'Text'));
    const info = find(child(fault, 'detail') ?? child(fault, 'Detail'), 'FaultInfo');
    const infoMessage = text(child(info, 'message')) ?? text(info);
    const parts = [faultString, infoMessage].filter((p): p is string => !!p);
    const message = parts.length === 2 && parts[0] === parts[1] ? parts[0]! : parts.join(' | ');
    return { kind: 'fault', faultCode, message };
  }

  // The schema's AddMessageResponse: message?, resultCode, resultText?, then
  // xs:any ##other extensions. Only its own direct children are read, so an
  // extension element can never be mistaken for the result.
  const response = soapBody.children[0];
  if (!response) throw new InboxResponseError('response Body is empty');
  if (response.name !== 'AddMessageResponse') {
    throw new ContractViolationError(
      `response Body holds ${response.name.slice(0, 60)}, not AddMessageResponse`,
    );
  }
  const codes = response.children.filter((c) => c.name === 'resultCode');
  if (codes.length !== 1) {
    throw new ContractViolationError(
      `AddMessageResponse has ${codes.length} resultCode elements, not exactly one`,
    );
  }
  // An enumeration of xs:string: exactly these spellings, no surrounding blanks (whiteSpace preserve).
  const rawCode = codes[0]!.text;
  if (!(resultCodes as readonly string[]).includes(rawCode)) {
    throw new ContractViolationError(
      `resultCode ${JSON.stringify(printable(rawCode))} is not OK, ERROR or INFO (exactly these spellings)`,
    );
  }
  const resultText = text(child(response, 'resultText'));
  return { kind: 'response', resultCode: rawCode as ResultCode, ...(resultText ? { resultText } : {}) };
}

/** At most 40 characters, control characters escaped: safe to put in a log line. */
function printable(value: string): string {
  const short = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return short.replace(
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/**
 * Retry-After as milliseconds from `nowMs`: delta-seconds or an HTTP-date.
 * Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const v = raw.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}
