import type { TLSSocket } from 'node:tls';
import { buildConnector, type Dispatcher, Pool } from 'undici';
import { type ContractName, resolveContract } from './contract.js';
import type { Observation, OutcomeTable, TransportFailure } from './outcome-table.js';
import { type InboxResponse, InboxResponseError, parseInboxResponse, parseRetryAfter } from './response.js';
import { createEnvelopeTemplate } from './soap.js';
import {
  type CampaignSender,
  DeliveryError,
  type DeliveryRequest,
  type DeliveryResult,
  type InboxClient,
  type MessageSpec,
  type TlsRefusal,
} from './types.js';

/** Client certificate and trust for mutual TLS (PEM text or buffers). */
export interface InboxTlsOptions {
  cert: string | Buffer;
  key: string | Buffer;
  /** The CA(s) the inbox's server certificate must chain to. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Passphrase of an encrypted key; from a file or the environment, never argv. */
  passphrase?: string;
}

export interface InboxClientOptions {
  /** The AddMessage endpoint, e.g. `https://inbox.example/inbox`. */
  url: string;
  /** Which contract mapping to speak. Default `mvk-inbox-2`. */
  contract?: ContractName;
  /** The receiving system's HSA-id, sent in a RIV-TA LogicalAddress header when set. Default: no header. */
  logicalAddress?: string;
  /** This system's HSA-id, sent as AddMessage/sourceSystem; required by campaigns that notify. Default: not sent. */
  sourceSystem?: string;
  /** Required for https. */
  tls?: InboxTlsOptions;
  /** Per-call limit, in ms, on connecting, waiting for the answer's headers and between body chunks. Default 10000. */
  timeoutMs?: number;
  /** Most keep-alive connections to the inbox. Default 16. */
  connections?: number;
  /** The classification table (see config/outcomes.json and loadOutcomeTable). */
  outcomeTable: OutcomeTable;
}

export interface InboxClientDeps {
  /** Clock in ms since the epoch (latency, Retry-After dates). Default Date.now. */
  now?: () => number;
}

/** An AddMessage answer is a few hundred bytes; anything near this is not one. */
const MAX_RESPONSE_BYTES = 1 << 20;
const noop = () => {};

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
]);
const CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
]);

/** Transport errors after which the request may have been on the wire: the connection broke under it. */
const BROKEN_AFTER_WRITE_CODES = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE', 'UND_ERR_CLOSED']);

/**
 * Whether a failed call may have reached the platform (see
 * DeliveryError.mayHaveLanded): decided on what was observed, never on the
 * outcome table's codes, so renaming a rule's code changes no decision.
 */
export function mayHaveLanded(o: Observation): boolean {
  // A TLS failure ends before any request byte is sent (even when the peer's
  // refusal surfaces as a reset): nothing can have landed.
  if (o.transport === 'tls') return false;
  if (o.transport === 'timeout') return true;
  if (o.transportCode !== undefined && BROKEN_AFTER_WRITE_CODES.has(o.transportCode)) return true;
  // A gateway in front of the inbox may have forwarded the call before it failed.
  return o.httpStatus === 502 || o.httpStatus === 504;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown[] };
  if (typeof e.code === 'string' && e.code !== 'UND_ERR_SOCKET') return e.code;
  const inner = errorCode(e.cause) ?? (Array.isArray(e.errors) ? errorCode(e.errors[0]) : undefined);
  return inner ?? (typeof e.code === 'string' ? e.code : undefined);
}

