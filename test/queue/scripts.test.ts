import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FIRST_FINAL,
  finalOutcomes,
  luaConstants,
  markCodes,
  RECORD_BYTES,
  stateCodes,
  transitionCodes,
} from '../../src/queue/script-codes.js';
import { scriptNames, scriptSource } from '../../src/queue/scripts.js';
import { connect } from '../helpers/redis.js';

const root = resolve(import.meta.dirname, '../..');

function sourceFiles(dir: string): string[] {
  if (!existsSync(join(root, dir))) return [];
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

let redis: Redis;
beforeAll(() => {
  redis = connect();
});
afterAll(() => redis.disconnect());

describe('Redis scripts', () => {
  it('every script is loaded with the shared constants and its includes in place', () => {
    for (const name of scriptNames) {
      const lua = scriptSource(name);
      expect(lua.startsWith(luaConstants()), name).toBe(true);
      expect(lua, name).not.toMatch(/@include/);
    }
  });

  it('the Lua constants are the TypeScript ones', async () => {
    const lua = `${luaConstants()}
      return {RECORD_BYTES, FIRST_FINAL, STATE_PENDING, STATE_INFLIGHT, STATE_UNCERTAIN, STATE_CANCELLED,
        MARK_LOCK_LOST, MARK_GO, MARK_GO_RESEND, MARK_PARKED, TRANSITION_REFUSED, OUTCOME_NAMES[STATE_UNCERTAIN]}`;
    expect(await redis.eval(lua, 0)).toEqual([
      RECORD_BYTES,
      FIRST_FINAL,
      stateCodes.pending,
      stateCodes.inflight,
      stateCodes.uncertain,
      stateCodes.cancelled,
      markCodes.lockLost,
      markCodes.go,
      markCodes.goResend,
      markCodes.parked,
      transitionCodes.refused,
      'uncertain',
    ]);
    expect(finalOutcomes.map((o) => stateCodes[o])).toEqual([2, 3, 4, 5, 6, 7]);
  });

  const files = () => ['src', 'scripts', 'workers', 'bench'].flatMap(sourceFiles);

  it('no Lua is left in TypeScript', () => {
    expect(files().filter((f) => readFileSync(join(root, f), 'utf8').includes('redis.call'))).toEqual([]);
  });

  it('no Redis key is built outside src/queue/keys.ts', () => {
    // The key prefix in a template, or a BullMQ or lock key spelt out.
    const keyLiteral = /keys\.prefix\}|Prefix\}[:-]|:deliver:|:dead-letter:|retention-lock/;
    const built = files()
      .filter((f) => f !== join('src', 'queue', 'keys.ts'))
      .flatMap((f) =>
        readFileSync(join(root, f), 'utf8')
          .split('\n')
          .map((line, i) => ({ at: `${f}:${i + 1}`, line }))
          .filter(({ line }) => keyLiteral.test(line)),
      );
    expect(built.map((b) => `${b.at}: ${b.line.trim()}`)).toEqual([]);
  });
});
