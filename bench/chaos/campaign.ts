import { randomBytes } from 'node:crypto';
import { contentSha256 } from '../../src/campaign/approval.js';
import { type Campaign, campaignSchema } from '../../src/campaign/schema.js';
import { syntheticPnr } from '../../src/recipients/synthetic.js';

/** The campaign each chaos scenario sends: an approved message to synthetic recipients. */

/** Lines of synthetic recipients, 250 to a file as the routine delivers them, with two bad lines and a duplicate. */
export function recipientFiles(recipients: number, offset: number): string[][] {
  const numbers = Array.from({ length: recipients }, (_, i) => syntheticPnr(offset + i));
  const files: string[][] = [];
  for (let i = 0; i < numbers.length; i += 250) files.push(numbers.slice(i, i + 250));
  files[0]!.push('19121212-1213', 'inte ett nummer');
  files[files.length - 1]!.push(numbers[0]!);
  return files;
}

export function chaosCampaign(name: string): Campaign {
  const message = {
    subject: 'Kallelse till hälsokontroll',
    body: 'Hej! Du kallas till en hälsokontroll. Boka tid via 1177.se. Meddelandet går inte att svara på.',
    notify: true,
  };
  return campaignSchema.parse({
    id: `chaos-${name}-${randomBytes(3).toString('hex')}`,
    title: `Chaos: ${name}`,
    targetGroup: 'Syntetiska testpersoner (chaos)',
    orderer: { name: 'Beställare Chaos', email: 'bestallare@example.org' },
    sender: { name: 'Avsändare Chaos', title: 'Verksamhetschef', organisation: 'Region Test' },
    unit: { hsaId: 'SE2321000032-1003', name: 'Vårdcentralen Chaos' },
    caseHandler: { name: 'Handläggare Chaos' },
    message,
    unreachable: 'letter',
    approval: {
      approvedBy: 'Kommunikatör Chaos',
      approvedAt: new Date().toISOString(),
      contentSha256: contentSha256({
        message,
        sender: { name: 'Avsändare Chaos', title: 'Verksamhetschef', organisation: 'Region Test' },
        unit: { hsaId: 'SE2321000032-1003', name: 'Vårdcentralen Chaos' },
      }),
    },
  });
}
