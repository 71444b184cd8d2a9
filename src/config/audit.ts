import { z } from 'zod';
import { type Env, intFromEnv, parseEnv } from './env.js';

export const auditEnvSchema = z.object({
  /** Days the audit log keeps an entry; only `npm run audit -- --trim` applies it. Default 3650 (ten years). */
  AUDIT_RETENTION_DAYS: intFromEnv(1, 36_500).default(3650),
  /** A file the CLIs append each audit entry to as one pino JSON line (e.g. /dev/stderr in a container). Default none. */
  AUDIT_LOG_FILE: z.string().optional(),
});

export interface AuditConfig {
  retentionDays: number;
  logFile?: string;
}

/** AUDIT_RETENTION_DAYS and AUDIT_LOG_FILE, checked; a bad value is a ConfigError naming it. */
export function loadAuditConfig(env: Env): AuditConfig {
  const c = parseEnv(auditEnvSchema, env);
  return Object.freeze({
    retentionDays: c.AUDIT_RETENTION_DAYS,
    ...(c.AUDIT_LOG_FILE ? { logFile: c.AUDIT_LOG_FILE } : {}),
  });
}
