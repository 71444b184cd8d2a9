import type { InboxContract } from '../delivery/contract.js';
import { escapeXml } from '../delivery/soap.js';
import type { InjectedFault } from './faults.js';
import type { LiveOptions } from './options.js';
import type { FaultKind } from './store.js';

/**
 * The simulator's answers. Prefixes differ from the client's on purpose
 * (`S:`, `ns2:`) so the client's local-name matching is exercised.
 */

const head = (contract: InboxContract) =>
  `<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="${contract.namespaces.envelope}"><S:Body>`;
const tail = '</S:Body></S:Envelope>';

function response(contract: InboxContract, inner: string): string {
  const ns = contract.namespaces;
  return (
    head(contract) +
    `<ns2:${contract.elements.response} xmlns:ns2="${ns.responder}" xmlns:ns3="${ns.core}">${inner}</ns2:${contract.elements.response}>` +
    tail
  );
}

/** resultCode OK with the stored case. */
export function okReply(contract: InboxContract, caseId: string): string {
  return response(
    contract,
    `<ns2:message><ns3:id>${escapeXml(caseId)}</ns3:id></ns2:message><ns2:resultCode>OK</ns2:resultCode>`,
  );
}

/** resultCode ERROR; `code` leads resultText as `Code: text`, the way the client reads error codes. */
export function errorReply(contract: InboxContract, code: string, text: string): string {
  return response(
    contract,
    `<ns2:resultCode>ERROR</ns2:resultCode><ns2:resultText>${escapeXml(`${code}: ${text}`)}</ns2:resultText>`,
  );
}

/** A SOAP 1.1 Fault with FaultInfo { message }. */
export function faultReply(
  contract: InboxContract,
  faultCode: 'Client' | 'Server',
  code: string,
  text: string,
): string {
  const message = escapeXml(`${code}: ${text}`);
  return (
    head(contract) +
    `<S:Fault><faultcode>S:${faultCode}</faultcode><faultstring>${message}</faultstring>` +
    `<detail><ns2:${contract.elements.faultInfo} xmlns:ns2="${contract.namespaces.core}"><ns2:message>${message}</ns2:message></ns2:${contract.elements.faultInfo}></detail>` +
    `</S:Fault>${tail}`
  );
}

export interface FaultAnswer {
  status: number;
  body: string;
  headers: Record<string, string>;
  counter: FaultKind;
}

/** What an injected fault answers; undefined for a timeout (never answered). */
export function faultAnswer(
  contract: InboxContract,
  fault: InjectedFault,
  live: LiveOptions,
): FaultAnswer | undefined {
  switch (fault.kind) {
    case 'unauthorized':
      return {
        status: 403,
        body: faultReply(
          contract,
          'Client',
          'Unauthorized',
          'the caller is not authorised for this logical address',
        ),
        headers: {},
        counter: 'unauthorized',
      };
    case 'outage':
    case 'unavailable':
      return {
        status: 503,
        body: faultReply(contract, 'Server', 'Unavailable', 'the inbox is temporarily unavailable'),
        headers: {},
        counter: 'unavailable',
      };
    case 'over-rate':
    case 'retry-after':
      return {
        status: 429,
        body: faultReply(contract, 'Server', 'Unavailable', 'too many requests'),
        headers: { 'retry-after': fault.kind === 'over-rate' ? '1' : String(live.retryAfterSeconds) },
        counter: 'rateLimited',
      };
    case 'timeout':
      return undefined;
  }
}
