import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The data key and what is derived from it. One 32-byte key (UTSKICK_DATA_KEY)
 * yields a sealing key (AES-256-GCM) and a hashing key (HMAC-SHA-256) through
 * HKDF, so a leaked keyed hash says nothing about the sealing key.
 *
 * Sealed blob layout: version (1) | key id (4) | iv (12) | tag (16) | ciphertext.
 * The key id lets a rotated key open blobs sealed with the previous one.
 */
export interface Keyring {
  /** Hex id of the current key (first 4 bytes of its SHA-256). */
  readonly keyId: string;
  seal(plaintext: Buffer, aad: string): Buffer;
  unseal(blob: Buffer, aad: string): Buffer;
  /** Keyed hash, hex, for looking things up or naming a recipient in a log without the number. */
  hash(value: string, bytes?: number): string;
}

export class KeyError extends Error {
  readonly code = 'DATA_KEY';
}

export class SealError extends Error {
  readonly code = 'SEAL';
}

const VERSION = 1;
const HEADER = 1 + 4 + 12 + 16;

interface DerivedKey {
  id: Buffer;
  seal: Buffer;
  hash: Buffer;
}

function derive(master: Buffer): DerivedKey {
  return {
    id: createHash('sha256').update(master).digest().subarray(0, 4),
    seal: Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'utskick seal v1', 32)),
    hash: Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'utskick hash v1', 32)),
  };
}

/** Decodes a base64 key and checks it is 32 bytes; `name` is what an error calls it. */
export function decodeKey(base64: string, name: string): Buffer {
  const text = base64.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) throw new KeyError(`${name} is not base64`);
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32) throw new KeyError(`${name} must be 32 bytes in base64 (got ${key.length} bytes)`);
  return key;
}

/**
 * @param current the key new data is sealed with
 * @param previous keys that may still open older blobs (during a rotation)
 */
export function createKeyring(current: Buffer, previous: Buffer[] = []): Keyring {
  const main = derive(current);
  const all = [main, ...previous.map(derive)];
  const byId = new Map(all.map((k) => [k.id.toString('hex'), k]));

  return {
    keyId: main.id.toString('hex'),
    seal(plaintext, aad) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', main.seal, iv);
      cipher.setAAD(Buffer.from(aad));
      const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([Buffer.of(VERSION), main.id, iv, cipher.getAuthTag(), body]);
    },
    unseal(blob, aad) {
      if (blob.length < HEADER || blob[0] !== VERSION)
        throw new SealError('sealed data has an unknown format');
      const key = byId.get(blob.subarray(1, 5).toString('hex'));
      if (!key) {
        throw new SealError(
          `sealed with key ${blob.subarray(1, 5).toString('hex')}, which is not loaded (set UTSKICK_DATA_KEY_PREVIOUS during a rotation)`,
        );
      }
      const decipher = createDecipheriv('aes-256-gcm', key.seal, blob.subarray(5, 17));
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(blob.subarray(17, HEADER));
      try {
        return Buffer.concat([decipher.update(blob.subarray(HEADER)), decipher.final()]);
      } catch (cause) {
        throw new SealError('sealed data failed authentication (wrong key or tampered)', { cause });
      }
    },
    hash(value, bytes = 16) {
      return createHmac('sha256', main.hash).update(value).digest().subarray(0, bytes).toString('hex');
    },
  };
}
