import { describe, expect, it } from 'vitest';
import { timelineColumns, timeTicks } from '../../src/report/chart-svg.js';
import { createLocalTimeFormatter, formatDateTime } from '../../src/report/format-sv.js';
import type { OutcomeCounts, ReportData } from '../../src/report/model.js';
import { renderHtml } from '../../src/report/render-html.js';
import { renderJson } from '../../src/report/render-json.js';
import { renderMarkdown } from '../../src/report/render-markdown.js';
import { syntheticPnr } from '../helpers/personnummer.js';
import { fixtureStartSec, makeReportData, makeTimeline } from '../helpers/report-fixture.js';

const keys = ['delivered', 'unreachable', 'rejected', 'failed', 'uncertain', 'cancelled', 'pending'] as const;
const labels: Record<(typeof keys)[number], string> = {
  delivered: 'Levererade',
  unreachable: 'Ej möjliga mottagare',
  rejected: 'Avvisade',
  failed: 'Misslyckade',
  uncertain: 'Osäkra',
  cancelled: 'Avbrutna',
  pending: 'Ej klara',
};
const sum = (o: OutcomeCounts) => keys.reduce((a, k) => a + o[k], 0);
/** sv-SE groups thousands with a no-break space. */
const num = (text: string) => Number(text.replace(/[\s\u00a0]/g, ''));

function withPlatformRef(ref: string): ReportData {
  const data = makeReportData();
  data.campaign.approval = { ...data.campaign.approval, platformApprovalRef: ref };
  data.campaign.regionWide = true;
  return data;
}

const running = (): ReportData =>
  makeReportData({
    outcomes: {
      delivered: 5210,
      unreachable: 480,
      rejected: 3,
      failed: 0,
      uncertain: 1,
      cancelled: 0,
      pending: 4306,
    },
    stateReason: 'väntar på sändningsfönster',
  });

const hostile = '<script>alert("x")</script> & \'quote\' "><img src=x onerror=alert(1)>';

describe('renderJson', () => {
  it('starts with the figures of `campaign status --json` and keeps everything else', () => {
    const data = withPlatformRef('RU-2026-0117');
    const text = renderJson(data);
    const parsed = JSON.parse(text) as ReportData;
    expect(Object.keys(parsed).slice(0, 5)).toEqual([
      'campaignId',
      'state',
      'complete',
      'recipients',
      'outcomes',
    ]);
    expect(parsed.campaignId).toBe(data.campaignId);
    expect(parsed.recipients).toEqual({ total: 1012, valid: 1000, invalid: 8, duplicates: 4 });
    expect(Object.keys(parsed.outcomes)).toEqual([...keys]);
    expect(parsed.outcomes).toEqual(data.outcomes);
    expect(sum(parsed.outcomes)).toBe(parsed.recipients.valid);
    expect(parsed).toEqual(JSON.parse(JSON.stringify(data)));
    expect(text.endsWith('}\n')).toBe(true);
    expect(text).toContain('\n  "campaignId"');
  });

  it('masks a problem value that arrives unmasked', () => {
    const pnr = syntheticPnr(4242);
    const data = makeReportData();
    data.problems.push({ file: 'a.csv', line: 1, code: 'DUPLICATE', value: pnr });
    const parsed = JSON.parse(renderJson(data)) as ReportData;
    expect(parsed.problems.at(-1)!.value).toBe(`${pnr.slice(0, 8)}-****`);
    expect(renderJson(data)).not.toContain(pnr.slice(8));
  });
});

