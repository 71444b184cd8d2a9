import type { Redis } from 'ioredis';
import type { Problem } from '../recipients/read-file.js';
import {
  type CampaignState,
  CampaignStoreError,
  createCampaignRecord,
  type StoredCampaign,
} from './campaign-record.js';
import type { Keys } from './keys.js';

export {
  type CampaignLifecycle,
  type CampaignState,
  CampaignStoreError,
  CampaignTransitionError,
  campaignStates,
  type StoredCampaign,
} from './campaign-record.js';

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

/**
 * What a campaign has in Redis, read: its record (campaign-record.ts, which
 * also makes every change to it), its files, chunks and problems. The two
 * writers here are the record's, for the job handler, which holds a store.
 */
export interface CampaignStore {
  get(id: string): Promise<StoredCampaign | undefined>;
  require(id: string): Promise<StoredCampaign>;
  list(): Promise<string[]>;
  files(id: string): Promise<StoredFile[]>;
  /** chunk id → recipients in it. */
  chunks(id: string): Promise<Map<string, number>>;
  problems(id: string): Promise<Problem[]>;
  /**
   * Moves the state by the record's transition to it (paused: pause, active:
   * resume, cancelled: cancel); returns the previous state.
   * @deprecated use createCampaignRecord's pause, resume or cancel.
   * @throws CampaignTransitionError when the transition is not allowed
   */
  setState(id: string, state: CampaignState, reason: string, by: string): Promise<CampaignState>;
  /** Pauses only if active, atomically; true when this call paused it (CampaignRecord.pauseIfActive). */
  pauseIfActive(id: string, reason: string, by: string): Promise<boolean>;
  /** Notes that a worker made calls for the campaign (CampaignRecord.noteActivity). */
  noteActivity(id: string, at: Date): Promise<void>;
  /** The raw state fields only: cheap enough to poll. */
  state(id: string): Promise<{ state: CampaignState; reason?: string; by?: string } | undefined>;
}

export function createCampaignStore(redis: Redis, keys: Keys): CampaignStore {
  const record = createCampaignRecord(redis, keys);
  const store: CampaignStore = {
    get: (id) => record.read(id),
    async require(id) {
      const c = await record.read(id);
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
      const r =
        state === 'paused'
          ? await record.pause(id, reason, by)
          : state === 'active'
            ? await record.resume(id, by, reason)
            : await record.cancel(id, reason, by);
      return r.from as CampaignState;
    },
    pauseIfActive: (id, reason, by) => record.pauseIfActive(id, reason, by),
    noteActivity: (id, at) => record.noteActivity(id, at),
    state: (id) => record.state(id),
  };
  return store;
}
