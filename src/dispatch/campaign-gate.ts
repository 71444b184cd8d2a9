import type { Logger } from 'pino';
import type { SystemAuditInput } from '../audit/audit-log.js';
import type { DeliveryError } from '../delivery/types.js';
import type { Metrics } from '../metrics/registry.js';
import type { CampaignStore } from '../queue/campaign-store.js';
import type { FailureWatch } from './auto-pause.js';
import type { CampaignCache } from './campaign-cache.js';
import type { Stop } from './recipient-attempt.js';
import { createSendTimeCheck } from './window.js';

export interface CampaignGateDeps {
  store: Pick<CampaignStore, 'pauseIfActive'>;
  campaigns: CampaignCache;
  failureWatch: FailureWatch;
  metrics: Pick<Metrics, 'autoPauses'>;
  logger: Logger;
  /** Records the service's own actions in the audit log; must not throw. Default none. */
  audit?: ((input: SystemAuditInput) => Promise<void>) | undefined;
  /** Aborted when the worker shuts down. */
  shutdown: AbortSignal;
  now: () => number;
}

/**
 * Whether a campaign may send now, and the service's own pauses: a sending
 * unit that is not active, a platform that refuses this system, too many
 * rejected calls. Answers from the campaign cache, so it costs no Redis round
 * trip per call.
 */
export interface CampaignGate {
  /** Why a job of this campaign must stop taking recipients now, if it must. */
  mustStop(campaignId: string): Promise<Stop | undefined>;
  /** Pauses the campaign as the service (once, however many calls see the same reason). */
  pauseBySystem(campaignId: string, reason: string, kind: string): Promise<void>;
  /** Counts an answered call; pauses the campaign when too many of its calls are rejected. */
  observeAnswer(campaignId: string, rejected: boolean): Promise<void>;
  /** Pauses the campaign after a stop-campaign failure. */
  refused(campaignId: string, error: DeliveryError): Promise<void>;
}

/** Why a campaign stops: the platform refused us (401/403), or TLS failed (often its certificate, refused by us). */
export function stopReason(error: DeliveryError): string {
  if (error.httpStatus === 401 || error.httpStatus === 403) {
    return `the platform refused this system (HTTP ${error.httpStatus}, unauthorised): check the client certificate and that it is authorised for this service`;
  }
  if (error.tlsRefusal === 'their-certificate') {
    return `the platform's certificate was refused (${error.code}): it is not signed by INBOX_TLS_CA_FILE's CA, is for another host name than INBOX_URL's, or has expired`;
  }
  return `the TLS handshake with the platform failed (${error.code}): the platform refused this system's client certificate; check INBOX_TLS_CERT_FILE and INBOX_TLS_KEY_FILE`;
}

export function createCampaignGate(deps: CampaignGateDeps): CampaignGate {
  const sendTime = createSendTimeCheck();

  async function pauseBySystem(campaignId: string, reason: string, kind: string): Promise<void> {
    // Many calls in flight may see the same refusal: only the first one pauses (atomically in Redis).
    deps.failureWatch.reset(campaignId);
    deps.campaigns.invalidate(campaignId);
    if (!(await deps.store.pauseIfActive(campaignId, reason, 'system'))) return;
    deps.metrics.autoPauses.inc({ campaign: campaignId, reason: kind });
    deps.logger.error({ campaign: campaignId, reason, kind }, 'campaign paused by the service');
    await deps.audit?.({ action: 'auto-pause', campaignId, details: { reason, kind } });
  }

  async function mustStop(campaignId: string): Promise<Stop | undefined> {
    if (deps.shutdown.aborted) return { kind: 'shutdown' };
    const view = await deps.campaigns.get(campaignId);
    if (!view) return { kind: 'gone' };
    if (view.state === 'cancelled') return { kind: 'cancelled' };
    if (view.state === 'paused') {
      // After a resume, judge the calls made since, not the ones before the pause.
      deps.failureWatch.reset(campaignId);
      return { kind: 'paused' };
    }
    if (!view.unitActive) {
      const reason = `sending unit ${view.definition.unit.hsaId} is not active`;
      await pauseBySystem(campaignId, reason, 'unit_inactive');
      return { kind: 'paused' };
    }
    const until = sendTime(view.definition, deps.now());
    if (until !== undefined) return { kind: 'window', until };
    return undefined;
  }

  return {
    mustStop,
    pauseBySystem,
    async observeAnswer(campaignId, rejected) {
      const reason = deps.failureWatch.observe(campaignId, rejected);
      if (reason) await pauseBySystem(campaignId, reason, 'rejected_share');
    },
    refused: (campaignId, error) => pauseBySystem(campaignId, stopReason(error), 'unauthorized'),
  };
}