function transportOf(code: string | undefined): TransportFailure {
  if (code === undefined) return 'connection';
  if (TIMEOUT_CODES.has(code)) return 'timeout';
  if (CERT_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return 'tls';
  return 'connection';
}

/** Node's message when the peer drops the connection mid-handshake (a refused certificate under TLS 1.2). */
function handshakeClosed(err: unknown): boolean {
  return err instanceof Error && /before secure TLS connection was established/.test(err.message);
}

// Anything shaped like a personnummer (12 or 10 digits, optional separator).
const PNR_LIKE = /(?<![0-9])([0-9]{6}(?:[0-9]{2})?)[-+]?[0-9pPtTfF][0-9]{3}(?![0-9])/g;

/** Masks every personnummer-like run (and the recipient's own number) in text from the platform. */
const DIGITS = /\d{6}/;

/** The platform's reason text, as kept per recipient and grouped in the report. */
const MAX_REASON_CHARS = 200;

export function scrubPersonalData(text: string, subjectOfCareId?: string, maxChars = 300): string {
  const cut = (t: string) => (t.length > maxChars ? `${t.slice(0, maxChars)}…` : t);
  // Most details ("OK", "HTTP 503: ...") hold no run of digits at all: nothing to scrub.
  if (!DIGITS.test(text)) return cut(text);
  let out = text;
  if (subjectOfCareId && subjectOfCareId.length >= 10) {
    out = out.split(subjectOfCareId).join(`${subjectOfCareId.slice(0, 8)}-****`);
  }
  out = out.replace(PNR_LIKE, (_m, date: string) => `${date}-****`);
  return cut(out);
}

function describe(status: number, parsed: InboxResponse | undefined, parseError: string | undefined): string {
  const http = status >= 200 && status < 300 ? '' : `HTTP ${status}: `;
  if (!parsed) return `${http}unreadable response (${parseError ?? 'unknown'})`;
  if (parsed.kind === 'fault') return `${http}fault ${parsed.faultCode}: ${parsed.message}`;
  return `${http}${parsed.resultCode}${parsed.resultText ? `: ${parsed.resultText}` : ''}`;
}

/** Where and how every AddMessage POST goes; built once per client. */
interface PostTarget {
  pool: Pool;
  path: string;
  headers: Record<string, string>;
}

/** What classifying a failed call needs; built once per client. */
interface FailureContext {
  table: OutcomeTable;
  now: () => number;
  /** TLS alert codes by local port (see tlsConnector). */
  tlsAlerts: Map<number, string>;
}

/**
 * The inbox client: one keep-alive undici Pool per client, one envelope
 * template per campaign, one HTTP POST per send (retries are the job
 * handler's). Never puts a personnummer in an error or a detail.
 */
export function createInboxClient(options: InboxClientOptions, deps: InboxClientDeps = {}): InboxClient {
  const now = deps.now ?? Date.now;
  const contract = resolveContract(options.contract ?? 'mvk-inbox-2');
  const table = options.outcomeTable;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const url = new URL(options.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`inbox url must be http(s), not ${url.protocol}`);
  }
  const https = url.protocol === 'https:';
  if (https && !options.tls) throw new TypeError('an https inbox url needs tls options (client certificate)');
  const tlsAlerts = new Map<number, string>();
  const connect: buildConnector.connector | buildConnector.BuildOptions = https
    ? tlsConnector(options.tls!, timeoutMs, tlsAlerts)
    : { timeout: timeoutMs };
  const pool = new Pool(url.origin, {
    connections: options.connections ?? 16,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connect,
  });
  const target: PostTarget = {
    pool,
    path: `${url.pathname}${url.search}`,
    headers: {
      'content-type': 'text/xml; charset=utf-8',
      soapaction: `"${contract.soapAction}"`,
    },
  };
  const failures: FailureContext = { table, now, tlsAlerts };

  async function send(envelope: string, req: DeliveryRequest, signal?: AbortSignal): Promise<DeliveryResult> {
    const started = now();
    let status: number;
    let retryAfterHeader: string | string[] | undefined;
    let body: string;
    try {
      ({ status, retryAfter: retryAfterHeader, body } = await post(target, envelope, signal));
    } catch (err) {
      return failed(failures, err, started, signal);
    }
    const finished = now();
    const retryAfterMs = parseRetryAfter(retryAfterHeader, finished);
    const observation: Observation = { httpStatus: status, retryAfter: retryAfterMs !== undefined };
    let parsed: InboxResponse | undefined;
    let parseError: string | undefined;
    try {
      parsed = parseInboxResponse(body);
    } catch (err) {
      if (!(err instanceof InboxResponseError)) throw err;
      observation.unparseable = true;
      parseError = err.message;
    }
    let reason: string | undefined;
    if (parsed?.kind === 'response') {
      observation.resultCode = parsed.resultCode;
      if (parsed.resultText !== undefined) {
        observation.resultText = parsed.resultText;
        reason = scrubPersonalData(parsed.resultText, req.subjectOfCareId, MAX_REASON_CHARS);
      } else reason = parsed.resultCode;
    } else if (parsed?.kind === 'fault') {
      observation.fault = true;
      observation.faultText = parsed.message;
    }
    const detail = scrubPersonalData(describe(status, parsed, parseError), req.subjectOfCareId);
    return settle(table, observation, detail, status, finished - started, retryAfterMs, undefined, reason);
  }

  let closing: Promise<void> | undefined;
  return {
    forCampaign(spec: MessageSpec): CampaignSender {
      const template = createEnvelopeTemplate(spec, {
        contract,
        ...(options.logicalAddress !== undefined ? { logicalAddress: options.logicalAddress } : {}),
        ...(options.sourceSystem !== undefined ? { sourceSystem: options.sourceSystem } : {}),
      });
      return { send: (req, signal) => send(template(req), req, signal) };
    },
    close() {
      closing ??= pool.close().then(() => undefined);
      return closing;
    },
  };
}

/**
 * The mutual-TLS connector. A TLS alert (certificate refused) can reach the
 * socket after the handshake; undici then reports only "other side closed".
 * Alerts are remembered in `tlsAlerts` by local port so such a failure is
 * classified as tls.
 */
