import { DeliveryError, type DeliveryRequest, type DeliveryResult } from '../delivery/types.js';
import type { Answered, FinalOutcome, MarkResult } from '../queue/ledger.js';
import type { RateGrant } from '../queue/rate-limiter.js';

/**
 * One attempt at one recipient: the decision that makes delivery exactly
 * once. Mark the slot in flight (recording the loop's last answer in the same
 * step), wait for a rate slot and a connection, call, and leave the answer to
 * be recorded; or park the recipient as uncertain, or release it. Everything
 * it touches is a port; it does no I/O of its own, so every branch can be
 * driven with in-memory fakes (test/dispatch/recipient-attempt.test.ts).
 */

/** Why a job must take no more recipients now. */
export type Stop =
  | { kind: 'paused' }
  | { kind: 'cancelled' }
  | { kind: 'window'; until: number }
  | { kind: 'lock-lost' }
  | { kind: 'shutdown' }
  | { kind: 'gone' };

export interface MarkOptions {
  /** ON_UNCERTAIN=resend: a slot found in flight is sent again rather than parked. */
  resendUncertain: boolean;
  nowSec: number;
}

/** The ledger, as one job sees it: its chunk and its lock are bound in. */
export interface AttemptLedger {
  /** Marks the slot in flight, if the job still holds its lock. */
  mark(slot: number, options: MarkOptions): Promise<MarkResult>;
  /** Records `answered` and marks `slot` in one step (one Redis call per recipient, not two). */
  recordAndMark(
    answered: Answered,
    slot: number,
    options: MarkOptions,
  ): Promise<{ recorded: boolean; mark: MarkResult }>;
  /** A final outcome; false if the slot had one already. */
  record(answered: Answered, nowSec: number): Promise<boolean>;
  /** Back to pending; `callMade` false also takes back the call the mark counted. */
  release(slot: number, callMade: boolean): Promise<boolean>;
}

export interface AttemptLimiter {
  /** Resolves with a rate slot; rejects with the signal's reason once it aborts. */
  acquire(signal: AbortSignal): Promise<RateGrant>;
  /** Told when a slot is given up because it went stale waiting for a connection. */
  gaveUp(): void;
}

export interface AttemptPorts {
  ledger: AttemptLedger;
  limiter: AttemptLimiter;
  /** One connection permit per call on the wire (see call-permits.ts). */
  permits: { take(): Promise<() => void> };
  sender: { send(request: DeliveryRequest): Promise<DeliveryResult> };
  /** Milliseconds since the epoch, for ledger times. */
  clock: { now(): number };
  /** Whether the campaign (or the worker) says stop now. */
  gate: { mustStop(): Promise<Stop | undefined> };
  /** Aborted when the worker shuts down: ends the wait for a rate slot. */
  shutdown: AbortSignal;
  /** What to do with a recipient whose call may have landed. */
  onUncertain: 'resend' | 'park';
}

/**
 * A call loop's last answered recipient, not yet in the ledger: the next
 * mark records it, or the loop does when it ends. An attempt takes it at its
 * mark and leaves its own answer here.
 */
export interface Carry {
  answered?: Answered;
}

export interface AttemptInput {
  slot: number;
  request: DeliveryRequest;
  carry: Carry;
}

/**
 * - `settled`: the call was answered; the outcome waits in the carry for the next mark.
 * - `skipped`: the slot had a final outcome already.
 * - `parked`: recorded uncertain, never to be sent again: it was in flight when a
 *   worker died, or this call failed in a way that may have landed (park mode).
 * - `released`: the call failed and did not land; the slot is pending again.
 * - `in-doubt`: the call failed and may have landed (resend mode); the slot stays
 *   in flight, so the next mark counts a resend.
 * - `stop`: no call was made (a mark is taken back with callMade=false); the job must stop.
 *
 * `released` and `in-doubt` carry the error for the retry policy around the attempt.
 */
