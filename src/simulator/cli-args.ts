import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { contractNames } from '../delivery/contract.js';
import type { SimulatorOptions } from './options.js';

/**
 * The simulator's command line (scripts/simulator.ts) as options. Range
 * checks on the values happen in createSimulator (SimulatorOptionsError).
 */

/** A bad command line: one line for stderr, exit 2. */
export class UsageError extends Error {
  readonly code = 'USAGE';
}

const numberOptions = {
  port: 'port',
  unreachable: 'unreachableShare',
  'login-blocked': 'loginBlockedShare',
  rejected: 'rejectedShare',
  'error-rate': 'errorRate',
  'timeout-rate': 'timeoutRate',
  'timeout-ms': 'timeoutMs',
  'latency-ms': 'latencyMs',
  'jitter-ms': 'jitterMs',
  'retry-after-rate': 'retryAfterRate',
  'retry-after-seconds': 'retryAfterSeconds',
  'max-rate': 'maxRate',
  'outage-after-ms': undefined,
  'outage-ms': undefined,
} as const;

function number(flag: string, raw: string): number {
  if (!/^\d+(\.\d+)?$/.test(raw))
    throw new UsageError(`--${flag} must be a non-negative number, not "${raw}"`);
  return Number(raw);
}

function readPem(flag: string, path: string | undefined): string {
  if (!path) throw new UsageError(`--tls needs --${flag} FILE`);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`--${flag} ${path} cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
}

/** Parses argv (without node and script); reads the PEM files --tls names. */
export function parseSimulatorArgs(argv: string[]): SimulatorOptions {
  const strings = Object.fromEntries(Object.keys(numberOptions).map((k) => [k, { type: 'string' as const }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        ...strings,
        tls: { type: 'boolean' },
        cert: { type: 'string' },
        key: { type: 'string' },
        ca: { type: 'string' },
        unauthorized: { type: 'boolean' },
        dedupe: { type: 'boolean' },
        seed: { type: 'string' },
        jitter: { type: 'string' },
        contract: { type: 'string' },
        validate: { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  const options: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(numberOptions)) {
    const raw = values[flag];
    if (typeof raw === 'string' && key) options[key] = number(flag, raw);
  }
  if (options.port !== undefined && (!Number.isInteger(options.port) || (options.port as number) > 65535)) {
    throw new UsageError('--port must be an integer from 0 to 65535');
  }
  const after = values['outage-after-ms'];
  const length = values['outage-ms'];
  if ((after === undefined) !== (length === undefined)) {
    throw new UsageError('--outage-after-ms and --outage-ms go together');
  }
  if (typeof after === 'string' && typeof length === 'string') {
    options.outage = { startMs: number('outage-after-ms', after), durationMs: number('outage-ms', length) };
  }
  if (values.jitter !== undefined) {
    if (values.jitter !== 'uniform' && values.jitter !== 'exponential') {
      throw new UsageError('--jitter must be uniform or exponential');
    }
    options.jitter = values.jitter;
  }
  if (values.contract !== undefined) {
    if (!(contractNames as readonly unknown[]).includes(values.contract)) {
      throw new UsageError(`--contract must be one of ${contractNames.join(', ')}`);
    }
    options.contract = values.contract;
  }
  if (typeof values.validate === 'string') options.validate = parseValidate(values.validate);
  if (values.unauthorized) options.unauthorized = true;
  if (values.dedupe) options.dedupe = true;
  if (typeof values.seed === 'string') options.seed = values.seed;
  if (values.tls) {
    options.tls = {
      cert: readPem('cert', values.cert as string | undefined),
      key: readPem('key', values.key as string | undefined),
      ...(values.ca ? { ca: readPem('ca', values.ca as string) } : {}),
    };
  } else if (values.cert || values.key || values.ca) {
    throw new UsageError('--cert, --key and --ca need --tls');
  }
  return options as SimulatorOptions;
}

/** `--validate xsd|own|sample:N`. */
function parseValidate(raw: string): SimulatorOptions['validate'] {
  if (raw === 'xsd' || raw === 'own') return raw;
  const sample = /^sample:([1-9][0-9]{0,6})$/.exec(raw);
  if (sample) return { sampleEvery: Number(sample[1]) };
  throw new UsageError(
    `--validate must be xsd, own or sample:N (N a whole number from 1), not "${raw.slice(0, 40)}"`,
  );
}
