import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultOutcomeTablePath } from '../../src/config/delivery.js';
import {
  createInboxClient,
  type InboxClientOptions,
  scrubPersonalData,
} from '../../src/delivery/inbox-client.js';
import { loadOutcomeTable } from '../../src/delivery/outcome-table.js';
import { DeliveryError, type InboxClient, type MessageSpec } from '../../src/delivery/types.js';
import { syntheticPnr } from '../helpers/personnummer.js';
import { type StartedSimulator, startSimulator } from '../helpers/simulator.js';

const outcomeTable = loadOutcomeTable(defaultOutcomeTablePath());
const spec: MessageSpec = {
  campaignId: 'camp-1',
  message: { subject: 'Kallelse', body: 'Välkommen på besök.', signature: 'Vårdcentralen Norr' },
  notify: true,
  unit: { hsaId: 'SE2321000016-A1B2', name: 'Vårdcentralen Norr' },
};
const sourceSystem = 'SE2321000016-UTSK';

let sim: StartedSimulator;
const clients: InboxClient[] = [];
function client(overrides: Partial<InboxClientOptions> = {}, now?: () => number): InboxClient {
  const c = createInboxClient(
    {
      url: sim.url,
      logicalAddress: 'SE2321000016-7P2M',
      sourceSystem,
      outcomeTable,
      timeoutMs: 2000,
      connections: 4,
      ...overrides,
    },
    now ? { now } : {},
  );
  clients.push(c);
  return c;
}

async function rejection(p: Promise<unknown>): Promise<DeliveryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

beforeAll(async () => {
  sim = await startSimulator({ timeoutMs: 5000 });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  sim.reset();
  sim.setOptions({
    unreachableShare: 0,
    rejectedShare: 0,
    loginBlockedShare: 0.25,
    errorRate: 0,
    timeoutRate: 0,
    retryAfterRate: 0,
    unauthorized: false,
    down: false,
  });
});
afterAll(async () => {
  await sim.stop();
});

