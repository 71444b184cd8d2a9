import type { Redis } from 'ioredis';
import { rateScopes } from './keys.js';
import { RateLimiterError } from './rate-limiter-error.js';
import { runScript } from './scripts.js';

/**
 * One call of the GCRA script (src/queue/lua/rateAcquire.lua): up to `want`
 * slots of one combination of limits, on Redis' clock. The invariants are in
 * rate-limiter.ts.
 */

/**
 * Marker TTL: longer than any TAT key lives, so a missing marker means lost data (or a first use).
 * Its value is the replication id of the primary that wrote it (see lua/rateAcquire.lua).
 */
export const MARKER_TTL_MS = 3_600_000;

/** Keys of one limit combination, from `RateLimiterOptions.key`. */
export interface SlotKeys {
  marker: string;
  /** Present when there is a global rate. */
  global?: { tat: string; islands: string };
  /** Present when there is a campaign rate. */
  campaign?: string;
}

/** The keys of a global limit (when `global`) and a campaign's limit (when `campaignId`). */
export function slotKeys(key: (scope: string) => string, global: boolean, campaignId?: string): SlotKeys {
  const keys: SlotKeys = { marker: key(rateScopes.marker) };
  if (global) keys.global = { tat: key(rateScopes.global), islands: key(rateScopes.globalIslands) };
  if (campaignId !== undefined) keys.campaign = key(rateScopes.campaign(campaignId));
  return keys;
}

export interface SlotRequest {
  keys: SlotKeys;
  /** How many slots to take at most. */
  want: number;
  maxAheadUs: number;
  /** µs between global starts; 0 = no global limit. */
  globalUs: number;
  /** µs between this campaign's starts; 0 = no campaign limit. */
  campaignUs: number;
}

export interface SlotReply {
  /** Redis' clock when the script ran, µs since the epoch. */
  nowUs: number;
  /** Granted slots, µs after `nowUs`, ascending. Empty when none could be taken. */
  offsetsUs: number[];
  /** When nothing was granted: µs until asking again makes sense. */
  retryUs: number;
  /**
   * The marker was missing (first use, or Redis lost its data), or this node was
   * promoted and the marker is the old primary's: the first slot is `maxAheadUs` out.
   */
  lost: boolean;
}

function keyList(request: SlotRequest): string[] {
  const { keys } = request;
  const list = [keys.marker];
  if (request.globalUs > 0) {
    if (!keys.global) throw new RateLimiterError('INVALID_RATE', 'a global rate needs global keys');
    list.push(keys.global.tat, keys.global.islands);
  }
  if (request.campaignUs > 0) {
    if (!keys.campaign) throw new RateLimiterError('INVALID_RATE', 'a campaign rate needs a campaign key');
    list.push(keys.campaign);
  }
  return list;
}

/** One script call: the seam under `acquire`, exported for tests of the schedule itself. */
export async function takeSlots(redis: Redis, request: SlotRequest): Promise<SlotReply> {
  const reply = await runScript<number[]>(redis, 'rateAcquire', keyList(request), [
    request.want,
    request.maxAheadUs,
    MARKER_TTL_MS,
    request.globalUs,
    request.campaignUs,
  ]);
  const granted = reply[0] ?? 0;
  return {
    nowUs: reply[2] ?? 0,
    offsetsUs: granted > 0 ? reply.slice(3, 3 + granted) : [],
    retryUs: granted > 0 ? 0 : (reply[3] ?? 1000),
    lost: reply[1] === 1,
  };
}
