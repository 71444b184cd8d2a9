import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultOutcomeTablePath } from '../../src/config/delivery.js';
import { createInboxClient, mayHaveLanded } from '../../src/delivery/inbox-client.js';
import { type OutcomeTable, parseOutcomeTable } from '../../src/delivery/outcome-table.js';
import { DeliveryError, type MessageSpec } from '../../src/delivery/types.js';
import { syntheticPnr } from '../helpers/personnummer.js';

/**
 * DeliveryError.mayHaveLanded, set by the client from what it saw on the
 * wire: dispatch parks (or resends) on this flag alone, never on a code.
 */

const tableJson = () => JSON.parse(readFileSync(defaultOutcomeTablePath(), 'utf8'));
const shipped = parseOutcomeTable(tableJson());
const spec: MessageSpec = {
  campaignId: 'camp-1',
  message: { subject: 'Kallelse', body: 'Välkommen.', signature: 'Vårdcentralen Norr' },
  notify: false,
  unit: { hsaId: 'SE2321000016-A1B2', name: 'Vårdcentralen Norr' },
};
const fault =
  '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>' +
  '<faultcode>soap:Server</faultcode><faultstring>timeout waiting for the producer</faultstring>' +
  '</soap:Fault></soap:Body></soap:Envelope>';

type Behaviour =
  | { kind: 'answer'; status: number; body?: string; headers?: Record<string, string> }
  | { kind: 'hang' }
  | { kind: 'drop-after-request' };

let server: Server;
let url: string;
let behaviour: Behaviour = { kind: 'hang' };

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const b = behaviour;
      if (b.kind === 'hang') return;
      // The whole request arrived: the connection breaks before any answer.
      if (b.kind === 'drop-after-request') return req.socket.destroy();
      res.writeHead(b.status, { 'content-type': 'text/xml', ...b.headers });
      res.end(b.body ?? '<html><body>gateway</body></html>');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/inbox`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function failure(b: Behaviour, table: OutcomeTable = shipped, target = url): Promise<DeliveryError> {
  behaviour = b;
  const client = createInboxClient({ url: target, outcomeTable: table, timeoutMs: 300, connections: 1 });
  try {
    const err = await client
      .forCampaign(spec)
      .send({ subjectOfCareId: syntheticPnr(1), messageId: 'm-1' })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  } finally {
    await client.close();
  }
}

describe('the inbox client says when a failed call may have landed', () => {
  it.each<[string, Behaviour]>([
    ['no answer within the timeout', { kind: 'hang' }],
    ['the connection broken after the request was written', { kind: 'drop-after-request' }],
    ['HTTP 502 from a gateway', { kind: 'answer', status: 502 }],
    ['HTTP 504 from a gateway', { kind: 'answer', status: 504 }],
    ['HTTP 504 carrying a SOAP Fault', { kind: 'answer', status: 504, body: fault }],
  ])('may have landed: %s', async (_what, b) => {
    const err = await failure(b);
    expect(err.kind).toBe('transient');
    expect(err.mayHaveLanded).toBe(true);
  });

  it.each<[string, Behaviour]>([
    ['HTTP 503', { kind: 'answer', status: 503 }],
    [
      'HTTP 500 with a SOAP Fault (the platform answered: not stored)',
      { kind: 'answer', status: 500, body: fault },
    ],
    ['HTTP 429 with Retry-After', { kind: 'answer', status: 429, headers: { 'retry-after': '1' } }],
    ['HTTP 403', { kind: 'answer', status: 403 }],
  ])('did not land: %s', async (_what, b) => {
    expect((await failure(b)).mayHaveLanded).toBe(false);
  });

  it('did not land: a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const err = await failure({ kind: 'hang' }, shipped, `http://127.0.0.1:${port}/inbox`);
    expect(err).toMatchObject({ code: 'ECONNREFUSED', mayHaveLanded: false });
  });

  it('does not read the flag from the outcome table: renamed codes change the code only', async () => {
    const json = tableJson();
    for (const rule of json.rules) if (rule.code === 'TIMEOUT') rule.code = 'CALL_TIMED_OUT';
    json.rules.unshift(
      { match: { httpStatus: [502, 504] }, outcome: 'transient', code: 'GATEWAY' },
      { match: { httpStatus: 503 }, outcome: 'transient', code: 'TIMEOUT' },
    );
    const renamed = parseOutcomeTable(json);
    expect(await failure({ kind: 'hang' }, renamed)).toMatchObject({
      code: 'CALL_TIMED_OUT',
      mayHaveLanded: true,
    });
    expect(await failure({ kind: 'answer', status: 502 }, renamed)).toMatchObject({
      code: 'GATEWAY',
      mayHaveLanded: true,
    });
    expect(await failure({ kind: 'answer', status: 503 }, renamed)).toMatchObject({
      code: 'TIMEOUT',
      mayHaveLanded: false,
    });
  });

  it('did not land: a TLS failure, even one that surfaces as a connection reset', () => {
    expect(mayHaveLanded({ transport: 'tls', transportCode: 'ECONNRESET' })).toBe(false);
    expect(mayHaveLanded({ transport: 'tls', transportCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })).toBe(false);
    expect(mayHaveLanded({ transport: 'connection', transportCode: 'ECONNRESET' })).toBe(true);
  });
});
