import type { Reporter, TestModule } from 'vitest/node';

/**
 * After the default summary, names every skipped test with its reason: the
 * tool that is missing and how to install it (see test/helpers/tools.ts and
 * xsd.ts). Without it the default reporter shows only a count.
 */
export default class SkipReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const reasons = new Map<string, number>();
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        if (test.result().state !== 'skipped') continue;
        const reason = /\[skipped: ([^\]]+)\]/.exec(test.fullName)?.[1] ?? 'skipped without a named reason';
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
    }
    if (reasons.size === 0) return;
    const lines = [...reasons].map(([reason, n]) => `  ${n} skipped: ${reason}`);
    process.stdout.write(`\nSkipped tests, by reason:\n${lines.join('\n')}\n`);
  }
}
