import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultOutcomeTablePath } from '../../src/config/delivery.js';
import {
  loadOutcomeTable,
  type Observation,
  OutcomeTableError,
  parseOutcomeTable,
} from '../../src/delivery/outcome-table.js';

const table = loadOutcomeTable(defaultOutcomeTablePath());
const dir = mkdtempSync(join(tmpdir(), 'utskick-outcomes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the shipped outcome table', () => {
  it('is documented', () => {
    const json = JSON.parse(readFileSync(defaultOutcomeTablePath(), 'utf8'));
    expect(json._doc.join(' ')).toMatch(/first rule/i);
    expect(json._doc.join(' ')).toMatch(/no rule matches is transient/i);
  });

  const cases: [string, Observation, string, string][] = [
    ['OK', { httpStatus: 200, resultCode: 'OK' }, 'delivered', 'OK'],
    ['INFO', { httpStatus: 200, resultCode: 'INFO', resultText: 'stored late' }, 'delivered', 'INFO'],
    [
      'not an active user (code)',
      { httpStatus: 200, resultCode: 'ERROR', errorCode: 'NotActiveUser', resultText: 'NotActiveUser: x' },
      'unreachable',
      'NotActiveUser',
    ],
    [
      'login blocked (code)',
      { httpStatus: 200, resultCode: 'ERROR', errorCode: 'LoginBlocked' },
      'unreachable',
      'LoginBlocked',
    ],
    [
      'not an active user (text only)',
      { httpStatus: 200, resultCode: 'ERROR', resultText: 'Personen är inte en aktiv användare' },
      'unreachable',
      'NotActiveUser',
    ],
    [
      'IllegalArgument in a response',
      { httpStatus: 200, resultCode: 'ERROR', errorCode: 'IllegalArgument' },
      'rejected',
      'IllegalArgument',
    ],
    [
      'IllegalArgument fault (HTTP 500)',
      { httpStatus: 500, errorCode: 'IllegalArgument', faultText: 'IllegalArgument: bad' },
      'rejected',
      'IllegalArgument',
    ],
    [
      'Unauthorized fault',
      { httpStatus: 500, errorCode: 'Unauthorized', faultText: 'Unauthorized: no' },
      'stop-campaign',
      'Unauthorized',
    ],
    [
      'certificate refused fault text',
      { httpStatus: 500, faultText: 'The certificate is not trusted' },
      'stop-campaign',
      'Unauthorized',
    ],
    ['HTTP 401', { httpStatus: 401, unparseable: true }, 'stop-campaign', 'HTTP_401'],
    ['HTTP 403', { httpStatus: 403 }, 'stop-campaign', 'HTTP_403'],
    ['TLS handshake refused', { transport: 'tls', transportCode: 'ERR_SSL_X' }, 'stop-campaign', 'ERR_SSL_X'],
    [
      'Unavailable in a 200 ERROR',
      { httpStatus: 200, resultCode: 'ERROR', errorCode: 'Unavailable' },
      'transient',
      'Unavailable',
    ],
    [
      'HTTP 503 fault',
      { httpStatus: 503, errorCode: 'Unavailable', faultText: 'Unavailable: x' },
      'transient',
      'HTTP_503',
    ],
    ['HTTP 502 HTML page', { httpStatus: 502, unparseable: true }, 'transient', 'HTTP_502'],
    ['timeout', { transport: 'timeout', transportCode: 'UND_ERR_HEADERS_TIMEOUT' }, 'transient', 'TIMEOUT'],
    [
      'connection refused',
      { transport: 'connection', transportCode: 'ECONNREFUSED' },
      'transient',
      'ECONNREFUSED',
    ],
    ['HTTP 429', { httpStatus: 429 }, 'rate-limited', 'HTTP_429'],
    ['HTTP 429 with Retry-After', { httpStatus: 429, retryAfter: true }, 'rate-limited', 'HTTP_429'],
    [
      'HTTP 503 with Retry-After',
      { httpStatus: 503, retryAfter: true, errorCode: 'Unavailable' },
      'rate-limited',
      'HTTP_503',
    ],
    [
      'unmatched: Unknown error',
      { httpStatus: 200, resultCode: 'ERROR', errorCode: 'Unknown' },
      'transient',
      'Unknown',
    ],
    ['unmatched: unreadable 200', { httpStatus: 200, unparseable: true }, 'transient', 'BAD_RESPONSE'],
    ['unmatched: HTTP 404', { httpStatus: 404, unparseable: true }, 'transient', 'HTTP_404'],
  ];
  it.each(cases)('%s', (_name, observation, outcome, code) => {
    expect(table.classify(observation)).toMatchObject({ outcome, code });
  });

  it('falls back to transient when no rule matches', () => {
    expect(table.classify({ httpStatus: 200, resultCode: 'ERROR', errorCode: 'Unknown' }).rule).toBe(
      'fallback',
    );
    expect(table.classify({ httpStatus: 200, resultCode: 'OK' }).rule).toBe('ok');
  });
});

describe('parseOutcomeTable', () => {
  it('lets the first matching rule win', () => {
    const t = parseOutcomeTable({
      rules: [
        { match: { httpStatus: '5xx' }, outcome: 'transient', code: 'FIRST' },
        { match: { httpStatus: 503 }, outcome: 'stop-campaign', code: 'SECOND' },
        { match: {}, outcome: 'rejected' },
      ],
    });
    expect(t.classify({ httpStatus: 503 })).toEqual({
      outcome: 'transient',
      code: 'FIRST',
      rule: 'rules[0]',
    });
    expect(t.classify({ httpStatus: 200, resultCode: 'OK' })).toEqual({
      outcome: 'rejected',
      code: 'OK',
      rule: 'rules[2]',
    });
    expect(t.ruleCount).toBe(3);
  });

  it('needs every condition of a rule to hold', () => {
    const t = parseOutcomeTable({
      rules: [
        { name: 'both', match: { httpStatus: [500, 503], faultText: 'quota' }, outcome: 'rate-limited' },
      ],
    });
    expect(t.classify({ httpStatus: 503, faultText: 'Quota exceeded' }).outcome).toBe('rate-limited');
    expect(t.classify({ httpStatus: 503, faultText: 'other' }).rule).toBe('fallback');
    expect(t.classify({ httpStatus: 502, faultText: 'quota' }).rule).toBe('fallback');
  });

  it.each([
    [{ rules: [] }, /rules: /],
    [{}, /rules: /],
    [{ rules: [{ match: {}, outcome: 'lost' }] }, /rules\[0\]\.outcome/],
    [
      {
        rules: [
          { match: {}, outcome: 'delivered' },
          { match: { httpStatus: 99 }, outcome: 'transient' },
        ],
      },
      /rules\[1\]\.match\.httpStatus/,
    ],
    [{ rules: [{ match: { httpStatus: '5XX' }, outcome: 'transient' }] }, /rules\[0\]\.match\.httpStatus/],
    [
      { rules: [{ match: { resultText: '(' }, outcome: 'transient' }] },
      /rules\[0\]\.match\.resultText: not a valid regular expression/,
    ],
    [{ rules: [{ match: { resultCode: 'FINE' }, outcome: 'transient' }] }, /rules\[0\]\.match\.resultCode/],
    [{ rules: [{ match: { statusCode: 500 }, outcome: 'transient' }] }, /rules\[0\]\.match.*statusCode/],
    [{ rules: [{ match: {}, outcome: 'transient', code: 'has space' }] }, /rules\[0\]\.code/],
    [{ rules: [{ outcome: 'transient' }] }, /rules\[0\]\.match/],
  ])('rejects %j naming the field', (json, message) => {
    expect(() => parseOutcomeTable(json)).toThrow(OutcomeTableError);
    expect(() => parseOutcomeTable(json)).toThrow(message);
  });

  it('loadOutcomeTable names the file when it is missing, not JSON, or invalid', () => {
    expect(() => loadOutcomeTable(join(dir, 'missing.json'))).toThrow(
      /missing\.json cannot be read \(ENOENT\)/,
    );
    writeFileSync(join(dir, 'bad.json'), '{ rules: ');
    expect(() => loadOutcomeTable(join(dir, 'bad.json'))).toThrow(/bad\.json is not JSON/);
    writeFileSync(join(dir, 'invalid.json'), JSON.stringify({ rules: [{ match: {}, outcome: 'x' }] }));
    expect(() => loadOutcomeTable(join(dir, 'invalid.json'))).toThrow(/invalid\.json: .*rules\[0\]\.outcome/);
  });
});
