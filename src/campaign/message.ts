import { parseMessageBody } from './message-body.js';
import type { MessagePreviewInput } from './message-preview.js';
import type { Campaign } from './schema.js';

/**
 * What the resident sees, taken from a campaign: the heading, the text, the
 * inbox-list title and the signature. The approval hash covers exactly this,
 * so a changed sender title or unit telephone needs a new approval just as a
 * changed body does.
 */
export interface ResidentMessage {
  /** The heading of the message's detail view (headerText). */
  subject: string;
  /** The text in the authoring format (src/campaign/message-body.ts). */
  body: string;
  /** The title in the inbox list (caseType/caseTypeDescription); absent: the platform's "Meddelande". */
  inboxTitle?: string;
  /** The signature line (DocBook bibliography), built from the sender and the unit. */
  signature: string;
}

/** The parts of a campaign the resident's message is built from. */
export interface MessageSource {
  message: Pick<Campaign['message'], 'subject' | 'body' | 'inboxTitle' | 'caseType'>;
  sender: Campaign['sender'];
  unit: Campaign['unit'];
}

/**
 * `Anna Andersson, distriktssköterska, Region Uppsala – Vårdcentralen Centrum, telefon 018-611 00 00`:
 * who answers for the message, and where to turn with questions (as the
 * platform's guidelines ask every message to say).
 */
export function signatureOf(sender: MessageSource['sender'], unit: MessageSource['unit']): string {
  const who = [sender.name, sender.title];
  if (sender.organisation !== unit.name) who.push(sender.organisation);
  const where = unit.telephone ? `${unit.name}, telefon ${unit.telephone}` : unit.name;
  return `${who.join(', ')} – ${where}`;
}

export function residentMessage(source: MessageSource): ResidentMessage {
  const m = source.message;
  const inboxTitle = m.inboxTitle ?? m.caseType?.description;
  return {
    subject: m.subject,
    body: m.body,
    ...(inboxTitle !== undefined ? { inboxTitle } : {}),
    signature: signatureOf(source.sender, source.unit),
  };
}

/** The resident's message as the preview renderers take it (parsed body, heading, title, signature). */
export function previewOf(m: ResidentMessage): MessagePreviewInput {
  return {
    subject: m.subject,
    doc: parseMessageBody(m.body).doc,
    signature: m.signature,
    ...(m.inboxTitle !== undefined ? { inboxTitle: m.inboxTitle } : {}),
  };
}
