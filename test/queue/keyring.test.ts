import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadKeyring } from '../../src/config/env.js';
import { sealChunk, unsealChunk } from '../../src/queue/chunks.js';
import { createKeyring, decodeKey, KeyError, SealError } from '../../src/queue/keyring.js';
import { syntheticList } from '../helpers/personnummer.js';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const AAD = 'utskick/chunk/test/abc';

function sealError(fn: () => unknown, message?: RegExp): SealError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SealError);
  const e = caught as SealError;
  expect(e.code).toBe('SEAL');
  if (message) expect(e.message).toMatch(message);
  return e;
}

describe('keyring: seal and unseal', () => {
  const ring = createKeyring(keyA);
  const plaintext = Buffer.from('synthetic plaintext 191212121212');

  it('round-trips, with a fresh IV each time', () => {
    const one = ring.seal(plaintext, AAD);
    const two = ring.seal(plaintext, AAD);
    expect(one.equals(two)).toBe(false);
    expect(ring.unseal(one, AAD)).toEqual(plaintext);
    expect(ring.unseal(two, AAD)).toEqual(plaintext);
    expect(one.toString('latin1')).not.toContain('191212121212');
    expect(one[0]).toBe(1);
    expect(one.subarray(1, 5).toString('hex')).toBe(ring.keyId);
    expect(one).toHaveLength(1 + 4 + 12 + 16 + plaintext.length);
  });

  it('round-trips an empty plaintext', () => {
    expect(ring.unseal(ring.seal(Buffer.alloc(0), AAD), AAD)).toHaveLength(0);
  });

  it('a flipped bit anywhere in iv, tag or ciphertext fails authentication', () => {
    const blob = ring.seal(plaintext, AAD);
    for (let i = 5; i < blob.length; i++) {
      const bad = Buffer.from(blob);
      bad[i]! ^= 0x01;
      sealError(() => ring.unseal(bad, AAD), /failed authentication/);
    }
  });

  it('a truncated blob, an extra byte or an unknown version fails', () => {
    const blob = ring.seal(plaintext, AAD);
    sealError(() => ring.unseal(blob.subarray(0, 20), AAD), /unknown format/);
    sealError(() => ring.unseal(blob.subarray(0, blob.length - 1), AAD), /failed authentication/);
    sealError(() => ring.unseal(Buffer.concat([blob, Buffer.of(0)]), AAD), /failed authentication/);
    const v2 = Buffer.from(blob);
    v2[0] = 2;
    sealError(() => ring.unseal(v2, AAD), /unknown format/);
  });

  it('the wrong associated data fails: a blob moved to another chunk does not open', () => {
    const blob = ring.seal(plaintext, AAD);
    sealError(() => ring.unseal(blob, `${AAD}x`), /failed authentication/);
    sealError(() => ring.unseal(blob, ''), /failed authentication/);
    const numbers = syntheticList(5);
    const chunk = sealChunk(ring, 'camp', 'chunk-1', numbers);
    expect(unsealChunk(ring, 'camp', 'chunk-1', chunk)).toEqual(numbers);
    sealError(() => unsealChunk(ring, 'camp', 'chunk-2', chunk));
    sealError(() => unsealChunk(ring, 'other', 'chunk-1', chunk));
  });

  it('the wrong key fails, naming the key id it needs', () => {
    const blob = ring.seal(plaintext, AAD);
    const other = createKeyring(keyB);
    const e = sealError(() => other.unseal(blob, AAD), /not loaded/);
    expect(e.message).toContain(ring.keyId);
    expect(e.message).toContain('UTSKICK_DATA_KEY_PREVIOUS');
  });

  it('a forged key id (the right id on a blob of another key) fails authentication', () => {
    const forged = createKeyring(keyB).seal(plaintext, AAD);
    ring.seal(plaintext, AAD).copy(forged, 1, 1, 5);
    sealError(() => ring.unseal(forged, AAD), /failed authentication/);
  });
});

describe('keyring: rotation', () => {
  it('a rotated keyring seals with the new key and still opens blobs of the previous one', () => {
    const old = createKeyring(keyA);
    const rotated = createKeyring(keyB, [keyA]);
    const oldBlob = old.seal(Buffer.from('old'), AAD);
    const newBlob = rotated.seal(Buffer.from('new'), AAD);
    expect(rotated.keyId).toBe(createKeyring(keyB).keyId);
    expect(rotated.unseal(oldBlob, AAD).toString()).toBe('old');
    expect(rotated.unseal(newBlob, AAD).toString()).toBe('new');
    expect(newBlob.subarray(1, 5).toString('hex')).toBe(rotated.keyId);
    sealError(() => old.unseal(newBlob, AAD), /not loaded/);
    sealError(() => createKeyring(keyB).unseal(oldBlob, AAD), /not loaded/);
  });
});