describe('renderMarkdown', () => {
  it('has every heading and the same outcome figures as the data, adding up', () => {
    const data = withPlatformRef('RU-2026-0117');
    const md = renderMarkdown(data);
    for (const h of [
      '# Uppföljning av utskick',
      '## Sammanfattning',
      '## Utfall',
      '## Mottagare',
      '## Om utskicket',
      '## Tider och takt',
      '## Filer',
      '## Problem i mottagarfiler',
      '## Öppet',
    ]) {
      expect(md).toContain(`\n${h}`.trimStart());
    }
    let total = 0;
    for (const key of keys) {
      const row = md.split('\n').find((l) => l.startsWith(`| ${labels[key]} | \`${key}\` |`));
      expect(row, key).toBeDefined();
      const cells = row!.split('|').map((c) => c.trim());
      expect(num(cells[3]!)).toBe(data.outcomes[key]);
      total += num(cells[3]!);
    }
    expect(total).toBe(data.recipients.valid);
    expect(md).toMatch(/\| \*\*Summa\*\* \| {2}\| \*\*1\u00a0000\*\* \|/);
    expect(md).toContain('| 895 | 89,5\u00a0% |');
    expect(md).toContain('| 1\u00a0012 | 1\u00a0000 | 8 | 4 |');
  });

  it('names who ordered, sent and approved it, the unit, the files and the timing', () => {
    const data = withPlatformRef('RU-2026-0117');
    const md = renderMarkdown(data);
    expect(md).toContain('**Beställare:** Anna Lindqvist (anna.lindqvist@example.se, 018-611 00 00)');
    expect(md).toContain('**Avsändare:** Karin Berg, Verksamhetschef, Region Uppsala');
    expect(md).toContain('**Vårdenhet:** Vårdcentralen Gottsunda');
    expect(md).toContain('`SE2321000032-1003`');
    expect(md).toContain('**Ärendets rubrik:** Välkommen att vaccinera dig mot influensa');
    expect(md).toContain(`\`${data.campaign.approval.contentSha256}\``);
    expect(md).toContain('**Godkänt:** 2026-02-27 14:12:00');
    expect(md).toContain('**Plattformens godkännande (referens):** RU-2026-0117');
    expect(md).toContain('**Regionövergripande utskick:** Ja');
    for (const f of data.files) {
      expect(md).toContain(`\`${f.sha256.slice(0, 12)}\``);
      expect(md).toContain(`\`${f.sha256}\``);
    }
    expect(md).toContain('| lista-vc-sävja.txt | `');
    expect(md).toContain('**Start:** 2026-03-02 09:00:00');
    expect(md).toContain('**Slut:** 2026-03-02 09:10:00');
    expect(md).toContain('**Tid:** 10 min');
    expect(md).toContain('**Genomsnittlig takt:** 1,7 meddelanden/s');
    expect(md).toContain('84 / 310 / 1\u00a0240 ms');
    expect(md).toContain('**Omförsök (anrop utöver det första):** 37');
    expect(md).toContain('| lista-vc-gottsunda.csv | 17 | Fel kontrollsiffra | `19510701-****` |');
    expect(md).toContain('- 91 mottagare ska få brev.');
    expect(md).not.toContain('utskicket är inte klart');
    expect(md).not.toContain('**Obs!**');
  });

  it('leaves out latency and the platform reference when there are none', () => {
    const data = makeReportData({ latency: undefined });
    const md = renderMarkdown(data);
    expect(md).not.toContain('Svarstid');
    expect(md).not.toContain('Plattformens godkännande');
  });

  it('says at the top that an unfinished campaign is still running, and what is left', () => {
    const md = renderMarkdown(running());
    const notice = md.indexOf('**Obs!**');
    expect(notice).toBeGreaterThan(0);
    expect(notice).toBeLessThan(md.indexOf('## Sammanfattning'));
    const line = md.split('\n').find((l) => l.includes('**Obs!**'))!;
    expect(line).toContain('inte klart');
    expect(line).toContain('pågår');
    expect(line).toContain('väntar på sändningsfönster');
    expect(line).toContain('4\u00a0306 av 10\u00a0000');
    expect(md).toContain('**Slut:** Inte klart');
  });

  it('keeps hostile campaign text from acting as markdown or HTML', () => {
    const data = makeReportData({ campaign: { title: hostile, subject: 'a | b' } });
    const md = renderMarkdown(data);
    expect(md).not.toMatch(/(?<!\\)<(?:script|img)/i);
    expect(md).toContain('\\<script\\>');
    expect(md).toContain('a \\| b');
  });
});

function outcomeCells(html: string): Map<string, { text: string; count: number }> {
  const cells = new Map<string, { text: string; count: number }>();
  for (const m of html.matchAll(
    /<td[^>]*data-outcome="([a-z]+)"[^>]*data-count="(\d+)"[^>]*>([^<]*)<\/td>/g,
  )) {
    expect(cells.has(m[1]!), `one element per outcome: ${m[1]}`).toBe(false);
    cells.set(m[1]!, { count: Number(m[2]), text: m[3]! });
  }
  return cells;
}

