/**
 * Packs 12-digit personnummer into 5 bytes each (a 12-digit decimal is below
 * 2^40), so a chunk of 250 is 1,250 bytes before sealing.
 */
export const PACKED_BYTES = 5;

export function packNumbers(pnrs: readonly string[]): Buffer {
  const out = Buffer.allocUnsafe(pnrs.length * PACKED_BYTES);
  for (let i = 0; i < pnrs.length; i++) {
    const s = pnrs[i]!;
    // Split in two to stay within exact double arithmetic and avoid BigInt.
    const hi = Number(s.slice(0, 4));
    const lo = Number(s.slice(4));
    const v = hi * 1e8 + lo;
    out.writeUIntBE(v, i * PACKED_BYTES, PACKED_BYTES);
  }
  return out;
}

export function unpackNumbers(buf: Buffer): string[] {
  if (buf.length % PACKED_BYTES !== 0) throw new Error('packed recipient data has a partial record');
  const n = buf.length / PACKED_BYTES;
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    out[i] = buf
      .readUIntBE(i * PACKED_BYTES, PACKED_BYTES)
      .toString()
      .padStart(12, '0');
  }
  return out;
}
