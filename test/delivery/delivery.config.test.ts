import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultOutcomeTablePath, loadDeliveryConfig } from '../../src/config/delivery.js';
import { ConfigError } from '../../src/config/env.js';

const dir = mkdtempSync(join(tmpdir(), 'utskick-delivery-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const cert = file('cert.pem', 'CERT');
const key = file('key.pem', 'KEY');
const ca = file('ca.pem', 'CA');

const insecure = {
  INBOX_URL: 'http://127.0.0.1:9999/inbox',
  INBOX_ALLOW_INSECURE: 'true',
  INBOX_LOGICAL_ADDRESS: 'SE2321000016-7P2M',
};

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('loadDeliveryConfig', () => {
  it('applies defaults and loads the shipped outcome table', () => {
    const c = loadDeliveryConfig(insecure);
    expect(c).toMatchObject({
      url: 'http://127.0.0.1:9999/inbox',
      contract: 'mvk-inbox-2',
      logicalAddress: 'SE2321000016-7P2M',
      timeoutMs: 10_000,
      connections: 16,
    });
    expect(c.tls).toBeUndefined();
    expect(c.sourceSystem).toBeUndefined();
    expect(c.outcomeTable.classify({ httpStatus: 200, resultCode: 'OK' }).outcome).toBe('delivered');
    expect(defaultOutcomeTablePath()).toMatch(/config[/\\]outcomes\.json$/);
  });

  it('refuses http:// unless INBOX_ALLOW_INSECURE=true, saying so', () => {
    const m = message(() => loadDeliveryConfig({ ...insecure, INBOX_ALLOW_INSECURE: undefined }));
    expect(m).toMatch(/INBOX_URL/);
    expect(m).toMatch(/INBOX_ALLOW_INSECURE=true/);
    expect(message(() => loadDeliveryConfig({ ...insecure, INBOX_ALLOW_INSECURE: 'false' }))).toMatch(
      /http:\/\//,
    );
  });

  it('names missing and bad variables', () => {
    const m = message(() => loadDeliveryConfig({}));
    expect(m).toMatch(/INBOX_URL/);
    // The LogicalAddress header is optional: the inbox domain's WSDL binds none.
    expect(m).not.toMatch(/INBOX_LOGICAL_ADDRESS/);
    expect(message(() => loadDeliveryConfig({ ...insecure, INBOX_LOGICAL_ADDRESS: 'a b' }))).toMatch(
      /INBOX_LOGICAL_ADDRESS/,
    );
    expect(message(() => loadDeliveryConfig({ ...insecure, INBOX_SOURCE_SYSTEM: '$$' }))).toMatch(
      /INBOX_SOURCE_SYSTEM/,
    );
    expect(message(() => loadDeliveryConfig({ ...insecure, INBOX_URL: 'ftp://x/inbox' }))).toMatch(
      /INBOX_URL/,
    );
    expect(message(() => loadDeliveryConfig({ ...insecure, INBOX_CONTRACT: 'v3' }))).toMatch(
      /INBOX_CONTRACT/,
    );
    expect(message(() => loadDeliveryConfig({ ...insecure, INBOX_TIMEOUT_MS: 'soon' }))).toMatch(
      /INBOX_TIMEOUT_MS/,
    );
    expect(message(() => loadDeliveryConfig({ ...insecure, INBOX_CONNECTIONS: '0' }))).toMatch(
      /INBOX_CONNECTIONS/,
    );
    expect(message(() => loadDeliveryConfig({ ...insecure, INBOX_SOURCE_SYSTEM: 'a b' }))).toMatch(
      /INBOX_SOURCE_SYSTEM/,
    );
  });

  it('reads the TLS files for https and names the one it cannot read', () => {
    const https = { ...insecure, INBOX_URL: 'https://inbox.example/inbox', INBOX_ALLOW_INSECURE: undefined };
    expect(message(() => loadDeliveryConfig(https))).toMatch(
      /INBOX_TLS_CERT_FILE, INBOX_TLS_KEY_FILE, INBOX_TLS_CA_FILE/,
    );
    const files = { INBOX_TLS_CERT_FILE: cert, INBOX_TLS_KEY_FILE: key, INBOX_TLS_CA_FILE: ca };
    const c = loadDeliveryConfig({
      ...https,
      ...files,
      INBOX_CONTRACT: 'patientportal-2',
      INBOX_SOURCE_SYSTEM: 'SE5565-0001',
      INBOX_TIMEOUT_MS: '2500',
      INBOX_CONNECTIONS: '4',
      INBOX_TLS_KEY_PASSPHRASE_FILE: file('pass.txt', 'secret\n'),
    });
    expect(c).toMatchObject({
      contract: 'patientportal-2',
      sourceSystem: 'SE5565-0001',
      timeoutMs: 2500,
      connections: 4,
      tls: { cert: 'CERT', key: 'KEY', ca: 'CA', passphrase: 'secret' },
    });
    const missing = join(dir, 'nope.pem');
    const m = message(() => loadDeliveryConfig({ ...https, ...files, INBOX_TLS_KEY_FILE: missing }));
    expect(m).toContain('INBOX_TLS_KEY_FILE');
    expect(m).toContain(missing);
    expect(m).toContain('ENOENT');
  });

  it('loads INBOX_OUTCOME_TABLE and reports a bad one as a ConfigError', () => {
    const custom = file('outcomes.json', JSON.stringify({ rules: [{ match: {}, outcome: 'rejected' }] }));
    const c = loadDeliveryConfig({ ...insecure, INBOX_OUTCOME_TABLE: custom });
    expect(c.outcomeTable.classify({ httpStatus: 200, resultCode: 'OK' }).outcome).toBe('rejected');
    const bad = file(
      'bad-outcomes.json',
      JSON.stringify({ rules: [{ match: { httpStatus: 1 }, outcome: 'rejected' }] }),
    );
    expect(message(() => loadDeliveryConfig({ ...insecure, INBOX_OUTCOME_TABLE: bad }))).toMatch(
      /INBOX_OUTCOME_TABLE: .*rules\[0\]\.match\.httpStatus/,
    );
  });
});
