import pRetry, { AbortError } from 'p-retry';
import { DeliveryError } from '../delivery/types.js';
import type { AttemptResult, Stop } from './recipient-attempt.js';

/**
 * The retry policy around one recipient's attempts (p-retry): transient
 * failures are retried with a doubling, jittered backoff; a 429/503 with
 * Retry-After waits as told without using up a retry, up to
 * `maxRetryAfterWaits`; a stop-campaign failure (401/403, TLS) pauses the
 * campaign and is not retried.
 */
export interface CallRetryOptions {
  /** Retries of one call after a transient error (default 3). */
  callRetries: number;
  /** First backoff between call retries, ms (default 200), doubled, capped at callBackoffMaxMs. */
  callBackoffMs: number;
  callBackoffMaxMs: number;
  /** Waits for Retry-After per call before it counts as failed (default 10). */
  maxRetryAfterWaits: number;
}

export interface CallRetryDeps {
  /** Pauses the campaign after a stop-campaign failure. */
  stopCampaign(error: DeliveryError): Promise<void>;
  /** A retry after a transient failure (`reason` is the error's code), or a Retry-After wait of `waitMs`. */
  retrying(reason: string, waitMs?: number): void;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Ends the retries (and the backoff waits) when the worker shuts down. */
  shutdown: AbortSignal;
}

/** Results an attempt ends a recipient's retries with. */
export type Final = Extract<AttemptResult, { kind: 'settled' | 'skipped' | 'parked' }>;

/**
 * - `done`: the recipient is settled (or skipped, or parked) for this job.
 * - `stop`: the job must stop; the recipient stays open.
 * - `open`: its calls failed past the retries (or for good): it stays open
 *   for the job's next attempt, and in the end the dead letters.
 */
export type RecipientEnd =
  | { kind: 'done'; result: Final }
  | { kind: 'stop'; stop: Stop }
  | { kind: 'open'; error: DeliveryError };

export async function withCallRetries(
  attempt: () => Promise<AttemptResult>,
  options: CallRetryOptions,
  deps: CallRetryDeps,
): Promise<RecipientEnd> {
  let stop: Stop | undefined;
  let rateLimitedWaits = 0;
  try {
    const result = await pRetry(
      async (): Promise<Final> => {
        const r = await attempt();
        if (r.kind === 'stop') {
          stop = r.stop;
          throw new AbortError('stopped');
        }
        if (r.kind === 'released' || r.kind === 'in-doubt') throw r.error;
        return r;
      },
      {
        retries: options.callRetries,
        minTimeout: options.callBackoffMs,
        maxTimeout: options.callBackoffMaxMs,
        factor: 2,
        randomize: true,
        signal: deps.shutdown,
        shouldConsumeRetry: ({ error }) => !(error instanceof DeliveryError && error.kind === 'rate-limited'),
        shouldRetry: ({ error }) => {
          if (!(error instanceof DeliveryError)) return false;
          if (error.kind === 'stop-campaign') return false;
          if (error.kind === 'rate-limited') return rateLimitedWaits < options.maxRetryAfterWaits;
          return true;
        },
        onFailedAttempt: async ({ error, retriesLeft }) => {
          if (!(error instanceof DeliveryError)) return;
          if (error.kind === 'stop-campaign') {
            await deps.stopCampaign(error);
            stop ??= { kind: 'paused' };
          } else if (error.kind === 'rate-limited') {
            rateLimitedWaits++;
            const waitMs = error.retryAfterMs ?? 1000;
            deps.retrying('retry_after', waitMs);
            await deps.sleep(waitMs, deps.shutdown);
          } else if (retriesLeft > 0) {
            deps.retrying(error.code);
          }
        },
      },
    );
    return { kind: 'done', result };
  } catch (err) {
    // p-retry rethrows the error inside an AbortError, and the shutdown signal's reason when aborted.
    if (deps.shutdown.aborted) stop ??= { kind: 'shutdown' };
    if (stop) return { kind: 'stop', stop };
    if (err instanceof DeliveryError) return { kind: 'open', error: err };
    throw err;
  }
}
