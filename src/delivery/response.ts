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
      resultCode: ResultCode;
      resultText?: string;
      /** An `errorCode` element, or the leading `Code:` of resultText (e.g. `IllegalArgument: ...`). */
      errorCode?: string;
      /** The stored case's id (`message/id`), when the platform returns it. */
      caseId?: string;
    }
  | {
      kind: 'fault';
      /** faultcode (SOAP 1.1) or Code/Value (SOAP 1.2), e.g. `soap:Server`. */
      faultCode: string;
      /** faultstring, plus FaultInfo/message when that says something else. */
      message: string;
      /** The leading `Code:` of the fault text, e.g. `Unavailable`. */
      errorCode?: string;
    };

/** The body could not be read as a SOAP response. */
export class InboxResponseError extends Error {
  readonly code = 'BAD_RESPONSE';
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

const LEADING_CODE = /^\s*([A-Z][A-Za-z0-9]{2,40})\s*:/;

/** `IllegalArgument: bad number` -> `IllegalArgument`. */
export function leadingCode(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return LEADING_CODE.exec(value)?.[1];
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
    const errorCode = leadingCode(infoMessage) ?? leadingCode(faultString);
    return { kind: 'fault', faultCode, message, ...(errorCode ? { errorCode } : {}) };
  }

  const response = soapBody.children[0];
  if (!response) throw new InboxResponseError('response Body is empty');
  const rawCode = text(find(response, 'resultCode'));
  if (rawCode === undefined) throw new InboxResponseError(`response ${response.name} has no resultCode`);
  const resultCode = rawCode.toUpperCase();
  if (!(resultCodes as readonly string[]).includes(resultCode)) {
    throw new InboxResponseError(
      `resultCode ${JSON.stringify(rawCode.slice(0, 40))} is not OK, ERROR or INFO`,
    );
  }
  const resultText = text(find(response, 'resultText'));
  const errorCode = text(find(response, 'errorCode')) ?? leadingCode(resultText);
  const caseId = text(child(child(response, 'message'), 'id'));
  return {
    kind: 'response',
    resultCode: resultCode as ResultCode,
    ...(resultText ? { resultText } : {}),
    ...(errorCode ? { errorCode } : {}),
    ...(caseId ? { caseId } : {}),
  };
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
