import type { FinalOutcome } from '../queue/ledger.js';
import { finalOutcomes } from '../queue/ledger.js';
import type { ReportData, TimelinePoint } from './model.js';

/** Series for the report's chart and latency figures, from Prometheus' HTTP API. */
export interface PrometheusSeries {
  fetch(
    campaignId: string,
    startSec: number,
    endSec: number,
    stepSec: number,
  ): Promise<{ points: TimelinePoint[]; latency?: ReportData['latency'] }>;
}

interface Matrix {
  status: string;
  data: {
    resultType: string;
    result: { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[];
  };
}

export class PrometheusError extends Error {
  readonly code = 'PROMETHEUS';
}

/**
 * Reads utskick_messages_total by outcome for the campaign's time window, and
 * latency percentiles of utskick_inbox_call_duration_seconds over that window.
 * The campaign id is a slug (no quotes), so it is safe inside a PromQL string.
 */
export function createPrometheusSeries(
  baseUrl: string,
  options: { timeoutMs?: number } = {},
): PrometheusSeries {
  const timeoutMs = options.timeoutMs ?? 10_000;
  async function get(path: string, params: Record<string, string>): Promise<Matrix> {
    const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (cause) {
      throw new PrometheusError(`Prometheus at ${baseUrl} did not answer (${(cause as Error).message})`, {
        cause,
      });
    }
    if (!res.ok) throw new PrometheusError(`Prometheus answered HTTP ${res.status} for ${url.pathname}`);
    return (await res.json()) as Matrix;
  }
  return {
    async fetch(campaignId, startSec, endSec, stepSec) {
      // The counter's value per step, summed over workers; the bucket counts are the
      // differences between steps (a worker restart resets its counter: clamp at 0).
      const range = await get('api/v1/query_range', {
        query: `sum by (outcome) (utskick_messages_total{campaign="${campaignId}"})`,
        start: String(startSec - stepSec),
        end: String(endSec + stepSec),
        step: `${stepSec}s`,
      });
      const byT = new Map<number, TimelinePoint>();
      for (const series of range.data.result) {
        const outcome = series.metric.outcome as FinalOutcome;
        if (!finalOutcomes.includes(outcome)) continue;
        let previous = 0;
        for (const [t, v] of series.values ?? []) {
          const value = Number(v);
          const delta = Math.max(0, value - previous);
          previous = value;
          if (delta === 0) continue;
          const start = Math.round(t) - stepSec;
          let p = byT.get(start);
          if (!p) {
            p = {
              t: start,
              counts: Object.fromEntries(finalOutcomes.map((o) => [o, 0])) as Record<FinalOutcome, number>,
            };
            byT.set(start, p);
          }
          p.counts[outcome] += Math.round(delta);
        }
      }
      const windowSec = Math.max(stepSec, endSec - startSec);
      const q = async (quantile: number) => {
        const r = await get('api/v1/query', {
          query: `histogram_quantile(${quantile}, sum by (le) (increase(utskick_inbox_call_duration_seconds_bucket[${windowSec}s])))`,
          time: String(endSec),
        });
        const v = Number(r.data.result[0]?.value?.[1]);
        return Number.isFinite(v) ? v * 1000 : undefined;
      };
      const [p50, p95, p99] = await Promise.all([q(0.5), q(0.95), q(0.99)]);
      return {
        points: [...byT.values()].sort((a, b) => a.t - b.t),
        ...(p50 !== undefined && p95 !== undefined && p99 !== undefined
          ? { latency: { p50Ms: p50, p95Ms: p95, p99Ms: p99, source: 'prometheus' as const } }
          : {}),
      };
    },
  };
}
