import { describe, it } from 'vitest';
import { DEFAULT_XSD_DIR, resolveXsdDir } from '../../src/simulator/xsd-dir.js';

/**
 * Tests that hold requests against the published schema need its folder:
 * INBOX_XSD_DIR, or ../shared/contracts/mvk-inbox-2 beside the package. Without
 * it they are skipped with that reason, except under CI (CI=true), where a
 * missing schema fails the run instead. A set but wrong INBOX_XSD_DIR always fails.
 */
export function xsdDir(): string | undefined {
  return resolveXsdDir();
}

const missing = `the published AddMessage schema is not here: set INBOX_XSD_DIR, or put the folder at ${DEFAULT_XSD_DIR} (relative to the package root)`;
const inCi = () => process.env.CI === 'true';

/** describe(name, fn) with the schema folder; skipped with the reason when absent (failing under CI). */
export function describeXsd(name: string, fn: (dir: string) => void): void {
  const dir = xsdDir();
  if (dir) describe(name, () => fn(dir));
  else if (inCi()) {
    describe(name, () => {
      it('needs the published schema', () => {
        throw new Error(`${missing} (CI=true: not skipped)`);
      });
    });
  } else describe.skip(`${name} [skipped: ${missing}]`, () => it('needs the published schema', () => {}));
}

/** it(name, fn) with the schema folder; skipped with the reason when absent (failing under CI). */
export function itXsd(name: string, fn: (dir: string) => void | Promise<void>, timeoutMs?: number): void {
  const dir = xsdDir();
  if (dir) it(name, () => fn(dir), timeoutMs);
  else if (inCi()) {
    it(name, () => {
      throw new Error(`${missing} (CI=true: not skipped)`);
    });
  } else it.skip(`${name} [skipped: ${missing}]`, () => {});
}
