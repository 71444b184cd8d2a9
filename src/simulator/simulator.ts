import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { type InboxContract, resolveContract } from '../delivery/contract.js';
import { createRateWindow, delayMs, type InjectedFault, pickFault, type RateWindow } from './faults.js';
import { type LiveOptions, liveOptionsOf, mergeLiveOptions, type SimulatorOptions } from './options.js';
import { errorReply, faultAnswer, faultReply, infoReply, okReply, replyTexts } from './replies.js';
import { createStore, type ReceivedMessage, type SimulatorStats, type Store } from './store.js';
import { json, MAX_BODY_BYTES, readBody, routeTestAid } from './test-aids.js';
import { createRequestValidator, type RequestValidator } from './validate-request.js';
import { seededRandom, type Verdict, verdictFor } from './verdict.js';
import { type AddMessageSchema, loadAddMessageSchema } from './xsd.js';
import { resolveXsdDir } from './xsd-dir.js';

/**
 * A stand-in for the 1177 inbox, as the published producer behaves: answers
 * AddMessage over HTTP(S) on 127.0.0.1, validates the AddMessage element of
 * every request against the published XSD (or its own validator when the
 * schema folder is absent), answers OK, INFO (no account, or a locked one) or
 * ERROR per personnummer by a keyed hash, SOAP Faults for technical errors,
 * stores a resend again as the platform does, injects faults on demand and
 * counts what it received. Never logs a personnummer.
 */
export interface Simulator {
  /** Listens on 127.0.0.1; resolves with the endpoint URL (`INBOX_URL`). */
  start(): Promise<{ url: string }>;
  /** Closes the server and every connection, including held ones. */
  stop(): Promise<void>;
  stats(): SimulatorStats;
  /** Forgets everything received and zeroes the counters. */
  reset(): void;
  /** Changes fault settings live; throws SimulatorOptionsError naming a bad field. */
  setOptions(partial: Partial<LiveOptions>): void;
  options(): LiveOptions;
  /** Everything received, one entry per message identity (in-process only). */
  received(): ReceivedMessage[];
  /** How requests are validated: the published XSD (and where from), or the simulator's own validator. */
  readonly validation: ValidationMode;
  readonly url: string | undefined;
}

export type ValidationMode =
  | { kind: 'xsd'; dir: string; sampleEvery: number }
  | { kind: 'own'; reason: string };

/** How to validate: the schema folder, when found and validation by it is not turned off. */
function chooseValidation(opts: SimulatorOptions): ValidationMode {
  if (opts.validate === 'own') return { kind: 'own', reason: 'asked for (--validate own)' };
  const dir = opts.xsdDir ?? resolveXsdDir();
  if (!dir) {
    return {
      kind: 'own',
      reason:
        'the published schema folder was not found (set INBOX_XSD_DIR, default ../shared/contracts/mvk-inbox-2)',
    };
  }
  const sampleEvery = typeof opts.validate === 'object' ? opts.validate.sampleEvery : 1;
  return { kind: 'xsd', dir, sampleEvery };
}

const XML = { 'content-type': 'text/xml; charset=utf-8' } as const;

class InboxSimulator implements Simulator {
  private server: Server | undefined;
  private live: LiveOptions;
  private readonly contract: InboxContract;
  private validate: RequestValidator;
  private readonly seed: string;
  private readonly path: string;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly store: Store = createStore();
  private readonly window: RateWindow = createRateWindow();
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private startedAtMs = 0;
  private stopped = false;
  private readonly checksCert: boolean;
  private schema: AddMessageSchema | undefined;
  readonly validation: ValidationMode;
  url: string | undefined;

  constructor(private readonly opts: SimulatorOptions) {
    this.live = liveOptionsOf(opts);
    this.contract = resolveContract(opts.contract ?? 'mvk-inbox-2');
    this.validation = chooseValidation(opts);
    this.validate = this.createValidator();
    this.seed = opts.seed ?? 'utskick-simulator';
    this.path = opts.path ?? '/inbox';
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? seededRandom(this.seed);
    this.checksCert = opts.tls ? (opts.tls.requestCert ?? opts.tls.ca !== undefined) : false;
  }

  /** The schema (WebAssembly memory, freed on stop) is loaded per start. */
  private createValidator(): RequestValidator {
    const v = this.validation;
    this.schema = v.kind === 'xsd' ? loadAddMessageSchema(v.dir) : undefined;
    return createRequestValidator(this.contract, {
      ...(this.schema ? { schema: this.schema, sampleEvery: v.kind === 'xsd' ? v.sampleEvery : 1 } : {}),
    });
  }

