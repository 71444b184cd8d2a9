import type { ChainableCommander, Redis } from 'ioredis';
import type { Campaign } from '../campaign/schema.js';
import type { Keys } from './keys.js';
import { transitionCodes } from './script-codes.js';
import { defineScripts, queueScript, runScript, type ScriptName } from './scripts.js';

/**
 * The campaign record: one hash per campaign (keys.campaign), and the only
 * module that writes it. Every change of state is one atomic script
 * (src/queue/lua/campaign*.lua):
 *
 *   (enqueue) -> active | paused
 *   active -> paused         pause; pausing a paused campaign changes nothing
 *   paused -> active         resume; resuming an active campaign changes nothing
 *   active | paused -> cancelled    cancel, for good; again changes nothing
 *   any -> purged            purge, for good (the state field stays, or becomes
 *                            cancelled when the campaign had not finished)
 *
 * Anything else (pausing or resuming a cancelled or purged campaign,
 * cancelling a purged one) is refused with CampaignTransitionError and
 * writes nothing. The other fields written here: the recipient counts
 * (enqueue), lastActivityAt (the worker), reportWrittenAt (report) and the
 * redrive rounds.
 */

export const campaignStates = ['active', 'paused', 'cancelled'] as const;
/** The stored state: what the job handler acts on. */
export type CampaignState = (typeof campaignStates)[number];
/** Where a campaign is in its life: its state, or purged (for good, whatever the state field says). */
export type CampaignLifecycle = CampaignState | 'purged';
export type CampaignTransition = 'pause' | 'resume' | 'cancel' | 'purge';

/** A campaign as stored; no personal data. */
export interface StoredCampaign {
  definition: Campaign;
  state: CampaignState;
  /** Why it is paused or cancelled, and by whom ('system' for automatic pauses). */
  stateReason?: string;
  stateBy?: string;
  createdAt: string;
  recipients: { total: number; valid: number; invalid: number; duplicates: number };
  /** How many chunks the campaign has. */
  chunkCount: number;
  purgedAt?: string;
  purgedBy?: string;
  /** When a worker last made calls for it (the retention clock). */
  lastActivityAt?: string;
  /** When a complete report was last written. */
  reportWrittenAt?: string;
}

/** The campaign boundary's error: a stable code, never worth retrying as it is. */
export class CampaignStoreError extends Error {
  readonly code: 'UNKNOWN_CAMPAIGN' | 'DEFINITION_CHANGED' | 'BAD_STATE';
  readonly retryable = false;
  constructor(code: CampaignStoreError['code'], message: string) {
    super(message);
    this.name = 'CampaignStoreError';
    this.code = code;
  }
}

/** A transition the campaign's lifecycle does not allow; nothing was written. */
export class CampaignTransitionError extends CampaignStoreError {
  constructor(
    readonly campaignId: string,
    readonly transition: CampaignTransition,
    readonly from: CampaignLifecycle,
  ) {
    super('BAD_STATE', `campaign ${campaignId} is ${from}; it cannot be ${pastTense[transition]}`);
    this.name = 'CampaignTransitionError';
  }
}

const pastTense: Record<CampaignTransition, string> = {
  pause: 'paused',
  resume: 'resumed',
  cancel: 'cancelled',
  purge: 'purged',
};

export interface TransitionResult {
  /** False: the campaign was already where the transition leads. */
  changed: boolean;
  from: CampaignLifecycle;
}

/** What an enqueue's part of the record did (see `register`). */
export interface RegisterResult {
  created: boolean;
  /** Cancelled or purged: the recipients were counted, but no job may be added. */
  refused?: CampaignLifecycle;
}

export interface RegisterInput {
  definition: string;
  at: string;
  paused: boolean;
  recipients: StoredCampaign['recipients'];
  chunksAdded: number;
}

export interface CampaignRecord {
  read(id: string): Promise<StoredCampaign | undefined>;
  /** The state fields only: cheap enough to poll. */
  state(id: string): Promise<{ state: CampaignState; reason?: string; by?: string } | undefined>;
  /** The stored definition (JSON as written) and lifecycle; undefined when there is no campaign. */
  head(id: string): Promise<{ definition: string; lifecycle: CampaignLifecycle } | undefined>;
  /** active -> paused. @throws CampaignTransitionError (cancelled, purged), CampaignStoreError UNKNOWN_CAMPAIGN */
  pause(id: string, reason: string, by: string): Promise<TransitionResult>;
  /** active -> paused, or nothing: true when this call paused it (the service's own pauses). */
  pauseIfActive(id: string, reason: string, by: string): Promise<boolean>;
  /** paused -> active; `reason` defaults to "resumed by <by>". @throws as pause */
  resume(id: string, by: string, reason?: string): Promise<TransitionResult>;
  /** active | paused -> cancelled. @throws CampaignTransitionError (purged), UNKNOWN_CAMPAIGN */
  cancel(id: string, reason: string, by: string): Promise<TransitionResult>;
  /** any -> purged; `unfinished` also cancels it. Purging again changes nothing. @throws UNKNOWN_CAMPAIGN */
  purge(id: string, options: { by: string; at: Date; unfinished: boolean }): Promise<TransitionResult>;
  /**
   * Queues an enqueue's part of the record in the enqueue's MULTI (so it
   * commits with the chunks); `registerResult` reads its reply. The MULTI's
   * connection must be this record's.
   */
  register(multi: ChainableCommander, id: string, input: RegisterInput): void;
  /** Notes that a worker made calls for the campaign (never creates a record). */
  noteActivity(id: string, at: Date): Promise<void>;
  /** Notes that a complete report was written. */
  markReported(id: string, at: Date): Promise<void>;
  /** The next redrive round of a chunk (1, 2, ...). */
  nextRound(id: string, chunkId: string): Promise<number>;
}

