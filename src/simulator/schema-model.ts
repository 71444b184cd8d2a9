/**
 * A declarative model of the published AddMessage 2 schema
 * (AddMessageResponder_2.0.xsd and mvk_crm_casemanagement_inbox_2.0.xsd),
 * for the simulator's fast validator. It holds exactly what the XSD says about
 * the types reachable from the AddMessage element, and is kept honest by a
 * differential test against the XSD itself (libxml2).
 *
 * Namespaces are symbolic ('responder' | 'core') and resolved through the
 * contract, so a contract with other namespaces but the same layout shares
 * the model. elementFormDefault is qualified: the child elements of a complex
 * type are in the target namespace of the schema that defines the type.
 */

export type SchemaNamespace = 'responder' | 'core';

export const simpleTypeNames = [
  'string',
  'boolean',
  'date',
  'time',
  'dateTime',
  'integer',
  'SubjectOfCareIdType',
  'CaseReadStatusType',
  'UserSelectionStatusType',
  'UrlLinkTypeType',
] as const;
export type SimpleTypeName = (typeof simpleTypeNames)[number];

export type ComplexTypeName =
  | 'AddMessageType'
  | 'MessageCaseType'
  | 'CaseType'
  | 'CaseTypeType'
  | 'HealthCareFacilityType'
  | 'BookingType'
  | 'UrlConfigurationType'
  | 'CaseListType';

export interface ElementDecl {
  readonly name: string;
  readonly type: SimpleTypeName | ComplexTypeName;
  readonly minOccurs: 0 | 1;
  /** `Infinity` for maxOccurs="unbounded". */
  readonly maxOccurs: number;
}

export interface ComplexTypeDecl {
  readonly name: ComplexTypeName;
  /** The namespace of the schema defining the type, and so of its child elements. */
  readonly ns: SchemaNamespace;
  /** An abstract type: an element of this type is valid only with xsi:type, which is not supported. */
  readonly abstract: boolean;
  /** Element-only content: one sequence (no choice, no any, no attributes, not mixed). */
  readonly sequence: readonly ElementDecl[];
}

function el(name: string, type: ElementDecl['type'], minOccurs: 0 | 1 = 1, maxOccurs = 1): ElementDecl {
  return { name, type, minOccurs, maxOccurs };
}
const opt = (name: string, type: ElementDecl['type']) => el(name, type, 0);

/** CaseType's sequence; MessageCaseType extends it with msg and urlConfiguration. */
const caseTypeSequence: readonly ElementDecl[] = [
  opt('id', 'string'),
  opt('caseReadStatus', 'CaseReadStatusType'),
  opt('actionDate', 'date'),
  opt('actionTime', 'time'),
  opt('caseType', 'CaseTypeType'),
  opt('userSelectionStatus', 'UserSelectionStatusType'),
  opt('healthCareFacility', 'HealthCareFacilityType'),
  opt('booking', 'BookingType'),
  opt('businessObjectId', 'string'),
  opt('headerText', 'string'),
  opt('bodyText', 'string'),
  opt('details', 'CaseListType'),
];