export type AttemptResult =
  | { kind: 'settled'; answered: Answered; result: DeliveryResult }
  | { kind: 'skipped'; state: FinalOutcome }
  | { kind: 'parked'; cause: 'in-flight-at-crash' }
  | { kind: 'parked'; cause: 'may-have-landed'; error: DeliveryError }
  | { kind: 'released'; error: DeliveryError }
  | { kind: 'in-doubt'; error: DeliveryError }
  | { kind: 'stop'; stop: Stop };

type Ready = { kind: 'ready'; releasePermit: () => void } | { kind: 'stop'; stop: Stop };

const nowSec = (clock: AttemptPorts['clock']) => Math.floor(clock.now() / 1000);

export async function attemptRecipient(ports: AttemptPorts, input: AttemptInput): Promise<AttemptResult> {
  const held = await ports.gate.mustStop();
  if (held) return { kind: 'stop', stop: held };
  // The lock check and the mark come before the wait for a rate slot, so that
  // nothing but cached checks stands between the slot and the call: a Redis
  // round trip after the slot made calls late (and given up) whenever a
  // worker was busy.
  const mark = await markSlot(ports, input);
  if (mark.kind === 'lock-lost') return { kind: 'stop', stop: { kind: 'lock-lost' } };
  if (mark.kind === 'skip') return { kind: 'skipped', state: mark.state };
  if (mark.kind === 'parked') return { kind: 'parked', cause: 'in-flight-at-crash' };
  const ready = await waitForSlot(ports, input.slot);
  if (ready.kind === 'stop') return ready;
  return call(ports, input, ready.releasePermit);
}

function markSlot(ports: AttemptPorts, { slot, carry }: AttemptInput): Promise<MarkResult> {
  const options = { resendUncertain: ports.onUncertain === 'resend', nowSec: nowSec(ports.clock) };
  const answered = carry.answered;
  if (!answered) return ports.ledger.mark(slot, options);
  carry.answered = undefined;
  return ports.ledger.recordAndMark(answered, slot, options).then((both) => both.mark);
}

/**
 * A rate slot, then a free connection (undici never queues a call), then the
 * slot once more: if waiting for the connection outlasted its tolerance, a
 * new slot rather than a late call, where late calls bunch. No call is made
 * on any way out but `ready`, so the mark is taken back with callMade=false.
 */
async function waitForSlot(ports: AttemptPorts, slot: number): Promise<Ready> {
  try {
    for (;;) {
      const grant = await ports.limiter.acquire(ports.shutdown);
      const why = await ports.gate.mustStop();
      if (why) {
        await ports.ledger.release(slot, false);
        return { kind: 'stop', stop: why };
      }
      const release = await ports.permits.take();
      if (grant.onTime()) return { kind: 'ready', releasePermit: release };
      release();
      ports.limiter.gaveUp();
    }
  } catch (err) {
    await ports.ledger.release(slot, false);
    // The limiter rejects with the shutdown signal's reason.
    if (ports.shutdown.aborted) return { kind: 'stop', stop: { kind: 'shutdown' } };
    throw err;
  }
}

async function call(
  ports: AttemptPorts,
  input: AttemptInput,
  releasePermit: () => void,
): Promise<AttemptResult> {
  const { slot } = input;
  let result: DeliveryResult;
  try {
    result = await ports.sender.send(input.request).finally(releasePermit);
  } catch (err) {
    if (!(err instanceof DeliveryError)) throw err;
    return failed(ports, slot, err);
  }
  const answered: Answered = {
    slot,
    outcome: result.outcome,
    ...(result.reason !== undefined ? { reason: result.reason } : {}),
  };
  input.carry.answered = answered;
  return { kind: 'settled', answered, result };
}

/** Whether the failed call may have reached the platform is the delivery client's to say. */
async function failed(ports: AttemptPorts, slot: number, error: DeliveryError): Promise<AttemptResult> {
  if (!error.mayHaveLanded) {
    await ports.ledger.release(slot, true);
    return { kind: 'released', error };
  }
  if (ports.onUncertain === 'resend') return { kind: 'in-doubt', error };
  await ports.ledger.record({ slot, outcome: 'uncertain' }, nowSec(ports.clock));
  return { kind: 'parked', cause: 'may-have-landed', error };
}
