import { z } from 'zod';
import type { contractNames } from '../delivery/contract.js';

/** Settings that can change while the simulator runs (setOptions, POST /__options). */
export interface LiveOptions {
  /** Share of personnummer answered INFO "no 1177 account". Default 0. */
  unreachableShare: number;
  /** Of those unreachable, the share answered INFO "account locked" instead. Default 0.25. */
  loginBlockedShare: number;
  /** Share of personnummer answered ERROR (a logical error). Default 0. */
  rejectedShare: number;
  /** Share of calls answered with a SOAP Fault and HTTP 500 (a technical error). Default 0. */
  errorRate: number;
  /** Share of calls never answered: the socket is held `timeoutMs`, then closed. Default 0. */
  timeoutRate: number;
  /** How long, in ms, a "timeout" call holds the socket. Default 30000. */
  timeoutMs: number;
  /** Fixed delay, in ms, before every answer. Default 0. */
  latencyMs: number;
  /** Extra random delay, in ms: the upper bound (uniform) or the mean (exponential). Default 0. */
  jitterMs: number;
  /** Distribution of the jitter. Default uniform. */
  jitter: 'uniform' | 'exponential';
  /** Share of calls answered HTTP 429 with Retry-After `retryAfterSeconds`. Default 0. */
  retryAfterRate: number;
  /** Retry-After, in seconds, sent with injected 429s. Default 1. */
  retryAfterSeconds: number;
  /** An outage window relative to start(): every call then gets 503 Unavailable. Default none. */
  outage: { startMs: number; durationMs: number } | undefined;
  /** Everything answers 503 Unavailable while true. Default false. */
  down: boolean;
  /** Most calls accepted per second (fixed one-second windows); above it HTTP 429, Retry-After: 1. Default unlimited. */
  maxRate: number | undefined;
  /** Every call gets HTTP 403 with an Unauthorized fault. Default false. */
  unauthorized: boolean;
  /**
   * A resend of a known message identity is answered as before and counted as
   * a duplicate, not stored again. Default false: the platform does not
   * de-duplicate (businessObjectId threads a resend under the first message).
   */
  dedupe: boolean;
}

export interface SimulatorTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** CA that client certificates must chain to. */
  ca?: string | Buffer;
  /** Ask for (and require) a client certificate. Default true when `ca` is given. */
  requestCert?: boolean;
  /**
   * How a missing or untrusted client certificate is refused. `http` (default):
   * the handshake completes and every call gets HTTP 403 with an Unauthorized
   * fault, as the national platform reports it. `handshake`: the TLS layer
   * closes the connection (Node's rejectUnauthorized).
   */
  refuse?: 'http' | 'handshake';
}

export interface SimulatorOptions extends Partial<LiveOptions> {
  /** Port on 127.0.0.1; 0 picks a free one. Default 0. */
  port?: number;
  /** Path of the AddMessage endpoint. Default `/inbox`. */
  path?: string;
  /** Key of the per-personnummer outcome hash and of the fault dice. Default `utskick-simulator`. */
  seed?: string;
  /** The contract it validates against. Default `mvk-inbox-2`. */
  contract?: (typeof contractNames)[number];
  /** Serve HTTPS, checking client certificates. Default: plain HTTP. */
  tls?: SimulatorTlsOptions;
  /** Clock in ms since the epoch (histogram, rate windows, outage). Default Date.now. */
  now?: () => number;
  /** Source of [0,1) for fault injection. Default: a PRNG seeded from `seed`. */
  random?: () => number;
  /** The folder of the published XSDs. Default: resolveXsdDir() (INBOX_XSD_DIR, else ../shared/contracts/mvk-inbox-2 when present). */
  xsdDir?: string;
  /**
   * How requests are validated: `xsd` (default when the schema folder is
   * found: every new envelope shape against the published XSD), `own` (the
   * simulator's own validator only), or `{ sampleEvery: N }` (the XSD on
   * every Nth new shape, for benchmarks).
   */
  validate?: 'xsd' | 'own' | { sampleEvery: number };
}

export const defaultLiveOptions: LiveOptions = Object.freeze({
  unreachableShare: 0,
  loginBlockedShare: 0.25,
  rejectedShare: 0,
  errorRate: 0,
  timeoutRate: 0,
  timeoutMs: 30_000,
  latencyMs: 0,
  jitterMs: 0,
  jitter: 'uniform',
  retryAfterRate: 0,
  retryAfterSeconds: 1,
  outage: undefined,
  down: false,
  maxRate: undefined,
  unauthorized: false,
  dedupe: false,
});

const share = z.number().min(0).max(1);
const ms = z.number().int().min(0).max(3_600_000);

/** Partial live options, as accepted by setOptions and POST /__options (null clears outage / maxRate). */
export const liveOptionsSchema = z
  .strictObject({
    unreachableShare: share,
    loginBlockedShare: share,
    rejectedShare: share,
    errorRate: share,
    timeoutRate: share,
    timeoutMs: ms,
    latencyMs: ms,
    jitterMs: ms,
    jitter: z.enum(['uniform', 'exponential']),
    retryAfterRate: share,
    retryAfterSeconds: z.number().int().min(0).max(86_400),
    outage: z.strictObject({ startMs: ms, durationMs: ms }).nullable().optional(),
    down: z.boolean(),
    maxRate: z.number().positive().nullable().optional(),
    unauthorized: z.boolean(),
    dedupe: z.boolean(),
  })
  .partial();

/** Bad simulator options; the message names the field. */
export class SimulatorOptionsError extends Error {
  readonly code = 'SIMULATOR_OPTIONS';
}

/** Merges a partial update into live options, checking every field and the shares' sums. */
export function mergeLiveOptions(base: LiveOptions, update: unknown): LiveOptions {
  const parsed = liveOptionsSchema.safeParse(update);
  if (!parsed.success) {
    const lines = parsed.error.issues.map(
      (i) => `${i.path.map(String).join('.') || '(options)'}: ${i.message}`,
    );
    throw new SimulatorOptionsError(`invalid simulator options: ${lines.join('; ')}`);
  }
  const next: LiveOptions = { ...base };
  for (const [k, v] of Object.entries(parsed.data))
    (next as unknown as Record<string, unknown>)[k] = v ?? undefined;
  if (next.unreachableShare + next.rejectedShare > 1) {
    throw new SimulatorOptionsError('invalid simulator options: unreachableShare + rejectedShare exceeds 1');
  }
  if (next.timeoutRate + next.errorRate + next.retryAfterRate > 1) {
    throw new SimulatorOptionsError(
      'invalid simulator options: timeoutRate + errorRate + retryAfterRate exceeds 1',
    );
  }
  return Object.freeze(next);
}

/** The live part of full options, with defaults. */
export function liveOptionsOf(options: SimulatorOptions): LiveOptions {
  const picked: Record<string, unknown> = {};
  for (const key of Object.keys(defaultLiveOptions)) {
    const v = (options as Record<string, unknown>)[key];
    if (v !== undefined) picked[key] = v;
  }
  return mergeLiveOptions(defaultLiveOptions, picked);
}
