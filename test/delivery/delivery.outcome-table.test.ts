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

describe('the shipped outcome table (the published meanings of AddMessage 2)', () => {
  it('is documented', () => {
    const json = JSON.parse(readFileSync(defaultOutcomeTablePath(), 'utf8'));
    expect(json._doc.join(' ')).toMatch(/first rule/i);
    expect(json._doc.join(' ')).toMatch(/no rule matches: uncertain for a 2xx answer/i);
  });

  it('matches no error-code field: AddMessage 2 has none', () => {
    const json = JSON.stringify(JSON.parse(readFileSync(defaultOutcomeTablePath(), 'utf8')).rules);
    expect(json).not.toMatch(/errorCode|NotActiveUser|LoginBlocked|IllegalArgument/);
  });

  const cases: [string, Observation, string, string][] = [
    ['OK', { httpStatus: 200, resultCode: 'OK' }, 'delivered', 'OK'],
    [
      'INFO: no 1177 account (TKB)',
      { httpStatus: 200, resultCode: 'INFO', resultText: 'Invånaren har inget konto i 1177.' },
      'unreachable',
      'INFO',
    ],
    ['INFO without text', { httpStatus: 200, resultCode: 'INFO' }, 'unreachable', 'INFO'],
    [
      'ERROR: a logical error, not stored',
      { httpStatus: 200, resultCode: 'ERROR', resultText: 'Meddelandet kunde inte tas emot.' },
      'rejected',
      'ERROR',
    ],
    [
      'ERROR that reads like an outage is still ERROR',
      { httpStatus: 200, resultCode: 'ERROR', resultText: 'Unavailable: try later' },
      'rejected',
      'ERROR',
    ],
    [
      'SOAP Fault, HTTP 500: a technical error',
      { httpStatus: 500, fault: true, faultText: 'deadlock' },
      'transient',
      'SOAP_FAULT',
    ],
    [
      'SOAP Fault naming Unauthorized is still a technical error',
      { httpStatus: 500, fault: true, faultText: 'Unauthorized: no' },
      'transient',
      'SOAP_FAULT',
    ],
    ['HTTP 401', { httpStatus: 401, unparseable: true }, 'stop-campaign', 'HTTP_401'],
    ['HTTP 403 with a fault', { httpStatus: 403, fault: true }, 'stop-campaign', 'HTTP_403'],
    ['TLS handshake refused', { transport: 'tls', transportCode: 'ERR_SSL_X' }, 'stop-campaign', 'ERR_SSL_X'],
    ['HTTP 502 HTML page', { httpStatus: 502, unparseable: true }, 'transient', 'HTTP_502'],
    ['HTTP 503 without Retry-After', { httpStatus: 503, fault: true }, 'transient', 'SOAP_FAULT'],
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
      { httpStatus: 503, retryAfter: true, fault: true },
      'rate-limited',
      'HTTP_503',
    ],
    [
      'a 2xx answer against the contract (no or a misspelt resultCode)',
      { httpStatus: 200, unparseable: true },
      'uncertain',
      'CONTRACT_VIOLATION',
    ],
    ['unmatched: HTTP 404', { httpStatus: 404, unparseable: true }, 'transient', 'HTTP_404'],
  ];
  it.each(cases)('%s', (_name, observation, outcome, code) => {
    expect(table.classify(observation)).toMatchObject({ outcome, code });
  });

  it('falls back to uncertain for a 2xx answer and to transient otherwise', () => {
    const t = parseOutcomeTable({ rules: [{ match: { httpStatus: 418 }, outcome: 'rejected' }] });
    expect(t.classify({ httpStatus: 200, resultCode: 'OK' })).toMatchObject({
      outcome: 'uncertain',
      rule: 'fallback',
    });
    expect(t.classify({ httpStatus: 404 })).toMatchObject({ outcome: 'transient', rule: 'fallback' });
    expect(t.classify({ transport: 'connection' })).toMatchObject({ outcome: 'transient', rule: 'fallback' });
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
