import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { createKeyring, decodeKey, KeyError, type Keyring } from '../queue/keyring.js';

export type Env = Record<string, string | undefined>;

/** Configuration that cannot be used; the message names every bad variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG';
}

export const boolFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const intFromEnv = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Parses `env` with a zod object schema; one ConfigError naming every bad variable. */
export function parseEnv<S extends z.ZodType>(schema: S, env: Env): z.infer<S> {
  const cleaned: Env = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const name = i.path.map(String).join('.') || '(environment)';
      return `${name}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`);
  }
  return result.data;
}

export const redisEnvSchema = z.object({
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .default('redis://127.0.0.1:6379'),
  UTSKICK_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
    .default('utskick'),
});

function readKeyFile(path: string, name: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new KeyError(
      `${name} names ${path}, which cannot be read (${(cause as NodeJS.ErrnoException).code})`,
    );
  }
}

function keyFrom(env: Env, name: string): Buffer | undefined {
  const literal = env[name];
  const file = env[`${name}_FILE`];
  if (literal && file) throw new KeyError(`set ${name} or ${name}_FILE, not both`);
  if (file) return decodeKey(readKeyFile(file, `${name}_FILE`), `${name}_FILE (${file})`);
  if (literal) return decodeKey(literal, name);
  return undefined;
}

/**
 * The data keyring from UTSKICK_DATA_KEY or UTSKICK_DATA_KEY_FILE (32 bytes,
 * base64), plus UTSKICK_DATA_KEY_PREVIOUS[_FILE] while a rotation is under way.
 */
export function loadKeyring(env: Env): Keyring {
  try {
    const current = keyFrom(env, 'UTSKICK_DATA_KEY');
    if (!current) {
      throw new KeyError(
        'UTSKICK_DATA_KEY or UTSKICK_DATA_KEY_FILE must be set (32 random bytes in base64: openssl rand -base64 32)',
      );
    }
    const previous = keyFrom(env, 'UTSKICK_DATA_KEY_PREVIOUS');
    return createKeyring(current, previous ? [previous] : []);
  } catch (err) {
    if (err instanceof KeyError) throw new ConfigError(err.message);
    throw err;
  }
}
