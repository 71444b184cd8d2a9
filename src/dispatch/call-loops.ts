import type { Logger } from 'pino';
import type { DeliveryError } from '../delivery/types.js';
import type { Answered, FinalOutcome } from '../queue/ledger.js';
import { maskPersonnummer } from '../recipients/personnummer.js';
import { type CallRetryDeps, type CallRetryOptions, withCallRetries } from './call-retry.js';
import type { CampaignGate } from './campaign-gate.js';
import type { Counted, JobScope } from './job-ports.js';
import {
  type AttemptInput,
  type AttemptPorts,
  type AttemptResult,
  attemptRecipient,
  type Carry,
  type Stop,
} from './recipient-attempt.js';

/** What a job returns to BullMQ (kept as the completed job's value). */
export interface JobSummary {
  campaignId: string;
  chunkId: string;
  recipients: number;
  calls: number;
  outcomes: Partial<Record<FinalOutcome, number>>;
  deadLettered: number;
}

/** What one job's call loops share while it runs. */
export interface JobRun {
  readonly summary: JobSummary;
  /** Why the job takes no more recipients; the first reason wins. */
  stop: Stop | undefined;
  /** The last delivery error, `CODE: message`, for the retry log and the dead letter. */
  lastError: string;
  /** Recipients this run left without an outcome. */
  readonly unsettled: Set<number>;
}

export interface RecipientDriver {
  /** One recipient, with call retries; sets `run.stop` when the job must take no more. */
  deliver(slot: number, carry: Carry): Promise<void>;
  /** Records a call loop's last answer when the loop ends. */
  record(answered: Answered): Promise<void>;
}

/**
 * A small pool: at most `count` call loops, each taking the next open slot
 * until none is left or the job must stop. Resolves with how many slots were
 * taken; the rest were never started.
 */
export async function runCallLoops(
  open: readonly number[],
  count: number,
  run: JobRun,
  driver: RecipientDriver,
): Promise<number> {
  let next = 0;
  const callLoops = Array.from({ length: Math.min(count, open.length) }, async () => {
    const carry: Carry = {};
    try {
      while (next < open.length && !run.stop) {
        const slot = open[next++]!;
        await driver.deliver(slot, carry);
      }
    } finally {
      if (carry.answered) await driver.record(carry.answered);
    }
  });
  await Promise.all(callLoops);
  return next;
}

export interface DriverContext {
  scope: JobScope;
  /** The chunk's personnummer, by slot. */
  numbers: readonly string[];
  ports: AttemptPorts;
  gate: CampaignGate;
  retry: { options: CallRetryOptions; deps: CallRetryDeps };
  run: JobRun;
  counted: Counted;
  log: Logger;
}

export function createRecipientDriver(ctx: DriverContext): RecipientDriver {
  const { campaignId, chunkId } = ctx.scope;
  const attempt = async (input: AttemptInput): Promise<AttemptResult> => {
    const result = await attemptRecipient(ctx.ports, input);
    await react(ctx, input, result);
    return result;
  };
  return {
    async deliver(slot, carry) {
      const request = { subjectOfCareId: ctx.numbers[slot]!, messageId: `${campaignId}.${chunkId}.${slot}` };
      try {
        const end = await withCallRetries(
          () => attempt({ slot, request, carry }),
          ctx.retry.options,
          ctx.retry.deps,
        );
        if (end.kind === 'stop') ctx.run.stop ??= end.stop;
        if (end.kind !== 'done') ctx.run.unsettled.add(slot);
      } catch (err) {
        // Once the job is stopping, a failure of one of its recipients stops nothing more.
        if (!ctx.run.stop) throw err;
        ctx.run.unsettled.add(slot);
      }
    },
    async record(answered) {
      await ctx.ports.ledger.record(answered, Math.floor(ctx.ports.clock.now() / 1000));
    },
  };
}

const described = (error: DeliveryError) => `${error.code}: ${error.message}`;

/** What the job does with one attempt's result besides the retry policy: logs, counts, auto-pause. */
async function react(ctx: DriverContext, { slot, request }: AttemptInput, result: AttemptResult) {
  const recipient = () => maskPersonnummer(request.subjectOfCareId);
  switch (result.kind) {
    case 'settled': {
      const { outcome } = result.answered;
      if (outcome === 'uncertain') {
        ctx.log.error(
          { slot, recipient: recipient(), detail: result.result.detail },
          'the platform answered against the contract; the message may be stored, so the recipient is kept uncertain',
        );
      }
      await ctx.gate.observeAnswer(ctx.scope.campaignId, outcome === 'rejected');
      return;
    }
    case 'parked':
      if (result.cause === 'in-flight-at-crash') {
        ctx.counted('uncertain', true);
        ctx.log.warn(
          { slot, recipient: recipient() },
          'call may have landed before a crash; parked as uncertain',
        );
        return;
      }
      ctx.run.lastError = described(result.error);
      ctx.log.warn(
        { slot, recipient: recipient(), code: result.error.code },
        'call may have landed; parked as uncertain',
      );
      return;
    case 'released':
    case 'in-doubt':
      ctx.run.lastError = described(result.error);
      return;
    default:
      return;
  }
}
