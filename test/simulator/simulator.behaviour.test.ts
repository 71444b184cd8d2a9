import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultOutcomeTablePath } from '../../src/config/delivery.js';
import { createInboxClient } from '../../src/delivery/inbox-client.js';
import { loadOutcomeTable } from '../../src/delivery/outcome-table.js';
import { DeliveryError, type InboxClient, type MessageSpec } from '../../src/delivery/types.js';
import { type SimulatorOptions, SimulatorOptionsError } from '../../src/simulator/options.js';
import { verdictFor } from '../../src/simulator/verdict.js';
import { syntheticList, syntheticPnr } from '../helpers/personnummer.js';
import { type StartedSimulator, startSimulator } from '../helpers/simulator.js';

const outcomeTable = loadOutcomeTable(defaultOutcomeTablePath());
const spec: MessageSpec = {
  campaignId: 'sim',
  message: { subject: 'Ämne', body: 'Text', signature: 'Enhet' },
  notify: false,
  unit: { hsaId: 'SE1-A', name: 'Enhet' },
};

const open: { sims: StartedSimulator[]; clients: InboxClient[] } = { sims: [], clients: [] };
afterEach(async () => {
  await Promise.all(open.clients.splice(0).map((c) => c.close()));
  await Promise.all(open.sims.splice(0).map((s) => s.stop()));
});

async function setup(options: SimulatorOptions = {}) {
  const sim = await startSimulator(options);
  open.sims.push(sim);
  const client = createInboxClient({ url: sim.url, logicalAddress: 'SE1-L', outcomeTable, timeoutMs: 2000 });
  open.clients.push(client);
  const sender = client.forCampaign(spec);
  const send = (i: number, messageId = `sim:${i}`) =>
    sender.send({ subjectOfCareId: syntheticPnr(i), messageId }).catch((e: unknown) => e as DeliveryError);
  return { sim, send };
}

const get = async (url: string, path: string, method: 'GET' | 'POST' = 'GET', body?: string) => {
  const res = await request(new URL(path, url), { method, ...(body ? { body } : {}) });
  return { status: res.statusCode, text: await res.body.text() };
};

describe('resends (the platform does not de-duplicate)', () => {
  it('stores a resend of the same resident and businessObjectId again, counting it as a duplicate', async () => {
    const { sim, send } = await setup();
    expect(await send(1, 'same')).toMatchObject({ outcome: 'delivered' });
    expect(await send(1, 'same')).toMatchObject({ outcome: 'delivered' });
    expect(sim.stats()).toMatchObject({ requests: 2, accepted: 2, duplicates: 1, conflicts: 0 });
    expect(sim.simulator.received()).toMatchObject([{ messageId: 'same', count: 2, outcome: 'delivered' }]);
  });

  it('notices a resend of an identity with another number (conflict)', async () => {
    const { sim, send } = await setup();
    await send(1, 'same');
    await send(2, 'same');
    expect(sim.stats()).toMatchObject({ accepted: 2, duplicates: 1, conflicts: 1 });
  });

  it('with --dedupe (an experiment) answers a resend as before and stores nothing', async () => {
    const { sim, send } = await setup({ dedupe: true });
    await send(1, 'same');
    await send(1, 'same');
    expect(sim.stats()).toMatchObject({ accepted: 1, duplicates: 1 });
  });
});

