/**
 * Delivery client throughput: `npm run bench:delivery -- [--duration-ms N] [--concurrency N] [--connections N] [--rounds N]`
 *
 * Runs the simulator as a child process (answering at once, validating every
 * request) and measures, in the same run:
 *   1. envelope renders/s and response parses/s in this process (the client's own CPU per call),
 *   2. raw undici Pool calls/s with the same bodies (baseline),
 *   3. the inbox client's calls/s at the same concurrency,
 * and prints the client/raw ratio. Not part of npm test.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { defaultOutcomeTablePath } from '../src/config/delivery.js';
import { contracts } from '../src/delivery/contract.js';
import { createInboxClient } from '../src/delivery/inbox-client.js';
import { loadOutcomeTable } from '../src/delivery/outcome-table.js';
import { parseInboxResponse } from '../src/delivery/response.js';
import { createEnvelopeTemplate } from '../src/delivery/soap.js';
import type { MessageSpec } from '../src/delivery/types.js';
import { luhnDigit } from '../src/recipients/personnummer.js';
import { createRequestValidator, validateAddMessage } from '../src/simulator/validate-request.js';
import { createRawInbox, closedLoop as runClosedLoop } from './lib/http.js';

const { values } = parseArgs({
  options: {
    'duration-ms': { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '16' },
  },
});
const durationMs = Math.min(60_000, Number(values['duration-ms']));
const concurrency = Number(values.concurrency);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
if (![durationMs, concurrency, connections, rounds].every((n) => Number.isInteger(n) && n > 0)) {
  process.stderr.write(
    'bench-delivery: --duration-ms, --concurrency, --connections and --rounds take positive integers\n',
  );
  process.exit(2);
}

/** Synthetic numbers (valid check digit), never real ones. */
function pnr(i: number): string {
  const nine = `${String(30 + (i % 70)).padStart(2, '0')}${String(1 + (Math.floor(i / 70) % 12)).padStart(2, '0')}${String(1 + (Math.floor(i / 840) % 28)).padStart(2, '0')}${String(Math.floor(i / 23520) % 1000).padStart(3, '0')}`;
  return `19${nine}${luhnDigit(nine)}`;
}

const spec: MessageSpec = {
  campaignId: 'bench',
  message: {
    subject: 'Inbjudan till vaccination mot influensa',
    body: 'Hej! Du erbjuds vaccination mot säsongsinfluensa. Boka tid via 1177 eller ring vårdcentralen. '.repeat(
      4,
    ),
    inboxTitle: 'Vaccination',
    signature: 'Anna Andersson, distriktssköterska – Vårdcentralen Norr',
  },
  notify: true,
  unit: { hsaId: 'SE2321000016-A1B2', name: 'Vårdcentralen Norr' },
};
const envelopeOptions = {
  contract: 'mvk-inbox-2',
  logicalAddress: 'SE2321000016-7P2M',
  sourceSystem: 'SE2321000016-UTSK',
} as const;

/** What the simulator answers for a delivered message. */
const OK_RESPONSE =
  '<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><ns2:AddMessageResponse xmlns:ns2="urn:mvk:crm:casemanagement:inbox:AddMessageResponder:2" xmlns:ns3="urn:mvk:crm:casemanagement:inbox:2"><ns2:resultCode>OK</ns2:resultCode></ns2:AddMessageResponse></S:Body></S:Envelope>';