describe('keyring: keyed hash', () => {
  it('is deterministic per key, differs between keys, and hides the value', () => {
    const a = createKeyring(keyA);
    const value = '191212121212';
    expect(a.hash(value)).toBe(createKeyring(keyA).hash(value));
    expect(a.hash(value)).toMatch(/^[0-9a-f]{32}$/);
    expect(a.hash(value, 8)).toMatch(/^[0-9a-f]{16}$/);
    expect(a.hash(value).startsWith(a.hash(value, 8))).toBe(true);
    expect(createKeyring(keyB).hash(value)).not.toBe(a.hash(value));
    expect(a.hash('191212121213')).not.toBe(a.hash(value));
    expect(a.hash(value)).not.toContain('1212121212');
    // The previous key does not change the hash: only the current key hashes.
    expect(createKeyring(keyA, [keyB]).hash(value)).toBe(a.hash(value));
  });
});

describe('decodeKey', () => {
  it('accepts 32 bytes of base64, with blanks and a newline around', () => {
    const text = keyA.toString('base64');
    expect(decodeKey(text, 'K').equals(keyA)).toBe(true);
    expect(decodeKey(`  ${text}\n`, 'K').equals(keyA)).toBe(true);
  });

  it.each([
    ['not base64 at all', 'not a key!'],
    ['base64url characters', `${'A'.repeat(40)}-_AA`],
    ['padding in the middle', 'AAAA=AAAA'],
    ['empty', ''],
  ])('rejects %s, naming the variable and never echoing the value', (_what, text) => {
    let caught: unknown;
    try {
      decodeKey(text, 'UTSKICK_DATA_KEY');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(KeyError);
    expect((caught as KeyError).code).toBe('DATA_KEY');
    expect((caught as KeyError).message).toContain('UTSKICK_DATA_KEY');
    if (text.length > 4) expect((caught as KeyError).message).not.toContain(text);
  });

  it.each([16, 31, 33, 64])('rejects %i bytes', (n) => {
    expect(() => decodeKey(randomBytes(n).toString('base64'), 'K')).toThrow(
      new RegExp(`must be 32 bytes in base64 \\(got ${n} bytes\\)`),
    );
  });
});

describe('loadKeyring (UTSKICK_DATA_KEY, UTSKICK_DATA_KEY_FILE)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'utskick-keyring-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const keyText = keyA.toString('base64');

  it('reads the key from the variable or from a file, to the same keyring', () => {
    const path = join(dir, 'key');
    writeFileSync(path, `${keyText}\n`);
    expect(loadKeyring({ UTSKICK_DATA_KEY: keyText }).keyId).toBe(createKeyring(keyA).keyId);
    expect(loadKeyring({ UTSKICK_DATA_KEY_FILE: path }).keyId).toBe(createKeyring(keyA).keyId);
  });

  it('loads the previous key during a rotation', () => {
    const blob = createKeyring(keyB).seal(Buffer.from('x'), AAD);
    const ring = loadKeyring({
      UTSKICK_DATA_KEY: keyText,
      UTSKICK_DATA_KEY_PREVIOUS: keyB.toString('base64'),
    });
    expect(ring.unseal(blob, AAD).toString()).toBe('x');
  });

  it.each([
    [{}, /UTSKICK_DATA_KEY or UTSKICK_DATA_KEY_FILE must be set/],
    [{ UTSKICK_DATA_KEY: '' }, /must be set/],
    [{ UTSKICK_DATA_KEY: 'short' }, /UTSKICK_DATA_KEY must be 32 bytes/],
    [{ UTSKICK_DATA_KEY: keyText, UTSKICK_DATA_KEY_FILE: '/x' }, /not both/],
    [{ UTSKICK_DATA_KEY_FILE: '/nonexistent/utskick.key' }, /cannot be read \(ENOENT\)/],
  ])('a missing or bad key is one ConfigError: %j', (env, message) => {
    expect(() => loadKeyring(env)).toThrow(ConfigError);
    expect(() => loadKeyring(env)).toThrow(message);
  });
});
