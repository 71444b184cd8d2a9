import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultOutcomeTablePath } from '../../src/config/delivery.js';
import { mayHaveLanded } from '../../src/delivery/inbox-client.js';
import { type Observation, type OutcomeTable, parseOutcomeTable } from '../../src/delivery/outcome-table.js';
import { DeliveryError, type DeliveryErrorKind, type DeliveryResult } from '../../src/delivery/types.js';
import {
  type AttemptInput,
  type AttemptLedger,
  type AttemptPorts,
  attemptRecipient,
  type Carry,
  type MarkOptions,
  type Stop,
} from '../../src/dispatch/recipient-attempt.js';
import { type Answered, isFinal, type MarkResult, type SlotState } from '../../src/queue/ledger.js';
import type { RateGrant } from '../../src/queue/rate-limiter.js';

/**
 * The core behind ports, driven with in-memory fakes. Each fake writes what
 * it was asked into one event list, so a test can hold the order of the
 * steps (mark before the rate wait, the slot checked again after the permit).
 */

const shippedTable = parseOutcomeTable(JSON.parse(readFileSync(defaultOutcomeTablePath(), 'utf8')));

/** The ledger's rules (the Lua in src/queue/ledger.ts) over a Map. */
class FakeLedger implements AttemptLedger {
  readonly states = new Map<number, SlotState>();
  readonly calls = new Map<number, number>();
  lockHeld = true;
  constructor(private readonly events: string[]) {}

  state(slot: number): SlotState {
    return this.states.get(slot) ?? 'pending';
  }
  async mark(slot: number, options: MarkOptions): Promise<MarkResult> {
    this.events.push(`mark ${slot}`);
    return this.markNow(slot, options);
  }
  async recordAndMark(answered: Answered, slot: number, options: MarkOptions) {
    this.events.push(`record ${answered.slot} ${answered.outcome} + mark ${slot}`);
    return { recorded: this.recordNow(answered), mark: this.markNow(slot, options) };
  }
  async record(answered: Answered) {
    this.events.push(`record ${answered.slot} ${answered.outcome}`);
    return this.recordNow(answered);
  }
  async release(slot: number, callMade: boolean) {
    this.events.push(`release ${slot} callMade=${callMade}`);
    if (this.state(slot) !== 'inflight') return false;
    this.states.set(slot, 'pending');
    if (!callMade) this.calls.set(slot, (this.calls.get(slot) ?? 1) - 1);
    return true;
  }
  private markNow(slot: number, { resendUncertain }: MarkOptions): MarkResult {
    if (!this.lockHeld) return { kind: 'lock-lost' };
    const state = this.state(slot);
    if (isFinal(state)) return { kind: 'skip', state };
    if (state === 'inflight' && !resendUncertain) {
      this.states.set(slot, 'uncertain');
      return { kind: 'parked' };
    }
    this.states.set(slot, 'inflight');
    this.calls.set(slot, (this.calls.get(slot) ?? 0) + 1);
    return { kind: 'go', resend: state === 'inflight' };
  }
  private recordNow({ slot, outcome }: Answered): boolean {
    if (isFinal(this.state(slot))) return false;
    this.states.set(slot, outcome);
    return true;
  }
}

type Answer = DeliveryResult | DeliveryError | Error;

interface World {
  ports: AttemptPorts;
  ledger: FakeLedger;
  events: string[];
  /** Whether each grant the limiter hands out is still on time when asked. */
  onTime: boolean[];
  /** What the gate says, one answer per question; then go on. */
  gate: (Stop | undefined)[];
  answers: Answer[];
  permitsInUse: () => number;
  gaveUp: () => number;
  shutdown: AbortController;
  /** The limiter waits until shutdown, as for a slot that never comes. */
  blockLimiter: boolean;
}

function world(onUncertain: 'park' | 'resend' = 'park'): World {
  const events: string[] = [];
  const shutdown = new AbortController();
  let inUse = 0;
  let gaveUp = 0;
  const w: World = {
    events,
    ledger: new FakeLedger(events),
    onTime: [],
    gate: [],
    answers: [],
    permitsInUse: () => inUse,
    gaveUp: () => gaveUp,
    shutdown,
    blockLimiter: false,
    ports: undefined as unknown as AttemptPorts,
  };
  w.ports = {
    ledger: w.ledger,
    limiter: {
      async acquire(signal) {
        events.push('acquire');
        if (w.blockLimiter) {
          await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
        }
        const onTime = w.onTime.shift() ?? true;
        const grant: RateGrant = {
          waitedMs: 0,
          onTime: () => {
            events.push(`onTime ${onTime}`);
            return onTime;
          },
        };
        return grant;
      },
      gaveUp: () => {
        gaveUp++;
      },
    },
    permits: {
      async take() {
        events.push('permit');
        inUse++;
        let done = false;
        return () => {
          if (done) return;
          done = true;
          inUse--;
          events.push('permit back');
        };
      },
    },
    sender: {
      async send(request) {
        events.push(`send ${request.messageId}`);
        const answer = w.answers.shift() ?? ok();
        if (answer instanceof Error) throw answer;
        return answer;
      },
    },
    clock: { now: () => 1_700_000_000_000 },
    gate: {
      async mustStop() {
        events.push('gate');
        return w.gate.shift();
      },
    },
    shutdown: shutdown.signal,
    onUncertain,
  };
  return w;
}

