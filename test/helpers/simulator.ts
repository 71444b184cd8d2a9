import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import forge from 'node-forge';
import { Agent, request } from 'undici';
import type { LiveOptions, SimulatorOptions } from '../../src/simulator/options.js';
import { createSimulator, type Simulator } from '../../src/simulator/simulator.js';
import type { SimulatorStats } from '../../src/simulator/store.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface StartedSimulator {
  url: string;
  simulator: Simulator;
  stats(): SimulatorStats;
  reset(): void;
  setOptions(partial: Partial<LiveOptions>): void;
  stop(): Promise<void>;
}

/** An in-process simulator on 127.0.0.1, port 0. Stop it in afterEach/afterAll. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<StartedSimulator> {
  const simulator = createSimulator(options);
  const { url } = await simulator.start();
  return {
    url,
    simulator,
    stats: () => simulator.stats(),
    reset: () => simulator.reset(),
    setOptions: (partial) => simulator.setOptions(partial),
    stop: () => simulator.stop(),
  };
}

export interface SpawnedSimulator {
  url: string;
  child: ChildProcess;
  /** GET /__stats. */
  stats(): Promise<SimulatorStats>;
  /** POST /__reset. */
  reset(): Promise<void>;
  /** POST /__options. */
  setOptions(partial: Record<string, unknown>): Promise<void>;
  /** Signals the process (default SIGTERM) and resolves with its exit code. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  /** TLS material for the helper's own /__ calls to an https simulator. */
  tls?: { cert: string; key: string; ca: string };
  /** Give up waiting for the URL line after this long. Default 15000 ms. */
  startTimeoutMs?: number;
}

/** The simulator script as a child process (`node --import tsx scripts/simulator.ts ARGS`). */
export async function spawnSimulator(
  args: string[] = [],
  options: SpawnOptions = {},
): Promise<SpawnedSimulator> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'simulator.ts'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`simulator printed no URL in time; stderr: ${stderr}`));
    }, options.startTimeoutMs ?? 15_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /^INBOX_URL=(\S+)$/.exec(line);
      if (m) resolve(m[1]!);
      else reject(new Error(`unexpected first line from the simulator: ${line}`));
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`simulator exited (${code}) before printing its URL: ${stderr.trim()}`));
    });
  });
  const base = new URL(url);
  const dispatcher = options.tls
    ? new Agent({ connect: { cert: options.tls.cert, key: options.tls.key, ca: options.tls.ca } })
    : undefined;
  const call = async (method: 'GET' | 'POST', path: string, body?: string) => {
    const res = await request(new URL(path, base), {
      method,
      ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}),
      ...(dispatcher ? { dispatcher } : {}),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`${method} ${path}: HTTP ${res.statusCode} ${text}`);
    return JSON.parse(text) as unknown;
  };
  return {
    url,
    child,
    exited,
    stats: async () => (await call('GET', '/__stats')) as SimulatorStats,
    reset: async () => {
      await call('POST', '/__reset');
    },
    setOptions: async (partial) => {
      await call('POST', '/__options', JSON.stringify(partial));
    },
    kill: async (signal = 'SIGTERM') => {
      if (dispatcher && !dispatcher.closed && !dispatcher.destroyed) await dispatcher.close();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from a CA the server does not trust. */
  strangerCert: string;
  strangerKey: string;
  paths: Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>;
  remove(): void;
}

/**
 * A throwaway CA, a server certificate for 127.0.0.1 and client certificates:
 * RSA keys from node's crypto, certificates built and signed with node-forge
 * (no openssl binary needed).
 */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'utskick-pki-'));
  const issued = new Map<string, { cert: forge.pki.Certificate; key: string }>();
  const make = (name: string, issuer: string | undefined, extensions: object[]) => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    });
    const cert = forge.pki.createCertificate();
    cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
    cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
    cert.validity.notBefore = new Date(Date.now() - 60_000);
    cert.validity.notAfter = new Date(Date.now() + 2 * 86_400_000);
    cert.setSubject([{ name: 'commonName', value: name }]);
    const signer = issuer === undefined ? undefined : issued.get(issuer)!;
    cert.setIssuer(signer ? signer.cert.subject.attributes : [{ name: 'commonName', value: name }]);
    cert.setExtensions(extensions);
    cert.sign(forge.pki.privateKeyFromPem(signer ? signer.key : privateKey), forge.md.sha256.create());
    issued.set(name, { cert, key: privateKey });
    writeFileSync(join(dir, `${name}.crt`), forge.pki.certificateToPem(cert));
    writeFileSync(join(dir, `${name}.key`), privateKey, { mode: 0o600 });
  };
  const caExtensions = [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
  ];
  make('test-ca', undefined, caExtensions);
  make('stranger-ca', undefined, caExtensions);
  make('server', 'test-ca', [
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
    { name: 'extKeyUsage', serverAuth: true },
  ]);
  make('client', 'test-ca', [{ name: 'extKeyUsage', clientAuth: true }]);
  make('stranger', 'stranger-ca', [{ name: 'extKeyUsage', clientAuth: true }]);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    dir,
    ca: read('test-ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    strangerCert: read('stranger.crt'),
    strangerKey: read('stranger.key'),
    paths: {
      ca: join(dir, 'test-ca.crt'),
      serverCert: join(dir, 'server.crt'),
      serverKey: join(dir, 'server.key'),
      clientCert: join(dir, 'client.crt'),
      clientKey: join(dir, 'client.key'),
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