  async start(): Promise<{ url: string }> {
    if (this.url) return { url: this.url };
    if (!this.schema && this.validation.kind === 'xsd') this.validate = this.createValidator();
    const handler = (req: IncomingMessage, res: ServerResponse) => this.route(req, res);
    const tls = this.opts.tls;
    const server: Server = tls
      ? (createHttpsServer(
          {
            cert: tls.cert,
            key: tls.key,
            ...(tls.ca ? { ca: tls.ca } : {}),
            requestCert: this.checksCert,
            rejectUnauthorized: this.checksCert && tls.refuse === 'handshake',
            minVersion: 'TLSv1.2',
          },
          handler,
        ) as unknown as Server)
      : createHttpServer(handler);
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.stopped = false;
    this.startedAtMs = this.now();
    const { port } = server.address() as AddressInfo;
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}${this.path}`;
    return { url: this.url };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const [timer, wake] of this.timers) {
      clearTimeout(timer);
      wake();
    }
    this.timers.clear();
    const server = this.server;
    this.server = undefined;
    this.url = undefined;
    this.schema?.dispose();
    this.schema = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  stats(): SimulatorStats {
    return this.store.stats();
  }

  reset(): void {
    this.store.reset();
    this.window.reset();
  }

  setOptions(partial: Partial<LiveOptions>): void {
    this.live = mergeLiveOptions(this.live, partial);
  }

  options(): LiveOptions {
    return this.live;
  }

  received(): ReceivedMessage[] {
    return this.store.received();
  }

  private wait(ms: number, onTimeout?: () => void): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        onTimeout?.();
        resolve();
      }, ms);
      this.timers.set(timer, resolve);
    });
  }

  /** Never answers: closes the socket after `ms`, or earlier when the client gives up. */
  private hold(req: IncomingMessage, res: ServerResponse, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.timers.delete(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        req.socket.destroy();
        done();
      }, ms);
      this.timers.set(timer, done);
      res.on('close', done);
    });
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path === this.path) {
      if (req.method !== 'POST') {
        json(res, 405, { error: 'POST only' });
        return;
      }
      this.inbox(req, res).catch(() => {
        if (!res.headersSent) json(res, 500, { error: 'simulator failure' });
        else res.destroy();
      });
      return;
    }
    if (routeTestAid(req, res, path ?? '/', this, this.seed)) return;
    json(res, 404, { error: `no route ${req.method} ${path}` });
  }

  private reply(
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ): void {
    if (res.destroyed || this.stopped) return;
    res.writeHead(status, { ...XML, ...headers });
    res.end(body);
  }

  private answerFault(res: ServerResponse, fault: InjectedFault, live: LiveOptions): void {
    const answer = faultAnswer(this.contract, fault, live);
    if (!answer) return;
    this.store.fault(answer.counter);
    this.reply(res, answer.status, answer.body, answer.headers);
  }

  private async inbox(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // A call counts (histogram, --max-rate windows, received times) when it
    // arrives, as at a platform's edge: the simulator's own parsing and
    // validation time must not move calls from one second into the next.
    const arrivedAt = this.now();
    this.store.request();
    const body = await readBody(req);
    if (body === undefined) {
      if (!res.destroyed) json(res, 413, { error: `body over ${MAX_BODY_BYTES} bytes or aborted` });
      return;
    }
    const live = this.live;
    if (this.checksCert && !(req.socket as TLSSocket).authorized) {
      this.store.fault('unauthorized');
      const why = (req.socket as TLSSocket).authorizationError ?? 'no certificate';
      return this.reply(res, 403, faultReply(this.contract, 'Client', `client certificate refused (${why})`));
    }
    const fault = pickFault(live, arrivedAt - this.startedAtMs, arrivedAt, this.window, this.random);
    if (fault?.kind === 'timeout') {
      this.store.fault('timeouts');
      await this.hold(req, res, live.timeoutMs);
      return;
    }
    const delay = delayMs(live, this.random);
    if (delay > 0) await this.wait(delay);
    if (this.stopped) return;
    if (fault) return this.answerFault(res, fault, live);

    const checked = this.validate(body, req.headers.soapaction as string | undefined);
    if (!checked.ok) {
      // A schema violation is answered as the producer's stack does: a SOAP Fault naming it.
      this.store.invalid();
      return this.reply(res, 500, faultReply(this.contract, 'Client', checked.reason));
    }
    const request = checked.request;
    // TKB: sourceSystem is required when notify is true; a logical error, not stored.
    const sourceSystemMissing = request.notify && !request.sourceSystem?.trim();
    const verdict: Verdict = sourceSystemMissing
      ? 'logical-error'
      : verdictFor(this.seed, request.subjectOfCareId, live);
    const { entry } = this.store.record({
      messageId: request.businessObjectId,
      subjectOfCareId: request.subjectOfCareId,
      verdict,
      dedupe: live.dedupe,
      nowMs: arrivedAt,
      ...(request.headerText !== undefined ? { headerText: request.headerText } : {}),
      ...(request.msg !== undefined ? { msg: request.msg } : {}),
    });
    const c = this.contract;
    switch (entry.verdict) {
      case 'ok':
        return this.reply(res, 200, okReply(c));
      case 'no-account':
        return this.reply(res, 200, infoReply(c, replyTexts['no-account']));
      case 'locked':
        return this.reply(res, 200, infoReply(c, replyTexts.locked));
      case 'logical-error':
        return this.reply(
          res,
          200,
          errorReply(c, sourceSystemMissing ? replyTexts.sourceSystemMissing : replyTexts['logical-error']),
        );
    }
  }
}

/** A simulator, not yet listening: call start(). Throws SimulatorOptionsError on bad options. */
export function createSimulator(options: SimulatorOptions = {}): Simulator {
  return new InboxSimulator(options);
}