const ok = (outcome: DeliveryResult['outcome'] = 'delivered', reason?: string): DeliveryResult => ({
  outcome,
  detail: outcome === 'delivered' ? 'OK' : 'INFO: no account',
  httpStatus: 200,
  latencyMs: 5,
  ...(reason ? { reason } : {}),
});

/** The DeliveryError the inbox client raises for an observation, under a table. */
function errorFor(observation: Observation, table: OutcomeTable = shippedTable): DeliveryError {
  const c = table.classify(observation);
  return new DeliveryError(c.outcome as DeliveryErrorKind, c.code, `AddMessage ${c.outcome} (${c.code})`, {
    ...(observation.httpStatus ? { httpStatus: observation.httpStatus } : {}),
    mayHaveLanded: mayHaveLanded(observation),
  });
}

const timeout = (): Observation => ({ transport: 'timeout', transportCode: 'UND_ERR_HEADERS_TIMEOUT' });
const resetAfterWrite = (): Observation => ({ transport: 'connection', transportCode: 'ECONNRESET' });
const socketClosed = (): Observation => ({ transport: 'connection', transportCode: 'UND_ERR_SOCKET' });
const refused = (): Observation => ({ transport: 'connection', transportCode: 'ECONNREFUSED' });
const http = (httpStatus: number, more: Partial<Observation> = {}): Observation => ({
  httpStatus,
  unparseable: true,
  ...more,
});

function input(slot: number, carry: Carry = {}): AttemptInput {
  return { slot, request: { subjectOfCareId: '191212121212', messageId: `c.k.${slot}` }, carry };
}

describe('one recipient attempt: mark, slot, permit, call', () => {
  it('marks before the rate wait, checks the slot again after the permit, and leaves the answer in the carry', async () => {
    const w = world();
    const carry: Carry = {};
    const r = await attemptRecipient(w.ports, input(3, carry));
    expect(r).toMatchObject({ kind: 'settled', answered: { slot: 3, outcome: 'delivered' } });
    expect(w.events).toEqual([
      'gate',
      'mark 3',
      'acquire',
      'gate',
      'permit',
      'onTime true',
      'send c.k.3',
      'permit back',
    ]);
    // Not recorded yet: the loop's next mark does that.
    expect(carry.answered).toEqual({ slot: 3, outcome: 'delivered' });
    expect(w.ledger.state(3)).toBe('inflight');
    expect(w.permitsInUse()).toBe(0);
  });

  it('records the carried answer in the same step as the next mark, keeping its reason', async () => {
    const w = world();
    w.answers.push(ok('unreachable', 'Invånaren har inget konto'));
    const carry: Carry = {};
    await attemptRecipient(w.ports, input(0, carry));
    expect(carry.answered).toEqual({ slot: 0, outcome: 'unreachable', reason: 'Invånaren har inget konto' });
    await attemptRecipient(w.ports, input(1, carry));
    expect(w.events).toContain('record 0 unreachable + mark 1');
    expect(w.events.filter((e) => e.startsWith('mark'))).toEqual(['mark 0']);
    expect(w.ledger.state(0)).toBe('unreachable');
    expect(carry.answered).toEqual({ slot: 1, outcome: 'delivered' });
  });

  it('skips a recipient that has an outcome, before any rate wait', async () => {
    const w = world();
    w.ledger.states.set(2, 'delivered');
    expect(await attemptRecipient(w.ports, input(2))).toEqual({ kind: 'skipped', state: 'delivered' });
    expect(w.events).toEqual(['gate', 'mark 2']);
  });

  it('gives a slot up that went stale waiting for a connection, and takes a new one', async () => {
    const w = world();
    w.onTime.push(false, true);
    const r = await attemptRecipient(w.ports, input(5));
    expect(r.kind).toBe('settled');
    expect(w.events).toEqual([
      'gate',
      'mark 5',
      'acquire',
      'gate',
      'permit',
      'onTime false',
      'permit back',
      'acquire',
      'gate',
      'permit',
      'onTime true',
      'send c.k.5',
      'permit back',
    ]);
    expect(w.gaveUp()).toBe(1);
    expect(w.ledger.calls.get(5)).toBe(1);
  });

  it('lets an error that is not a delivery error through, leaving the slot in flight', async () => {
    const w = world();
    w.answers.push(new TypeError('a bug'));
    await expect(attemptRecipient(w.ports, input(0))).rejects.toThrow('a bug');
    expect(w.ledger.state(0)).toBe('inflight');
    expect(w.permitsInUse()).toBe(0);
  });
});

