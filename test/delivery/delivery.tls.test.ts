import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultOutcomeTablePath } from '../../src/config/delivery.js';
import { createInboxClient } from '../../src/delivery/inbox-client.js';
import { loadOutcomeTable } from '../../src/delivery/outcome-table.js';
import { DeliveryError, type MessageSpec } from '../../src/delivery/types.js';
import { stopReason } from '../../src/dispatch/campaign-gate.js';
import { syntheticPnr } from '../helpers/personnummer.js';
import { makeTestPki, type StartedSimulator, startSimulator, type TestPki } from '../helpers/simulator.js';

const outcomeTable = loadOutcomeTable(defaultOutcomeTablePath());
const spec: MessageSpec = {
  campaignId: 'tls',
  message: { subject: 's', body: 'b', signature: 'Enhet' },
  notify: false,
  unit: { hsaId: 'SE1-A', name: 'Enhet' },
};

let pki: TestPki;
let sim: StartedSimulator;
let strict: StartedSimulator;

beforeAll(async () => {
  pki = makeTestPki();
  sim = await startSimulator({ tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca } });
  strict = await startSimulator({
    tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, refuse: 'handshake' },
  });
});
afterAll(async () => {
  await sim?.stop();
  await strict?.stop();
  pki?.remove();
});

async function sendWith(tls: { cert: string; key: string; ca: string }, url = sim.url) {
  const client = createInboxClient({ url, logicalAddress: 'SE1-L', outcomeTable, timeoutMs: 3000, tls });
  try {
    return await client
      .forCampaign(spec)
      .send({ subjectOfCareId: syntheticPnr(1), messageId: `tls-${Math.random()}` })
      .catch((e: unknown) => e);
  } finally {
    await client.close();
  }
}

async function rawStatus(url: string): Promise<number | Error> {
  const agent = new Agent({ connect: { ca: pki.ca } });
  try {
    return await request(url, { method: 'POST', body: 'x', dispatcher: agent }).then(
      async (res) => {
        await res.body.text();
        return res.statusCode;
      },
      (e: Error) => e,
    );
  } finally {
    await agent.close();
  }
}

describe('mutual TLS', () => {
  it('delivers with a client certificate the simulator trusts', async () => {
    expect(sim.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/inbox$/);
    const result = await sendWith({ cert: pki.clientCert, key: pki.clientKey, ca: pki.ca });
    expect(result).toMatchObject({ outcome: 'delivered', httpStatus: 200 });
    expect(sim.stats().accepted).toBe(1);
  });

  it('refuses a client certificate from another CA with 403 Unauthorized: stop-campaign', async () => {
    const before = sim.stats();
    const err = await sendWith({ cert: pki.strangerCert, key: pki.strangerKey, ca: pki.ca });
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ kind: 'stop-campaign', code: 'HTTP_403', httpStatus: 403 });
    expect(stopReason(err as DeliveryError)).toMatch(/^the platform refused this system \(HTTP 403/);
    expect((err as Error).message).toMatch(/client certificate refused/);
    expect(sim.stats().unauthorized).toBe(before.unauthorized + 1);
    expect(sim.stats().accepted).toBe(before.accepted);
  });

  it('refuses a client without a certificate', async () => {
    const before = sim.stats();
    expect(await rawStatus(sim.url)).toBe(403);
    expect(sim.stats().unauthorized).toBe(before.unauthorized + 1);
    expect(sim.stats().accepted).toBe(before.accepted);
  });

  it('does not trust a server outside its CA: stop-campaign', async () => {
    const err = await sendWith({ cert: pki.clientCert, key: pki.clientKey, ca: pki.strangerCert });
    expect(err).toBeInstanceOf(DeliveryError);
    // We refused the platform's certificate: the pause reason must say so, not that it refused us.
    expect(err).toMatchObject({
      kind: 'stop-campaign',
      tlsRefusal: 'their-certificate',
      mayHaveLanded: false,
    });
    expect(stopReason(err as DeliveryError)).toMatch(/^the platform's certificate was refused/);
  });
});

describe('mutual TLS refused at the handshake', () => {
  it('still serves a trusted client', async () => {
    const result = await sendWith({ cert: pki.clientCert, key: pki.clientKey, ca: pki.ca }, strict.url);
    expect(result).toMatchObject({ outcome: 'delivered' });
  });

  it('closes the connection of a client without a certificate before any request is read', async () => {
    const before = strict.stats().requests;
    expect(await rawStatus(strict.url)).toBeInstanceOf(Error);
    expect(strict.stats().requests).toBe(before);
  });

  it('classifies the TLS alert as certificate refused: stop-campaign', async () => {
    const err = await sendWith({ cert: '', key: '', ca: pki.ca }, strict.url);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ kind: 'stop-campaign', tlsRefusal: 'our-certificate', mayHaveLanded: false });
    expect((err as DeliveryError).code).toMatch(/^ERR_SSL_/);
    expect(stopReason(err as DeliveryError)).toMatch(/the platform refused this system's client certificate/);
  });
});