export const complexTypes: Readonly<Record<ComplexTypeName, ComplexTypeDecl>> = {
  AddMessageType: {
    name: 'AddMessageType',
    ns: 'responder',
    abstract: false,
    sequence: [
      el('subjectOfCareId', 'SubjectOfCareIdType'),
      el('message', 'MessageCaseType'),
      el('notify', 'boolean'),
      opt('sourceSystem', 'string'),
    ],
  },
  CaseType: { name: 'CaseType', ns: 'core', abstract: true, sequence: caseTypeSequence },
  MessageCaseType: {
    name: 'MessageCaseType',
    ns: 'core',
    abstract: false,
    sequence: [...caseTypeSequence, opt('msg', 'string'), opt('urlConfiguration', 'UrlConfigurationType')],
  },
  CaseTypeType: {
    name: 'CaseTypeType',
    ns: 'core',
    abstract: false,
    sequence: [opt('id', 'string'), opt('caseTypeDescription', 'string')],
  },
  HealthCareFacilityType: {
    name: 'HealthCareFacilityType',
    ns: 'core',
    abstract: false,
    sequence: [
      opt('hsaId', 'string'),
      opt('healthCareFacilityName', 'string'),
      opt('healthCareFacilityAddress', 'string'),
      opt('healthCareFacilityPostalCode', 'string'),
      opt('healthCareFacilityPostalCity', 'string'),
      opt('healthCareFacilityTelephone', 'string'),
      opt('childHsaId', 'string'),
      opt('isServiceCategory', 'boolean'),
    ],
  },
  BookingType: {
    name: 'BookingType',
    ns: 'core',
    abstract: false,
    sequence: [
      el('bookingId', 'string'),
      el('isInvitation', 'boolean'),
      opt('isOpenInvitation', 'boolean'),
      opt('rebookingAllowed', 'boolean'),
      opt('cancelBookingAllowed', 'boolean'),
      opt('dynamicId', 'string'),
      opt('cancelled', 'boolean'),
      opt('performerName', 'string'),
      opt('bookingDate', 'dateTime'),
      opt('timeTypeName', 'string'),
      opt('careTypeId', 'string'),
      opt('userContextStatus', 'string'),
    ],
  },
  UrlConfigurationType: {
    name: 'UrlConfigurationType',
    ns: 'core',
    abstract: false,
    sequence: [
      el('systemId', 'string'),
      el('urlText', 'string'),
      opt('queryString', 'string'),
      el('urlLinkType', 'UrlLinkTypeType'),
    ],
  },
  CaseListType: {
    name: 'CaseListType',
    ns: 'core',
    abstract: false,
    sequence: [el('Cases', 'CaseType', 0, Number.POSITIVE_INFINITY)],
  },
};

/** The global request element: `AddMessage` in the responder namespace. */
export const addMessageElement: ElementDecl & { readonly ns: SchemaNamespace } = {
  ...el('AddMessage', 'AddMessageType'),
  ns: 'responder',
};

export function isSimpleType(type: ElementDecl['type']): type is SimpleTypeName {
  return (simpleTypeNames as readonly string[]).includes(type);
}

// ---------------------------------------------------------------------------
// Simple types. Lexical rules are XML Schema's, applied the way libxml2 (the
// reference validator here) applies them, including its whitespace handling:
// boolean and integer accept surrounding whitespace; time accepts leading
// whitespace only; dateTime accepts trailing whitespace only after an explicit
// timezone; date accepts none. String-derived types preserve whitespace.

const BLANK = '[ \\t\\n\\r]*';
const BOOLEAN = new RegExp(`^${BLANK}(?:true|false|1|0)${BLANK}$`);
const INTEGER = new RegExp(`^${BLANK}[+-]?[0-9]+${BLANK}$`);
const TZ = '(Z|[+-][0-9]{2}:[0-9]{2})?';
const TIME = '([0-9]{2}):([0-9]{2}):([0-9]{2}(?:\\.[0-9]+)?)';
const DATE = '(-?)([0-9]{4,})-([0-9]{2})-([0-9]{2})';
const TIME_RE = new RegExp(`^${BLANK}${TIME}${TZ}$`);
const DATE_RE = new RegExp(`^${DATE}${TZ}$`);
const DATETIME_RE = new RegExp(`^${DATE}T${TIME}(?:(Z|[+-][0-9]{2}:[0-9]{2})${BLANK})?$`);
/** libxml2 in WebAssembly keeps years in a 32-bit long. */
const MAX_YEAR = 2_147_483_647;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function validDate(sign: string, yearDigits: string, month: string, day: string): boolean {
  if (yearDigits.length > 4 && yearDigits.startsWith('0')) return false;
  const magnitude = Number(yearDigits);
  if (magnitude === 0 || magnitude > MAX_YEAR) return false;
  const year = sign === '-' ? -magnitude : magnitude;
  const m = Number(month);
  const d = Number(day);
  if (m < 1 || m > 12 || d < 1) return false;
  return d <= (m === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[m - 1]!);
}

