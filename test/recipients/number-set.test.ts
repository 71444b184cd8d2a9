import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NumberSet } from '../../src/recipients/number-set.js';
import { numberKey } from '../../src/recipients/plan.js';
import { syntheticList } from '../helpers/personnummer.js';

describe('NumberSet', () => {
  it('behaves like a Set for any integers below 2^40, through growth', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 40 - 1 }), { maxLength: 5000 }), (values) => {
        const ours = new NumberSet(4);
        const ref = new Set<number>();
        for (const v of values) {
          expect(ours.add(v)).toBe(!ref.has(v));
          ref.add(v);
        }
        expect(ours.size).toBe(ref.size);
        for (const v of values) expect(ours.has(v)).toBe(true);
        expect(ours.has(2 ** 40 + 1)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('holds 300,000 packed personnummer without losing one', () => {
    const keys = syntheticList(300_000).map(numberKey);
    const set = new NumberSet();
    for (const k of keys) expect(set.add(k)).toBe(true);
    for (const k of keys) expect(set.add(k)).toBe(false);
    expect(set.size).toBe(300_000);
  });
});
