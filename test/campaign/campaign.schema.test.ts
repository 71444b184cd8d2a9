import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { checkApproval, contentSha256 } from '../../src/campaign/approval.js';
import {
  assertApproved,
  CampaignError,
  loadApprovedCampaign,
  loadCampaign,
  parseCampaign,
} from '../../src/campaign/load.js';
import { makeCampaign } from '../helpers/campaign.js';

const SOURCE = 'kampanj.json';

/** A valid campaign file as plain JSON (what a case handler writes). */
function validJson(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(makeCampaign({ id: 'influensa-2026' }))) as Record<string, unknown>;
}

function campaignError(value: unknown): CampaignError {
  let caught: unknown;
  try {
    parseCampaign(value, SOURCE);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CampaignError);
  const e = caught as CampaignError;
  expect(e.code).toBe('CAMPAIGN');
  expect(e.message.startsWith(`${SOURCE}: `)).toBe(true);
  return e;
}

/** Sets (or with `undefined`, deletes) a field at a dotted path of a copy. */
function withField(path: string, value: unknown): Record<string, unknown> {
  const copy = validJson();
  const parts = path.split('.');
  let at: Record<string, unknown> = copy;
  for (const p of parts.slice(0, -1)) {
    if (typeof at[p] !== 'object' || at[p] === null) at[p] = {};
    at = at[p] as Record<string, unknown>;
  }
  const last = parts.at(-1)!;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

describe('parseCampaign: a valid file', () => {
  it('parses, with the defaults filled in', () => {
    const c = parseCampaign(validJson(), SOURCE);
    expect(c.id).toBe('influensa-2026');
    expect(c.regionWide).toBe(false);
    expect(c.allowCoordinationNumbers).toBe(true);
    expect(c.message.notify).toBe(true);
    const w = parseCampaign(withField('sendingWindow', { from: '08:00', to: '17:30' }), SOURCE).sendingWindow;
    expect(w).toEqual({
      days: ['mon', 'tue', 'wed', 'thu', 'fri'],
      from: '08:00',
      to: '17:30',
      timeZone: 'Europe/Stockholm',
    });
  });

  it('trims the texts', () => {
    const c = parseCampaign(withField('title', '  Influensa  '), SOURCE);
    expect(c.title).toBe('Influensa');
  });
});

describe('parseCampaign: every error names its field', () => {
  it.each<[string, unknown, string]>([
    ['id', 'Influensa 2026', 'id: must be a slug'],
    ['id', 'a:b', 'id: must be a slug'],
    ['id', 'a'.repeat(65), 'id: must be a slug'],
    ['id', '-leading', 'id: must be a slug'],
    ['title', undefined, 'title: '],
    ['title', '   ', 'title: must not be empty'],
    ['targetGroup', 'x'.repeat(2001), 'targetGroup: at most 2000 characters'],
    ['orderer.email', 'not-an-email', 'orderer.email: '],
    ['orderer.email', undefined, 'orderer.email: needs an e-mail or a phone number'],
    ['unit.hsaId', 'SE123-1', 'unit.hsaId: must be an HSA-id'],
    ['sender.organisation', 42, 'sender.organisation: '],
    ['message.subject', '', 'message.subject: must not be empty'],
    ['message.subject', 's'.repeat(201), 'message.subject: at most 200 characters'],
    ['message.body', undefined, 'message.body: '],
    ['message.notify', 'yes', 'message.notify: '],
    ['message.caseType', { description: 'x' }, 'message.caseType.id: '],
    ['unreachable', 'email', 'unreachable: '],
    ['approval.contentSha256', 'A'.repeat(64), 'approval.contentSha256: must be a lowercase hex SHA-256'],
    ['approval.approvedAt', 'igår', 'approval.approvedAt: '],
    ['approval.approvedBy', '', 'approval.approvedBy: must not be empty'],
    ['notBefore', '2026-12-01 08:00', 'notBefore: '],
    ['sendingWindow', { from: '8:00', to: '17:00' }, 'sendingWindow.from: must be HH:MM'],
    ['sendingWindow', { from: '17:00', to: '08:00' }, 'sendingWindow.to: from must be before to'],
    [
      'sendingWindow',
      { from: '08:00', to: '17:00', timeZone: 'Mars/Olympus' },
      'sendingWindow.timeZone: is not a known time zone',
    ],
    ['sendingWindow', { from: '08:00', to: '17:00', days: [] }, 'sendingWindow.days: '],
    ['sendingWindow', { from: '08:00', to: '17:00', days: ['monday'] }, 'sendingWindow.days.0: '],
    ['ratePerSecond', 0, 'ratePerSecond: '],
    ['ratePerSecond', -5, 'ratePerSecond: '],
    ['allowCoordinationNumbers', 'false', 'allowCoordinationNumbers: '],
  ])('%s = %j', (path, value, expected) => {
    expect(campaignError(withField(path, value)).message).toContain(expected);
  });

  it('an unknown field, at the top or nested, is named (a typo is never silently dropped)', () => {
    expect(campaignError(withField('titel', 'x')).message).toContain(
      '(top level): Unrecognized key: "titel"',
    );
    expect(campaignError(withField('message.notfiy', false)).message).toContain(
      'message: Unrecognized key: "notfiy"',
    );
    expect(campaignError(withField('approval.platformAprovalRef', 'R-1')).message).toContain(
      'approval: Unrecognized key: "platformAprovalRef"',
    );
    expect(
      campaignError(withField('sendingWindow', { from: '08:00', to: '17:00', tz: 'UTC' })).message,
    ).toContain('sendingWindow: Unrecognized key: "tz"');
  });

  it('names every problem at once', () => {
    const bad = withField('id', 'X');
    delete bad.title;
    (bad.message as Record<string, unknown>).subject = '';
    const message = campaignError(bad).message;
    expect(message).toContain('id: ');
    expect(message).toContain('title: ');
    expect(message).toContain('message.subject: ');
  });

  it.each([null, [], 'kampanj', 42, true])('a file that is not an object (%j) says so', (value) => {
    expect(campaignError(value).message).toMatch(
      /^kampanj\.json: \(top level\): Invalid input: expected object/,
    );
  });
});

describe('approval', () => {
  it('an approved campaign passes; the hash covers what the resident sees: heading, text, inbox title, signature', () => {
    const c = makeCampaign();
    expect(checkApproval(c)).toEqual({ ok: true });
    const parties = { sender: c.sender, unit: c.unit };
    expect(contentSha256({ message: { subject: 'a|b', body: 'c' }, ...parties })).not.toBe(
      contentSha256({ message: { subject: 'a', body: 'b|c' }, ...parties }),
    );
    const hash = contentSha256(c);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(contentSha256({ ...c, message: { ...c.message, inboxTitle: 'Provsvar' } })).not.toBe(hash);
    expect(contentSha256({ ...c, sender: { ...c.sender, title: 'Chefläkare' } })).not.toBe(hash);
    expect(contentSha256({ ...c, unit: { ...c.unit, telephone: '018-611 00 00' } })).not.toBe(hash);
    // Not shown to the resident: the orderer does not need a new approval.
    const { orderer: _o, ...withoutOrderer } = c;
    expect(contentSha256(withoutOrderer)).toBe(hash);
  });

  it('no approval block: not approved, saying how to approve', () => {
    const { approval: _a, ...rest } = validJson();
    const c = parseCampaign(rest, SOURCE);
    const check = checkApproval(c);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.reason).toMatch(/not approved \(no approval block; run npm run approve/);
  });

  it.each([
    ['message.body', 'Ändrad text.'],
    ['message.subject', 'Ny rubrik'],
  ])('a changed %s after approval is refused, naming the fields and the approver', (path, value) => {
    const c = parseCampaign(withField(path, value), SOURCE);
    const check = checkApproval(c);
    expect(check.ok).toBe(false);
    const reason = check.ok ? '' : check.reason;
    expect(reason).toContain(
      'the message (subject, body, inbox title, or the sender and unit in its signature) changed after Kommunikatör Test approved it',
    );
    expect(reason).toContain('approval.contentSha256');
  });

  it('a change to another field (the title) keeps the approval', () => {
    expect(checkApproval(parseCampaign(withField('title', 'Ny titel'), SOURCE))).toEqual({ ok: true });
  });

  it('a region-wide mailing needs approval.platformApprovalRef', () => {
    const c = parseCampaign(withField('regionWide', true), SOURCE);
    const check = checkApproval(c);
    expect(!check.ok && check.reason).toContain('approval.platformApprovalRef');
    const withRef = parseCampaign(
      { ...withField('regionWide', true), approval: { ...c.approval, platformApprovalRef: 'INERA-2026-17' } },
      SOURCE,
    );
    expect(checkApproval(withRef)).toEqual({ ok: true });
  });

  it('assertApproved throws a CampaignError naming the source, the campaign and the reason', () => {
    const c = parseCampaign(withField('message.body', 'Ändrad.'), SOURCE);
    expect(() => assertApproved(c, SOURCE)).toThrow(CampaignError);
    expect(() => assertApproved(c, SOURCE)).toThrow(
      /^kampanj\.json: campaign influensa-2026 cannot be sent: the message \(subject, body, inbox title, or the sender and unit in its signature\) changed/,
    );
  });
});

describe('loading a campaign file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'utskick-campaign-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads JSON with a BOM', async () => {
    const path = join(dir, 'bom.json');
    writeFileSync(path, `\uFEFF${JSON.stringify(validJson())}`);
    expect((await loadApprovedCampaign(path)).id).toBe('influensa-2026');
  });

  it('a missing file and broken JSON are CampaignErrors naming the path', async () => {
    await expect(loadCampaign(join(dir, 'nope.json'))).rejects.toThrow(
      /nope\.json: cannot read the campaign file \(ENOENT\)/,
    );
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{"id": ');
    await expect(loadCampaign(broken)).rejects.toBeInstanceOf(CampaignError);
    await expect(loadCampaign(broken)).rejects.toThrow(/broken\.json: not valid JSON/);
    // A file that is not a campaign at all: where it breaks, never what it says.
    const secret = join(dir, 'shadow');
    writeFileSync(secret, 'root:$y$j9T$hemligthash:19000:0:99999:7:::\n');
    const err = (await loadCampaign(secret).catch((e: Error) => e)) as Error;
    expect(err.message.startsWith(`${secret}: not valid JSON`)).toBe(true);
    expect(err.message).not.toMatch(/root|hemlig|\$y\$/);
  });

  it('loadApprovedCampaign refuses an unapproved file', async () => {
    const path = join(dir, 'unapproved.json');
    const { approval: _a, ...rest } = validJson();
    writeFileSync(path, JSON.stringify(rest));
    await expect(loadApprovedCampaign(path)).rejects.toThrow(/cannot be sent: it is not approved/);
  });
});

