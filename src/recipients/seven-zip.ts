/**
 * 7-Zip 24.09 compiled to WebAssembly (the 7z-wasm package), run inside this
 * process: no binary on the machine, no child process, no argv the OS shows.
 * Reports what a command did without interpreting it; archive.ts decides
 * what an outcome means.
 *
 * The sandbox, and what holds it:
 * - The module sees emscripten's in-memory file system only. No NODEFS mount
 *   is ever made, so no path inside it leads to the host's files.
 * - Its stdin is always at end of file: a password prompt can never read this
 *   process's stdin or wait on a person.
 * - Its only ways out are the module's imports (file system calls into the
 *   in-memory FS, the clock, heap growth), all wrapped here: each checks the
 *   run's deadline and stop flag, so a run past its time, or one whose output
 *   is refused, ends at its next system call; heap growth beyond
 *   maxMemoryBytes is refused (7-Zip then reports "Can't allocate required
 *   memory"), so a hostile dictionary size is an error, never an
 *   out-of-memory crash.
 * - With a write budget, every write under /out goes to a path the budget
 *   names, within its size; anything else stops the run.
 * A stopped run, or one that a C++ exception escaped (this build cannot catch
 * them), leaves the instance unusable: `broken` turns true and the caller
 * drops it.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import sevenZipPackage, { type FileSystem, type FSStream, type SevenZipModuleOptions } from '7z-wasm';

// The package is CommonJS; Node's default import is module.exports, which also carries the factory as `default`
// (the only form its typings describe under NodeNext).
const createModule = sevenZipPackage.default;

/** Longest stderr kept (7-Zip's error text is short; a flood is cut here). */
const STDERR_CAP_BYTES = 16 * 1024;
const DEFAULT_MAX_MEMORY_BYTES = 512 * 1024 * 1024;
const DEFAULT_MAX_STDOUT_BYTES = 1024 * 1024;
/** Imports that end the run themselves (exit, abort, a C++ throw): not wrapped. */
const UNWRAPPED = new Set(['exit', '_abort_js', '__cxa_throw']);

export type SevenZipOutcome =
  /** 7-Zip's main returned (any exit code). */
  | 'exited'
  /** Stopped at a system call after deadlineMs passed. */
  | 'timeout'
  /** Stopped because stdout passed maxStdoutBytes or a write left the budget (see stopReason). */
  | 'stopped'
  /** A C++ exception or a WebAssembly trap escaped 7-Zip. */
  | 'crashed';

export interface SevenZipResult {
  outcome: SevenZipOutcome;
  /** 7-Zip's exit code when it exited (0 ok, 1 warning, 2 fatal error, 7 command line, 8 memory), else null. */
  exitCode: number | null;
  /** Every stdout line, joined with `\n` (at most maxStdoutBytes). */
  stdout: string;
  /** The start of stderr (at most 16 KiB). */
  stderr: string;
  /** A heap growth beyond maxMemoryBytes was refused during the run. */
  memoryRefused: boolean;
  /** When stopped: `stdout`, or the /out path a write was refused for. */
  stopReason?: string;
  /** When crashed: what was thrown, for a message (a number is a C++ exception). */
  crash?: string;
}

export interface SevenZipRunOptions {
  /** Date.now() after which the run is stopped at its next system call. */
  deadlineMs: number;
  /** Most stdout bytes kept; more stops the run. Default 1 MiB. */
  maxStdoutBytes?: number;
  /** When set, a write to a file under /out must be to a path named here and stay within its size in bytes. */
  writeBudget?: ReadonlyMap<string, number>;
}

export interface SevenZipInstance {
  /** The instance's in-memory file system. */
  readonly fs: FileSystem;
  /** True once a run was stopped or crashed: drop the instance. */
  readonly broken: boolean;
  /** Runs one command as `7zz ...args` would; never throws for what 7-Zip does. */
  run(args: readonly string[], options: SevenZipRunOptions): SevenZipResult;
  /** Removes everything under /in, /out and /tmp, and leaves /in and /out empty. */
  wipe(): void;
}

export interface SevenZipOptions {
  /** Largest WebAssembly heap, in bytes. Default 512 MiB (a 7z dictionary is allocated whole). */
  maxMemoryBytes?: number;
}

/** The 7z-wasm module could not be loaded or instantiated (a broken install). */
export class SevenZipLoadError extends Error {
  override readonly name = 'SevenZipLoadError';
}

