import type { Redis } from 'ioredis';
import { packNumbers, unpackNumbers } from '../recipients/pack.js';
import type { Keyring } from './keyring.js';
import type { Keys } from './keys.js';

/** The associated data binds a sealed chunk to its campaign and id: a blob moved to another key fails to open. */
const aad = (campaignId: string, chunkId: string) => `utskick/chunk/${campaignId}/${chunkId}`;

export function sealChunk(
  keyring: Keyring,
  campaignId: string,
  chunkId: string,
  numbers: readonly string[],
): Buffer {
  return keyring.seal(packNumbers(numbers), aad(campaignId, chunkId));
}

export function unsealChunk(keyring: Keyring, campaignId: string, chunkId: string, blob: Buffer): string[] {
  return unpackNumbers(keyring.unseal(blob, aad(campaignId, chunkId)));
}

export class ChunkMissingError extends Error {
  readonly code = 'CHUNK_MISSING';
}

export async function loadChunk(
  redis: Redis,
  keys: Keys,
  keyring: Keyring,
  campaignId: string,
  chunkId: string,
): Promise<string[]> {
  const blob = await redis.getBuffer(keys.chunk(campaignId, chunkId));
  if (!blob)
    throw new ChunkMissingError(`chunk ${chunkId} of campaign ${campaignId} is not in Redis (purged?)`);
  return unsealChunk(keyring, campaignId, chunkId, blob);
}

/** Every recipient of a campaign's stored chunks, for cross-run duplicate checks and reports. */
export async function* iterateChunks(
  redis: Redis,
  keys: Keys,
  keyring: Keyring,
  campaignId: string,
  chunkIds: readonly string[],
  batch = 200,
): AsyncGenerator<{ chunkId: string; numbers: string[] }> {
  for (let i = 0; i < chunkIds.length; i += batch) {
    const ids = chunkIds.slice(i, i + batch);
    const pipeline = redis.pipeline();
    for (const id of ids) pipeline.getBuffer(keys.chunk(campaignId, id));
    const results = (await pipeline.exec()) ?? [];
    for (let j = 0; j < ids.length; j++) {
      const [err, blob] = results[j] ?? [];
      if (err) throw err;
      if (!blob) throw new ChunkMissingError(`chunk ${ids[j]} of campaign ${campaignId} is not in Redis`);
      yield { chunkId: ids[j]!, numbers: unsealChunk(keyring, campaignId, ids[j]!, blob as Buffer) };
    }
  }
}
