import { type CampaignSender, DeliveryError } from '../delivery/types.js';
import type { Metrics } from '../metrics/registry.js';
import type { FinalOutcome, Ledger, MarkOptions as LedgerMarkOptions, MarkResult } from '../queue/ledger.js';
import type { RateLimiter, RateRequest } from '../queue/rate-limiter.js';
import type { AttemptLedger, AttemptLimiter, AttemptPorts, MarkOptions } from './recipient-attempt.js';

/**
 * The recipient attempt's ports as one job sees them: its chunk and lock
 * bound into the ledger, its campaign's rate into the limiter, and the
 * counting (metrics and the job's summary) done where each thing happens.
 */

export interface JobScope {
  campaignId: string;
  chunkId: string;
  /** The job's BullMQ lock; token '' skips the check. */
  lock: { key: string; token: string };
}

/** Counts a final outcome once it is recorded (not when the slot had one already). */
export type Counted = (outcome: FinalOutcome, recorded: boolean) => void;

/**
 * The ledger bound to one job's chunk and lock. It keeps each slot's call
 * count as the job knows it (from its read at the start, then its own marks
 * and releases), so a mark written again after a failover is recognised as
 * the same mark (ledger.ts, MarkOptions.expectCalls).
 */
export function jobLedger(
  ledger: Ledger,
  scope: JobScope,
  counted: Counted,
  callsBefore: readonly number[],
): AttemptLedger {
  const { campaignId, chunkId, lock } = scope;
  const calls = [...callsBefore];
  const expecting = (slot: number, options: MarkOptions): LedgerMarkOptions => ({
    ...options,
    ...(calls[slot] !== undefined ? { expectCalls: calls[slot] } : {}),
  });
  const marked = (slot: number, mark: MarkResult) => {
    if (mark.kind === 'go' && calls[slot] !== undefined) calls[slot] = Math.min(calls[slot] + 1, 255);
    return mark;
  };
  return {
    async mark(slot, options) {
      return marked(
        slot,
        await ledger.markInflight(campaignId, chunkId, slot, lock, expecting(slot, options)),
      );
    },
    async recordAndMark(answered, slot, options) {
      const both = await ledger.recordAndMark(
        campaignId,
        chunkId,
        answered,
        slot,
        lock,
        expecting(slot, options),
      );
      counted(answered.outcome, both.recorded);
      marked(slot, both.mark);
      return both;
    },
    async record({ slot, outcome, reason }, nowSec) {
      const recorded = await ledger.record(campaignId, chunkId, slot, outcome, nowSec, reason);
      counted(outcome, recorded);
      return recorded;
    },
    async release(slot, callMade) {
      const released = await ledger.release(campaignId, chunkId, slot, callMade);
      if (released && !callMade && calls[slot] !== undefined && calls[slot] > 0) calls[slot]--;
      return released;
    },
  };
}

export function jobLimiter(limiter: RateLimiter, request: RateRequest, metrics: Metrics): AttemptLimiter {
  return {
    async acquire(signal) {
      const grant = await limiter.acquire(request, signal);
      metrics.limiterWaitSeconds.observe(grant.waitedMs / 1000);
      return grant;
    },
    gaveUp: () => metrics.limiterSlotsDropped.inc({ stage: 'call' }),
  };
}

const errorResult = (err: DeliveryError) =>
  err.kind === 'rate-limited'
    ? 'rate_limited'
    : err.kind === 'stop-campaign'
      ? 'stop_campaign'
      : 'transient_error';

/** The campaign's sender, counting each call as it starts (`started`) and by its result. */
export function jobSender(
  sender: CampaignSender,
  metrics: Metrics,
  started: () => void,
): AttemptPorts['sender'] {
  return {
    async send(request) {
      started();
      metrics.inflight.inc();
      try {
        const result = await sender.send(request);
        metrics.calls.inc({ result: result.outcome });
        metrics.callDuration.observe({ result: result.outcome }, result.latencyMs / 1000);
        return result;
      } catch (err) {
        if (err instanceof DeliveryError) metrics.calls.inc({ result: errorResult(err) });
        throw err;
      } finally {
        metrics.inflight.dec();
      }
    },
  };
}