/** Every "path: " that starts an issue in a CampaignError message. */
function issuePaths(message: string): string[] {
  const body = message.slice(`${SOURCE}: `.length);
  return body.split('; ').flatMap((part) => {
    const m = /^((?:[A-Za-z][A-Za-z0-9]*|\d+)(?:\.(?:[A-Za-z][A-Za-z0-9]*|\d+))*|\(top level\)): /.exec(part);
    return m ? [m[1]!] : [];
  });
}

const fieldPaths = [
  'id',
  'title',
  'targetGroup',
  'orderer',
  'orderer.name',
  'orderer.email',
  'orderer.phone',
  'sender',
  'sender.name',
  'unit',
  'unit.hsaId',
  'caseHandler.name',
  'message',
  'message.subject',
  'message.body',
  'message.notify',
  'message.caseType',
  'message.caseType.id',
  'regionWide',
  'approval',
  'approval.approvedBy',
  'approval.approvedAt',
  'approval.contentSha256',
  'approval.platformApprovalRef',
  'unreachable',
  'allowCoordinationNumbers',
  'notBefore',
  'sendingWindow',
  'sendingWindow.from',
  'sendingWindow.to',
  'sendingWindow.days',
  'sendingWindow.timeZone',
  'ratePerSecond',
] as const;

const hostileValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\uD800',
    'x'.repeat(100_000),
    '__proto__',
    'constructor',
    '08:00',
    '24:00',
    'Europe/Stockholm',
    'Not/AZone',
    '2026-13-40T25:61:00Z',
    -0,
    Number.MAX_SAFE_INTEGER,
    1e308,
    [],
    {},
    { toString: 'x' },
  ),
);

describe('parseCampaign with random and hostile JSON (property)', () => {
  it('anything at all: parses or throws a CampaignError whose message names a field', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        try {
          parseCampaign(value, SOURCE);
        } catch (err) {
          expect(err).toBeInstanceOf(CampaignError);
          expect(issuePaths((err as Error).message).length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a valid file with one field changed, deleted or added: the error names that field', () => {
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        path: fc.constantFrom(...fieldPaths),
        value: hostileValue,
      }),
      fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...fieldPaths) }),
      fc.record({
        kind: fc.constant('add' as const),
        parent: fc.constantFrom('', 'orderer', 'message', 'approval', 'unit'),
        key: fc
          .string({ minLength: 1, maxLength: 12 })
          .filter(
            (k) => !k.includes('.') && k !== '__proto__' && !fieldPaths.some((p) => p.split('.').includes(k)),
          ),
      }),
    );
    let rejected = 0;
    fc.assert(
      fc.property(mutation, (m) => {
        let input: Record<string, unknown>;
        let named: string;
        if (m.kind === 'add') {
          input = withField(m.parent ? `${m.parent}.${m.key}` : m.key, 1);
          named = JSON.stringify(m.key);
        } else {
          input = withField(m.path, m.kind === 'set' ? m.value : undefined);
          named = m.path.split('.')[0]!;
        }
        try {
          parseCampaign(input, SOURCE);
        } catch (err) {
          rejected++;
          expect(err).toBeInstanceOf(CampaignError);
          const message = (err as Error).message;
          const paths = issuePaths(message);
          expect(paths.length).toBeGreaterThan(0);
          if (m.kind === 'add') expect(message).toContain(`Unrecognized key: "`);
          if (m.kind === 'add')
            expect(message.includes(m.key) || message.includes(named.slice(1, -1))).toBe(true);
          else expect(paths.some((p) => p === named || p.startsWith(`${named}.`))).toBe(true);
        }
      }),
      { numRuns: 600 },
    );
    expect(rejected).toBeGreaterThan(300);
  });
});
