import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import pino from 'pino';
import { contentSha256 } from '../../src/campaign/approval.js';
import { type Campaign, type CampaignInput, campaignSchema } from '../../src/campaign/schema.js';
import { loadWorkerConfig } from '../../src/config/worker.js';
import { DeliveryWorker } from '../../src/dispatch/runtime.js';
import { createDeliverQueue, type DeliverJobData } from '../../src/queue/deliver-queue.js';
import { enqueueCampaign } from '../../src/queue/enqueue.js';
import { createKeyring } from '../../src/queue/keyring.js';
import { createKeys } from '../../src/queue/keys.js';
import { activateUnit } from '../../src/queue/units.js';
import { todayOf } from '../../src/recipients/personnummer.js';
import { parseRecipientFile } from '../../src/recipients/read-file.js';
import { connect, redisUrl } from './redis.js';

export const testUnit = { hsaId: 'SE2321000032-1003', name: 'Vårdcentralen Test' };
/** The sending system's HSA-id in tests (sourceSystem: required when a campaign notifies). */
export const testSourceSystem = 'SE2321000016-UTSK';

/** An approved campaign (synthetic people only); overrides may change any field. */
export function makeCampaign(overrides: Partial<CampaignInput> = {}): Campaign {
  const message = overrides.message ?? {
    subject: 'Provsvar',
    body: 'Ditt provsvar finns i 1177.',
    notify: true,
  };
  const base: CampaignInput = {
    id: `test-${randomBytes(3).toString('hex')}`,
    title: 'Testutskick',
    targetGroup: 'Syntetiska testpersoner',
    orderer: { name: 'Beställare Test', email: 'bestallare@example.org' },
    sender: { name: 'Avsändare Test', title: 'Verksamhetschef', organisation: 'Region Test' },
    unit: testUnit,
    caseHandler: { name: 'Handläggare Test' },
    message,
    unreachable: 'letter',
    ...overrides,
  };
  // Approved for exactly what the resident sees (the overrides' sender and unit included).
  const input: CampaignInput = {
    approval: {
      approvedBy: 'Kommunikatör Test',
      approvedAt: '2026-11-01T08:00:00+01:00',
      contentSha256: contentSha256({ message: base.message, sender: base.sender, unit: base.unit }),
    },
    ...base,
  };
  return campaignSchema.parse(input);
}

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `utskick-${name}-`));
}

export function writeCampaignFile(dir: string, campaign: Campaign | Record<string, unknown>): string {
  const path = join(dir, 'campaign.json');
  writeFileSync(path, JSON.stringify(campaign, null, 2));
  return path;
}

export const testDataKey = randomBytes(32).toString('base64');
export const testKeyring = () => createKeyring(Buffer.from(testDataKey, 'base64'));

/** The environment a worker or CLI gets in tests: Redis, prefix, key and the simulator. */
export function testEnv(
  prefix: string,
  inboxUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    REDIS_URL: redisUrl(),
    UTSKICK_PREFIX: prefix,
    INBOX_SOURCE_SYSTEM: testSourceSystem,
    UTSKICK_DATA_KEY: testDataKey,
    INBOX_URL: inboxUrl,
    INBOX_ALLOW_INSECURE: 'true',
    INBOX_LOGICAL_ADDRESS: 'SE2321000016-TEST',
    INBOX_TIMEOUT_MS: '2000',
    RATE_PER_SECOND: '0',
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    LOCK_DURATION_MS: '2000',
    STALLED_INTERVAL_MS: '500',
    CALL_BACKOFF_MS: '10',
    CALL_BACKOFF_MAX_MS: '50',
    JOB_BACKOFF_MS: '100',
    PAUSED_RECHECK_MS: '500',
    SHUTDOWN_GRACE_MS: '5000',
    LOG_LEVEL: 'silent',
    // A few calls keep the warm-up's code under test; 400 (the default) would add ~0.5 s per worker.
    WARM_UP_CALLS: '50',
    ...extra,
  };
}

/** Activates the unit and enqueues the numbers as files of at most 250 through the real enqueue path. */
export async function enqueueNumbers(
  prefix: string,
  campaign: Campaign,
  files: string[][],
  options: { jobAttempts?: number; jobBackoffMs?: number } = {},
) {
  const redis = connect();
  const keys = createKeys(prefix);
  const queue: Queue<DeliverJobData> = createDeliverQueue(redis, keys);
  try {
    await activateUnit(redis, keys, { ...campaign.unit, activatedAt: new Date().toISOString() });
    const parseOptions = {
      today: todayOf(new Date()),
      allowCoordinationNumbers: campaign.allowCoordinationNumbers,
    };
    const parsed = files.map((numbers, i) =>
      parseRecipientFile({ name: `file-${i}.txt`, data: Buffer.from(numbers.join('\n')) }, parseOptions),
    );
    return await enqueueCampaign(
      {
        redis,
        keys,
        keyring: testKeyring(),
        queue,
        jobPolicy: { attempts: options.jobAttempts ?? 3, backoffMs: options.jobBackoffMs ?? 100 },
      },
      { campaign, parsed, skipInvalid: false, dryRun: false },
    );
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

/** A worker in this process (for tests that do not kill it). */
export async function startWorker(
  env: Record<string, string>,
  clock: { now?: () => number } = {},
): Promise<DeliveryWorker> {
  const worker = new DeliveryWorker(loadWorkerConfig(env), pino({ level: 'silent' }), clock);
  await worker.start();
  return worker;
}

export async function waitFor<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  let last: T = await probe();
  while (!done(last)) {
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${options.what ?? 'a condition'}; last value ${JSON.stringify(last)}`,
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
    last = await probe();
  }
  return last;
}