describe('stops', () => {
  const reasons: Stop[] = [
    { kind: 'paused' },
    { kind: 'cancelled' },
    { kind: 'window', until: 1_700_000_360_000 },
    { kind: 'shutdown' },
    { kind: 'gone' },
  ];

  it.each(reasons)(
    'before the mark ($kind): nothing marked, the carried answer left for the loop',
    async (stop) => {
      const w = world();
      w.gate.push(stop);
      const carry: Carry = { answered: { slot: 0, outcome: 'delivered' } };
      expect(await attemptRecipient(w.ports, input(1, carry))).toEqual({ kind: 'stop', stop });
      expect(w.events).toEqual(['gate']);
      expect(carry.answered).toEqual({ slot: 0, outcome: 'delivered' });
    },
  );

  it.each(reasons)(
    'after the rate wait ($kind): the mark is taken back with callMade=false',
    async (stop) => {
      const w = world();
      w.gate.push(undefined, stop);
      expect(await attemptRecipient(w.ports, input(4))).toEqual({ kind: 'stop', stop });
      expect(w.events).toEqual(['gate', 'mark 4', 'acquire', 'gate', 'release 4 callMade=false']);
      expect(w.ledger.state(4)).toBe('pending');
      expect(w.ledger.calls.get(4)).toBe(0);
      expect(w.permitsInUse()).toBe(0);
    },
  );

  it('shutdown during the rate wait releases the slot with callMade=false', async () => {
    const w = world();
    w.blockLimiter = true;
    const attempt = attemptRecipient(w.ports, input(7));
    await new Promise((r) => setTimeout(r, 5));
    expect(w.events).toEqual(['gate', 'mark 7', 'acquire']);
    w.shutdown.abort(new Error('worker shutting down'));
    expect(await attempt).toEqual({ kind: 'stop', stop: { kind: 'shutdown' } });
    expect(w.events.at(-1)).toBe('release 7 callMade=false');
    expect(w.ledger.state(7)).toBe('pending');
    expect(w.ledger.calls.get(7)).toBe(0);
  });

  it('a limiter failure that is no shutdown takes the mark back and is thrown', async () => {
    const w = world();
    w.ports.limiter.acquire = async () => {
      throw new RangeError('invalid rate');
    };
    await expect(attemptRecipient(w.ports, input(1))).rejects.toThrow('invalid rate');
    expect(w.events.at(-1)).toBe('release 1 callMade=false');
  });

  it('a lost lock stops before the rate wait; the carried answer is still recorded', async () => {
    const w = world();
    w.ledger.lockHeld = false;
    const carry: Carry = { answered: { slot: 0, outcome: 'delivered' } };
    expect(await attemptRecipient(w.ports, input(1, carry))).toEqual({
      kind: 'stop',
      stop: { kind: 'lock-lost' },
    });
    expect(w.events).toEqual(['gate', 'record 0 delivered + mark 1']);
    expect(w.ledger.state(0)).toBe('delivered');
    expect(w.ledger.state(1)).toBe('pending');
    expect(carry.answered).toBeUndefined();
  });
});

