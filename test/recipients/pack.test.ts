import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PACKED_BYTES, packNumbers, unpackNumbers } from '../../src/recipients/pack.js';
import { syntheticList } from '../helpers/personnummer.js';

describe('packNumbers / unpackNumbers', () => {
  it('packs 250 numbers into 1,250 bytes and back, in order', () => {
    const numbers = syntheticList(250, 12_345);
    const packed = packNumbers(numbers);
    expect(PACKED_BYTES).toBe(5);
    expect(packed).toHaveLength(1250);
    expect(unpackNumbers(packed)).toEqual(numbers);
  });

  it('keeps leading zeros and the extremes of the 12-digit range', () => {
    const edges = ['000000000000', '000000000001', '010101010101', '999999999999', '191212121212'];
    expect(unpackNumbers(packNumbers(edges))).toEqual(edges);
    expect(packNumbers(['999999999999']).readUIntBE(0, 5)).toBe(999_999_999_999);
  });

  it('round-trips any list of 12-digit strings', () => {
    const twelve = fc
      .array(fc.integer({ min: 0, max: 9 }), { minLength: 12, maxLength: 12 })
      .map((d) => d.join(''));
    fc.assert(
      fc.property(fc.array(twelve, { maxLength: 300 }), (numbers) => {
        expect(unpackNumbers(packNumbers(numbers))).toEqual(numbers);
      }),
      { numRuns: 300 },
    );
  });

  it('an empty list is an empty buffer', () => {
    expect(packNumbers([])).toHaveLength(0);
    expect(unpackNumbers(Buffer.alloc(0))).toEqual([]);
  });

  it('refuses a buffer with a partial record', () => {
    const packed = packNumbers(syntheticList(3));
    expect(() => unpackNumbers(packed.subarray(0, 14))).toThrow(/partial record/);
  });

  it('does not hold the numbers as text', () => {
    const numbers = syntheticList(50);
    const text = packNumbers(numbers).toString('latin1');
    for (const n of numbers) expect(text).not.toContain(n.slice(2));
  });
});