/** Thrown through 7-Zip's stack from an import to stop a run. */
class StopRun extends Error {
  constructor(
    readonly reason: 'timeout' | 'stopped',
    readonly detail?: string,
  ) {
    super(`7-Zip run stopped (${reason})`);
  }
}

/** The part of the WebAssembly global used here (TypeScript's lib declares it only with "dom"). */
interface WasmGlobal {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Instance: new (module: WasmModule, imports: WasmImports) => { exports: unknown };
}
type WasmModule = { readonly __brand: 'WebAssembly.Module' };
type WasmImports = Record<string, Record<string, unknown>>;
const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: WasmGlobal };

let compiled: Promise<WasmModule> | undefined;

/** The module compiled once per process (about 30 ms); each instance is then a few ms. */
function compiledModule(): Promise<WasmModule> {
  if (compiled === undefined) {
    const require = createRequire(import.meta.url);
    compiled = readFile(require.resolve('7z-wasm/7zz.wasm')).then((bytes) => wasmApi.compile(bytes));
    compiled.catch(() => {
      compiled = undefined;
    });
  }
  return compiled;
}

type ImportFunction = (...args: unknown[]) => unknown;

/** What the current run has collected and what stops it; reset at the start of each run. */
interface RunState {
  stdout: string[];
  stdoutBytes: number;
  stderr: string[];
  stderrBytes: number;
  maxStdoutBytes: number;
  deadlineMs: number;
  stop: StopRun | undefined;
  memoryRefused: boolean;
  budget: ReadonlyMap<string, number> | undefined;
  written: Map<string, number>;
}

/** A fresh 7-Zip instance with its own memory and file system. Rejects when the module cannot be loaded. */
export async function createSevenZip(options: SevenZipOptions = {}): Promise<SevenZipInstance> {
  const maxMemoryBytes = options.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES;
  let wasm: WasmModule;
  try {
    wasm = await compiledModule();
  } catch (cause) {
    throw new SevenZipLoadError((cause as NodeJS.ErrnoException).code ?? String(cause), { cause });
  }
  const state: RunState = {
    stdout: [],
    stdoutBytes: 0,
    stderr: [],
    stderrBytes: 0,
    maxStdoutBytes: DEFAULT_MAX_STDOUT_BYTES,
    deadlineMs: Number.POSITIVE_INFINITY,
    stop: undefined,
    memoryRefused: false,
    budget: undefined,
    written: new Map<string, number>(),
  };
  let broken = false;

  const module = await createModule(moduleOptionsFor(wasm, state, maxMemoryBytes)).catch((cause: unknown) => {
    throw new SevenZipLoadError(String((cause as Error).message ?? cause), { cause });
  });
  const fs = module.FS;
  limitWrites(fs, state);

  const instance: SevenZipInstance = {
    fs,
    get broken() {
      return broken;
    },
    run(args, runOptions) {
      if (broken) throw new Error('this 7-Zip instance is unusable after a stopped or crashed run');
      state.stdout = [];
      state.stderr = [];
      state.stdoutBytes = 0;
      state.stderrBytes = 0;
      state.maxStdoutBytes = runOptions.maxStdoutBytes ?? DEFAULT_MAX_STDOUT_BYTES;
      state.deadlineMs = runOptions.deadlineMs;
      state.budget = runOptions.writeBudget;
      state.written.clear();
      state.stop = undefined;
      state.memoryRefused = false;
      // emscripten's exit handler sets process.exitCode to 7-Zip's exit code: this process keeps its own.
      const savedExitCode = process.exitCode;
      let exitCode: number | null = null;
      let thrown: unknown;
      try {
        const returned: unknown = module.callMain([...args]);
        exitCode = typeof returned === 'number' ? returned : 0;
      } catch (err) {
        const status = (err as { name?: unknown; status?: unknown } | null)?.status;
        if ((err as { name?: unknown } | null)?.name === 'ExitStatus' && typeof status === 'number') {
          exitCode = status;
        } else thrown = err;
      } finally {
        process.exitCode = savedExitCode;
        state.deadlineMs = Number.POSITIVE_INFINITY;
        state.budget = undefined;
      }
      if (thrown !== undefined) broken = true;
      return runResult(state, exitCode, thrown);
    },
    wipe() {
      for (const dir of ['/in', '/out', '/tmp']) removeUnder(fs, dir);
      for (const dir of ['/in', '/out']) {
        try {
          fs.mkdir(dir);
        } catch {
          // already there
        }
      }
    },
  };
  instance.wipe();
  return instance;
}