describe('inbox client against the simulator', () => {
  it('delivers, and the simulator stores the message under its identity', async () => {
    const pnr = syntheticPnr(11);
    const result = await client().forCampaign(spec).send({ subjectOfCareId: pnr, messageId: 'camp-1:11' });
    expect(result).toMatchObject({ outcome: 'delivered', detail: 'OK', httpStatus: 200 });
    expect(result.reason).toBeUndefined();
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    const [received] = sim.simulator.received();
    expect(received).toMatchObject({
      messageId: 'camp-1:11',
      subjectOfCareId: pnr,
      outcome: 'delivered',
      count: 1,
      headerText: 'Kallelse',
    });
    // What the resident sees: the body as a DocBook article in msg.
    expect(received?.msg).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><article><para>Välkommen på besök.</para><bibliography>Vårdcentralen Norr</bibliography></article>',
    );
    expect(sim.stats().accepted).toBe(1);
  });

  it('works without a LogicalAddress header (the inbox WSDL binds none)', async () => {
    const result = await client({ logicalAddress: undefined })
      .forCampaign(spec)
      .send({ subjectOfCareId: syntheticPnr(14), messageId: 'm-14' });
    expect(result.outcome).toBe('delivered');
    expect(sim.stats().invalid).toBe(0);
  });

  it('classifies INFO (no 1177 account, or a locked one) as unreachable, keeping the reason', async () => {
    sim.setOptions({ unreachableShare: 1, loginBlockedShare: 0 });
    const sender = client().forCampaign(spec);
    const a = await sender.send({ subjectOfCareId: syntheticPnr(1), messageId: 'm-1' });
    expect(a).toMatchObject({
      outcome: 'unreachable',
      httpStatus: 200,
      reason: 'Invånaren har inget konto i 1177 och kan inte ta emot meddelanden där.',
    });
    expect(a.detail).toMatch(/^INFO: /);
    sim.setOptions({ loginBlockedShare: 1 });
    const b = await sender.send({ subjectOfCareId: syntheticPnr(2), messageId: 'm-2' });
    expect(b).toMatchObject({ outcome: 'unreachable', reason: 'Invånarens konto i 1177 är spärrat.' });
    expect(sim.stats()).toMatchObject({ unreachable: 2, accepted: 0 });
  });

  it('classifies ERROR as rejected, with its text, after one call', async () => {
    sim.setOptions({ rejectedShare: 1 });
    const sender = client().forCampaign(spec);
    const a = await sender.send({ subjectOfCareId: syntheticPnr(3), messageId: 'm-3' });
    expect(a).toMatchObject({ outcome: 'rejected', httpStatus: 200 });
    expect(a.reason).toMatch(/kunde inte tas emot/);
    expect(sim.stats()).toMatchObject({ rejected: 1, requests: 1 });
  });

  it('a request the schema refuses gets a SOAP Fault: a transient error naming the violation, not the number', async () => {
    const bad = '1912121212';
    const err = await rejection(client().forCampaign(spec).send({ subjectOfCareId: bad, messageId: 'm-4' }));
    expect(err).toMatchObject({ kind: 'transient', code: 'SOAP_FAULT', httpStatus: 500 });
    expect(err.message).toMatch(/subjectOfCareId/);
    expect(err.message).not.toContain(bad);
    expect(sim.stats()).toMatchObject({ invalid: 1, accepted: 0 });
  });

  it('refuses to build a notifying campaign without a source system (TKB: required when notify)', () => {
    expect(() => client({ sourceSystem: undefined }).forCampaign(spec)).toThrow(/INBOX_SOURCE_SYSTEM/);
    expect(() => client({ sourceSystem: undefined }).forCampaign({ ...spec, notify: false })).not.toThrow();
  });

  it('turns a technical error (SOAP Fault, HTTP 500) into a transient DeliveryError', async () => {
    sim.setOptions({ errorRate: 1 });
    const pnr = syntheticPnr(5);
    const err = await rejection(client().forCampaign(spec).send({ subjectOfCareId: pnr, messageId: 'm-5' }));
    expect(err).toMatchObject({
      kind: 'transient',
      code: 'SOAP_FAULT',
      httpStatus: 500,
      retryAfterMs: undefined,
    });
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/technical error/);
    expect(err.message).not.toContain(pnr);
  });

  it('turns an outage (down) into a transient error', async () => {
    sim.setOptions({ down: true });
    const err = await rejection(
      client()
        .forCampaign(spec)
        .send({ subjectOfCareId: syntheticPnr(6), messageId: 'm-6' }),
    );
    expect(err).toMatchObject({ kind: 'transient', code: 'SOAP_FAULT', httpStatus: 503 });
    expect(sim.stats().unavailable).toBe(1);
  });

  it('turns an unanswered call into TIMEOUT within the client timeout', async () => {
    sim.setOptions({ timeoutRate: 1 });
    const started = Date.now();
    const err = await rejection(
      client({ timeoutMs: 300 })
        .forCampaign(spec)
        .send({ subjectOfCareId: syntheticPnr(7), messageId: 'm-7' }),
    );
    expect(err).toMatchObject({ kind: 'transient', code: 'TIMEOUT' });
    expect(Date.now() - started).toBeLessThan(2500);
    expect(sim.stats().timeouts).toBe(1);
  });

  it('turns 429 with Retry-After into rate-limited with retryAfterMs', async () => {
    sim.setOptions({ retryAfterRate: 1, retryAfterSeconds: 3 });
    const err = await rejection(
      client()
        .forCampaign(spec)
        .send({ subjectOfCareId: syntheticPnr(8), messageId: 'm-8' }),
    );
    expect(err).toMatchObject({
      kind: 'rate-limited',
      code: 'HTTP_429',
      retryAfterMs: 3000,
      httpStatus: 429,
    });
  });

  it('turns Unauthorized into stop-campaign', async () => {
    sim.setOptions({ unauthorized: true });
    const err = await rejection(
      client()
        .forCampaign(spec)
        .send({ subjectOfCareId: syntheticPnr(9), messageId: 'm-9' }),
    );
    expect(err).toMatchObject({ kind: 'stop-campaign', code: 'HTTP_403', httpStatus: 403 });
    expect(err.retryable).toBe(false);
  });

  it('turns a refused connection into a transient ECONNREFUSED', async () => {
    const gone = await startSimulator();
    const url = gone.url;
    await gone.stop();
    const c = createInboxClient({ url, sourceSystem, outcomeTable, timeoutMs: 2000 });
    clients.push(c);
    const err = await rejection(
      c.forCampaign(spec).send({ subjectOfCareId: syntheticPnr(10), messageId: 'm-10' }),
    );
    expect(err).toMatchObject({ kind: 'transient', code: 'ECONNREFUSED', httpStatus: undefined });
  });

  it('turns an aborted call into a transient ABORTED', async () => {
    sim.setOptions({ timeoutRate: 1 });
    const controller = new AbortController();
    const call = client()
      .forCampaign(spec)
      .send({ subjectOfCareId: syntheticPnr(12), messageId: 'm-12' }, controller.signal);
    setTimeout(() => controller.abort(), 50);
    expect(await rejection(call)).toMatchObject({ kind: 'transient', code: 'ABORTED' });
  });

  it('sends one call per send: no retries inside the client', async () => {
    sim.setOptions({ errorRate: 1 });
    await rejection(
      client()
        .forCampaign(spec)
        .send({ subjectOfCareId: syntheticPnr(13), messageId: 'm-13' }),
    );
    expect(sim.stats().requests).toBe(1);
  });

  it('close() can be called twice', async () => {
    const c = client();
    await c.close();
    await expect(c.close()).resolves.toBeUndefined();
  });
});