function perSecond(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

async function timeLoop(fn: (i: number) => unknown, ms: number): Promise<number> {
  const start = performance.now();
  let i = 0;
  while (performance.now() - start < ms) {
    for (let k = 0; k < 1000; k++) fn(i++);
  }
  return perSecond(i, performance.now() - start);
}

async function closedLoop(call: (i: number) => Promise<unknown>): Promise<{ rate: number; errors: number }> {
  const { rate, errors } = await runClosedLoop(call, { concurrency, durationMs });
  return { rate, errors };
}

async function main(): Promise<void> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'simulator.ts')], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', (line) =>
        resolve(line.replace(/^INBOX_URL=/, '')),
      );
      child.once('exit', (code) => reject(new Error(`simulator exited ${code}`)));
    });
    const reset = async () => {
      const res = await request(new URL('/__reset', url), { method: 'POST' });
      await res.body.text();
    };

    const render = createEnvelopeTemplate(spec, envelopeOptions);
    await timeLoop(() => parseInboxResponse(OK_RESPONSE), 300);
    const rendersPerSec = await timeLoop(
      (i) => render({ subjectOfCareId: pnr(i), messageId: `bench:${i}` }),
      1000,
    );
    const parsesPerSec = await timeLoop(() => parseInboxResponse(OK_RESPONSE), 2000);
    const sample = render({ subjectOfCareId: pnr(1), messageId: 'bench:1' });
    const action = `"${contracts['mvk-inbox-2'].soapAction}"`;
    const validatesPerSec = await timeLoop(
      () => validateAddMessage(sample, action, contracts['mvk-inbox-2']),
      1000,
    );
    const validator = createRequestValidator(contracts['mvk-inbox-2']);
    const knownShapePerSec = await timeLoop(
      (i) => validator(render({ subjectOfCareId: pnr(i), messageId: `bench:${i}` }), action),
      1000,
    );

    const rawInbox = createRawInbox(url, {
      connections,
      contract: 'mvk-inbox-2',
      body: (i) => render({ subjectOfCareId: pnr(i), messageId: `raw:${i}` }),
    });
    const raw = (i: number) => rawInbox.call(i);
    const client = createInboxClient({
      url,
      logicalAddress: envelopeOptions.logicalAddress,
      sourceSystem: envelopeOptions.sourceSystem,
      outcomeTable: loadOutcomeTable(defaultOutcomeTablePath()),
      connections,
    });
    const sender = client.forCampaign(spec);
    const viaClient = (i: number) => sender.send({ subjectOfCareId: pnr(i), messageId: `client:${i}` });

    // Warm both paths (and the simulator's JIT), then alternate runs so that
    // neither side profits from going second; the best run of each counts.
    await Promise.all(Array.from({ length: 500 }, (_, i) => raw(1e6 + i)));
    await Promise.all(Array.from({ length: 500 }, (_, i) => viaClient(2e6 + i)));
    const rawRuns: { rate: number; errors: number }[] = [];
    const clientRuns: { rate: number; errors: number }[] = [];
    for (let round = 0; round < rounds; round++) {
      await reset();
      rawRuns.push(await closedLoop(raw));
      await reset();
      clientRuns.push(await closedLoop(viaClient));
    }
    const best = (runs: { rate: number; errors: number }[]) =>
      runs.reduce((a, b) => (b.rate > a.rate ? b : a), { rate: 0, errors: 0 });
    const rawResult = best(rawRuns);
    const clientResult = best(clientRuns);
    await client.close();
    await rawInbox.close();

    const lines = [
      `envelope renders/s (in process):   ${rendersPerSec}`,
      `response parses/s (in process):    ${parsesPerSec}`,
      `simulator full request checks/s:   ${validatesPerSec}  (envelope ${sample.length} bytes)`,
      `simulator known-shape checks/s:    ${knownShapePerSec}  (render + check)`,
      `raw undici calls/s (baseline):     ${rawResult.rate}  errors ${rawResult.errors}  runs ${rawRuns.map((r) => r.rate).join(', ')}`,
      `inbox client calls/s:              ${clientResult.rate}  errors ${clientResult.errors}  runs ${clientRuns.map((r) => r.rate).join(', ')}`,
      `client / raw:                      ${(clientResult.rate / rawResult.rate).toFixed(2)}`,
      `(concurrency ${concurrency}, ${connections} connections, ${durationMs} ms per run, simulator in a child process on the same ${'2-core'} machine)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    child.kill('SIGTERM');
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-delivery: ${(err as Error).message}\n`);
  process.exit(1);
});
