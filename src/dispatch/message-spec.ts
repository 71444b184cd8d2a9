import { residentMessage } from '../campaign/message.js';
import type { Campaign } from '../campaign/schema.js';
import type { MessageSpec } from '../delivery/types.js';

/** What the delivery client sends for a campaign: the resident's message, notify, and the unit as sender. */
export function messageSpecOf(definition: Pick<Campaign, 'id' | 'message' | 'sender' | 'unit'>): MessageSpec {
  const { hsaId, name, telephone, address } = definition.unit;
  return {
    campaignId: definition.id,
    message: residentMessage(definition),
    notify: definition.message.notify,
    unit: { hsaId, name, ...(telephone ? { telephone } : {}), ...(address ? { address } : {}) },
  };
}
