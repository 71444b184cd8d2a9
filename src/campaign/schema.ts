import { z } from 'zod';
import { parseMessageBody } from './message-body.js';

/** HSA-id of a unit: SE, the organisation number, a dash and a local part (e.g. SE2321000032-1003). */
export const hsaIdSchema = z
  .string()
  .regex(/^SE\d{10}-[A-Za-z0-9]{1,40}$/, 'must be an HSA-id such as SE2321000032-1003');

/** Campaign ids become part of Redis keys and job ids: a slug, never a colon. */
export const campaignIdSchema = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'must be a slug: a-z, 0-9 and -, at most 64 characters');

/** Problems of a message body named one by one; the rest are counted. */
const MAX_BODY_ISSUES = 10;

const text = (max: number) =>
  z.string().trim().min(1, 'must not be empty').max(max, `at most ${max} characters`);

const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM');

export const sendingWindowSchema = z
  .strictObject({
    days: z.array(z.enum(weekdays)).min(1).default(['mon', 'tue', 'wed', 'thu', 'fri']),
    from: clock,
    to: clock,
    timeZone: z.string().default('Europe/Stockholm'),
  })
  .refine((w) => w.from < w.to, { message: 'from must be before to', path: ['to'] })
  .refine(
    (w) => {
      try {
        new Intl.DateTimeFormat('sv-SE', { timeZone: w.timeZone });
        return true;
      } catch {
        return false;
      }
    },
    { message: 'is not a known time zone', path: ['timeZone'] },
  );

/** Every object is strict: a mistyped field (`notfiy`) is an error naming it, never silently dropped. */
export const approvalSchema = z.strictObject({
  approvedBy: text(200),
  approvedAt: z.iso.datetime({ offset: true }),
  contentSha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256'),
  /** The platform's reference for a prior approval of a region-wide mailing. */
  platformApprovalRef: text(200).optional(),
});

export const campaignSchema = z
  .object({
    id: campaignIdSchema,
    title: text(200),
    targetGroup: text(2000),
    orderer: z
      .strictObject({ name: text(200), email: z.email().optional(), phone: text(40).optional() })
      .refine((o) => o.email !== undefined || o.phone !== undefined, {
        message: 'needs an e-mail or a phone number',
        path: ['email'],
      }),
    sender: z.strictObject({ name: text(200), title: text(200), organisation: text(200) }),
    /** The sending unit, shown to the resident as the sender (nothing is looked up in HSA). */
    unit: z.strictObject({
      hsaId: hsaIdSchema,
      name: text(200),
      /** Shown with the sender, and in the signature. */
      telephone: z
        .string()
        .trim()
        .regex(/^\+?[0-9][0-9 ()-]{4,30}$/, 'must be a telephone number such as 018-611 00 00')
        .optional(),
      address: z
        .strictObject({
          street: text(200),
          postalCode: z
            .string()
            .trim()
            .regex(/^[0-9]{3} ?[0-9]{2}$/, 'must be a Swedish postal code such as 751 85'),
          city: text(100),
        })
        .optional(),
    }),
    caseHandler: z.strictObject({ name: text(200) }),
    message: z
      .strictObject({
        subject: text(200),
        /** The text in the authoring format of src/campaign/message-body.ts (README: "Writing the message"). */
        body: text(20_000),
        /** The title in the resident's inbox list (caseType/caseTypeDescription); the platform shows "Meddelande" without it. */
        inboxTitle: text(200).optional(),
        /** Older campaign files: `description` is the inbox title; `id` is set by the platform and not sent. */
        caseType: z.strictObject({ id: text(64), description: text(200).optional() }).optional(),
        notify: z.boolean().default(true),
      })
      // The platform shows only a DocBook subset; anything the authoring format
      // cannot express that way is refused here, naming the body's line.
      .superRefine((m, ctx) => {
        const { problems } = parseMessageBody(m.body);
        for (const p of problems.slice(0, MAX_BODY_ISSUES)) {
          ctx.addIssue({ code: 'custom', path: ['body'], message: `line ${p.line}: ${p.message}` });
        }
        if (problems.length > MAX_BODY_ISSUES) {
          const more = problems.length - MAX_BODY_ISSUES;
          ctx.addIssue({ code: 'custom', path: ['body'], message: `and ${more} more problems` });
        }
      }),
    /** A region-wide mailing has the region as sender and needs the platform's prior approval. */
    regionWide: z.boolean().default(false),
    approval: approvalSchema.optional(),
    unreachable: z.enum(['letter', 'none']),
    allowCoordinationNumbers: z.boolean().default(true),
    /** Nothing is sent before this moment. */
    notBefore: z.iso.datetime({ offset: true }).optional(),
    sendingWindow: sendingWindowSchema.optional(),
    /** An extra limit for this campaign, below the global rate. */
    ratePerSecond: z.number().positive().max(100_000).optional(),
  })
  .strict();

export type Campaign = z.infer<typeof campaignSchema>;
export type CampaignInput = z.input<typeof campaignSchema>;
export type SendingWindow = z.infer<typeof sendingWindowSchema>;