describe('calls that may have landed, ON_UNCERTAIN=park', () => {
  it.each([
    ['a timeout', timeout()],
    ['a connection reset after the request was written', resetAfterWrite()],
    ['a socket closed under the request', socketClosed()],
    ['HTTP 502 from a gateway', http(502)],
    ['HTTP 504 from a gateway', http(504)],
  ])('parks the recipient uncertain after %s: recorded, never released', async (_what, observation) => {
    const w = world('park');
    const error = errorFor(observation);
    expect(error.mayHaveLanded).toBe(true);
    w.answers.push(error);
    const r = await attemptRecipient(w.ports, input(2));
    expect(r).toEqual({ kind: 'parked', cause: 'may-have-landed', error });
    expect(w.ledger.state(2)).toBe('uncertain');
    expect(w.events.filter((e) => e.startsWith('release'))).toEqual([]);
    expect(w.events.at(-1)).toBe('record 2 uncertain');
    expect(w.permitsInUse()).toBe(0);
  });

  it('parks a recipient a lost job left in flight (its worker died or lost the lock mid-call)', async () => {
    const w = world('park');
    w.ledger.states.set(6, 'inflight');
    w.ledger.calls.set(6, 1);
    expect(await attemptRecipient(w.ports, input(6))).toEqual({
      kind: 'parked',
      cause: 'in-flight-at-crash',
    });
    expect(w.events).toEqual(['gate', 'mark 6']);
    expect(w.ledger.state(6)).toBe('uncertain');
  });

  it.each([
    ['HTTP 503', http(503)],
    ['a SOAP Fault', { httpStatus: 500, fault: true, faultText: 'deadlock' } satisfies Observation],
    ['a refused connection', refused()],
    ['429 with Retry-After', { httpStatus: 429, retryAfter: true } satisfies Observation],
  ])(
    'releases the recipient after %s (it did not land): back to pending, the call counted',
    async (_what, o) => {
      const w = world('park');
      const error = errorFor(o);
      expect(error.mayHaveLanded).toBe(false);
      w.answers.push(error);
      expect(await attemptRecipient(w.ports, input(1))).toEqual({ kind: 'released', error });
      expect(w.events.at(-1)).toBe('release 1 callMade=true');
      expect(w.ledger.state(1)).toBe('pending');
      expect(w.ledger.calls.get(1)).toBe(1);
    },
  );

  it('releases a stop-campaign failure too (401/403: the platform stored nothing)', async () => {
    const w = world('park');
    const error = errorFor({ httpStatus: 403 });
    expect(error.kind).toBe('stop-campaign');
    w.answers.push(error);
    expect(await attemptRecipient(w.ports, input(0))).toEqual({ kind: 'released', error });
  });
});

describe('calls that may have landed, ON_UNCERTAIN=resend', () => {
  it('keeps the recipient in flight after a timeout; the next attempt is a counted resend', async () => {
    const w = world('resend');
    const error = errorFor(timeout());
    w.answers.push(error);
    expect(await attemptRecipient(w.ports, input(3))).toEqual({ kind: 'in-doubt', error });
    expect(w.ledger.state(3)).toBe('inflight');
    expect(w.events.some((e) => e.startsWith('release') || e.startsWith('record'))).toBe(false);

    const again = await attemptRecipient(w.ports, input(3));
    expect(again.kind).toBe('settled');
    expect(w.ledger.calls.get(3)).toBe(2);
  });

  it('sends a recipient a dead worker left in flight again instead of parking it', async () => {
    const w = world('resend');
    w.ledger.states.set(6, 'inflight');
    w.ledger.calls.set(6, 1);
    expect((await attemptRecipient(w.ports, input(6))).kind).toBe('settled');
    expect(w.ledger.calls.get(6)).toBe(2);
  });
});

describe('the outcome table names results; it does not decide parking', () => {
  const renamed = (): OutcomeTable => {
    const json = JSON.parse(readFileSync(defaultOutcomeTablePath(), 'utf8'));
    for (const rule of json.rules) if (rule.code === 'TIMEOUT') rule.code = 'CALL_TIMED_OUT';
    // A gateway's 502/504 and a plain 503 under codes of the table's own choosing,
    // one of them the code the timeout rule used to have.
    json.rules.unshift(
      { match: { httpStatus: [502, 504] }, outcome: 'transient', code: 'GATEWAY' },
      { match: { httpStatus: 503 }, outcome: 'transient', code: 'TIMEOUT' },
    );
    return parseOutcomeTable(json);
  };

  it('parks a timeout and a 502 under renamed codes, and releases a 503 coded TIMEOUT', async () => {
    const table = renamed();
    const cases: [Observation, string, string][] = [
      [timeout(), 'CALL_TIMED_OUT', 'parked'],
      [http(502), 'GATEWAY', 'parked'],
      [http(504), 'GATEWAY', 'parked'],
      [resetAfterWrite(), 'ECONNRESET', 'parked'],
      [http(503), 'TIMEOUT', 'released'],
    ];
    for (const [observation, code, kind] of cases) {
      const w = world('park');
      const error = errorFor(observation, table);
      expect(error.code).toBe(code);
      w.answers.push(error);
      expect((await attemptRecipient(w.ports, input(0))).kind).toBe(kind);
    }
  });

  it('decides on the flag alone: the same code parks or releases as the flag says', async () => {
    for (const mayHaveLanded of [true, false]) {
      const w = world('park');
      w.answers.push(
        new DeliveryError('transient', 'TIMEOUT', 'AddMessage transient (TIMEOUT)', { mayHaveLanded }),
      );
      expect((await attemptRecipient(w.ports, input(0))).kind).toBe(mayHaveLanded ? 'parked' : 'released');
    }
  });
});
