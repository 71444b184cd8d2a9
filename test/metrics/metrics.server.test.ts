import { createServer as createNetServer } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, type JobCountSource } from '../../src/metrics/registry.js';
import { createMetricsServer, type MetricsServer, MetricsServerError } from '../../src/metrics/server.js';

const source: JobCountSource = {
  async jobCounts() {
    return { deliver: { waiting: 5, active: 1, delayed: 2 }, 'dead-letter': { waiting: 0 } };
  },
  async campaignProgress() {
    return [{ campaign: 'c1', total: 100, done: 40, pausedBySystem: false }];
  },
};

const servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function serve(
  registry: Registry,
  ready: () => Promise<{ ok: boolean; reasons: string[] }> = async () => ({ ok: true, reasons: [] }),
  extra: { readyTimeoutMs?: number; metricsTimeoutMs?: number; logger?: pino.Logger } = {},
): Promise<string> {
  const { logger, ...timeouts } = extra;
  const server = createMetricsServer(
    { port: 0, host: '127.0.0.1', registry, ready, ...timeouts },
    { logger },
  );
  servers.push(server);
  const { port } = await server.start();
  expect(port).toBeGreaterThan(0);
  return `http://127.0.0.1:${port}`;
}

function captureLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('metrics server', () => {
  it('serves every registered metric at /metrics with the registry content type', async () => {
    const metrics = createMetrics(source);
    metrics.messages.inc({ campaign: 'c1', outcome: 'delivered' }, 3);
    metrics.calls.inc({ result: 'delivered' }, 3);
    metrics.callDuration.observe({ result: 'delivered' }, 0.12);
    metrics.retries.inc({ campaign: 'c1', reason: 'rate_limited' });
    metrics.retryAfterWaitSeconds.inc(2);
    metrics.limiterWaitSeconds.observe(0.01);
    metrics.inflight.set(4);
    metrics.deadLettered.inc({ campaign: 'c1' });
    metrics.autoPauses.inc({ campaign: 'c1', reason: 'unauthorized' });
    metrics.jobsProcessed.inc({ result: 'completed' });
    const url = await serve(metrics.registry);

    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(metrics.registry.contentType);
    const body = await res.text();

    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toContain('utskick_queue_jobs');
    expect(names).toContain('process_cpu_user_seconds_total');
    for (const name of names) expect(body).toContain(`# TYPE ${name} `);
    expect(body).toContain('utskick_messages_total{campaign="c1",outcome="delivered"} 3');
    expect(body).toContain('utskick_inbox_inflight_calls 4');
    expect(body).toContain('utskick_queue_jobs{queue="deliver",state="waiting"} 5');
    expect(body).toContain('utskick_campaign_done_recipients{campaign="c1"} 40');
    expect(body).toContain('utskick_inbox_call_duration_seconds_bucket{le="0.25",result="delivered"} 1');

    const withQuery = await fetch(`${url}/metrics?name[]=x`);
    expect(withQuery.status).toBe(200);
    await withQuery.text();
  });

  it('answers /healthz with 200 ok', async () => {
    const url = await serve(new Registry(), async () => ({ ok: false, reasons: ['redis unreachable'] }));
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('answers /readyz 200 when ready and 503 with the reasons when not', async () => {
    let state = { ok: true, reasons: [] as string[] };
    const url = await serve(new Registry(), async () => state);

    const ok = await fetch(`${url}/readyz`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await ok.json()).toEqual({ ok: true, reasons: [] });

    state = { ok: false, reasons: ['redis unreachable', 'shutting down'] };
    const notReady = await fetch(`${url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ ok: false, reasons: ['redis unreachable', 'shutting down'] });
  });

  it('turns a failing or hanging readiness check into 503', async () => {
    const failing = await serve(new Registry(), async () => {
      throw new Error('ECONNREFUSED');
    });
    const res = await fetch(`${failing}/readyz`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ ok: false, reasons: ['readiness check failed: ECONNREFUSED'] });

    const hanging = await serve(new Registry(), () => new Promise(() => {}), { readyTimeoutMs: 100 });
    const started = Date.now();
    const slow = await fetch(`${hanging}/readyz`);
    expect(slow.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(((await slow.json()) as { reasons: string[] }).reasons).toEqual([
      'readiness check timed out after 100 ms',
    ]);
  });

  it('answers 404 for unknown paths and 405 for other methods', async () => {
    const url = await serve(new Registry());
    for (const path of ['/', '/nope', '/metricsx', '/healthz/extra']) {
      const res = await fetch(`${url}${path}`);
      expect(res.status, path).toBe(404);
      await res.text();
    }
    const post = await fetch(`${url}/metrics`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    await post.text();
    const head = await fetch(`${url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('turns a collect error into 500 with a short text, logs it and keeps serving', async () => {
    const registry = new Registry();
    new Gauge({
      name: 'utskick_broken',
      help: 'a gauge whose collect fails',
      registers: [registry],
      collect() {
        throw new Error('redis is gone');
      },
    });
    const { logger, lines } = captureLogger();
    const url = await serve(registry, undefined, { logger });
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toBe('metrics collection failed: redis is gone\n');
    expect(lines.some((l) => l.includes('metrics collection failed') && l.includes('redis is gone'))).toBe(
      true,
    );
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
    await health.text();
  });

  it('answers 500 when collecting hangs longer than metricsTimeoutMs', async () => {
    const registry = new Registry();
    new Gauge({
      name: 'utskick_hanging',
      help: 'a gauge whose collect never returns',
      registers: [registry],
      collect: () => new Promise<void>(() => {}),
    });
    const url = await serve(registry, undefined, { metricsTimeoutMs: 100 });
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('metrics collection timed out after 100 ms\n');
  });

  it('stops promptly with a keep-alive connection open, and refuses a second start', async () => {
    const server = createMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: new Registry(),
      ready: async () => ({ ok: true, reasons: [] }),
    });
    const { port } = await server.start();
    await expect(server.start()).rejects.toMatchObject({ code: 'ALREADY_STARTED' });
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    await res.text();
    const started = Date.now();
    await server.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    await server.stop();
  });

  it('rejects with MetricsServerError LISTEN when the port is taken', async () => {
    const blocker = createNetServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const server = createMetricsServer({
        port,
        host: '127.0.0.1',
        registry: new Registry(),
        ready: async () => ({ ok: true, reasons: [] }),
      });
      const err = await server.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MetricsServerError);
      expect(err).toMatchObject({ code: 'LISTEN', retryable: false });
      expect((err as Error).message).toContain('EADDRINUSE');
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
