import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { outcomeOrder } from '../../src/report/format-sv.js';
import { writeReport } from '../../src/report/write-report.js';
import { makeReportData, makeRows } from '../helpers/report-fixture.js';
import { describeWithTools, tools } from '../helpers/tools.js';

const chromiumPath = '/usr/bin/chromium';
const artifacts = resolve('test-artifacts');

describeWithTools('report.html in a headless browser', [tools.chromium], () => {
  let browser: Browser | undefined;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'utskick-report-browser-'));
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('draws the charts, shows the same numbers as the data and fetches nothing', async () => {
    const data = makeReportData({
      campaign: { title: 'Influensa <script>alert(1)</script> "65+"' },
    });
    await writeReport(dir, data, () => makeRows(10), ['html']);
    const page = await browser!.newPage({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1 });
    const requests: string[] = [];
    page.on('request', (req) => requests.push(req.url()));
    const dialogs: string[] = [];
    page.on('dialog', async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    const url = pathToFileURL(join(dir, 'report.html')).href;
    await page.goto(url, { waitUntil: 'load' });

    const chart = page.locator('svg#timeline-chart');
    await expect(chart.isVisible()).resolves.toBe(true);
    const box = await chart.boundingBox();
    expect(box?.width ?? 0).toBeGreaterThan(300);
    expect(box?.height ?? 0).toBeGreaterThan(100);
    const marks = await page.locator('svg#timeline-chart rect[data-series]').count();
    expect(marks).toBeGreaterThan(data.timeline.points.length);
    const ticks = await page.locator('svg#timeline-chart .x-axis text').allTextContents();
    expect(ticks.length).toBeGreaterThanOrEqual(3);
    expect(ticks[0]).toMatch(/^09:0\d$/); // Stockholm local time, not UTC (08:0x)

    const bar = page.locator('svg#outcome-bar');
    await expect(bar.isVisible()).resolves.toBe(true);
    expect((await bar.boundingBox())?.width ?? 0).toBeGreaterThan(300);
    const segments = await page.locator('svg#outcome-bar rect[data-segment]').count();
    expect(segments).toBe(outcomeOrder.filter((k) => data.outcomes[k] > 0).length);

    for (const key of outcomeOrder) {
      const cell = page.locator(`[data-outcome="${key}"]`);
      await expect(cell.count()).resolves.toBe(1);
      const text = (await cell.textContent()) ?? '';
      expect(Number(text.replace(/\s/g, ''))).toBe(data.outcomes[key]);
      expect(Number(await cell.getAttribute('data-count'))).toBe(data.outcomes[key]);
    }

    // The hostile title is shown as text and never ran.
    await expect(page.locator('h1').textContent()).resolves.toBe(data.campaign.title);
    expect(await page.title()).toContain('<script>');
    expect(dialogs).toEqual([]);

    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);

    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'report.png'), fullPage: true });
    await page.close();
  });

  it('shows an unfinished campaign as still running', async () => {
    const data = makeReportData({
      outcomes: {
        delivered: 500,
        unreachable: 40,
        rejected: 2,
        failed: 1,
        uncertain: 0,
        cancelled: 0,
        pending: 457,
      },
    });
    const sub = join(dir, 'running');
    await writeReport(sub, data, () => makeRows(10), ['html']);
    const page = await browser!.newPage({ viewport: { width: 800, height: 900 }, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(join(sub, 'report.html')).href);
    const notice = page.locator('#incomplete');
    await expect(notice.isVisible()).resolves.toBe(true);
    expect(await notice.textContent()).toContain('inte klart');
    expect(await notice.textContent()).toContain('457');
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'report-running.png'), fullPage: true });
    await page.close();
  });
});
