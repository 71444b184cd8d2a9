/**
 * Every Redis key and queue name the service uses, in one place. Ids never hold
 * a colon (BullMQ uses it as a separator), which the campaign id schema ensures.
 */
export const queueNames = {
  deliver: 'deliver',
  deadLetter: 'dead-letter',
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
  /**
   * The audit log stream: `<prefix>-audit:log`, deliberately OUTSIDE `<prefix>:*`,
   * so the ACL users' root permissions (which match `utskick:*`) never cover it
   * and a selector can grant writers XADD on it and nothing else (config/redis-users.acl).
   * Purge never touches it.
   */
  auditLog(): string;
  /** BullMQ's lock key for a job (its layout: prefix:queue:jobId:lock). */
  jobLock(queue: string, jobId: string): string;
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
    auditLog: () => `${prefix}-audit:log`,
    jobLock: (queue, jobId) => `${prefix}:${queue}:${jobId}:lock`,
  };
}

/** The BullMQ job id of a chunk's delivery job (redrives add a round suffix). */
export function deliverJobId(campaignId: string, chunkId: string, round = 0): string {
  return round === 0 ? `${campaignId}.${chunkId}` : `${campaignId}.${chunkId}.r${round}`;
}