describe('answers as the published producer', () => {
  it('INFO with a Swedish reason for no account and a locked account; ERROR for a logical error', async () => {
    const { send: unreachable } = await setup({ unreachableShare: 1, loginBlockedShare: 0 });
    expect(await unreachable(1)).toMatchObject({
      outcome: 'unreachable',
      detail: expect.stringMatching(/^INFO: .*konto i 1177/),
    });
    const { send: locked } = await setup({ unreachableShare: 1, loginBlockedShare: 1 });
    expect(await locked(2)).toMatchObject({
      outcome: 'unreachable',
      reason: 'Invånarens konto i 1177 är spärrat.',
    });
    const { send: rejected } = await setup({ rejectedShare: 1 });
    expect(await rejected(3)).toMatchObject({
      outcome: 'rejected',
      detail: expect.stringMatching(/^ERROR: /),
    });
  });

  it('keeps the decoded msg and heading of a stored message', async () => {
    const { sim, send } = await setup();
    await send(4);
    const [m] = sim.simulator.received();
    expect(m?.headerText).toBe('Ämne');
    expect(m?.msg).toContain('<article><para>Text</para><bibliography>Enhet</bibliography></article>');
  });

  it('answers ERROR when notify is true without sourceSystem (TKB), storing nothing', async () => {
    const { sim } = await setup();
    const body =
      '<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>' +
      '<a:AddMessage xmlns:a="urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2" xmlns:c="urn:mvk:crm:casemanagement:inbox:2">' +
      `<a:subjectOfCareId>${syntheticPnr(5)}</a:subjectOfCareId><a:message><c:headerText>H</c:headerText></a:message><a:notify>true</a:notify>` +
      '</a:AddMessage></s:Body></s:Envelope>';
    const res = await request(sim.url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'text/xml; charset=utf-8',
        soapaction: '"urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2:AddMessage"',
      },
    });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(text).toContain('<ns2:resultCode>ERROR</ns2:resultCode>');
    expect(text).toContain('sourceSystem måste anges när notify är true');
    expect(sim.stats()).toMatchObject({ accepted: 0, rejected: 1, invalid: 0 });
  });
});

describe('maxRate', () => {
  it('answers 429 with Retry-After: 1 above the rate, and accepts at most maxRate per second', async () => {
    const { sim, send } = await setup({ maxRate: 5 });
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => send(i)));
    const limited = results.filter((r) => r instanceof DeliveryError && r.kind === 'rate-limited');
    for (const r of limited) expect(r).toMatchObject({ code: 'HTTP_429', retryAfterMs: 1000 });
    const stats = sim.stats();
    expect(stats.accepted).toBeLessThanOrEqual(10);
    expect(limited.length).toBe(30 - stats.accepted);
    expect(stats.rateLimited).toBe(limited.length);
    for (const count of Object.values(stats.histogram)) expect(count).toBeLessThanOrEqual(5);
  });
});

describe('outage window', () => {
  it('answers 503 inside the window relative to start, then recovers', async () => {
    let now = 1_000_000;
    const { sim, send } = await setup({ outage: { startMs: 100, durationMs: 200 }, now: () => now });
    now += 50;
    expect(await send(1)).toMatchObject({ outcome: 'delivered' });
    now += 100;
    expect(await send(2)).toMatchObject({ kind: 'transient', code: 'SOAP_FAULT', httpStatus: 503 });
    now += 200;
    expect(await send(3)).toMatchObject({ outcome: 'delivered' });
    expect(sim.stats()).toMatchObject({ accepted: 2, unavailable: 1 });
    expect(sim.stats().histogram).toEqual({ '1000': 2 });
  });
});

describe('latency', () => {
  it('waits latencyMs (plus jitter) before answering', async () => {
    const { send } = await setup({ latencyMs: 150, jitterMs: 50 });
    const started = performance.now();
    expect(await send(1)).toMatchObject({ outcome: 'delivered' });
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(145);
    expect(took).toBeLessThan(1500);
  });

  it('stop() ends held (timeout) calls at once', async () => {
    const { sim, send } = await setup({ timeoutRate: 1, timeoutMs: 60_000 });
    const pending = send(1);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await sim.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toMatchObject({ kind: 'transient' });
  });
});

