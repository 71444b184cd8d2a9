import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSimulatorArgs, UsageError } from '../../src/simulator/cli-args.js';
import { createSimulator } from '../../src/simulator/simulator.js';

const dir = mkdtempSync(join(tmpdir(), 'utskick-sim-args-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseSimulatorArgs', () => {
  it('maps every flag to its option', () => {
    writeFileSync(join(dir, 'c.pem'), 'C');
    writeFileSync(join(dir, 'k.pem'), 'K');
    writeFileSync(join(dir, 'a.pem'), 'A');
    const args = [
      '--port',
      '0',
      '--unreachable',
      '0.1',
      '--login-blocked',
      '0.5',
      '--rejected',
      '0.05',
      '--error-rate',
      '0.02',
      '--timeout-rate',
      '0.01',
      '--timeout-ms',
      '4000',
      '--latency-ms',
      '20',
      '--jitter-ms',
      '5',
      '--jitter',
      'exponential',
      '--retry-after-rate',
      '0.03',
      '--retry-after-seconds',
      '2',
      '--max-rate',
      '150',
      '--outage-after-ms',
      '1000',
      '--outage-ms',
      '500',
      '--unauthorized',
      '--dedupe',
      '--validate',
      'sample:10',
      '--seed',
      'abc',
      '--contract',
      'patientportal-2',
      '--tls',
      '--cert',
      join(dir, 'c.pem'),
      '--key',
      join(dir, 'k.pem'),
      '--ca',
      join(dir, 'a.pem'),
    ];
    expect(parseSimulatorArgs(args)).toEqual({
      port: 0,
      unreachableShare: 0.1,
      loginBlockedShare: 0.5,
      rejectedShare: 0.05,
      errorRate: 0.02,
      timeoutRate: 0.01,
      timeoutMs: 4000,
      latencyMs: 20,
      jitterMs: 5,
      jitter: 'exponential',
      retryAfterRate: 0.03,
      retryAfterSeconds: 2,
      maxRate: 150,
      outage: { startMs: 1000, durationMs: 500 },
      unauthorized: true,
      dedupe: true,
      validate: { sampleEvery: 10 },
      seed: 'abc',
      contract: 'patientportal-2',
      tls: { cert: 'C', key: 'K', ca: 'A' },
    });
    expect(parseSimulatorArgs([])).toEqual({});
  });

  it.each([
    [['--unreachable', 'lots'], /--unreachable must be a non-negative number, not "lots"/],
    [['--latency-ms=-5'], /--latency-ms must be a non-negative number/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['stray'], /positional/i],
    [
      ['--tls', '--cert', '/nonexistent/c.pem', '--key', 'k'],
      /--cert \/nonexistent\/c\.pem cannot be read \(ENOENT\)/,
    ],
    [['--tls'], /--tls needs --cert FILE/],
    [['--cert', 'x'], /need --tls/],
    [['--outage-ms', '100'], /go together/],
    [['--port', '70000'], /--port/],
    [['--port', '1.5'], /--port/],
    [['--jitter', 'normal'], /--jitter must be uniform or exponential/],
    [['--contract', 'v3'], /--contract must be one of/],
  ])('refuses %j with a UsageError', (args, message) => {
    expect(() => parseSimulatorArgs(args)).toThrow(UsageError);
    expect(() => parseSimulatorArgs(args)).toThrow(message);
  });

  it.each([
    [['--error-rate', '1.5'], /errorRate/],
    [['--unreachable', '0.8', '--rejected', '0.5'], /unreachableShare \+ rejectedShare exceeds 1/],
    [['--timeout-rate', '0.6', '--error-rate', '0.6'], /exceeds 1/],
    [['--max-rate', '0'], /maxRate/],
  ])('leaves range checks of %j to createSimulator', (args, message) => {
    expect(() => createSimulator(parseSimulatorArgs(args))).toThrow(message);
  });
});
