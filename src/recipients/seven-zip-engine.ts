/**
 * Hands out one in-process 7-Zip instance at a time: created on first use,
 * reused by the next caller, replaced after a run left it broken, and wiped
 * (/in, /out, /tmp) before and after every use, so no file of one archive is
 * there for the next.
 *
 * Why reuse: 7-Zip keeps the AES key it derived from a password in a cache in
 * its memory, so the next archive with the same password skips the
 * derivation (2^19 SHA-256 rounds, about 80 ms here, against about 10 ms for
 * the rest of a 100-file archive). One engine serves the archives of one
 * delivery (readInputs), which share a password.
 */
import { createSevenZip, type SevenZipInstance, type SevenZipOptions } from './seven-zip.js';

/** See the file comment. */
export interface SevenZipEngine {
  /** Runs fn with the instance, one fn at a time (fn must not await: the instance is the caller's only while it runs). */
  use<T>(fn: (sevenZip: SevenZipInstance) => T): Promise<T>;
}

export function createSevenZipEngine(options: SevenZipOptions = {}): SevenZipEngine {
  let current: Promise<SevenZipInstance> | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  return {
    use<T>(fn: (sevenZip: SevenZipInstance) => T): Promise<T> {
      const next = queue.then(async () => {
        current ??= createSevenZip(options);
        let instance: SevenZipInstance;
        try {
          instance = await current;
        } catch (err) {
          current = undefined;
          throw err;
        }
        instance.wipe();
        try {
          return fn(instance);
        } finally {
          // Nothing of one archive stays for the next; a broken instance is not used again.
          if (instance.broken) current = undefined;
          else instance.wipe();
        }
      });
      queue = next.catch(() => undefined);
      return next;
    },
  };
}
