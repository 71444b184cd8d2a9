import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** What /readyz reports: ok, or the reasons the process should get no work. */
export interface Readiness {
  ok: boolean;
  reasons: string[];
}

export interface MetricsServerOptions {
  /** TCP port to listen on; 0 picks a free one (start() returns it). */
  port: number;
  /** Interface to listen on. Default '0.0.0.0' (all IPv4 interfaces, as a container needs). */
  host?: string;
  /** The registry served at /metrics. */
  registry: Registry;
  /** Checks readiness for /readyz (Redis reachable, worker running, not shutting down). */
  ready: () => Promise<Readiness>;
  /** Longest a /readyz check may take before it answers 503, ms. Default 2000. */
  readyTimeoutMs?: number;
  /** Longest collecting /metrics may take before it answers 500, ms. Default 5000. */
  metricsTimeoutMs?: number;
}

export interface MetricsServerDeps {
  logger?: Logger;
}

export interface MetricsServer {
  /** Listens; resolves with the port actually bound. Rejects with MetricsServerError 'LISTEN'. */
  start(): Promise<{ port: number }>;
  /** Stops listening and closes open connections (Prometheus keeps its connection alive). */
  stop(): Promise<void>;
}

export const metricsServerErrorCodes = ['LISTEN', 'ALREADY_STARTED'] as const;
export type MetricsServerErrorCode = (typeof metricsServerErrorCodes)[number];

/** The metrics server's one error type. None is worth retrying as is. */
export class MetricsServerError extends Error {
  readonly code: MetricsServerErrorCode;
  readonly retryable = false;
  constructor(code: MetricsServerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetricsServerError';
    this.code = code;
  }
}

const TIMED_OUT = Symbol('timed out');

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function send(res: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  res.writeHead(status, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(head ? undefined : body);
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const routes = new Set(['/metrics', '/healthz', '/readyz']);

/**
 * The worker's small HTTP server: GET /metrics (Prometheus text format),
 * GET /healthz (200 while the process runs), GET /readyz (200 or 503 with
 * {ok, reasons}). Anything else is 404 (405 for another method on a known path).
 * Collect and readiness errors become 500/503 answers, never a crash.
 */
export function createMetricsServer(
  options: MetricsServerOptions,
  deps: MetricsServerDeps = {},
): MetricsServer {
  const host = options.host ?? '0.0.0.0';
  const readyTimeoutMs = options.readyTimeoutMs ?? 2000;
  const metricsTimeoutMs = options.metricsTimeoutMs ?? 5000;
  const logger = deps.logger;
  let server: Server | undefined;

  async function metrics(res: ServerResponse, head: boolean): Promise<void> {
    try {
      const body = await withTimeout(options.registry.metrics(), metricsTimeoutMs);
      if (body === TIMED_OUT) {
        logger?.warn({ timeoutMs: metricsTimeoutMs }, 'metrics collection timed out');
        send(res, 500, TEXT, `metrics collection timed out after ${metricsTimeoutMs} ms\n`, head);
        return;
      }
      send(res, 200, options.registry.contentType, body, head);
    } catch (err) {
      logger?.warn({ err: errorText(err) }, 'metrics collection failed');
      send(res, 500, TEXT, `metrics collection failed: ${errorText(err)}\n`, head);
    }
  }

  async function readyz(res: ServerResponse, head: boolean): Promise<void> {
    let readiness: Readiness;
    try {
      const answer = await withTimeout(options.ready(), readyTimeoutMs);
      readiness =
        answer === TIMED_OUT
          ? { ok: false, reasons: [`readiness check timed out after ${readyTimeoutMs} ms`] }
          : { ok: answer.ok === true, reasons: [...answer.reasons] };
    } catch (err) {
      readiness = { ok: false, reasons: [`readiness check failed: ${errorText(err)}`] };
    }
    send(res, readiness.ok ? 200 : 503, JSON_TYPE, `${JSON.stringify(readiness)}\n`, head);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!routes.has(path)) {
      send(res, 404, TEXT, 'not found\n', req.method === 'HEAD');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, TEXT, 'method not allowed\n', false);
      return;
    }
    const head = req.method === 'HEAD';
    if (path === '/healthz') send(res, 200, TEXT, 'ok\n', head);
    else if (path === '/readyz') await readyz(res, head);
    else await metrics(res, head);
  }

  return {
    async start() {
      if (server) throw new MetricsServerError('ALREADY_STARTED', 'the metrics server is already started');
      const s = createServer((req, res) => {
        handle(req, res).catch((err) => {
          logger?.error({ err: errorText(err) }, 'metrics server request failed');
          if (!res.headersSent) send(res, 500, TEXT, 'internal error\n', false);
          else res.destroy();
        });
      });
      s.keepAliveTimeout = 65_000;
      await new Promise<void>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException) => {
          reject(
            new MetricsServerError(
              'LISTEN',
              `cannot listen on ${host}:${options.port} (${err.code ?? err.message})`,
              {
                cause: err,
              },
            ),
          );
        };
        s.once('error', onError);
        s.listen(options.port, host, () => {
          s.off('error', onError);
          resolve();
        });
      });
      s.on('error', (err) => logger?.error({ err: errorText(err) }, 'metrics server error'));
      server = s;
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      logger?.info({ host, port }, 'metrics server listening');
      return { port };
    },
    async stop() {
      const s = server;
      if (!s) return;
      server = undefined;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
  };
}
