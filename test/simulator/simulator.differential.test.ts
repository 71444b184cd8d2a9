import { afterAll, beforeAll, expect, it } from 'vitest';
import { contracts } from '../../src/delivery/contract.js';
import { createRequestValidator, validateAddMessage } from '../../src/simulator/validate-request.js';
import { type AddMessageSchema, extractAddMessage, loadAddMessageSchema } from '../../src/simulator/xsd.js';
import { describeXsd } from '../helpers/xsd.js';

/**
 * The fast validator against the published XSD (libxml2): for many mutated
 * AddMessage requests, both must give the same verdict. Deterministic: a
 * seeded PRNG drives the mutations.
 */

const contract = contracts['mvk-inbox-2'];
const action = `"${contract.soapAction}"`;
const NS = {
  R: contract.namespaces.responder,
  C: contract.namespaces.core,
  X: 'urn:example:not-the-contract',
  '': '',
} as const;
type Ns = keyof typeof NS;

/** An element; `text` is raw XML content (entities as written) for leaves. */
interface Node {
  ns: Ns;
  name: string;
  children: Node[];
  text?: string;
  attrs?: string;
  /** Raw content put first inside the element (text in a complex element, say). */
  extra?: string;
}

const leaf = (ns: Ns, name: string, text: string): Node => ({ ns, name, children: [], text });
const box = (ns: Ns, name: string, children: Node[]): Node => ({ ns, name, children });
const c = (name: string, text: string) => leaf('C', name, text);

function addMessage(pnr: string, message: Node[], notify: string, sourceSystem?: string): Node {
  return box('R', 'AddMessage', [
    leaf('R', 'subjectOfCareId', pnr),
    box('R', 'message', message),
    leaf('R', 'notify', notify),
    ...(sourceSystem === undefined ? [] : [leaf('R', 'sourceSystem', sourceSystem)]),
  ]);
}

const docbook =
  '&lt;?xml version="1.0"?&gt;&lt;article&gt;&lt;info&gt;&lt;title&gt;Erbjudande&lt;/title&gt;&lt;/info&gt;' +
  '&lt;para&gt;Du erbjuds vaccination &amp;amp; råd. &lt;ulink url="https://www.1177.se" type="_blank"&gt;1177&lt;/ulink&gt;&lt;/para&gt;' +
  '&lt;bibliography&gt;Vårdcentralen Centrum&lt;/bibliography&gt;&lt;/article&gt;';

const facility = (all: boolean) =>
  box('C', 'healthCareFacility', [
    c('hsaId', 'SE2321000032-1003'),
    c('healthCareFacilityName', 'Vårdcentralen Centrum'),
    c('healthCareFacilityAddress', 'Storgatan 1'),
    c('healthCareFacilityPostalCode', '751 85'),
    c('healthCareFacilityPostalCity', 'Uppsala'),
    c('healthCareFacilityTelephone', '018-00 00 00'),
    ...(all ? [c('childHsaId', 'SE2321000032-1004'), c('isServiceCategory', 'false')] : []),
  ]);

const booking = box('C', 'booking', [
  c('bookingId', 'B-1'),
  c('isInvitation', 'true'),
  c('isOpenInvitation', '0'),
  c('rebookingAllowed', '1'),
  c('cancelBookingAllowed', 'false'),
  c('dynamicId', 'd-9'),
  c('cancelled', 'false'),
  c('performerName', 'Dr Test'),
  c('bookingDate', '2026-11-02T09:30:00+01:00'),
  c('timeTypeName', 'Mottagningsbesök'),
  c('careTypeId', 'ct-1'),
  c('userContextStatus', 'x'),
]);

const urlConfiguration = (query: boolean) =>
  box('C', 'urlConfiguration', [
    c('systemId', 'sys-1'),
    c('urlText', 'Boka tid'),
    ...(query ? [c('queryString', 'a=1&amp;b=2')] : []),
    c('urlLinkType', 'NewWindow'),
  ]);

