/**
 * Every Redis key and queue name the service uses, in one place, BullMQ's
 * included (its layout: `<prefix>:<queue>:<job id>` and more under
 * `<prefix>:<queue>:`). Ids never hold a colon (BullMQ uses it as a
 * separator), which the campaign id schema ensures. Patterns (for SCAN and ACL
 * rules) are built here too.
 */
export const queueNames = {
  deliver: 'deliver',
  deadLetter: 'dead-letter',
} as const;
export type QueueName = (typeof queueNames)[keyof typeof queueNames];

/** The rate limiter's scopes, for `keys.rate(scope)` (see rate-limiter.ts). */
export const rateScopes = {
  /** Present while Redis holds the limiter's data; gone after a restart that lost it. */
  marker: 'epoch',
  global: 'global',
  globalIslands: 'global-islands',
  campaign: (campaignId: string) => `campaign:${campaignId}`,
} as const;

export interface Keys {
  readonly prefix: string;
  campaigns(): string;
  campaign(id: string): string;
  files(id: string): string;
  chunks(id: string): string;
  chunk(id: string, chunkId: string): string;
  ledger(id: string, chunkId: string): string;
  outcomes(id: string): string;
  /** The platform's reason texts of a campaign's unreachable and rejected recipients (ledger reason ids). */
  reasons(id: string): string;
  problems(id: string): string;
  enqueueLock(id: string): string;
  events(id: string): string;
  rate(scope: string): string;
  units(): string;
  /** Held by the one worker that runs the hourly retention sweep. */
  retentionLock(): string;
  /**
   * The audit log stream: `<prefix>-audit:log`, deliberately OUTSIDE `<prefix>:*`,
   * so the ACL users' root permissions (which match `utskick:*`) never cover it
   * and a selector can grant writers XADD on it and nothing else (config/redis-users.acl).
   * Purge never touches it.
   */
  auditLog(): string;
  /** BullMQ's hash of a job (prefix:queue:jobId). */
  job(queue: string, jobId: string): string;
  /** BullMQ's lock key for a job (prefix:queue:jobId:lock). */
  jobLock(queue: string, jobId: string): string;
  /** BullMQ's base key of a queue (prefix:queue:), which its read scripts name. */
  queueBase(queue: string): string;
  /** Pattern: every key of a queue. */
  queuePattern(queue: string): string;
  /** Pattern: every campaign record and campaign data key. */
  campaignPattern(): string;
  /** Pattern: every data key of one campaign (not its record). */
  campaignDataPattern(id: string): string;
  /** Pattern: a campaign's sealed chunks. */
  chunkPattern(id: string): string;
  /** Pattern: a campaign's ledger strings. */
  ledgerPattern(id: string): string;
}

export function createKeys(prefix = 'utskick'): Keys {
  if (prefix.includes(':') || prefix.length === 0)
    throw new Error('the key prefix must be non-empty and hold no colon');
  const c = (id: string) => `${prefix}:campaign:${id}`;
  return {
    prefix,
    campaigns: () => `${prefix}:campaigns`,
    campaign: c,
    files: (id) => `${c(id)}:files`,
    chunks: (id) => `${c(id)}:chunks`,
    chunk: (id, chunkId) => `${c(id)}:chunk:${chunkId}`,
    ledger: (id, chunkId) => `${c(id)}:ledger:${chunkId}`,
    outcomes: (id) => `${c(id)}:outcomes`,
    reasons: (id) => `${c(id)}:reasons`,
    problems: (id) => `${c(id)}:problems`,
    enqueueLock: (id) => `${c(id)}:enqueue-lock`,
    events: (id) => `${c(id)}:events`,
    rate: (scope) => `${prefix}:rate:${scope}`,
    units: () => `${prefix}:units`,
    retentionLock: () => `${prefix}:retention-lock`,
    auditLog: () => `${prefix}-audit:log`,
    job: (queue, jobId) => `${prefix}:${queue}:${jobId}`,
    jobLock: (queue, jobId) => `${prefix}:${queue}:${jobId}:lock`,
    queueBase: (queue) => `${prefix}:${queue}:`,
    queuePattern: (queue) => `${prefix}:${queue}:*`,
    campaignPattern: () => `${prefix}:campaign:*`,
    campaignDataPattern: (id) => `${c(id)}:*`,
    chunkPattern: (id) => `${c(id)}:chunk:*`,
    ledgerPattern: (id) => `${c(id)}:ledger:*`,
  };
}

/** The BullMQ job id of a chunk's delivery job (redrives add a round suffix). */
export function deliverJobId(campaignId: string, chunkId: string, round = 0): string {
  return round === 0 ? `${campaignId}.${chunkId}` : `${campaignId}.${chunkId}.r${round}`;
}

/** Whether a delivery job id (any round) is one of a campaign's. */
export function isCampaignJob(jobId: string, campaignId: string): boolean {
  return jobId.startsWith(`${campaignId}.`);
}
