/**
 * Watches each campaign's last N call outcomes in this process and says when
 * the share of permanent failures (rejected) passes a threshold: then every
 * later call would likely fail too, and a person should look before more go.
 */
export interface AutoPauseOptions {
  /** Calls to look back over (default 200). */
  window: number;
  /** Share of rejected among them that pauses the campaign (default 0.5). */
  threshold: number;
}

export interface FailureWatch {
  /** Records one settled call; returns a reason when the campaign should pause. */
  observe(campaignId: string, permanentFailure: boolean): string | undefined;
  reset(campaignId: string): void;
}

export function createFailureWatch(options: AutoPauseOptions): FailureWatch {
  const rings = new Map<string, { bits: Uint8Array; next: number; filled: number; failures: number }>();
  return {
    observe(campaignId, failed) {
      let ring = rings.get(campaignId);
      if (!ring) {
        ring = { bits: new Uint8Array(options.window), next: 0, filled: 0, failures: 0 };
        rings.set(campaignId, ring);
      }
      if (ring.filled === options.window) ring.failures -= ring.bits[ring.next]!;
      else ring.filled++;
      ring.bits[ring.next] = failed ? 1 : 0;
      ring.failures += failed ? 1 : 0;
      ring.next = (ring.next + 1) % options.window;
      if (ring.filled === options.window && ring.failures / ring.filled > options.threshold) {
        const share = Math.round((ring.failures / ring.filled) * 100);
        return `${share}% of the last ${ring.filled} calls were rejected (threshold ${Math.round(options.threshold * 100)}%)`;
      }
      return undefined;
    },
    reset(campaignId) {
      rings.delete(campaignId);
    },
  };
}