/**
 * The emscripten options: stdin at end of file, stdout and stderr collected
 * into `state` (stdout within its cap), and every import but the ones that end
 * the run wrapped to check the deadline and stop flag; heap growth past
 * maxMemoryBytes is refused.
 */
function moduleOptionsFor(
  wasm: WasmModule,
  state: RunState,
  maxMemoryBytes: number,
): Partial<SevenZipModuleOptions> & {
  instantiateWasm(imports: WasmImports, receive: (instance: unknown, module: WasmModule) => void): unknown;
} {
  const check = (): void => {
    if (state.stop) throw state.stop;
    if (Date.now() > state.deadlineMs) {
      state.stop = new StopRun('timeout');
      throw state.stop;
    }
  };
  const guard =
    (fn: ImportFunction): ImportFunction =>
    (...args) => {
      check();
      return fn(...args);
    };
  return {
    noExitRuntime: true,
    // null is end of file to emscripten (the typings say number).
    stdin: () => null as unknown as number,
    print(line) {
      state.stdoutBytes += Buffer.byteLength(line) + 1;
      if (state.stdoutBytes > state.maxStdoutBytes) {
        state.stop ??= new StopRun('stopped', 'stdout');
        throw state.stop;
      }
      state.stdout.push(line);
    },
    printErr(line) {
      if (state.stderrBytes >= STDERR_CAP_BYTES) return;
      state.stderr.push(line);
      state.stderrBytes += Buffer.byteLength(line) + 1;
    },
    instantiateWasm(imports, receive) {
      const env: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(imports.env ?? {})) {
        env[name] =
          typeof value === 'function' && !UNWRAPPED.has(name) ? guard(value as ImportFunction) : value;
      }
      const resize = env.emscripten_resize_heap as (bytes: number) => boolean;
      env.emscripten_resize_heap = (requested: number): boolean => {
        if (requested >>> 0 > maxMemoryBytes) {
          state.memoryRefused = true;
          return false;
        }
        return resize(requested);
      };
      // The build imports the same functions under both module names.
      const instance = new wasmApi.Instance(wasm, { env, wasi_snapshot_preview1: env });
      receive(instance, wasm);
      return instance.exports;
    },
  };
}

/** With a write budget set, a write under /out must go to a path it names and stay within its size, or the run stops. */
function limitWrites(fs: FileSystem, state: RunState): void {
  const write = fs.write.bind(fs);
  fs.write = (stream, buffer, offset, length, position, canOwn) => {
    const path = (stream as FSStream & { path?: string }).path ?? '';
    if (state.budget !== undefined && path.startsWith('/out/')) {
      const allowed = state.budget.get(path);
      const total = (state.written.get(path) ?? 0) + length;
      if (allowed === undefined || total > allowed) {
        state.stop ??= new StopRun('stopped', path);
        throw state.stop;
      }
      state.written.set(path, total);
    }
    return write(stream, buffer, offset, length, position, canOwn);
  };
}

/** What a run did: its exit code, or why it was stopped or how it crashed when `thrown` is set. */
function runResult(state: RunState, exitCode: number | null, thrown: unknown): SevenZipResult {
  const result: SevenZipResult = {
    outcome: 'exited',
    exitCode,
    stdout: state.stdout.join('\n'),
    stderr: state.stderr.join('\n'),
    memoryRefused: state.memoryRefused,
  };
  if (thrown !== undefined) {
    result.exitCode = null;
    if (thrown instanceof StopRun) {
      result.outcome = thrown.reason;
      if (thrown.detail !== undefined) result.stopReason = thrown.detail;
    } else {
      result.outcome = 'crashed';
      result.crash =
        typeof thrown === 'number'
          ? 'an uncaught C++ exception'
          : String((thrown as Error).message ?? thrown);
    }
  }
  return result;
}

/** Removes everything under `dir` (which stays); a missing `dir` is nothing to do. */
function removeUnder(fs: FileSystem, dir: string): void {
  let names: string[];
  try {
    names = fs.readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (name === '.' || name === '..') continue;
    const path = `${dir}/${name}`;
    const { mode } = fs.lstat(path);
    if (fs.isDir(mode)) {
      removeUnder(fs, path);
      fs.rmdir(path);
    } else fs.unlink(path);
  }
}
