import type { Redis } from 'ioredis';
import type { Campaign } from '../campaign/schema.js';
import type { Problem } from '../recipients/read-file.js';
import type { Keys } from './keys.js';

export const campaignStates = ['active', 'paused', 'cancelled'] as const;
export type CampaignState = (typeof campaignStates)[number];

/** A file the campaign received; no personal data. */
export interface StoredFile {
  name: string;
  sha256: string;
  lines: number;
  valid: number;
  invalid: number;
  duplicates: number;
  chunks: string[];
  enqueuedAt: string;
}

export interface StoredCampaign {
  definition: Campaign;
  state: CampaignState;
  /** Why it is paused or cancelled, and by whom ('system' for automatic pauses). */
  stateReason?: string;
  stateBy?: string;
  createdAt: string;
  recipients: { total: number; valid: number; invalid: number; duplicates: number };
  /** chunk id → number of recipients in it. */
  chunkCount: number;
  purgedAt?: string;
}

export class CampaignStoreError extends Error {
  readonly code: 'UNKNOWN_CAMPAIGN' | 'DEFINITION_CHANGED' | 'BAD_STATE';
  constructor(code: CampaignStoreError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

export interface CampaignStore {
  get(id: string): Promise<StoredCampaign | undefined>;
  require(id: string): Promise<StoredCampaign>;
  list(): Promise<string[]>;
  files(id: string): Promise<StoredFile[]>;
  /** chunk id → recipients in it. */
  chunks(id: string): Promise<Map<string, number>>;
  problems(id: string): Promise<Problem[]>;
  /** Sets the state; returns the previous one. */
  setState(id: string, state: CampaignState, reason: string, by: string): Promise<CampaignState>;
  /** Pauses only if active, atomically; true when this call paused it. */
  pauseIfActive(id: string, reason: string, by: string): Promise<boolean>;
  /** The raw state fields only: cheap enough to poll. */
  state(id: string): Promise<{ state: CampaignState; reason?: string; by?: string } | undefined>;
}

function num(v: string | undefined): number {
  return v === undefined ? 0 : Number(v);
}

export function createCampaignStore(redis: Redis, keys: Keys): CampaignStore {
  const store: CampaignStore = {
    async get(id) {
      const h = await redis.hgetall(keys.campaign(id));
      if (!h.definition) return undefined;
      return {
        definition: JSON.parse(h.definition) as Campaign,
        state: (h.state as CampaignState) ?? 'active',
        ...(h.stateReason ? { stateReason: h.stateReason } : {}),
        ...(h.stateBy ? { stateBy: h.stateBy } : {}),
        createdAt: h.createdAt ?? '',
        recipients: {
          total: num(h.total),
          valid: num(h.valid),
          invalid: num(h.invalid),
          duplicates: num(h.duplicates),
        },
        chunkCount: num(h.chunkCount),
        ...(h.purgedAt ? { purgedAt: h.purgedAt } : {}),
      };
    },
    async require(id) {
      const c = await store.get(id);
      if (!c)
        throw new CampaignStoreError('UNKNOWN_CAMPAIGN', `no campaign with id ${id} (enqueue it first)`);
      return c;
    },
    async list() {
      return (await redis.smembers(keys.campaigns())).sort();
    },
    async files(id) {
      const h = await redis.hgetall(keys.files(id));
      return Object.values(h)
        .map((v) => JSON.parse(v) as StoredFile)
        .sort((a, b) =>
          a.enqueuedAt === b.enqueuedAt ? a.name.localeCompare(b.name) : a.enqueuedAt < b.enqueuedAt ? -1 : 1,
        );
    },
    async chunks(id) {
      const h = await redis.hgetall(keys.chunks(id));
      return new Map(Object.entries(h).map(([k, v]) => [k, Number(v)]));
    },
    async problems(id) {
      return (await redis.lrange(keys.problems(id), 0, -1)).map((v) => JSON.parse(v) as Problem);
    },
    async setState(id, state, reason, by) {
      const prev = await redis.hget(keys.campaign(id), 'state');
      if (prev === null) throw new CampaignStoreError('UNKNOWN_CAMPAIGN', `no campaign with id ${id}`);
      await redis.hset(
        keys.campaign(id),
        'state',
        state,
        'stateReason',
        reason,
        'stateBy',
        by,
        'stateAt',
        new Date().toISOString(),
      );
      return prev as CampaignState;
    },
    async pauseIfActive(id, reason, by) {
      const changed = await redis.eval(
        `if redis.call('HGET', KEYS[1], 'state') ~= 'active' then return 0 end
         redis.call('HSET', KEYS[1], 'state', 'paused', 'stateReason', ARGV[1], 'stateBy', ARGV[2], 'stateAt', ARGV[3])
         return 1`,
        1,
        keys.campaign(id),
        reason,
        by,
        new Date().toISOString(),
      );
      return changed === 1;
    },
    async state(id) {
      const [state, reason, by] = await redis.hmget(keys.campaign(id), 'state', 'stateReason', 'stateBy');
      if (state === null) return undefined;
      return { state: state as CampaignState, ...(reason ? { reason } : {}), ...(by ? { by } : {}) };
    },
  };
  return store;
}
