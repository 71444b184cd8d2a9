import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { resultCodes } from './contract.js';

/**
 * How a call's result is classified, as a table in configuration
 * (config/outcomes.json). Rules are tried in order; the first whose every
 * given condition holds decides. Nothing matched: transient (see fallback).
 */

export const callClasses = [
  'delivered',
  'unreachable',
  'rejected',
  'uncertain',
  'transient',
  'rate-limited',
  'stop-campaign',
] as const;
export type CallClass = (typeof callClasses)[number];

export const transportFailures = ['timeout', 'connection', 'tls'] as const;
export type TransportFailure = (typeof transportFailures)[number];

/** What the client saw for one call: the input to the table. */
export interface Observation {
  /** Absent when no HTTP answer came (transport failure). */
  httpStatus?: number;
  /** A Retry-After header was present and readable. */
  retryAfter?: boolean;
  transport?: TransportFailure;
  /** The system / undici error code for a transport failure, e.g. ECONNREFUSED. */
  transportCode?: string;
  resultCode?: (typeof resultCodes)[number];
  resultText?: string;
  /** A SOAP Fault answered (the platform's technical error). */
  fault?: boolean;
  /** Fault string and FaultInfo message. */
  faultText?: string;
  /** The body was not a SOAP response per the contract (not well-formed, no or a misspelt resultCode, ...). */
  unparseable?: boolean;
}

export interface Classification {
  outcome: CallClass;
  /** Stable code for logs and metrics: the rule's code, else derived (HTTP_503, ECONNREFUSED, INFO ...). */
  code: string;
  /** The deciding rule's name, `rules[i]`, or `fallback`. */
  rule: string;
}

export interface OutcomeTable {
  readonly ruleCount: number;
  classify(observation: Observation): Classification;
}

/** The table is unusable; the message names the rule index and field. */
export class OutcomeTableError extends Error {
  readonly code = 'OUTCOME_TABLE';
}

const status = z.number().int().min(100).max(599);
const oneOrMany = <T extends z.ZodType>(schema: T) => z.union([schema, z.array(schema).min(1)]);
const pattern = z
  .string()
  .min(1)
  .refine(
    (s) => {
      try {
        new RegExp(s, 'i');
        return true;
      } catch {
        return false;
      }
    },
    { message: 'not a valid regular expression' },
  );

const matchSchema = z.strictObject({
  httpStatus: z
    .union([status, z.array(status).min(1), z.string().regex(/^[1-5]xx$/, 'a status class is written "5xx"')])
    .optional(),
  retryAfter: z.boolean().optional(),
  transport: oneOrMany(z.enum(transportFailures)).optional(),
  resultCode: oneOrMany(z.enum(resultCodes)).optional(),
  resultText: pattern.optional(),
  fault: z.boolean().optional(),
  faultText: pattern.optional(),
  unparseable: z.boolean().optional(),
});

const ruleSchema = z.strictObject({
  name: z.string().min(1).optional(),
  _doc: z.string().optional(),
  match: matchSchema,
  outcome: z.enum(callClasses),
  code: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only')
    .optional(),
});

export const outcomeTableSchema = z.object({
  _doc: z.union([z.string(), z.array(z.string())]).optional(),
  rules: z.array(ruleSchema).min(1),
});
export type OutcomeTableJson = z.infer<typeof outcomeTableSchema>;
type Rule = z.infer<typeof ruleSchema>;

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(table)';
}

type Test = (o: Observation) => boolean;

function compileRule(rule: Rule): Test {
  const tests: Test[] = [];
  const m = rule.match;
  const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
  if (m.httpStatus !== undefined) {
    const hs = m.httpStatus;
    if (typeof hs === 'string') {
      const cls = Number(hs[0]);
      tests.push((o) => o.httpStatus !== undefined && Math.floor(o.httpStatus / 100) === cls);
    } else {
      const set = new Set(list(hs));
      tests.push((o) => o.httpStatus !== undefined && set.has(o.httpStatus));
    }
  }
  if (m.retryAfter !== undefined) {
    const want = m.retryAfter;
    tests.push((o) => (o.retryAfter === true) === want);
  }
  if (m.transport !== undefined) {
    const set = new Set<string>(list(m.transport));
    tests.push((o) => o.transport !== undefined && set.has(o.transport));
  }
  if (m.resultCode !== undefined) {
    const set = new Set<string>(list(m.resultCode));
    tests.push((o) => o.resultCode !== undefined && set.has(o.resultCode));
  }
  if (m.fault !== undefined) {
    const want = m.fault;
    tests.push((o) => (o.fault === true) === want);
  }
  if (m.unparseable !== undefined) {
    const want = m.unparseable;
    tests.push((o) => (o.unparseable === true) === want);
  }
  if (m.resultText !== undefined) {
    const re = new RegExp(m.resultText, 'i');
    tests.push((o) => o.resultText !== undefined && re.test(o.resultText));
  }
  if (m.faultText !== undefined) {
    const re = new RegExp(m.faultText, 'i');
    tests.push((o) => o.faultText !== undefined && re.test(o.faultText));
  }
  return (o) => {
    for (const t of tests) if (!t(o)) return false;
    return true;
  };
}

function deriveCode(o: Observation): string {
  if (o.transport) return o.transportCode ?? o.transport.toUpperCase();
  if (o.httpStatus !== undefined && (o.httpStatus < 200 || o.httpStatus > 299)) return `HTTP_${o.httpStatus}`;
  if (o.unparseable) return 'CONTRACT_VIOLATION';
  if (o.fault) return 'SOAP_FAULT';
  return o.resultCode ?? 'UNCLASSIFIED';
}

/** Validates and compiles a table; throws OutcomeTableError naming the rule index and field. */
export function parseOutcomeTable(json: unknown): OutcomeTable {
  const parsed = outcomeTableSchema.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${fieldPath(i.path)}: ${i.message}`);
    throw new OutcomeTableError(`invalid outcome table: ${lines.join('; ')}`);
  }
  const rules = parsed.data.rules.map((rule, i) => ({
    test: compileRule(rule),
    outcome: rule.outcome,
    code: rule.code,
    name: rule.name ?? `rules[${i}]`,
  }));
  return {
    ruleCount: rules.length,
    classify(o) {
      for (const rule of rules) {
        if (rule.test(o)) return { outcome: rule.outcome, code: rule.code ?? deriveCode(o), rule: rule.name };
      }
      // Unmatched means the table did not foresee this answer. A 2xx answer
      // came from the platform, which may have stored the message: a resend
      // would be a second message in the inbox, so the recipient is kept
      // uncertain for a person to check. Anything else did not store it
      // (no answer is handled by the transport rules): retry, bounded by the
      // job's attempts and the dead letters.
      const landed = o.httpStatus !== undefined && o.httpStatus >= 200 && o.httpStatus < 300;
      return { outcome: landed ? 'uncertain' : 'transient', code: deriveCode(o), rule: 'fallback' };
    },
  };
}

/** Reads, validates and compiles a table file. */
export function loadOutcomeTable(path: string): OutcomeTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new OutcomeTableError(
      `outcome table ${path} cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
      { cause },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new OutcomeTableError(`outcome table ${path} is not JSON: ${(cause as Error).message}`, { cause });
  }
  try {
    return parseOutcomeTable(json);
  } catch (err) {
    if (err instanceof OutcomeTableError) throw new OutcomeTableError(`${path}: ${err.message}`);
    throw err;
  }
}
