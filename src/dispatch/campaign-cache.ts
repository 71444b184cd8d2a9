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
 * memory for at most `maxAgeMs` (default 250 ms), so a pause reaches every
 * worker within that time without a Redis round trip per call.
 */
export interface CampaignCache {
  get(id: string): Promise<CampaignView | undefined>;
  /** Forget a campaign's state (after this process changed it). */
  invalidate(id: string): void;
}

export function createCampaignCache(
  store: CampaignStore,
  unitActive: (hsaId: string) => Promise<boolean>,
  options: { maxAgeMs?: number; now?: () => number } = {},
): CampaignCache {
  const maxAgeMs = options.maxAgeMs ?? 250;
  const now = options.now ?? Date.now;
  const definitions = new Map<string, Campaign>();
  const states = new Map<string, { at: number; view: Promise<CampaignView | undefined> }>();

  async function load(id: string): Promise<CampaignView | undefined> {
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

  return {
    get(id) {
      const cached = states.get(id);
      const t = now();
      if (cached && t - cached.at < maxAgeMs) return cached.view;
      const view = load(id);
      states.set(id, { at: t, view });
      view.catch(() => states.delete(id));
      return view;
    },
    invalidate(id) {
      states.delete(id);
    },
  };
}
