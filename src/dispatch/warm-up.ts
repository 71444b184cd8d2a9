import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { resolveContract } from '../delivery/contract.js';
import { createInboxClient, type InboxClientOptions } from '../delivery/inbox-client.js';

/**
 * Runs the call path (envelope, HTTP client, response parser, outcome table)
 * a few hundred times against a loopback server in this process, before the
 * worker takes its first job. Nothing leaves the machine.
 *
 * Why: a fresh worker's first second of calls runs as cold code, late for
 * its rate slots, which it then gives up (never bunches). Measured with three
 * fresh workers at 1,000/s: 523 calls in the first full second and about
 * 1,000 rate slots given up; with workers that had already sent, 1,008.
 */
export async function warmUpCallPath(
  inbox: InboxClientOptions,
  options: { calls?: number; concurrency?: number } = {},
): Promise<{ calls: number; ms: number }> {
  const calls = options.calls ?? 400;
  const concurrency = options.concurrency ?? Math.min(16, inbox.connections ?? 16);
  const started = performance.now();
  const contract = resolveContract(inbox.contract ?? 'mvk-inbox-2');
  const ns = contract.namespaces;
  const response = contract.elements.response;
  const ok =
    `<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="${ns.envelope}"><S:Body>` +
    `<r:${response} xmlns:r="${ns.responder}"><r:resultCode>OK</r:resultCode></r:${response}>` +
    '</S:Body></S:Envelope>';
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' });
      res.end(ok);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const { tls: _tls, ...plain } = inbox;
  const client = createInboxClient({ ...plain, url: `http://127.0.0.1:${port}/warm-up`, timeoutMs: 2000 });
  try {
    const sender = client.forCampaign({
      campaignId: 'warm-up',
      message: { subject: 'warm-up', body: 'warm-up', signature: 'warm-up' },
      notify: false,
      unit: { hsaId: 'SE0000000000-WARMUP', name: 'warm-up' },
    });
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < calls) {
          const i = next++;
          // Skatteverket's published test number: never a real resident.
          await sender.send({ subjectOfCareId: '191212121212', messageId: `warm-up.0.${i}` });
        }
      }),
    );
  } finally {
    await client.close();
    server.closeAllConnections();
    server.close();
  }
  return { calls, ms: performance.now() - started };
}
