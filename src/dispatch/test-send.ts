import type { Redis } from 'ioredis';
import type { Campaign } from '../campaign/schema.js';
import type { InboxClientOptions } from '../delivery/inbox-client.js';
import { createInboxClient } from '../delivery/inbox-client.js';
import { createEnvelopeTemplate } from '../delivery/soap.js';
import { DeliveryError } from '../delivery/types.js';
import { createCampaignStore } from '../queue/campaign-store.js';
import { iterateChunks } from '../queue/chunks.js';
import type { Keyring } from '../queue/keyring.js';
import type { Keys } from '../queue/keys.js';
import { maskPersonnummer } from '../recipients/personnummer.js';
import { messageSpecOf } from './message-spec.js';

export class TestSendError extends Error {
  readonly code = 'TEST_SEND';
}

export interface TestSendResult {
  campaignId: string;
  /** The envelope as sent, with the personnummer masked. */
  envelope: string;
  results: { recipient: string; outcome: string; detail: string; httpStatus?: number }[];
}

/**
 * Sends the campaign's message to the team's own test recipients before the
 * real send, straight through the inbox client: no queue, no ledger, so no
 * real recipient is touched. A test recipient that is also one of the
 * campaign's recipients is refused.
 */
export async function testSend(
  deps: { redis: Redis; keys: Keys; keyring: Keyring; inbox: InboxClientOptions },
  campaign: Campaign,
  testRecipients: string[],
): Promise<TestSendResult> {
  if (testRecipients.length === 0)
    throw new TestSendError('the test-recipient file holds no valid personnummer');
  if (testRecipients.length > 20) throw new TestSendError('a test send goes to at most 20 test recipients');
  const store = createCampaignStore(deps.redis, deps.keys);
  const chunks = [...(await store.chunks(campaign.id)).keys()];
  const wanted = new Set(testRecipients);
  for await (const chunk of iterateChunks(deps.redis, deps.keys, deps.keyring, campaign.id, chunks)) {
    for (const n of chunk.numbers) {
      if (wanted.has(n)) {
        throw new TestSendError(
          `${maskPersonnummer(n)} is one of the campaign's real recipients; a test send goes to test recipients only`,
        );
      }
    }
  }
  const real = messageSpecOf(campaign);
  const spec = { ...real, message: { ...real.message, subject: `[TEST] ${real.message.subject}` } };
  const envelope = createEnvelopeTemplate(spec, {
    contract: deps.inbox.contract ?? 'mvk-inbox-2',
    ...(deps.inbox.logicalAddress ? { logicalAddress: deps.inbox.logicalAddress } : {}),
    ...(deps.inbox.sourceSystem ? { sourceSystem: deps.inbox.sourceSystem } : {}),
  })({ subjectOfCareId: '191212121212', messageId: `${campaign.id}.test.0` }).replace(
    '191212121212',
    '19121212****',
  );
  const client = createInboxClient(deps.inbox);
  const sender = client.forCampaign(spec);
  const results: TestSendResult['results'] = [];
  try {
    let i = 0;
    for (const pnr of testRecipients) {
      const recipient = maskPersonnummer(pnr);
      try {
        const r = await sender.send({
          subjectOfCareId: pnr,
          messageId: `${campaign.id}.test.${Date.now()}.${i++}`,
        });
        results.push({ recipient, outcome: r.outcome, detail: r.detail, httpStatus: r.httpStatus });
      } catch (err) {
        if (!(err instanceof DeliveryError)) throw err;
        results.push({
          recipient,
          outcome: `error (${err.kind})`,
          detail: `${err.code}: ${err.message}`,
          ...(err.httpStatus ? { httpStatus: err.httpStatus } : {}),
        });
      }
    }
  } finally {
    await client.close();
  }
  return { campaignId: campaign.id, envelope, results };
}
