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

/** resultCode OK. The published producer returns no message (no case id) for AddMessage. */
export function okReply(contract: InboxContract): string {
  return response(contract, '<ns2:resultCode>OK</ns2:resultCode>');
}

/**
 * resultCode INFO: done with a remark to show. For AddMessage, INFO is how
 * the producer says the resident has no 1177 account, or a locked one.
 */
export function infoReply(contract: InboxContract, text: string): string {
  return response(
    contract,
    `<ns2:resultCode>INFO</ns2:resultCode><ns2:resultText>${escapeXml(text)}</ns2:resultText>`,
  );
}

/** resultCode ERROR: a logical error, not stored; resultText is prose meant for display. */
export function errorReply(contract: InboxContract, text: string): string {
  return response(
    contract,
    `<ns2:resultCode>ERROR</ns2:resultCode><ns2:resultText>${escapeXml(text)}</ns2:resultText>`,
  );
}

/** The Swedish texts the simulator answers with (the real producer's wording is not published). */
export const replyTexts = {
  'no-account': 'Invånaren har inget konto i 1177 och kan inte ta emot meddelanden där.',
  locked: 'Invånarens konto i 1177 är spärrat.',
  'logical-error': 'Meddelandet kunde inte tas emot: mottagaren saknas i folkbokföringen.',
  sourceSystemMissing: 'sourceSystem måste anges när notify är true.',
} as const;

/** A SOAP 1.1 Fault with FaultInfo { message }. */
export function faultReply(contract: InboxContract, faultCode: 'Client' | 'Server', text: string): string {
  const message = escapeXml(text);
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
        body: faultReply(contract, 'Client', 'the caller is not authorised for this service'),
        headers: {},
        counter: 'unauthorized',
      };
    case 'outage':
      return {
        status: 503,
        body: faultReply(contract, 'Server', 'the inbox is temporarily unavailable'),
        headers: {},
        counter: 'unavailable',
      };
    case 'unavailable':
      // TKB: a technical error is a SOAP Fault ("generellt undantag"), with HTTP 500.
      return {
        status: 500,
        body: faultReply(contract, 'Server', 'technical error in the inbox service'),
        headers: {},
        counter: 'unavailable',
      };
    case 'over-rate':
    case 'retry-after':
      return {
        status: 429,
        body: faultReply(contract, 'Server', 'too many requests'),
        headers: { 'retry-after': fault.kind === 'over-rate' ? '1' : String(live.retryAfterSeconds) },
        counter: 'rateLimited',
      };
    case 'timeout':
      return undefined;
  }
}