describe('renderHtml', () => {
  it('carries every outcome figure once, in data-outcome elements, adding up', () => {
    const data = makeReportData();
    const html = renderHtml(data);
    const cells = outcomeCells(html);
    expect([...cells.keys()].sort()).toEqual([...keys].sort());
    for (const key of keys) {
      expect(cells.get(key)!.count).toBe(data.outcomes[key]);
      expect(num(cells.get(key)!.text)).toBe(data.outcomes[key]);
    }
    expect(keys.reduce((a, k) => a + cells.get(k)!.count, 0)).toBe(data.recipients.valid);
    expect(html).toContain('data-total="1000"');
  });

  it('is one self-contained page in Swedish with accessible charts', () => {
    const html = renderHtml(makeReportData());
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<html lang="sv">');
    expect(html).toMatch(/<svg id="timeline-chart"[^>]*role="img"/);
    expect(html).toMatch(/<svg id="outcome-bar"[^>]*role="img"/);
    expect(html).toContain('<title id="timeline-chart-title">');
    expect(html).toContain('<title id="outcome-bar-title">');
    expect((html.match(/data-series="/g) ?? []).length).toBeGreaterThan(60);
    for (const h of ['Sammanfattning', 'Utfall', 'Filer', 'Problem i mottagarfiler', 'Öppet']) {
      expect(html).toContain(`<h2>${h}</h2>`);
    }
    // Time axis in Stockholm local time: the fixture starts 08:00 UTC = 09:00 CET.
    expect(html).toMatch(/class="tick">09:00</);
    expect(html).not.toMatch(/class="tick">08:0\d</);
    expect(html).toContain('<caption>Utfall per mottagare</caption>');
    expect(html).toContain('Visa siffrorna som tabell');
  });

  it('references nothing outside the file', () => {
    const data = makeReportData({
      campaign: { title: 'Se https://example.org/info <link href="https://evil.example/x.css">' },
    });
    const html = renderHtml(data);
    // Data text is escaped, so every `<` left starts a real tag: none may point anywhere.
    expect(html).not.toMatch(/<[^>]*\s(?:src|href|xlink:href|action|poster|srcset)\s*=/i);
    expect(html).toContain('&lt;link href=&quot;https://evil.example/x.css&quot;&gt;');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/@import|url\(/i);
    expect(html).not.toMatch(/<(?:link|iframe|object|embed|img|base)\b/i);
    expect(html).toContain("default-src 'none'");
  });

  it('escapes every string from the data', () => {
    const data = makeReportData({
      campaign: {
        title: hostile,
        targetGroup: hostile,
        subject: hostile,
        unit: { hsaId: 'SE2321000032-1003', name: hostile },
        orderer: { name: hostile, email: 'a@example.se' },
      },
      state: 'active"><b>x</b>',
      open: [hostile],
    });
    data.files[0]!.name = hostile;
    data.problems[0]!.file = hostile;
    data.problems[0]!.value = hostile;
    const html = renderHtml(data);
    expect(html).not.toMatch(/<script|<img|<b>/i);
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quote&#39;');
    expect(html).toContain(`<title>Uppföljning av utskick: &lt;script&gt;`);
    expect(html).toContain('state-active&quot;&gt;&lt;b&gt;x&lt;/b&gt;');
  });

  it('says at the top that an unfinished campaign is still running', () => {
    const html = renderHtml(running());
    const notice = html.indexOf('id="incomplete"');
    expect(notice).toBeGreaterThan(0);
    expect(notice).toBeLessThan(html.indexOf('<h2>Sammanfattning</h2>'));
    expect(html).toMatch(/id="incomplete">.*inte klart.*4\u00a0306 av 10\u00a0000/);
    expect(renderHtml(makeReportData())).not.toContain('id="incomplete"');
  });

  it('draws an empty chart with a sentence when nothing has settled yet', () => {
    const data = makeReportData({
      outcomes: {
        delivered: 0,
        unreachable: 0,
        rejected: 0,
        failed: 0,
        uncertain: 0,
        cancelled: 0,
        pending: 50,
      },
    });
    expect(data.timeline.points).toEqual([]);
    const html = renderHtml(data);
    expect(html).toContain('Inga meddelanden har fått något utfall ännu.');
    expect(html).not.toContain('data-series=');
    expect(outcomeCells(html).get('pending')!.count).toBe(50);
  });
});

describe('Händelselogg (the audit log)', () => {
  it('lists the entries in Markdown: Swedish local time, who, the action in words and as key, short details', () => {
    const md = renderMarkdown(makeReportData());
    expect(md.indexOf('## Händelselogg')).toBeGreaterThan(md.indexOf('## Problem i mottagarfiler'));
    expect(md.indexOf('## Händelselogg')).toBeLessThan(md.indexOf('## Öppet'));
    expect(md).toContain('| 2026-03-02 08:53:20 | Karin Berg | Meddelandet godkänt `approve` | innehåll ');
    expect(md).toContain(
      '| 2026-03-02 08:53:20 | Erik Holm | Mottagare inlästa `enqueue` | köat; 1\u00a0000 giltiga, 8 ogiltiga, 4 dubbletter; 5 jobb i 2 filer |',
    );
    expect(md).toContain(
      '| 2026-03-02 09:04:50 | Drift Olsson | Pausat `pause` | orsak: kontroll av svarstexter |',
    );
    expect(md).toContain(
      '| 2026-03-02 09:05:20 | Drift Olsson | Återupptaget `resume` | 2 väntande jobb släppta |',
    );
    expect(md).toContain(
      '| 2026-03-02 09:11:40 | Erik Holm | Rapport skapad `report` | report.json, report.md, report.html, recipients.csv; med personnummer (csv) |',
    );
  });

  it('shows the same rows in HTML, escaped, with digit runs masked should one arrive unmasked', () => {
    const pnr = syntheticPnr(8080);
    const data = makeReportData();
    data.auditLog.push({
      at: '2026-03-02T09:20:00Z',
      actor: hostile,
      action: 'cancel',
      campaignId: data.campaignId,
      details: { reason: `fel mottagare ${pnr}`, cancelled: 3 },
    });
    const html = renderHtml(data);
    expect(html).toContain('<h2>Händelselogg</h2>');
    expect(html.match(/data-audit-action="([a-z.-]+)"/g)).toEqual([
      'data-audit-action="approve"',
      'data-audit-action="enqueue"',
      'data-audit-action="pause"',
      'data-audit-action="resume"',
      'data-audit-action="report"',
      'data-audit-action="cancel"',
    ]);
    expect(html).toContain('<td>2026-03-02 10:20:00</td><td>&lt;script&gt;');
    expect(html).toContain('Avbrutet <span class="key">cancel</span>');
    expect(html).not.toMatch(/<script|<img/i);
    expect(html).not.toContain(pnr.slice(2));
    expect(renderMarkdown(data)).not.toContain(pnr.slice(2));
    // JSON carries the entries as they are (the collector's entries are guarded when recorded).
    expect((JSON.parse(renderJson(makeReportData())) as ReportData).auditLog).toHaveLength(5);
  });

  it('says so when nothing is logged', () => {
    const data = makeReportData({ auditLog: [] });
    expect(renderHtml(data)).toContain('<p>Inga händelser är loggade för utskicket.</p>');
    expect(renderMarkdown(data)).toContain('## Händelselogg\n\nInga händelser är loggade för utskicket.');
  });
});

describe('Swedish local time', () => {
  it('formats row times like the report does, across both daylight-saving changes', () => {
    const fast = createLocalTimeFormatter();
    // 2026-03-29 01:00 UTC clocks go forward; 2026-10-25 01:00 UTC they go back.
    for (const base of [Date.UTC(2026, 2, 28, 22), Date.UTC(2026, 9, 24, 22)]) {
      for (let s = 0; s < 6 * 3600; s += 97) {
        const iso = new Date(base + s * 1000).toISOString();
        expect(fast(iso)).toBe(formatDateTime(iso));
      }
    }
    expect(fast('2026-03-29T00:59:59Z')).toBe('2026-03-29 01:59:59');
    expect(fast('2026-03-29T01:00:00Z')).toBe('2026-03-29 03:00:00');
    expect(fast('2026-10-25T00:30:00Z')).toBe('2026-10-25 02:30:00');
    expect(fast('2026-10-25T01:30:00Z')).toBe('2026-10-25 02:30:00');
    expect(fast('not a time')).toBe('not a time');
    expect(fast(undefined)).toBe('');
  });
});

describe('timeline chart', () => {
  it('merges a long campaign into at most 120 round columns and loses no message', () => {
    const outcomes: OutcomeCounts = {
      delivered: 480_000,
      unreachable: 40_000,
      rejected: 300,
      failed: 120,
      uncertain: 40,
      cancelled: 2000,
      pending: 0,
    };
    const points = makeTimeline(outcomes, fixtureStartSec, 5 * 3600, 10);
    expect(points.length).toBe(1800);
    const { columns, columnSec } = timelineColumns({ bucketSec: 10, points, source: 'ledger' });
    expect(columnSec).toBe(300);
    expect(columns.length).toBeLessThanOrEqual(120);
    expect(columns[0]!.start % 300).toBe(0);
    for (const key of keys.filter((k) => k !== 'pending')) {
      expect(columns.reduce((a, c) => a + c.counts[key as Exclude<typeof key, 'pending'>], 0)).toBe(
        outcomes[key],
      );
    }
    expect(columns.reduce((a, c) => a + c.total, 0)).toBe(sum(outcomes));
  });

  it('labels the time axis on round Stockholm times, with the date when it spans days', () => {
    const short = timeTicks(fixtureStartSec, fixtureStartSec + 600);
    expect(short.map((t) => t.label)).toEqual(['09:00', '09:02', '09:04', '09:06', '09:08', '09:10']);
    const summer = Date.UTC(2026, 6, 1, 6, 0) / 1000; // 08:00 CEST
    expect(timeTicks(summer, summer + 3600)[0]!.label).toBe('08:00');
    const days = timeTicks(fixtureStartSec, fixtureStartSec + 2 * 86_400);
    expect(days[0]!.label).toMatch(/^2 mars \d\d:\d\d$/);
    expect(days.some((t) => t.label.startsWith('3 mars'))).toBe(true);
  });
});
