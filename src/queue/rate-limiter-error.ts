export const rateLimiterErrorCodes = ['INVALID_RATE', 'REDIS'] as const;
export type RateLimiterErrorCode = (typeof rateLimiterErrorCodes)[number];

/** The rate limiter's one error type: a bad request, or Redis away (which the limiter retries itself). */
export class RateLimiterError extends Error {
  readonly code: RateLimiterErrorCode;
  constructor(code: RateLimiterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RateLimiterError';
    this.code = code;
  }
  /** A Redis error is retried by the limiter itself; a bad rate never gets better. */
  get retryable(): boolean {
    return this.code === 'REDIS';
  }
}
