/**
 * The ONE place that names the inbox service contract: namespaces, element
 * names and order, SOAPAction. The envelope builder, the response parser and
 * the simulator all read from here, so a newer contract version is a change to
 * this file only.
 */

/** SOAP 1.1 envelope namespace. */
export const SOAP11_ENVELOPE_NS = 'http://schemas.xmlsoap.org/soap/envelope/';

/** RIV-TA routing header namespace: `<LogicalAddress>` carries the receiver's HSA-id. */
export const LOGICAL_ADDRESS_NS = 'urn:riv:itintegration:registry:1';

export const contractNames = ['mvk-inbox-2', 'patientportal-2'] as const;
export type ContractName = (typeof contractNames)[number];

export const resultCodes = ['OK', 'ERROR', 'INFO'] as const;
export type ResultCode = (typeof resultCodes)[number];

/**
 * What each resultCode means in AddMessage (TKB "Generella regler"): OK is
 * done; INFO is done with a remark to show, and for AddMessage that remark is
 * "the resident has no 1177 account, or it is locked" (not stored: the
 * resident cannot be reached); ERROR is a logical error, not stored. No
 * response element carries an error code (the core schema's ErrorCodeEnum is
 * used by no element of AddMessage), and the stored case's id is not returned.
 */
export const resultCodeMeaning = {
  OK: 'delivered',
  INFO: 'unreachable',
  ERROR: 'rejected',
} as const satisfies Record<ResultCode, string>;

export interface InboxContract {
  readonly name: ContractName;
  /**
   * false: the names follow the published pattern but have not been checked
   * against Inera's service-contract package. Check before connecting.
   */
  readonly verified: boolean;
  readonly note: string;
  /** The service contract's URN: the WSDL's target namespace (what the platform routes on besides the logical address). */
  readonly serviceContract: string;
  /** SOAPAction header value (sent quoted, as SOAP 1.1 asks). */
  readonly soapAction: string;
  readonly namespaces: {
    readonly envelope: string;
    readonly logicalAddress: string;
    /** Request/response elements and their direct children. */
    readonly responder: string;
    /** Core types: the children of message, caseType, healthCareFacility. */
    readonly core: string;
  };
  readonly elements: {
    readonly logicalAddress: 'LogicalAddress';
    readonly request: 'AddMessage';
    readonly response: 'AddMessageResponse';
    readonly faultInfo: 'FaultInfo';
  };
  /** Children of the request element, in schema order (responder namespace). */
  readonly requestSequence: readonly string[];
  readonly requestRequired: readonly string[];
  /** Children of `message` (MessageCaseType), in schema order, all optional (core namespace). */
  readonly messageSequence: readonly string[];
  /** Children of `message/caseType`, in order. */
  readonly caseTypeSequence: readonly string[];
  /** Children of `message/healthCareFacility`, in order. */
  readonly healthCareFacilitySequence: readonly string[];
  /**
   * Where the message identity (one per campaign and recipient) goes inside
   * `message`. TKB: businessObjectId lets external systems identify a message,
   * and the same value THREADS a new message under an earlier one: it is not a
   * de-duplication key, so a resend is a second message in the inbox.
   */
  readonly identityElement: string;
  readonly subjectOfCareIdPattern: RegExp;
}

const messageCaseTypeSequence = [
  'id',
  'caseReadStatus',
  'actionDate',
  'actionTime',
  'caseType',
  'userSelectionStatus',
  'healthCareFacility',
  'booking',
  'businessObjectId',
  'headerText',
  'bodyText',
  'details',
  'msg',
  'urlConfiguration',
] as const;

const healthCareFacilityTypeSequence = [
  'hsaId',
  'healthCareFacilityName',
  'healthCareFacilityAddress',
  'healthCareFacilityPostalCode',
  'healthCareFacilityPostalCity',
  'healthCareFacilityTelephone',
  'childHsaId',
  'isServiceCategory',
] as const;

const shared = {
  elements: {
    logicalAddress: 'LogicalAddress',
    request: 'AddMessage',
    response: 'AddMessageResponse',
    faultInfo: 'FaultInfo',
  },
  requestSequence: ['subjectOfCareId', 'message', 'notify', 'sourceSystem'],
  requestRequired: ['subjectOfCareId', 'message', 'notify'],
  messageSequence: messageCaseTypeSequence,
  caseTypeSequence: ['id', 'caseTypeDescription'],
  healthCareFacilitySequence: healthCareFacilityTypeSequence,
  identityElement: 'businessObjectId',
  subjectOfCareIdPattern: /^[0-9]{8}[0-9pPtTfF][0-9]{3}$/,
} as const;

export const contracts: Readonly<Record<ContractName, InboxContract>> = Object.freeze({
  'mvk-inbox-2': Object.freeze({
    name: 'mvk-inbox-2',
    verified: true,
    note: 'AddMessage 2 in the inbox domain mvk:crm:casemanagement:inbox, as published.',
    serviceContract: 'urn:mvk:crm:casemanagement:inbox:AddMessage:2:rivtabp21',
    soapAction: 'urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2:AddMessage',
    namespaces: {
      envelope: SOAP11_ENVELOPE_NS,
      logicalAddress: LOGICAL_ADDRESS_NS,
      responder: 'urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2',
      core: 'urn:mvk:crm:casemanagement:inbox:2',
    },
    ...shared,
  }),
  // TO BE CHECKED against Inera's service-contract package for
  // infrastructure:eservicesupply:patientportal before use: the namespaces
  // follow the RIV-TA naming rules and the element layout is assumed to match
  // the inbox domain's AddMessage 2.
  'patientportal-2': Object.freeze({
    name: 'patientportal-2',
    verified: false,
    note: "Names follow the RIV-TA pattern for infrastructure:eservicesupply:patientportal; check them against Inera's package.",
    serviceContract: 'urn:riv-application:infrastructure:eservicesupply:patientportal:AddMessage:2:rivtabp21',
    soapAction: 'urn:riv:infrastructure:eservicesupply:patientportal:AddMessageResponder:2:AddMessage',
    namespaces: {
      envelope: SOAP11_ENVELOPE_NS,
      logicalAddress: LOGICAL_ADDRESS_NS,
      responder: 'urn:riv:infrastructure:eservicesupply:patientportal:AddMessageResponder:2',
      core: 'urn:riv:infrastructure:eservicesupply:patientportal:2',
    },
    ...shared,
  }),
});

export function isContractName(value: string): value is ContractName {
  return (contractNames as readonly string[]).includes(value);
}

/** A contract by name, or the contract itself. */
export function resolveContract(contract: ContractName | InboxContract): InboxContract {
  if (typeof contract !== 'string') return contract;
  const found = contracts[contract];
  if (!found) throw new TypeError(`unknown inbox contract ${JSON.stringify(contract)}`);
  return found;
}
