import { createHash, randomBytes } from 'node:crypto';
import type { Keys } from './keys.js';

/** The commands the case handler's enqueue and report need (as the shared enqueue user in config/redis-users.acl). */
const caseHandlerCommands =
  '-@all +@string +@hash +@list +@set +@sortedset +@stream -sort -sort_ro +del +unlink +exists +type +ttl +pttl ' +
  '+expire +pexpire +expireat +pexpireat +persist +eval +evalsha +eval_ro +evalsha_ro +multi +exec +discard ' +
  '+watch +unwatch +ping +echo +hello +auth +quit +reset +time +info +client|setname +client|getname +client|id';

/**
 * A Redis ACL user for one campaign's case handler: it reads and writes only
 * that campaign's keys and adds jobs to the deliver queue; it reads the active
 * units; it cannot read another campaign's chunks, ledger or problems. (The
 * deliver queue's own keys are shared by every campaign: a BullMQ limit.)
 * Returns the `ACL SETUSER` arguments with the SHA-256 of a fresh password.
 */
export function caseHandlerAcl(
  keys: Keys,
  campaignId: string,
): { user: string; password: string; rule: string[] } {
  const password = randomBytes(24).toString('base64url');
  const hash = createHash('sha256').update(password).digest('hex');
  const user = `utskick-case-${campaignId}`;
  const rule = [
    'reset',
    'on',
    `#${hash}`,
    `~${keys.campaign(campaignId)}`,
    `~${keys.campaign(campaignId)}:*`,
    `~${keys.campaigns()}`,
    `~${keys.prefix}:deliver:*`,
    `%R~${keys.units()}`,
    `%R~${keys.prefix}:dead-letter:*`,
    'resetchannels',
    ...caseHandlerCommands.split(' '),
  ];
  return { user, password, rule };
}
