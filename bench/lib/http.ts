/**
 * The raw-HTTP baseline shared by bench/delivery.ts (`npm run bench:delivery`) and `npm run bench`:
 * bare undici Pool calls with ready-made SOAP bodies, in a closed loop of a
 * fixed concurrency for a fixed time.
 */
import { Pool } from 'undici';
import { type ContractName, contracts } from '../../src/delivery/contract.js';

export interface LoopResult {
  /** Calls finished (answered or failed) inside the run. */
  calls: number;
  errors: number;
  elapsedMs: number;
  /** calls per second. */
  rate: number;
}

/**
 * `concurrency` loops call `call(i)` back to back (i counts up across loops)
 * until `durationMs` has passed; a loop finishes the call it is in.
 */
export async function closedLoop(
  call: (i: number) => Promise<unknown>,
  options: { concurrency: number; durationMs: number },
): Promise<LoopResult> {
  let next = 0;
  let calls = 0;
  let errors = 0;
  const start = performance.now();
  const deadline = start + options.durationMs;
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline) {
        try {
          await call(next++);
        } catch {
          errors++;
        }
        calls++;
      }
    }),
  );
  const elapsedMs = performance.now() - start;
  return { calls, errors, elapsedMs, rate: Math.round((calls / elapsedMs) * 1000) };
}

export interface RawInbox {
  /** POSTs body(i); resolves with the answer's text, rejects on a non-200 status. */
  call(i: number): Promise<string>;
  close(): Promise<void>;
}

/** A bare undici Pool against an AddMessage endpoint: no classification, no parsing, no retries. */
export function createRawInbox(
  url: string,
  options: { connections: number; contract: ContractName; body: (i: number) => string },
): RawInbox {
  const origin = new URL(url);
  const pool = new Pool(origin.origin, { connections: options.connections, pipelining: 1 });
  const headers = {
    'content-type': 'text/xml; charset=utf-8',
    soapaction: `"${contracts[options.contract].soapAction}"`,
  };
  return {
    call: (i) =>
      pool
        .request({ path: origin.pathname, method: 'POST', headers, body: options.body(i) })
        .then(async (res) => {
          const text = await res.body.text();
          if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
          return text;
        }),
    close: () => pool.close(),
  };
}