/** Valid requests, from the full published type to the minimal one. */
const bases = (): Node[] => [
  addMessage(
    '191212121212',
    [
      c('id', 'case-1'),
      c('caseReadStatus', 'Unread'),
      c('actionDate', '2026-11-01'),
      c('actionTime', '08:00:00'),
      box('C', 'caseType', [c('id', 'k1'), c('caseTypeDescription', 'Kallelse')]),
      c('userSelectionStatus', 'Active'),
      facility(true),
      booking,
      c('businessObjectId', 'camp:1'),
      c('headerText', 'Erbjudande om vaccination'),
      c('bodyText', 'ignored'),
      box('C', 'details', []),
      c('msg', docbook),
      urlConfiguration(true),
    ],
    'true',
    'SE2321000016-UTSK',
  ),
  addMessage(
    '19121212P121',
    [
      box('C', 'caseType', [c('caseTypeDescription', 'Meddelande')]),
      facility(false),
      c('businessObjectId', 'camp:2'),
      c('headerText', 'Provsvar &amp; råd'),
      c('msg', docbook),
    ],
    'true',
    'SE2321000016-UTSK',
  ),
  addMessage('200001012380', [], 'false'),
  addMessage('191212121212', [box('C', 'booking', [c('bookingId', 'b'), c('isInvitation', '1')])], '0'),
  addMessage(
    '191212121212',
    [c('msg', '<![CDATA[<article><para>Hej</para></article>]]>'), urlConfiguration(false)],
    '1',
  ),
  addMessage(
    '191212121212',
    [
      c('caseReadStatus', 'Read'),
      c('actionTime', '24:00:00Z'),
      c('businessObjectId', ''),
      c('headerText', ''),
    ],
    'false',
    '',
  ),
];

// --- serialising ------------------------------------------------------------

interface Style {
  /** Where the namespace declarations go. */
  declOn: 'envelope' | 'addMessage';
  /** The responder namespace as the default namespace (unprefixed). */
  defaultResponder: boolean;
  pretty: boolean;
  header: boolean;
}

function serialise(node: Node, style: Style, depth = 0, declare = ''): string {
  const prefix =
    node.ns === '' || (node.ns === 'R' && style.defaultResponder) ? '' : `${node.ns.toLowerCase()}:`;
  const undeclare = node.ns === '' && style.defaultResponder ? ' xmlns=""' : '';
  const name = `${prefix}${node.name}`;
  const open = `<${name}${declare}${undeclare}${node.attrs ?? ''}>`;
  const indent = style.pretty ? `\n${'  '.repeat(depth + 1)}` : '';
  const inner =
    (node.extra ?? '') +
    (node.text ?? '') +
    node.children.map((child) => indent + serialise(child, style, depth + 1)).join('') +
    (style.pretty && node.children.length > 0 ? `\n${'  '.repeat(depth)}` : '');
  return `${open}${inner}</${name}>`;
}

function declarations(style: Style): string {
  const r = style.defaultResponder ? ` xmlns="${NS.R}"` : ` xmlns:r="${NS.R}"`;
  return `${r} xmlns:c="${NS.C}" xmlns:x="${NS.X}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"`;
}

