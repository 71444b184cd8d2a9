import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { campaignIdSchema } from '../campaign/schema.js';
import { type Keys, queueNames } from './keys.js';

/** The commands the case handler's enqueue and report need (as the shared enqueue user in config/redis-users.acl). */
const caseHandlerCommands =
  '-@all +@string +@hash +@list +@set +@sortedset +@stream -sort -sort_ro +del +unlink +exists +type +ttl +pttl ' +
  '+expire +pexpire +expireat +pexpireat +persist +eval +evalsha +eval_ro +evalsha_ro +multi +exec +discard ' +
  '+watch +unwatch +wait +ping +echo +hello +auth +quit +reset +time +info +client|setname +client|getname +client|id';

/**
 * The ACL selector on the audit log (one argument, as ACL SETUSER takes it):
 * append only, or append and read. No DEL, UNLINK, XTRIM, XDEL or RENAME.
 */
export function auditSelector(keys: Keys, use: 'append' | 'append-read'): string {
  const read = use === 'append-read' ? ' +xrange +xrevrange +xlen' : '';
  return `(~${keys.auditLog()} resetchannels -@all +xadd${read})`;
}

/**
 * A Redis ACL user for one campaign's case handler: it reads and writes only
 * that campaign's keys and adds jobs to the deliver queue; it reads the active
 * units; it appends to the audit log and reads it (its report shows the
 * campaign's entries); it cannot read another campaign's chunks, ledger or problems. (The
 * deliver queue's own keys are shared by every campaign: a BullMQ limit.)
 * Returns the `ACL SETUSER` arguments with the SHA-256 of a fresh password.
 * @throws TypeError when `campaignId` is not a campaign id (a glob or a space would widen the rule)
 */
export function caseHandlerAcl(
  keys: Keys,
  campaignId: string,
): { user: string; password: string; rule: string[] } {
  if (!campaignIdSchema.safeParse(campaignId).success)
    throw new TypeError('caseHandlerAcl: not a campaign id (a slug: a-z, 0-9 and -)');
  const password = randomBytes(24).toString('base64url');
  const hash = createHash('sha256').update(password).digest('hex');
  const user = `utskick-case-${campaignId}`;
  const rule = [
    'reset',
    'on',
    `#${hash}`,
    `~${keys.campaign(campaignId)}`,
    `~${keys.campaignDataPattern(campaignId)}`,
    `~${keys.campaigns()}`,
    `~${keys.queuePattern(queueNames.deliver)}`,
    `%R~${keys.units()}`,
    `%R~${keys.queuePattern(queueNames.deadLetter)}`,
    // BullMQ's read scripts (getRanges: status, report) name only this base key, and
    // Redis asks write access for every key given to EVAL; no data key has this name.
    `~${keys.queueBase(queueNames.deadLetter)}`,
    'resetchannels',
    ...caseHandlerCommands.split(' '),
    auditSelector(keys, 'append-read'),
  ];
  return { user, password, rule };
}

/**
 * A key of each kind that no data ever has ('_' is in no campaign id, job id
 * or BullMQ key), for probes that need write permission and change nothing.
 */
const probeKey = (keys: Keys, kind: 'campaign' | 'deliver' | 'dead-letter' | 'rate') => {
  const never = '_probe';
  if (kind === 'campaign') return keys.campaign(never);
  if (kind === 'rate') return keys.rate(never);
  return keys.job(kind === 'deliver' ? queueNames.deliver : queueNames.deadLetter, never);
};

/**
 * Checks that the connection's user may do what purge and the dead-letter
 * commands need (SCAN, and writes to the dead-letter queue) BEFORE their first
 * change, so another role is refused with NOPERM having changed nothing
 * (without the check the case handler's purge would remove jobs, then stop).
 * Both probes change nothing: a SCAN of one step, an UNLINK of a key never used.
 */
export async function assertOperationsUser(redis: Redis, keys: Keys): Promise<void> {
  await redis.scan('0', 'MATCH', keys.campaignPattern(), 'COUNT', 1);
  await redis.unlink(probeKey(keys, 'dead-letter'));
}

/**
 * Checks at a worker's start that its user may write every kind of key a
 * worker writes (campaign data, both queues, the rate limiter), so a worker
 * given another role's user is refused with NOPERM before it takes a job
 * instead of failing every job. Changes nothing.
 */
export async function assertWorkerUser(redis: Redis, keys: Keys): Promise<void> {
  for (const kind of ['campaign', 'deliver', 'dead-letter', 'rate'] as const)
    await redis.unlink(probeKey(keys, kind));
}