const num = (v: string | undefined) => (v === undefined ? 0 : Number(v));
const optional = <K extends string>(key: K, v: string | undefined) =>
  (v ? { [key]: v } : {}) as Partial<Record<K, string>>;

function parseRecord(h: Record<string, string>): StoredCampaign | undefined {
  if (!h.definition) return undefined;
  return {
    definition: JSON.parse(h.definition) as Campaign,
    state: (h.state as CampaignState) ?? 'active',
    ...optional('stateReason', h.stateReason),
    ...optional('stateBy', h.stateBy),
    createdAt: h.createdAt ?? '',
    recipients: {
      total: num(h.total),
      valid: num(h.valid),
      invalid: num(h.invalid),
      duplicates: num(h.duplicates),
    },
    chunkCount: num(h.chunkCount),
    ...optional('purgedAt', h.purgedAt),
    ...optional('purgedBy', h.purgedBy),
    ...optional('lastActivityAt', h.lastActivityAt),
    ...optional('reportWrittenAt', h.reportWrittenAt),
  };
}

type Reply = [number, string];

/** A transition script's reply as a result; unknown campaigns and refusals throw. */
function transitionResult(id: string, transition: CampaignTransition, [code, from]: Reply): TransitionResult {
  if (code === transitionCodes.unknown)
    throw new CampaignStoreError('UNKNOWN_CAMPAIGN', `no campaign with id ${id}`);
  const lifecycle = from as CampaignLifecycle;
  if (code === transitionCodes.refused) throw new CampaignTransitionError(id, transition, lifecycle);
  return { changed: code === transitionCodes.changed, from: lifecycle };
}

/**
 * Reads the reply of `register` from the MULTI's replies.
 * @throws CampaignStoreError DEFINITION_CHANGED when another definition is stored (nothing of the record written)
 */
export function registerResult(reply: [Error | null, unknown] | undefined, id: string): RegisterResult {
  const [err, value] = reply ?? [new Error(`no reply for campaign ${id}'s record`), undefined];
  if (err?.message.startsWith('DEFINITION_CHANGED'))
    throw new CampaignStoreError('DEFINITION_CHANGED', `campaign ${id} is stored with another definition`);
  if (err) throw err;
  const [code, from] = value as Reply;
  if (code === transitionCodes.refused) return { created: false, refused: from as CampaignLifecycle };
  return { created: from === 'new' };
}

/** Queues the campaignRegister script (see CampaignRecord.register). */
function queueRegister(multi: ChainableCommander, keys: Keys, id: string, input: RegisterInput): void {
  const r = input.recipients;
  queueScript(
    multi,
    'campaignRegister',
    [keys.campaign(id), keys.campaigns()],
    [
      id,
      input.definition,
      input.at,
      input.paused ? '1' : '0',
      r.total,
      r.valid,
      r.invalid,
      r.duplicates,
      input.chunksAdded,
    ],
  );
}

export function createCampaignRecord(
  redis: Redis,
  keys: Keys,
  options: { now?: () => Date } = {},
): CampaignRecord {
  defineScripts(redis);
  const now = () => (options.now ?? (() => new Date()))().toISOString();
  const run = (name: ScriptName, id: string, args: string[]) =>
    runScript<Reply>(redis, name, [keys.campaign(id)], args);
  const record: CampaignRecord = {
    async read(id) {
      return parseRecord(await redis.hgetall(keys.campaign(id)));
    },
    async state(id) {
      const [state, reason, by] = await redis.hmget(keys.campaign(id), 'state', 'stateReason', 'stateBy');
      if (state === null) return undefined;
      return {
        state: state as CampaignState,
        ...optional('reason', reason ?? ''),
        ...optional('by', by ?? ''),
      };
    },
    async head(id) {
      const [definition, state, purgedAt] = await redis.hmget(
        keys.campaign(id),
        'definition',
        'state',
        'purgedAt',
      );
      if (definition == null) return undefined;
      return { definition, lifecycle: purgedAt ? 'purged' : ((state ?? 'active') as CampaignState) };
    },
    async pause(id, reason, by) {
      return transitionResult(id, 'pause', await run('campaignPause', id, [reason, by, now()]));
    },
    async pauseIfActive(id, reason, by) {
      const [code] = await run('campaignPause', id, [reason, by, now()]);
      return code === transitionCodes.changed;
    },
    async resume(id, by, reason = `resumed by ${by}`) {
      return transitionResult(id, 'resume', await run('campaignResume', id, [reason, by, now()]));
    },
    async cancel(id, reason, by) {
      return transitionResult(id, 'cancel', await run('campaignCancel', id, [reason, by, now()]));
    },
    async purge(id, { by, at, unfinished }) {
      const args = [by, at.toISOString(), unfinished ? '1' : '0', 'purged before it finished'];
      return transitionResult(id, 'purge', await run('campaignPurge', id, args));
    },
    register: (multi, id, input) => queueRegister(multi, keys, id, input),
    async noteActivity(id, at) {
      await runScript(redis, 'campaignTouch', [keys.campaign(id)], [at.toISOString()]);
    },
    async markReported(id, at) {
      await redis.hset(keys.campaign(id), 'reportWrittenAt', at.toISOString());
    },
    async nextRound(id, chunkId) {
      return Number(await redis.hincrby(keys.campaign(id), `round:${chunkId}`, 1));
    },
  };
  return record;
}