/** Seconds summed digit by digit in doubles, as libxml2 does (59.99999999999999 rounds to 60). */
function seconds(text: string): number {
  let value = Number(text.slice(0, 2));
  let mult = 1;
  for (let i = 3; i < text.length; i++) {
    mult /= 10;
    value += (text.charCodeAt(i) - 48) * mult;
  }
  return value;
}

function validTime(hour: string, minute: string, second: string): boolean {
  const h = Number(hour);
  const m = Number(minute);
  const s = seconds(second);
  return (h < 24 && m < 60 && s < 60) || (h === 24 && m === 0 && s === 0);
}

function validZone(zone: string | undefined): boolean {
  if (zone === undefined || zone === 'Z') return true;
  const h = Number(zone.slice(1, 3));
  const m = Number(zone.slice(4, 6));
  return h <= 23 && m <= 59 && h * 60 + m <= 840;
}

const SUBJECT_OF_CARE_ID = /^[0-9]{8}[0-9pPtTfF][0-9]{3}$/;

export interface SimpleTypeDecl {
  /** True when the element's text (entities resolved, comments removed) is in the type's lexical space. */
  readonly accepts: (value: string) => boolean;
  /** What a valid value looks like, for a reason. Never the value itself. */
  readonly expected: string;
  /** For enumerations: the allowed values (the reason may quote a rejected value against them). */
  readonly enumeration?: readonly string[];
}

function enumeration(values: readonly string[]): SimpleTypeDecl {
  return { accepts: (v) => values.includes(v), expected: `one of ${values.join(', ')}`, enumeration: values };
}

export const simpleTypes: Readonly<Record<SimpleTypeName, SimpleTypeDecl>> = {
  string: { accepts: () => true, expected: 'a string' },
  boolean: { accepts: (v) => BOOLEAN.test(v), expected: 'an xs:boolean (true, false, 1 or 0)' },
  integer: { accepts: (v) => INTEGER.test(v), expected: 'an xs:integer' },
  date: {
    accepts: (v) => {
      const m = DATE_RE.exec(v);
      return m !== null && validDate(m[1]!, m[2]!, m[3]!, m[4]!) && validZone(m[5]);
    },
    expected: 'an xs:date (YYYY-MM-DD, optional timezone)',
  },
  time: {
    accepts: (v) => {
      const m = TIME_RE.exec(v);
      return m !== null && validTime(m[1]!, m[2]!, m[3]!) && validZone(m[4]);
    },
    expected: 'an xs:time (hh:mm:ss, optional fraction and timezone)',
  },
  dateTime: {
    accepts: (v) => {
      const m = DATETIME_RE.exec(v);
      return (
        m !== null &&
        validDate(m[1]!, m[2]!, m[3]!, m[4]!) &&
        validTime(m[5]!, m[6]!, m[7]!) &&
        validZone(m[8])
      );
    },
    expected: 'an xs:dateTime (YYYY-MM-DDThh:mm:ss, optional fraction and timezone)',
  },
  SubjectOfCareIdType: {
    accepts: (v) => SUBJECT_OF_CARE_ID.test(v),
    expected: 'the pattern [0-9]{8}[0-9pPtTfF][0-9]{3}',
  },
  CaseReadStatusType: enumeration(['Read', 'Unread']),
  UserSelectionStatusType: enumeration(['Active', 'Archived']),
  UrlLinkTypeType: enumeration(['CurrentWindow', 'NewWindow', 'Widget', 'Embedded']),
};

/** The text of subjectOfCareId when it is valid as written (no entity or whitespace to resolve). */
export const subjectOfCareIdPattern = SUBJECT_OF_CARE_ID;