describe('inbox client against a misbehaving gateway', () => {
  let server: Server;
  let url: string;
  let answer: { status: number; body: string; headers?: Record<string, string> };
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(answer.status, { 'content-type': 'text/html', ...answer.headers });
        res.end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/inbox`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it.each([
    ['an unreadable 200', '<html><body>maintenance</body></html>'],
    [
      'resultCode "ok" in lower case',
      '<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><r:AddMessageResponse xmlns:r="urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2"><r:resultCode>ok</r:resultCode></r:AddMessageResponse></S:Body></S:Envelope>',
    ],
    [
      'an unknown resultCode',
      '<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><r:AddMessageResponse xmlns:r="urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2"><r:resultCode>WARN</r:resultCode></r:AddMessageResponse></S:Body></S:Envelope>',
    ],
  ])('keeps the recipient uncertain on %s (the platform may have stored it; no guess)', async (_n, body) => {
    answer = { status: 200, body };
    const c = createInboxClient({ url, sourceSystem, outcomeTable });
    try {
      const result = await c.forCampaign(spec).send({ subjectOfCareId: syntheticPnr(1), messageId: 'x' });
      expect(result).toMatchObject({ outcome: 'uncertain', httpStatus: 200 });
      expect(result.reason).toBeUndefined();
    } finally {
      await c.close();
    }
  });

  it('treats 503 with an HTTP-date Retry-After as rate-limited, measured on the injected clock', async () => {
    const now = Date.parse('2025-03-01T10:00:00Z');
    answer = { status: 503, body: 'busy', headers: { 'retry-after': 'Sat, 01 Mar 2025 10:00:45 GMT' } };
    const c = createInboxClient({ url, sourceSystem, outcomeTable }, { now: () => now });
    try {
      const err = await rejection(
        c.forCampaign(spec).send({ subjectOfCareId: syntheticPnr(1), messageId: 'x' }),
      );
      expect(err).toMatchObject({ kind: 'rate-limited', code: 'HTTP_503', retryAfterMs: 45_000 });
    } finally {
      await c.close();
    }
  });

  it('never echoes a personnummer from the platform', async () => {
    const pnr = syntheticPnr(42);
    answer = { status: 500, body: `no such person ${pnr} or ${pnr.slice(2, 8)}-${pnr.slice(8)}` };
    const c = createInboxClient({ url, sourceSystem, outcomeTable });
    try {
      const err = await rejection(c.forCampaign(spec).send({ subjectOfCareId: pnr, messageId: 'x' }));
      expect(err.message).not.toContain(pnr);
      expect(err.message).not.toContain(pnr.slice(8));
    } finally {
      await c.close();
    }
  });
});

describe('scrubPersonalData', () => {
  it('masks 12- and 10-digit numbers and the recipient', () => {
    expect(scrubPersonalData('a 191212121212 b 121212-1212 c 19121212+1212 d 12345')).toBe(
      'a 19121212-**** b 121212-**** c 19121212-**** d 12345',
    );
    expect(scrubPersonalData('x19121212121Py', '19121212121P')).toBe('x19121212-****y');
  });
});