function tlsConnector(
  tls: InboxTlsOptions,
  timeoutMs: number,
  tlsAlerts: Map<number, string>,
): buildConnector.connector {
  const connector = buildConnector({
    cert: tls.cert,
    key: tls.key,
    ...(tls.ca ? { ca: tls.ca } : {}),
    ...(tls.passphrase ? { passphrase: tls.passphrase } : {}),
    minVersion: 'TLSv1.2',
    rejectUnauthorized: true,
    timeout: timeoutMs,
  });
  return (opts, callback) =>
    connector(opts, (err, socket) => {
      if (socket) {
        const port = socket.localPort;
        if (port !== undefined) {
          tlsAlerts.delete(port);
          (socket as TLSSocket).on('error', (e: NodeJS.ErrnoException) => {
            if (e.code && transportOf(e.code) === 'tls') tlsAlerts.set(port, e.code);
          });
          socket.once('close', () => setTimeout(() => tlsAlerts.delete(port), 5000).unref());
        }
      }
      callback(err, socket as never);
    });
}

/**
 * One POST through the pool's dispatch handler interface: the answer's
 * bytes are collected straight into one buffer, with none of the stream
 * machinery of `pool.request` (measured: the largest part of undici's
 * share of a worker's CPU).
 */
function post(
  target: PostTarget,
  envelope: string,
  signal: AbortSignal | undefined,
): Promise<{ status: number; retryAfter: string | string[] | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    signal?.throwIfAborted();
    let status = 0;
    let retryAfter: string | string[] | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    let unwatch = noop;
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        if (!signal) return;
        const onAbort = () => controller.abort(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        unwatch = () => signal.removeEventListener('abort', onAbort);
      },
      onResponseStart(_controller, statusCode, responseHeaders) {
        status = statusCode;
        retryAfter = responseHeaders['retry-after'];
      },
      onResponseData(controller, chunk) {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          controller.abort(new InboxResponseError(`response body over ${MAX_RESPONSE_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      },
      onResponseEnd() {
        unwatch();
        resolve({ status, retryAfter, body: Buffer.concat(chunks, size).toString('utf8') });
      },
      onResponseError(_controller, error) {
        unwatch();
        reject(error);
      },
    };
    target.pool.dispatch(
      { path: target.path, method: 'POST', headers: target.headers, body: envelope },
      handler,
    );
  });
}

/** The call's result when the table says it has an outcome; otherwise throws the DeliveryError the table names. */
function settle(
  table: OutcomeTable,
  observation: Observation,
  detail: string,
  httpStatus: number,
  latencyMs: number,
  retryAfterMs: number | undefined,
  cause?: unknown,
  reason?: string,
): DeliveryResult {
  const c = table.classify(observation);
  if (
    c.outcome === 'delivered' ||
    c.outcome === 'unreachable' ||
    c.outcome === 'rejected' ||
    c.outcome === 'uncertain'
  ) {
    const keepReason = reason !== undefined && (c.outcome === 'unreachable' || c.outcome === 'rejected');
    return { outcome: c.outcome, detail, httpStatus, latencyMs, ...(keepReason ? { reason } : {}) };
  }
  throw new DeliveryError(c.outcome, c.code, `AddMessage ${c.outcome} (${c.code}): ${detail}`, {
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    ...(httpStatus ? { httpStatus } : {}),
    mayHaveLanded: mayHaveLanded(observation),
    ...(observation.transport === 'tls' ? { tlsRefusal: tlsRefusalOf(observation.transportCode) } : {}),
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** Our verification of their certificate failed, or the handshake ended on their side (they refused ours). */
export function tlsRefusalOf(code: string | undefined): TlsRefusal {
  if (code !== undefined && (CERT_CODES.has(code) || code.startsWith('ERR_TLS_CERT')))
    return 'their-certificate';
  return 'our-certificate';
}

/** Classifies a POST that got no answer (transport failure or abort). */
function failed(
  context: FailureContext,
  err: unknown,
  started: number,
  signal: AbortSignal | undefined,
): DeliveryResult {
  if (signal?.aborted) {
    throw new DeliveryError('transient', 'ABORTED', 'AddMessage call aborted by the caller', {
      cause: err,
    });
  }
  const localPort = (err as { socket?: { localPort?: number } }).socket?.localPort;
  const alert = localPort === undefined ? undefined : context.tlsAlerts.get(localPort);
  const code = alert ?? errorCode(err);
  const transport = handshakeClosed(err) ? 'tls' : transportOf(code);
  const reason = err instanceof Error ? err.message : String(err);
  return settle(
    context.table,
    { transport, transportCode: code ?? 'CONNECTION_ERROR' },
    `${transport} failure ${code ?? ''}: ${scrubPersonalData(reason)}`.replace(/ +:/, ':'),
    0,
    context.now() - started,
    undefined,
    err,
  );
}
