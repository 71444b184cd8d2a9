import { describe, expect, it } from 'vitest';
import { createCallPermits } from '../../src/dispatch/call-permits.js';

describe('call permits', () => {
  it('lets `size` holders in at once and the rest in order as permits come back', async () => {
    const permits = createCallPermits(2);
    const a = await permits.take();
    const b = await permits.take();
    expect(permits.inUse).toBe(2);
    const order: string[] = [];
    const c = permits.take().then((release) => {
      order.push('c');
      return release;
    });
    const d = permits.take().then((release) => {
      order.push('d');
      return release;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    a();
    a(); // a second release of the same permit changes nothing
    const releaseC = await c;
    expect(order).toEqual(['c']);
    expect(permits.inUse).toBe(2);
    b();
    const releaseD = await d;
    expect(order).toEqual(['c', 'd']);
    releaseC();
    releaseD();
    expect(permits.inUse).toBe(0);
  });

  it('refuses a size that is not a whole number of at least one', () => {
    expect(() => createCallPermits(0)).toThrow(RangeError);
    expect(() => createCallPermits(1.5)).toThrow(RangeError);
  });
});