describe('deterministic outcome per personnummer', () => {
  const shares = { unreachableShare: 0.2, loginBlockedShare: 0.25, rejectedShare: 0.1 };
  it('keeps the shares over many numbers and splits off login blocked', () => {
    const counts = { ok: 0, 'no-account': 0, locked: 0, 'logical-error': 0 };
    for (const pnr of syntheticList(4000)) counts[verdictFor('seed-a', pnr, shares)]++;
    expect((counts['no-account'] + counts.locked) / 4000).toBeCloseTo(0.2, 1);
    expect(counts.locked / 4000).toBeCloseTo(0.05, 1);
    expect(counts.locked).toBeGreaterThan(0);
    expect(counts['logical-error'] / 4000).toBeCloseTo(0.1, 1);
  });

  it('answers the same number the same way for the same seed, differently for another', () => {
    const list = syntheticList(300);
    const a = list.map((p) => verdictFor('seed-a', p, shares));
    expect(list.map((p) => verdictFor('seed-a', p, shares))).toEqual(a);
    expect(list.map((p) => verdictFor('seed-b', p, shares))).not.toEqual(a);
  });

  it('two simulators with the same seed agree', async () => {
    const one = await setup({ ...shares, seed: 's' });
    const two = await setup({ ...shares, seed: 's' });
    const outcomes = async (send: (i: number) => Promise<unknown>) =>
      Promise.all(
        Array.from({ length: 40 }, (_, i) => send(i).then((r) => (r as { outcome?: string }).outcome)),
      );
    const a = await outcomes(one.send);
    expect(await outcomes(two.send)).toEqual(a);
    expect(new Set(a).size).toBeGreaterThan(1);
  });
});

describe('HTTP test aids', () => {
  it('GET /__stats, GET /__received (masked), POST /__reset', async () => {
    const { sim, send } = await setup({ unreachableShare: 0.5 });
    for (let i = 0; i < 10; i++) await send(i);
    const stats = JSON.parse((await get(sim.url, '/__stats')).text);
    expect(stats).toMatchObject({ requests: 10, duplicates: 0, faults: 0, invalid: 0 });
    expect(stats.accepted + stats.unreachable).toBe(10);
    const histogramTotal = Object.values(stats.histogram as Record<string, number>).reduce(
      (a, b) => a + b,
      0,
    );
    expect(histogramTotal).toBe(stats.accepted);

    const received = await get(sim.url, '/__received');
    const { messages } = JSON.parse(received.text);
    expect(messages).toHaveLength(10);
    expect(messages[0]).toMatchObject({ messageId: 'sim:0', masked: `${syntheticPnr(0).slice(0, 8)}-****` });
    expect(messages[0].subjectHash).toMatch(/^[0-9a-f]{16}$/);
    for (let i = 0; i < 10; i++) expect(received.text).not.toContain(syntheticPnr(i));

    expect((await get(sim.url, '/__reset', 'POST')).status).toBe(200);
    expect(JSON.parse((await get(sim.url, '/__stats')).text)).toMatchObject({
      requests: 0,
      accepted: 0,
      histogram: {},
    });
    expect(sim.simulator.received()).toEqual([]);
  });

  it('POST /__options changes faults live and names a bad field', async () => {
    const { sim, send } = await setup();
    expect((await get(sim.url, '/__options', 'POST', JSON.stringify({ errorRate: 1 }))).status).toBe(200);
    expect(await send(1)).toMatchObject({ code: 'SOAP_FAULT', httpStatus: 500 });
    const bad = await get(sim.url, '/__options', 'POST', JSON.stringify({ errorRate: 2 }));
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/errorRate/);
    expect(sim.simulator.options().errorRate).toBe(1);
    await get(sim.url, '/__options', 'POST', JSON.stringify({ errorRate: 0, maxRate: null }));
    expect(await send(2)).toMatchObject({ outcome: 'delivered' });
  });

  it('answers 404 elsewhere and 405 for GET on the endpoint', async () => {
    const { sim } = await setup();
    expect((await get(sim.url, '/nope')).status).toBe(404);
    expect((await get(sim.url, '/inbox')).status).toBe(405);
  });

  it('setOptions and createSimulator refuse bad values naming the field', async () => {
    const { sim } = await setup();
    expect(() => sim.setOptions({ unreachableShare: -1 })).toThrow(/unreachableShare/);
    expect(() => sim.setOptions({ unreachableShare: 0.7, rejectedShare: 0.5 })).toThrow(
      SimulatorOptionsError,
    );
    await expect(startSimulator({ latencyMs: 1.5 })).rejects.toThrow(/latencyMs/);
  });
});
