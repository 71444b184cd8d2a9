import type { Campaign } from '../campaign/schema.js';
import type { CampaignState, CampaignStore } from '../queue/campaign-store.js';

export interface CampaignView {
  definition: Campaign;
  state: CampaignState;
  reason?: string;
  unitActive: boolean;
}

/**
 * The handler asks for a campaign's state before every call; this answers from
 * memory for at most `maxAgeMs` (default 250 ms), then from memory while it
 * refreshes (up to `staleMs`, default 4 x maxAgeMs), so a pause reaches every
 * worker within about maxAgeMs plus one Redis round trip, without a round trip
 * per call.
 */
export interface CampaignCache {
  get(id: string): Promise<CampaignView | undefined>;
  /** Forget a campaign's state (after this process changed it). */
  invalidate(id: string): void;
}

export function createCampaignCache(
  store: CampaignStore,
  unitActive: (hsaId: string) => Promise<boolean>,
  options: { maxAgeMs?: number; staleMs?: number; now?: () => number } = {},
): CampaignCache {
  const maxAgeMs = options.maxAgeMs ?? 250;
  const now = options.now ?? Date.now;
  const definitions = new Map<string, Campaign>();
  const staleMs = options.staleMs ?? maxAgeMs * 4;
  interface Entry {
    at: number;
    view: Promise<CampaignView | undefined>;
    /** The last answer, once there is one. */
    settled?: { at: number; view: CampaignView | undefined };
    refreshing: boolean;
  }
  const states = new Map<string, Entry>();
  const load = (id: string) => loadView(store, unitActive, definitions, id);

  /**
   * A view younger than `maxAgeMs` is served as it is. An older one, up to
   * `staleMs`, is served while one refresh runs in the background, so a call
   * never waits for Redis on its way from rate slot to wire; older than that,
   * callers wait for the refresh.
   */
  return {
    get(id) {
      const entry = states.get(id);
      const t = now();
      if (entry && t - entry.at < maxAgeMs) return entry.view;
      if (entry?.settled && t - entry.settled.at < staleMs) {
        if (!entry.refreshing) refresh(id, entry, t);
        return Promise.resolve(entry.settled.view);
      }
      const view = load(id);
      const fresh: Entry = { at: t, view, refreshing: false };
      states.set(id, fresh);
      view.then(
        (v) => {
          fresh.settled = { at: t, view: v };
        },
        () => {
          if (states.get(id) === fresh) states.delete(id);
        },
      );
      return view;
    },
    invalidate(id) {
      states.delete(id);
    },
  };

  function refresh(id: string, entry: Entry, t: number): void {
    entry.refreshing = true;
    load(id).then(
      (view) => {
        if (states.get(id) !== entry) return;
        states.set(id, { at: t, view: Promise.resolve(view), settled: { at: t, view }, refreshing: false });
      },
      () => {
        // Redis is away: serve the old view until staleMs, then callers wait (and see the error).
        entry.refreshing = false;
      },
    );
  }
}

/** A campaign's state and its unit's, read from Redis; its definition (which never changes) read once. */
async function loadView(
  store: CampaignStore,
  unitActive: (hsaId: string) => Promise<boolean>,
  definitions: Map<string, Campaign>,
  id: string,
): Promise<CampaignView | undefined> {
  let definition = definitions.get(id);
  if (!definition) {
    const stored = await store.get(id);
    if (!stored) return undefined;
    definition = stored.definition;
    definitions.set(id, definition);
  }
  const [state, active] = await Promise.all([store.state(id), unitActive(definition.unit.hsaId)]);
  if (!state) return undefined;
  return {
    definition,
    state: state.state,
    ...(state.reason ? { reason: state.reason } : {}),
    unitActive: active,
  };
}
