import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import { freePort } from './global-setup.js';

/** Fails (never skips) when a binary the ops tests need is missing. */
export function requireBinary(name: string, versionArg: string, aptPackage: string): void {
  const r = spawnSync(name, [versionArg], { stdio: 'ignore' });
  if (r.error || r.status !== 0) {
    throw new Error(`${name} is not on PATH: apt-get install ${aptPackage}`);
  }
}

/** Reads a YAML file as plain data (the `yaml` package: no python or system library needed). */
export function readYaml(path: string): unknown {
  return parseYaml(readFileSync(path, 'utf8'));
}

export interface StartPrometheusOptions {
  /** host:port targets scraped at /metrics. */
  targets: string[];
  /** A rule file (e.g. config/alerts.yml), copied next to the temporary config. Default none. */
  rulesFile?: string;
  /** Job label of the targets. Default 'utskick-worker', as in config/prometheus.yml. */
  jobName?: string;
  /** Scrape and rule evaluation interval, seconds. Default 1. */
  intervalS?: number;
  /** Longest wait for Prometheus to answer /-/ready, ms. Default 15000. */
  readyTimeoutMs?: number;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RunningPrometheus {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  /** Instant query through /api/v1/query; throws on an API error. */
  query(promql: string): Promise<PromSample[]>;
  /** Polls `query` until `accept` says yes; throws with the last result after `timeoutMs` (default 20000). */
  waitFor(
    promql: string,
    accept: (samples: PromSample[]) => boolean,
    timeoutMs?: number,
  ): Promise<PromSample[]>;
  /** Any JSON endpoint of the HTTP API, e.g. '/api/v1/alerts'; returns its `data`. */
  api<T = unknown>(path: string): Promise<T>;
  /** Kills Prometheus, waits for it to exit and removes its temporary directory. */
  stop(): Promise<void>;
}

function configText(options: StartPrometheusOptions, rules: string | undefined): string {
  const interval = `${options.intervalS ?? 1}s`;
  const targets = options.targets.map((t) => `'${t}'`).join(', ');
  return [
    'global:',
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    `  evaluation_interval: ${interval}`,
    ...(rules ? ['rule_files:', `  - ${rules}`] : []),
    'scrape_configs:',
    `  - job_name: ${options.jobName ?? 'utskick-worker'}`,
    '    static_configs:',
    `      - targets: [${targets}]`,
    '',
  ].join('\n');
}

async function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return Promise.race([
    new Promise<boolean>((resolve) => child.once('exit', () => resolve(true))),
    delay(ms).then(() => false),
  ]);
}

/**
 * Starts the real `prometheus` binary on 127.0.0.1 with a temporary config
 * and TSDB directory, scraping `targets`, and waits until it is ready.
 * Fails (does not skip) when prometheus is missing.
 */
export async function startPrometheus(options: StartPrometheusOptions): Promise<RunningPrometheus> {
  requireBinary('prometheus', '--version', 'prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'utskick-prom-'));
  let rules: string | undefined;
  if (options.rulesFile) {
    rules = basename(options.rulesFile);
    copyFileSync(options.rulesFile, join(dir, rules));
  }
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, configText(options, rules));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const child = spawn(
    'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    log = (log + chunk).slice(-4000);
  });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await exited(child, 5000))) {
        child.kill('SIGKILL');
        await exited(child, 5000);
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 15_000);
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited with ${child.exitCode} before it was ready: ${log}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not become ready at ${url}: ${log}`);
    }
    await delay(100);
  }

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  }

  async function query(promql: string): Promise<PromSample[]> {
    const data = await api<{ resultType: string; result: PromSample[] }>(
      `/api/v1/query?query=${encodeURIComponent(promql)}`,
    );
    return data.result;
  }

  return {
    url,
    query,
    api,
    async waitFor(promql, accept, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      let last: PromSample[] = [];
      for (;;) {
        last = await query(promql);
        if (accept(last)) return last;
        if (Date.now() > until) {
          throw new Error(
            `timed out after ${timeoutMs} ms waiting on ${promql}; last: ${JSON.stringify(last)}`,
          );
        }
        await delay(250);
      }
    },
    stop,
  };
}
