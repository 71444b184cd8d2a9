/**
 * Calls on the wire at once in one worker: at most one per inbox connection.
 *
 * Without this bound undici queues the calls that find no free connection
 * and sends them as connections free up. After a slow spell at the platform
 * that queue drains at the speed of the now fast answers: a burst above the
 * global rate, at the moment the platform recovers. With it, a call takes a
 * permit after its rate slot and before the wire, and a slot that went stale
 * while waiting for a permit is given up (see RateGrant.onTime).
 */
export interface CallPermits {
  /** Resolves with a release function once a call may go on the wire. */
  take(): Promise<() => void>;
  /** Calls holding a permit now. */
  readonly inUse: number;
}

export function createCallPermits(size: number): CallPermits {
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`permits must be a whole number >= 1 (got ${size})`);
  let inUse = 0;
  const waiting: (() => void)[] = [];

  function release(): void {
    const next = waiting.shift();
    // The permit passes straight to the next waiter; inUse stays the same.
    if (next) next();
    else inUse--;
  }

  function releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
    };
  }

  return {
    take() {
      if (inUse < size) {
        inUse++;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve) => waiting.push(() => resolve(releaser())));
    },
    get inUse() {
      return inUse;
    },
  };
}
