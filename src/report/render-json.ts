import { maskDigitRuns, outcomeOrder } from './format-sv.js';
import type { ReportData } from './model.js';

/**
 * The report as pretty JSON. The first keys are the ones `campaign status --json`
 * prints (`campaignId`, `state`, `complete`, `recipients`, `outcomes`) so a script
 * reads both the same way; everything else in ReportData follows unchanged.
 * No personnummer: problem values are masked by the collector and checked again here.
 */
export function renderJson(data: ReportData): string {
  const { campaignId, state, stateReason, complete, recipients, outcomes, ...rest } = data;
  const ordered = {
    campaignId,
    state,
    ...(stateReason === undefined ? {} : { stateReason }),
    complete,
    recipients: {
      total: recipients.total,
      valid: recipients.valid,
      invalid: recipients.invalid,
      duplicates: recipients.duplicates,
    },
    outcomes: Object.fromEntries(outcomeOrder.map((key) => [key, outcomes[key]])),
    ...rest,
    problems: rest.problems.map((p) => ({ ...p, value: maskDigitRuns(p.value) })),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}
