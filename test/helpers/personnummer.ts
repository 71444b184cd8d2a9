/** Synthetic personnummer for tests: see src/recipients/synthetic.ts. */
export { syntheticList, syntheticPnr } from '../../src/recipients/synthetic.js';
