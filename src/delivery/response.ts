import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { type ResultCode, resultCodes } from './contract.js';
import { unescapeXml } from './soap.js';

/**
 * Reads an AddMessage response or a SOAP Fault. Namespace prefixes vary
 * between platforms, so everything is matched on local names.
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

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  // Entities are decoded by unescapeXml in one pass: faster than the
  // parser's own, and never decodes twice.
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return unescapeXml(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return text(value[0]);
  if (isNode(value) && '#text' in value) return text(value['#text']);
  return undefined;
}

/** Depth-first search for the first element with this local name. */
function find(value: unknown, name: string, depth = 0): unknown {
  if (depth > 12) return undefined;
  if (Array.isArray(value)) {
    for (const v of value) {
      const hit = find(v, name, depth + 1);
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
  if (!isNode(value)) return undefined;
  if (name in value) return value[name];
  for (const v of Object.values(value)) {
    const hit = find(v, name, depth + 1);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

const LEADING_CODE = /^\s*([A-Z][A-Za-z0-9]{2,40})\s*:/;

/** `IllegalArgument: bad number` -> `IllegalArgument`. */
export function leadingCode(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return LEADING_CODE.exec(value)?.[1];
}

function first(node: Node): [string, unknown] | undefined {
  for (const entry of Object.entries(node)) if (entry[0] !== '#text') return entry;
  return undefined;
}

/** The validator's precise complaint, when the body is not well-formed. */
function malformed(body: string): InboxResponseError | undefined {
  const valid = XMLValidator.validate(body);
  if (valid === true) return undefined;
  return new InboxResponseError(
    `response is not well-formed XML (${valid.err.code} at line ${valid.err.line}, column ${valid.err.col})`,
  );
}

const CLOSING_ENVELOPE = /^<\/(?:[A-Za-z_][\w.-]*:)?Envelope\s*>$/;

/**
 * Parses one response body. Throws InboxResponseError when it is not a SOAP
 * response. The separate well-formedness pass (as costly as the parse) runs
 * only when the parsed document is not a complete SOAP response, to say
 * precisely what is wrong; a complete one must end with its Envelope's end tag.
 */
export function parseInboxResponse(body: string): InboxResponse {
  const trimmed = body.trimEnd();
  if (trimmed.trim() === '') throw new InboxResponseError('empty response body');
  const fail = (message: string): never => {
    throw malformed(body) ?? new InboxResponseError(message);
  };
  let doc: unknown;
  try {
    doc = parser.parse(body);
  } catch (cause) {
    throw (
      malformed(body) ??
      new InboxResponseError(`response could not be parsed: ${(cause as Error).message}`, { cause })
    );
  }
  if (!CLOSING_ENVELOPE.test(trimmed.slice(trimmed.lastIndexOf('</')))) {
    fail('response does not end with the Envelope end tag');
  }
  const envelope = isNode(doc) ? doc.Envelope : undefined;
  const soapBody = isNode(envelope) ? envelope.Body : undefined;
  if (!isNode(soapBody)) return fail('response is not a SOAP envelope with a Body');

  const fault = soapBody.Fault;
  if (fault !== undefined) {
    const f = isNode(fault) ? fault : {};
    const faultCode = text(f.faultcode) ?? text(find(f.Code, 'Value')) ?? 'unknown';
    const faultString = text(f.faultstring) ?? text(find(f.Reason, 'Text'));
    const info = find(f.detail ?? f.Detail, 'FaultInfo');
    const infoMessage = isNode(info) ? text(info.message) : text(info);
    const parts = [faultString, infoMessage].filter((p): p is string => !!p);
    const message = parts.length === 2 && parts[0] === parts[1] ? parts[0]! : parts.join(' | ');
    const errorCode = leadingCode(infoMessage) ?? leadingCode(faultString);
    return { kind: 'fault', faultCode, message, ...(errorCode ? { errorCode } : {}) };
  }

  const entry = first(soapBody);
  if (!entry) return fail('response Body is empty');
  const [, response] = entry;
  const rawCode = text(find(response, 'resultCode'));
  if (rawCode === undefined) return fail(`response ${entry[0]} has no resultCode`);
  const resultCode = rawCode.trim().toUpperCase();
  if (!(resultCodes as readonly string[]).includes(resultCode)) {
    throw new InboxResponseError(
      `resultCode ${JSON.stringify(rawCode.slice(0, 40))} is not OK, ERROR or INFO`,
    );
  }
  const resultText = text(find(response, 'resultText'));
  const errorCode = text(find(response, 'errorCode')) ?? leadingCode(resultText);
  const message = isNode(response) ? response.message : undefined;
  const caseId = isNode(message) ? text(message.id) : undefined;
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
