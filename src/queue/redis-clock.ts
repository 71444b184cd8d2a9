/**
 * Maps Redis time (the one clock every process's rate slots are on) to this
 * process's monotonic clock. Each round trip bounds the offset (Redis ms -
 * local ms): Redis ran the script after the request left and before the reply
 * came back. The mapping uses the lowest offset the recent round trips allow,
 * so a Redis time maps to the latest local time it can be: never early.
 */
export interface RedisClock {
  /**
   * Records one round trip (local send and receive times, Redis' time during
   * it) and returns Redis ms minus local ms to map with. The tightest recent
   * reply sets it, so one reply read late (a stalled event loop) shows up as
   * lateness instead of shifting its slots. Samples that disagree with newer
   * ones (a clock step, another Redis host) are dropped.
   */
  redisMinusLocal(redisMs: number, sentAt: number, receivedAt: number): number;
}

export interface RedisClockOptions {
  /** Round trips older than this many local ms no longer count. Default 2000. */
  windowMs?: number;
  /** Most round trips kept. Default 64. */
  samples?: number;
}

export function createRedisClock(options: RedisClockOptions = {}): RedisClock {
  const windowMs = options.windowMs ?? 2000;
  const samples = options.samples ?? 64;
  /** Per recent round trip, the bounds it puts on the offset. */
  const clock: { low: number; high: number; at: number }[] = [];
  return {
    redisMinusLocal(redisMs, sentAt, receivedAt) {
      clock.push({ low: redisMs - receivedAt, high: redisMs - sentAt, at: receivedAt });
      while (clock.length > samples || (clock[0] && clock[0].at < receivedAt - windowMs)) clock.shift();
      let low = Number.NEGATIVE_INFINITY;
      let high = Number.POSITIVE_INFINITY;
      for (let i = clock.length - 1; i >= 0; i--) {
        const sample = clock[i]!;
        if (Math.max(low, sample.low) > Math.min(high, sample.high)) {
          clock.splice(0, i + 1);
          break;
        }
        low = Math.max(low, sample.low);
        high = Math.min(high, sample.high);
      }
      return low;
    },
  };
}
