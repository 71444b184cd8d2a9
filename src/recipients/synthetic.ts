import { luhnDigit } from './personnummer.js';

/**
 * Synthetic personnummer with a valid check digit, deterministic from an index,
 * for tests, the demo and benchmarks (never real people's numbers). Dates fall
 * between 1930 and 2009; index → number is one-to-one below 26,880,000.
 */
export function syntheticPnr(i: number, options: { coordination?: boolean } = {}): string {
  const year = 1930 + (i % 80);
  const month = 1 + (Math.floor(i / 80) % 12);
  const day = 1 + (Math.floor(i / 960) % 28) + (options.coordination ? 60 : 0);
  const serial = Math.floor(i / 26880) % 1000;
  const nine = `${String(year % 100).padStart(2, '0')}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}${String(serial).padStart(3, '0')}`;
  return `${Math.floor(year / 100)}${nine}${luhnDigit(nine)}`;
}

export function syntheticList(n: number, offset = 0): string[] {
  return Array.from({ length: n }, (_, i) => syntheticPnr(offset + i));
}
