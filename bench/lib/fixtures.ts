/**
 * Synthetic inputs for `npm run bench`: an approved campaign, recipient files of
 * 250 synthetic personnummer (never real people's numbers), 7-Zip archives of
 * them, and an in-process enqueue through the real path for the cases that need
 * a queued campaign but do not time the enqueue.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packEncrypted } from '../../scripts/lib/make-archive.js';
import { contentSha256 } from '../../src/campaign/approval.js';
import { type Campaign, campaignSchema } from '../../src/campaign/schema.js';
import { createDeliverQueue } from '../../src/queue/deliver-queue.js';
import { type EnqueueResult, enqueueCampaign } from '../../src/queue/enqueue.js';
import { createKeyring, type Keyring } from '../../src/queue/keyring.js';
import { createKeys } from '../../src/queue/keys.js';
import { createRedis } from '../../src/queue/redis.js';
import { activateUnit } from '../../src/queue/units.js';
import { todayOf } from '../../src/recipients/personnummer.js';
import { MAX_PER_JOB } from '../../src/recipients/plan.js';
import { parseRecipientFile } from '../../src/recipients/read-file.js';
import { syntheticPnr } from '../../src/recipients/synthetic.js';

/** The key prefix every bench case writes under (on a private redis-server of its own). */
export const benchPrefix = 'utskick-bench';
export const benchUnit = { hsaId: 'SE2321000032-BENCH1', name: 'Vårdcentralen Bench' } as const;
export const benchLogicalAddress = 'SE2321000016-BENCH';
/** The sending system's HSA-id (sourceSystem: required when a campaign notifies). */
export const benchSourceSystem = 'SE2321000016-UTSK';

/** An approved campaign with a realistic message (about 600 characters of body). */
export function benchCampaign(id: string): Campaign {
  const message = {
    subject: 'Inbjudan till vaccination mot influensa',
    // Trimmed as the schema trims it, so the approval hash matches.
    body: 'Hej! Du erbjuds vaccination mot säsongsinfluensa. Boka tid via 1177.se eller ring din vårdcentral. '
      .repeat(6)
      .trim(),
    notify: true,
  };
  return campaignSchema.parse({
    id,
    title: 'Benchmark',
    targetGroup: 'Syntetiska testpersoner (benchmark)',
    orderer: { name: 'Bench Beställare', email: 'bench@example.org' },
    sender: { name: 'Bench Avsändare', title: 'Verksamhetschef', organisation: 'Region Bench' },
    unit: benchUnit,
    caseHandler: { name: 'Bench Handläggare' },
    message,
    unreachable: 'letter',
    approval: {
      approvedBy: 'Bench Kommunikatör',
      approvedAt: '2026-01-01T08:00:00+01:00',
      contentSha256: contentSha256({
        message,
        sender: { name: 'Bench Avsändare', title: 'Verksamhetschef', organisation: 'Region Bench' },
        unit: benchUnit,
      }),
    },
  });
}

/** A fresh data key for one bench run, base64; it reaches children through their environment only. */
export function freshDataKey(): string {
  return randomBytes(32).toString('base64');
}

export function keyringOf(dataKey: string): Keyring {
  return createKeyring(Buffer.from(dataKey, 'base64'));
}

/** File i's text: a header line, then 250 synthetic numbers (offset i × 250), LF. */
export function recipientFileText(index: number, perFile = MAX_PER_JOB, offset = 0): string {
  const lines = ['personnummer'];
  const first = offset + index * perFile;
  for (let j = 0; j < perFile; j++) lines.push(syntheticPnr(first + j));
  return `${lines.join('\n')}\n`;
}

export const fileName = (i: number) => `mottagare-${String(i).padStart(6, '0')}.txt`;

/** Writes `files` recipient files into `dir` (sorted names = numbering order). */
export async function writeRecipientFiles(dir: string, files: number, offset = 0): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < files; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, files - i) }, (_, k) =>
        writeFile(join(dir, fileName(i + k)), recipientFileText(i + k, MAX_PER_JOB, offset)),
      ),
    );
  }
}

/**
 * `archives` encrypted 7-Zip archives of `filesPerArchive` recipient files each
 * (numbering continues across archives), written into `dir`.
 */
export async function writeArchives(
  dir: string,
  archives: number,
  filesPerArchive: number,
  password: string,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const one = async (a: number) => {
    const files = Array.from({ length: filesPerArchive }, (_, k) => {
      const i = a * filesPerArchive + k;
      return { name: fileName(i), content: recipientFileText(i) };
    });
    await packEncrypted(join(dir, `leverans-${String(a).padStart(3, '0')}.7z`), files, password);
  };
  // Two at a time: 7z is single-threaded per archive and the machine may have two cores.
  for (let a = 0; a < archives; a += 2) {
    await Promise.all([one(a), ...(a + 1 < archives ? [one(a + 1)] : [])]);
  }
}

/**
 * Activates the bench unit and enqueues `recipients` synthetic numbers (from
 * `offset`) through the real path: parseRecipientFile, then enqueueCampaign.
 * Not timed by the callers; the ingest case times this path in a child process.
 */
export async function enqueueSynthetic(options: {
  redisUrl: string;
  dataKey: string;
  campaign: Campaign;
  recipients: number;
  offset?: number;
}): Promise<EnqueueResult> {
  const redis = createRedis(options.redisUrl, 'client');
  redis.on('error', () => {});
  const keys = createKeys(benchPrefix);
  const queue = createDeliverQueue(redis, keys);
  try {
    await activateUnit(redis, keys, { ...options.campaign.unit, activatedAt: new Date().toISOString() });
    const parseOptions = { today: todayOf(new Date()), allowCoordinationNumbers: true };
    const files = Math.ceil(options.recipients / MAX_PER_JOB);
    const parsed = Array.from({ length: files }, (_, i) => {
      const n = Math.min(MAX_PER_JOB, options.recipients - i * MAX_PER_JOB);
      const text = recipientFileText(i, MAX_PER_JOB, options.offset ?? 0)
        .split('\n')
        .slice(0, n + 1)
        .join('\n');
      return parseRecipientFile({ name: fileName(i), data: Buffer.from(text) }, parseOptions);
    });
    const result = await enqueueCampaign(
      {
        redis,
        keys,
        keyring: keyringOf(options.dataKey),
        queue,
        jobPolicy: { attempts: 5, backoffMs: 1000 },
      },
      { campaign: options.campaign, parsed, skipInvalid: false, dryRun: false },
    );
    if (result.status !== 'enqueued' || result.recipients.valid !== options.recipients) {
      throw new Error(
        `bench enqueue: expected ${options.recipients} valid recipients enqueued, got ${result.status} ${result.recipients.valid}`,
      );
    }
    return result;
  } finally {
    await queue.close();
    redis.disconnect();
  }
}
