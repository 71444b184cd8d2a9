import { luhnDigit } from '../../src/recipients/personnummer.js';

/**
 * Synthetic personnummer with a valid check digit, deterministic from a seed.
 * Dates fall between 1930 and 2010; serials are spread over 000-999.
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
