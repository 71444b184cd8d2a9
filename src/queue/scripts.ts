import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChainableCommander, Redis } from 'ioredis';
import { luaConstants } from './script-codes.js';

/**
 * The service's Redis scripts, as BullMQ keeps its own (src/commands/*.lua):
 * one file per command in src/queue/lua, named `name-<number of keys>.lua`
 * (no number: the caller passes the key count), with `--- @include
 * "includes/x"` lines for shared Lua. Read once, when this module loads,
 * from beside it: src/queue/lua under tsx, dist/src/queue/lua after
 * `npm run build` (which copies the folder). Each script starts with the
 * constants of script-codes.ts, so no number is written twice.
 *
 * Connections get the commands at setup (createRedis); every module that
 * runs a script defines them again if need be, so a connection made
 * elsewhere (tests) works as well.
 */
export const scriptNames = [
  'campaignCancel',
  'campaignPause',
  'campaignPurge',
  'campaignRegister',
  'campaignResume',
  'campaignTouch',
  'ledgerFinaliseMany',
  'ledgerMarkInflight',
  'ledgerRecordAndMark',
  'ledgerRecordOutcome',
  'ledgerRelease',
  'ledgerReopen',
  'rateAcquire',
  'releaseLock',
] as const;
export type ScriptName = (typeof scriptNames)[number];

interface Script {
  /** Keys the command takes; undefined: the caller passes the count first. */
  numberOfKeys: number | undefined;
  lua: string;
}

const luaDir = new URL('./lua/', import.meta.url);
const luaPath = fileURLToPath(luaDir);
const includeLine = /^---[ \t]*@include[ \t]+"([^"]+)"[ \t]*$/gm;

function readLua(relative: string): string {
  return readFileSync(new URL(relative, luaDir), 'utf8');
}

/** A script with its includes in place, each included once (includes may include). */
function expandIncludes(source: string, seen: Set<string>): string {
  return source.replace(includeLine, (_, name: string) => {
    if (seen.has(name)) return '';
    seen.add(name);
    return expandIncludes(readLua(`${name}.lua`), seen);
  });
}

function loadScripts(): Map<ScriptName, Script> {
  let files: string[];
  try {
    files = readdirSync(luaDir).filter((f) => f.endsWith('.lua'));
  } catch (cause) {
    throw new Error(
      `the Redis scripts are missing at ${luaPath} (a build must copy src/queue/lua beside the compiled src/queue)`,
      { cause },
    );
  }
  const header = luaConstants();
  const out = new Map<ScriptName, Script>();
  for (const file of files) {
    const m = /^([A-Za-z]+)(?:-(\d+))?\.lua$/.exec(file);
    const name = m?.[1] as ScriptName | undefined;
    if (!m || !name || !scriptNames.includes(name))
      throw new Error(`src/queue/lua/${file}: not a known script (scriptNames in scripts.ts)`);
    const lua = header + expandIncludes(readLua(file), new Set());
    out.set(name, { numberOfKeys: m[2] === undefined ? undefined : Number(m[2]), lua });
  }
  const missing = scriptNames.filter((n) => !out.has(n));
  if (missing.length > 0) throw new Error(`Redis scripts missing in ${luaPath}: ${missing.join(', ')}`);
  return out;
}

const scripts = loadScripts();
const commandOf = (name: ScriptName) => `utskick:${name}`;

type ScriptCall = (...args: (string | number)[]) => unknown;
const callable = (target: Redis | ChainableCommander, name: ScriptName) =>
  (target as unknown as Record<string, ScriptCall | undefined>)[commandOf(name)];

/** The Lua a command runs (header and includes in place). */
export function scriptSource(name: ScriptName): string {
  return scripts.get(name)!.lua;
}

/** Defines every script on a connection, once; pipelines made after this have them too. */
export function defineScripts(redis: Redis): void {
  for (const [name, script] of scripts) {
    if (callable(redis, name)) continue;
    redis.defineCommand(commandOf(name), {
      lua: script.lua,
      ...(script.numberOfKeys === undefined ? {} : { numberOfKeys: script.numberOfKeys }),
    });
  }
}

function argsOf(name: ScriptName, keys: readonly string[], args: readonly (string | number)[]) {
  const n = scripts.get(name)!.numberOfKeys;
  if (n === undefined) return [keys.length, ...keys, ...args];
  if (keys.length !== n) throw new TypeError(`script ${name} takes ${n} keys, got ${keys.length}`);
  return [...keys, ...args];
}

/** Runs a script (EVALSHA, or EVAL when the connection has not sent it yet). */
export function runScript<T>(
  redis: Redis,
  name: ScriptName,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<T> {
  let call = callable(redis, name);
  if (!call) {
    defineScripts(redis);
    call = callable(redis, name)!;
  }
  return call.apply(redis, argsOf(name, keys, args)) as Promise<T>;
}

/** Queues a script in a pipeline or MULTI; its connection must have had defineScripts before the pipeline was made. */
export function queueScript(
  pipeline: ChainableCommander,
  name: ScriptName,
  keys: readonly string[],
  args: readonly (string | number)[],
): void {
  const call = callable(pipeline, name);
  if (!call)
    throw new Error(`script ${name} is not defined on this pipeline's connection (call defineScripts first)`);
  call.apply(pipeline, argsOf(name, keys, args));
}
