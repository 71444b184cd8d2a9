import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { contractNames } from '../delivery/contract.js';
import type { InboxClientOptions } from '../delivery/inbox-client.js';
import { loadOutcomeTable, OutcomeTableError } from '../delivery/outcome-table.js';
import { boolFromEnv, ConfigError, type Env, intFromEnv, parseEnv } from './env.js';

const hsaId = z
  .string()
  .trim()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9-]{2,63}$/,
    'must be an HSA-id (letters, digits and -, e.g. SE2321000016-1234)',
  );

/** The delivery client's environment variables. */
export const deliveryEnvSchema = z.object({
  INBOX_URL: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  INBOX_ALLOW_INSECURE: boolFromEnv.default(false),
  INBOX_TLS_CERT_FILE: z.string().optional(),
  INBOX_TLS_KEY_FILE: z.string().optional(),
  INBOX_TLS_CA_FILE: z.string().optional(),
  /** Passphrase of an encrypted key, as a file (never on argv). */
  INBOX_TLS_KEY_PASSPHRASE_FILE: z.string().optional(),
  INBOX_CONTRACT: z.enum(contractNames).default('mvk-inbox-2'),
  /** The receiving system's HSA-id, sent in a RIV-TA LogicalAddress header; unset: no header (the inbox WSDL binds none). */
  INBOX_LOGICAL_ADDRESS: hsaId.optional(),
  /** This system's HSA-id, sent as sourceSystem: AddMessage requires it when the resident is notified. */
  INBOX_SOURCE_SYSTEM: hsaId.optional(),
  INBOX_TIMEOUT_MS: intFromEnv(100, 300_000).default(10_000),
  INBOX_CONNECTIONS: intFromEnv(1, 1024).default(16),
  INBOX_OUTCOME_TABLE: z.string().optional(),
});
export type DeliveryEnv = z.infer<typeof deliveryEnvSchema>;

/**
 * The shipped config/outcomes.json: found by walking up from this module to
 * the package root, so it works from src/ (tsx) and from dist/ alike.
 */
export function defaultOutcomeTablePath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'config', 'outcomes.json');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new ConfigError('the shipped config/outcomes.json was not found; set INBOX_OUTCOME_TABLE');
}

function readFile(name: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(
      `${name} names ${path}, which cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
}

/**
 * Reads and checks the delivery configuration; every file it names is read
 * here, so a bad path fails at start-up with the variable named.
 */
export function loadDeliveryConfig(env: Env): InboxClientOptions {
  const e = parseEnv(deliveryEnvSchema, env);
  const https = e.INBOX_URL.startsWith('https:');
  if (!https && !e.INBOX_ALLOW_INSECURE) {
    throw new ConfigError(
      'invalid configuration: INBOX_URL: http:// sends personal data unencrypted; use https:// with a client certificate, or set INBOX_ALLOW_INSECURE=true (only for the simulator)',
    );
  }
  let tls: InboxClientOptions['tls'];
  if (https) {
    const missing = (['INBOX_TLS_CERT_FILE', 'INBOX_TLS_KEY_FILE', 'INBOX_TLS_CA_FILE'] as const).filter(
      (k) => !e[k],
    );
    if (missing.length > 0) {
      throw new ConfigError(
        `invalid configuration: an https INBOX_URL needs the client certificate, its key and the CA: set ${missing.join(', ')}`,
      );
    }
    const passphrase = e.INBOX_TLS_KEY_PASSPHRASE_FILE
      ? readFile('INBOX_TLS_KEY_PASSPHRASE_FILE', e.INBOX_TLS_KEY_PASSPHRASE_FILE).replace(/\r?\n$/, '')
      : undefined;
    tls = {
      cert: readFile('INBOX_TLS_CERT_FILE', e.INBOX_TLS_CERT_FILE!),
      key: readFile('INBOX_TLS_KEY_FILE', e.INBOX_TLS_KEY_FILE!),
      ca: readFile('INBOX_TLS_CA_FILE', e.INBOX_TLS_CA_FILE!),
      ...(passphrase ? { passphrase } : {}),
    };
  }
  const tablePath = e.INBOX_OUTCOME_TABLE ?? defaultOutcomeTablePath();
  let outcomeTable: InboxClientOptions['outcomeTable'];
  try {
    outcomeTable = loadOutcomeTable(tablePath);
  } catch (err) {
    if (err instanceof OutcomeTableError) throw new ConfigError(`INBOX_OUTCOME_TABLE: ${err.message}`);
    throw err;
  }
  return Object.freeze({
    url: e.INBOX_URL,
    contract: e.INBOX_CONTRACT,
    ...(e.INBOX_LOGICAL_ADDRESS ? { logicalAddress: e.INBOX_LOGICAL_ADDRESS } : {}),
    ...(e.INBOX_SOURCE_SYSTEM ? { sourceSystem: e.INBOX_SOURCE_SYSTEM } : {}),
    ...(tls ? { tls } : {}),
    timeoutMs: e.INBOX_TIMEOUT_MS,
    connections: e.INBOX_CONNECTIONS,
    outcomeTable,
  });
}

/**
 * TKB: sourceSystem is required when notify is true. A campaign that notifies
 * residents (the default) cannot be enqueued or sent without
 * INBOX_SOURCE_SYSTEM; the error names the setting.
 */
export function assertSourceSystem(env: Env, campaign: { id: string; message: { notify: boolean } }): void {
  const value = env.INBOX_SOURCE_SYSTEM?.trim();
  if (!campaign.message.notify) return;
  if (!value) {
    throw new ConfigError(
      `invalid configuration: INBOX_SOURCE_SYSTEM is not set, and campaign ${campaign.id} notifies residents (message.notify): AddMessage then requires sourceSystem, the HSA-id of this system; set INBOX_SOURCE_SYSTEM, or set message.notify to false`,
    );
  }
  parseEnv(z.object({ INBOX_SOURCE_SYSTEM: hsaId }), { INBOX_SOURCE_SYSTEM: value });
}