function envelope(request: Node, style: Style): string {
  const onEnvelope = style.declOn === 'envelope' ? declarations(style) : '';
  const body = serialise(request, style, 0, style.declOn === 'addMessage' ? declarations(style) : '');
  const header = style.header
    ? '<soapenv:Header><reg:LogicalAddress xmlns:reg="urn:riv:itintegration:registry:1">SE1</reg:LogicalAddress></soapenv:Header>'
    : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="${contract.namespaces.envelope}"${onEnvelope}>${header}<soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`;
}

// --- mutating ---------------------------------------------------------------

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const kinds: Record<string, string> = {
  notify: 'boolean',
  isServiceCategory: 'boolean',
  isInvitation: 'boolean',
  isOpenInvitation: 'boolean',
  rebookingAllowed: 'boolean',
  cancelBookingAllowed: 'boolean',
  cancelled: 'boolean',
  actionDate: 'date',
  actionTime: 'time',
  bookingDate: 'dateTime',
  caseReadStatus: 'enum',
  userSelectionStatus: 'enum',
  urlLinkType: 'enum',
  subjectOfCareId: 'pattern',
};

/** Values per kind, valid and not: whitespace, entities, comments, edge dates. */
const values: Record<string, string[]> = {
  boolean: [
    'yes',
    'TRUE',
    ' true ',
    '',
    '2',
    'true false',
    '\ttrue\n',
    '&#49;',
    'fal<!-- x -->se',
    '<![CDATA[0]]>',
    '+1',
  ],
  date: [
    'not-a-date',
    '2024-02-29',
    '2023-02-29',
    '2024-13-01',
    ' 2024-01-01',
    '2024-01-01 ',
    '2024-01-01Z',
    '2024-01-01+14:00',
    '2024-01-01+14:01',
    '0000-01-01',
    '-0004-02-29',
    '20240-01-01',
    '02024-01-01',
    '2024-1-01',
    '2024-01-01T00:00:00',
    '2147483648-01-01',
  ],
  time: [
    '12:00',
    '24:00:00',
    '24:00:01',
    '23:59:60',
    ' 12:00:00',
    '12:00:00 ',
    '12:00:00.5Z',
    '12:00:59.99999999999999999',
    '12:00:00+15:00',
    '12:00:00-13:59',
    '1:00:00',
    '12:00:00.',
  ],
  dateTime: [
    '2024-01-01T12:00:00',
    '2024-01-01 12:00:00',
    '2024-01-01',
    '2024-12-31T24:00:00',
    '2024-01-01T12:00:00Z ',
    '2024-01-01T12:00:00 ',
    ' 2024-01-01T12:00:00',
    '2024-02-30T12:00:00',
    '2024-01-01T12:00:00.123-05:00',
    '2024-01-01t12:00:00',
  ],
  enum: [
    'Foo',
    'read',
    ' Read',
    'Read\n',
    'Unread',
    'Archived',
    'Active',
    'CurrentWindow',
    'Widget',
    'Re&#97;d',
    '',
  ],
  pattern: [
    '191212121212',
    '19121212-1212',
    '1912121212',
    '19121212121X',
    '19121212T121',
    ' 191212121212',
    '191212121212\n',
    '&#49;91212121212',
    '١٩١٢١٢١٢١٢١٢',
    '^191212121212$',
  ],
  string: [
    '',
    ' ',
    'text &amp; more',
    '&lt;article/&gt;',
    '<![CDATA[x]]>',
    'a<!-- c -->b',
    '&#xE5;',
    'Rad 1\nRad 2',
  ],
};
const knownNames = [
  ...Object.keys(kinds),
  'id',
  'message',
  'sourceSystem',
  'caseType',
  'healthCareFacility',
  'booking',
  'businessObjectId',
  'headerText',
  'bodyText',
  'details',
  'Cases',
  'msg',
  'urlConfiguration',
  'systemId',
  'caseTypeDescription',
  'hsaId',
  'bookingId',
];
const unknownNames = ['priority', 'Notify', 'headertext', 'caseStatus', 'extra'];
const attributes = [' a="1"', ' x:flag="true"', ' xml:lang="sv"', ' xsi:nil="true"', ' c:id="1"'];

interface Place {
  node: Node;
  parent: Node;
  index: number;
}

function places(root: Node): Place[] {
  const out: Place[] = [];
  const walk = (parent: Node) =>
    parent.children.forEach((node, index) => {
      out.push({ node, parent, index });
      walk(node);
    });
  walk(root);
  return out;
}

const clone = (n: Node): Node => ({ ...n, children: n.children.map(clone) });

const mutationNames = [
  'drop',
  'reorder',
  'duplicate',
  'retype',
  'rename',
  'namespace',
  'unknown',
  'attribute',
  'text-in-complex',
  'nest-in-simple',
] as const;
type Mutation = (typeof mutationNames)[number];

function mutate(root: Node, kind: Mutation, random: () => number): void {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const all = places(root);
  const leaves = all.filter((p) => p.node.text !== undefined);
  const boxes = [root, ...all.filter((p) => p.node.text === undefined).map((p) => p.node)];
  const { node, parent, index } = pick(all);
  switch (kind) {
    case 'drop':
      parent.children.splice(index, 1);
      return;
    case 'reorder': {
      if (parent.children.length < 2) return;
      const other = pick(parent.children.map((_, i) => i));
      [parent.children[index], parent.children[other]] = [parent.children[other]!, node];
      return;
    }
    case 'duplicate':
      parent.children.splice(index + 1, 0, clone(node));
      return;
    case 'retype': {
      const target = pick(leaves).node;
      const own = kinds[target.name] ?? 'string';
      target.text = pick(values[random() < 0.7 ? own : pick(Object.keys(values))]!);
      return;
    }
    case 'rename':
      node.name = pick(random() < 0.7 ? knownNames : unknownNames);
      return;
    case 'namespace':
      node.ns = pick((['R', 'C', 'X', ''] as const).filter((n) => n !== node.ns));
      return;
    case 'unknown': {
      const target = pick(boxes);
      const element =
        random() < 0.5 ? leaf(pick(['R', 'C', 'X'] as const), pick(unknownNames), '1') : leaf('C', 'id', 'x');
      target.children.splice(Math.floor(random() * (target.children.length + 1)), 0, element);
      return;
    }
    case 'attribute':
      (random() < 0.2 ? root : node).attrs = pick(attributes);
      return;
    case 'text-in-complex':
      pick(boxes).extra = pick([
        'oops',
        ' \n\t',
        '<![CDATA[ ]]>',
        '&#32;',
        '&#160;',
        '<!-- note -->',
        '<?pi x?>',
        'x',
      ]);
      return;
    case 'nest-in-simple': {
      const target = pick(leaves).node;
      const name = pick(['b', 'id', 'para']);
      target.text = `${target.text ?? ''}<c:${name}>x</c:${name}>`;
      return;
    }
  }
}

// --- the run ------------------------------------------------------------------

const CASES = 2000;

describeXsd('the fast validator agrees with the published XSD', (dir) => {
  let schema: AddMessageSchema;
  beforeAll(() => {
    schema = loadAddMessageSchema(dir);
  });
  afterAll(() => schema.dispose());

  it(`on ${CASES} mutated requests (seeded)`, () => {
    const random = prng(20261101);
    const counts = { valid: 0, invalid: 0 };
    const perMutation: Record<string, { valid: number; invalid: number }> = {};
    const disagreements: string[] = [];
    let xsdMs = 0;
    let fastMs = 0;
    const baseList = bases();
    for (let i = 0; i < CASES; i++) {
      const doc = clone(baseList[i % baseList.length]!);
      const applied: Mutation[] = [];
      const steps = 1 + Math.floor(random() * 3 * random());
      for (let s = 0; s < steps; s++) {
        const kind = mutationNames[Math.floor(random() * mutationNames.length)]!;
        applied.push(kind);
        mutate(doc, kind, random);
      }
      const style: Style = {
        declOn: random() < 0.5 ? 'envelope' : 'addMessage',
        defaultResponder: random() < 0.3,
        pretty: random() < 0.3,
        header: random() < 0.5,
      };
      const xml = envelope(doc, style);
      let t = performance.now();
      const fast = validateAddMessage(xml, action, contract);
      fastMs += performance.now() - t;
      const extracted = extractAddMessage(xml);
      if (extracted === undefined) {
        disagreements.push(`#${i}: no AddMessage extracted (${applied.join('+')})`);
        continue;
      }
      t = performance.now();
      const xsd = schema.validate(extracted);
      xsdMs += performance.now() - t;
      const key = applied.join('+');
      perMutation[key] ??= { valid: 0, invalid: 0 };
      perMutation[key][xsd.ok ? 'valid' : 'invalid']++;
      counts[xsd.ok ? 'valid' : 'invalid']++;
      if (fast.ok !== xsd.ok) {
        disagreements.push(
          `#${i} ${key}: fast ${fast.ok ? 'valid' : fast.reason}; XSD ${xsd.ok ? 'valid' : xsd.errors.join(' | ')}\n${extracted}`,
        );
      }
    }
    console.log(
      `differential: ${CASES} requests, XSD valid ${counts.valid}, invalid ${counts.invalid}; ` +
        `per document: XSD validate ${((xsdMs / CASES) * 1000).toFixed(0)} µs, fast validator ${((fastMs / CASES) * 1000).toFixed(0)} µs`,
    );
    console.log(
      Object.entries(perMutation)
        .filter(([k]) => !k.includes('+'))
        .map(([k, v]) => `${k}: ${v.valid} valid / ${v.invalid} invalid`)
        .join('; '),
    );
    expect(disagreements.slice(0, 5)).toEqual([]);
    expect(counts.valid).toBeGreaterThan(CASES * 0.1);
    expect(counts.invalid).toBeGreaterThan(CASES * 0.5);
  });

  it('rejects the cases the issue named, in both validators, and accepts a request without a Header', () => {
    const named = bases()[1]!;
    const withValue = (name: string, text: string): Node => {
      const doc = clone(named);
      const message = doc.children[1]!;
      message.children.unshift(c(name, text));
      return doc;
    };
    const style: Style = { declOn: 'envelope', defaultResponder: false, pretty: false, header: true };
    const validate = createRequestValidator(contract, { schema });
    for (const [doc, reason] of [
      [
        withValue('caseReadStatus', 'Foo'),
        /AddMessage\/message\/caseReadStatus: "Foo" is not one of Read, Unread/,
      ],
      [
        withValue('actionDate', 'not-a-date'),
        /AddMessage\/message\/actionDate: "not-a-date" is not an xs:date/,
      ],
    ] as const) {
      const xml = envelope(doc, style);
      expect(schema.validate(extractAddMessage(xml)!).ok).toBe(false);
      expect(validateAddMessage(xml, action, contract)).toMatchObject({ ok: false, reason });
      expect(validate(xml, action)).toMatchObject({ ok: false, reason });
    }
    const noHeader = envelope(named, { ...style, header: false });
    expect(noHeader).not.toContain('Header');
    expect(schema.validate(extractAddMessage(noHeader)!)).toEqual({ ok: true });
    expect(validateAddMessage(noHeader, action, contract)).toMatchObject({ ok: true });
    const result = validate(noHeader, action);
    expect(result).toMatchObject({
      ok: true,
      request: { subjectOfCareId: '19121212P121', businessObjectId: 'camp:2', notify: true },
    });
    expect(result.ok && result.request.logicalAddress).toBeUndefined();
  });
});
