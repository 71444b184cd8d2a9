/**
 * `npm run enqueue` as a real child process against real Redis. Every test has
 * its own key prefix and directory; independent tests run concurrently to keep
 * the file fast (each child pays for starting node and tsx).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Campaign } from '../../src/campaign/schema.js';
import { createCampaignStore } from '../../src/queue/campaign-store.js';
import { loadChunk } from '../../src/queue/chunks.js';
import type { EnqueueResult } from '../../src/queue/enqueue.js';
import { createKeys, deliverJobId } from '../../src/queue/keys.js';
import { activateUnit } from '../../src/queue/units.js';
import { makeArchive, recipientText } from '../helpers/archives.js';
import {
  makeCampaign,
  tempDir,
  testDataKey,
  testKeyring,
  testSourceSystem,
  testUnit,
  writeCampaignFile,
} from '../helpers/campaign.js';
import { type CliResult, runScript } from '../helpers/cli.js';
import { syntheticList, syntheticPnr } from '../helpers/personnummer.js';
import { connect, deletePrefix, dumpPrefix, redisUrl, uniquePrefix } from '../helpers/redis.js';

const PASSWORD = 'Syntetiskt-lösen-0417';
const root = tempDir('enqueue-cli');
let redis: Redis;
const prefixes: string[] = [];
/** Every personnummer any test writes to a file: none may appear in any output or in Redis. */
const allNumbers: string[] = [];

beforeAll(() => {
  redis = connect();
});
afterAll(async () => {
  for (const p of prefixes) await deletePrefix(redis, p);
  redis.disconnect();
  await rm(root, { recursive: true, force: true });
});

interface Scenario {
  prefix: string;
  dir: string;
  campaign: Campaign;
  campaignPath: string;
  env: Record<string, string>;
}

/** A prefix, a directory and an approved campaign file; the unit is activated unless told not to. */
async function scenario(
  name: string,
  options: { activate?: boolean; campaign?: Campaign } = {},
): Promise<Scenario> {
  const prefix = uniquePrefix(`enqueue-${name}`);
  prefixes.push(prefix);
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const campaign = options.campaign ?? makeCampaign();
  const campaignPath = writeCampaignFile(dir, campaign);
  if (options.activate !== false) {
    await activateUnit(redis, createKeys(prefix), { ...testUnit, activatedAt: new Date().toISOString() });
  }
  const env = {
    REDIS_URL: redisUrl(),
    UTSKICK_PREFIX: prefix,
    UTSKICK_DATA_KEY: testDataKey,
    INBOX_SOURCE_SYSTEM: testSourceSystem,
  };
  return { prefix, dir, campaign, campaignPath, env };
}

function numbers(count: number, offset: number): string[] {
  const list = syntheticList(count, offset);
  allNumbers.push(...list);
  return list;
}

function writeFile(dir: string, name: string, text: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The 12-digit numbers and their 10-digit forms must not appear in the texts. */
function expectNoPersonnummer(texts: readonly string[], list: readonly string[] = allNumbers): void {
  const all = texts.join('\n');
  for (const n of list) {
    if (all.includes(n) || all.includes(n.slice(2))) {
      throw new Error(`a full personnummer (${n.slice(0, 8)}-****) appears in the output or in Redis`);
    }
  }
}

async function enqueue(
  s: Scenario,
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<CliResult> {
  const result = await runScript('enqueue', args, { env: { ...s.env, ...env }, timeoutMs: 45_000 });
  expectNoPersonnummer([result.stdout, result.stderr]);
  return result;
}

/** Parses stdout as exactly one JSON object (one line). */
function jsonOf(result: CliResult): EnqueueResult {
  const lines = result.stdout.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  const value = JSON.parse(lines[0]!) as EnqueueResult;
  expect(typeof value).toBe('object');
  return value;
}

/** One line on stderr, no stack trace. */
function oneLine(stderr: string): string {
  const text = stderr.trim();
  expect(text.split('\n')).toHaveLength(1);
  expect(text).not.toMatch(/\n\s+at /);
  return text;
}

/** Every key under the prefix, sorted. */
async function keysUnder(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    out.push(...batch);
  } while (cursor !== '0');
  return out.sort();
}

/** Nothing under the prefix but the units hash the test wrote itself (not even BullMQ's queue meta). */
async function expectOnlyUnitsHash(prefix: string): Promise<void> {
  const keys = await keysUnder(prefix);
  expect(keys, `keys written: ${keys.join(', ')}`).toEqual([`${prefix}:units`]);
}

// Children queue in runScript (two at a time), so a test's budget covers its wait too.
describe.concurrent('enqueue CLI', { timeout: 120_000 }, () => {
  it('files, the same command again, then a directory that repeats numbers of the first run', async () => {
    const s = await scenario('plain');
    const big = numbers(300, 0);
    const small = numbers(20, 1000);
    const a = writeFile(s.dir, 'a.txt', recipientText(big));
    const b = writeFile(
      s.dir,
      'b.csv',
      `personnummer;namn\r\n${small.map((n, i) => `${n.slice(0, 8)}-${n.slice(8)};Person ${i}`).join('\r\n')}\r\n`,
    );
    const args = ['--campaign', s.campaignPath, '--json', a, b];

    const first = await enqueue(s, args);
    expect(first.code, first.stderr).toBe(0);
    const r1 = jsonOf(first);
    expect(r1).toMatchObject({
      campaignId: s.campaign.id,
      status: 'enqueued',
      recipients: { total: 320, valid: 320, invalid: 0, duplicates: 0 },
      jobs: 3,
      enqueued: 3,
      alreadyEnqueued: 0,
      problems: [],
    });
    expect(r1.warnings).toHaveLength(1);
    expect(r1.warnings[0]).toContain('a.txt: 300 valid numbers');

    // What Redis holds: sealed chunks that open to exactly the numbers, and one job each.
    const keys = createKeys(s.prefix);
    const store = createCampaignStore(redis, keys);
    expect((await store.chunks(s.campaign.id)).size).toBe(3);
    const stored: string[] = [];
    for (const f of await store.files(s.campaign.id)) {
      for (const chunkId of f.chunks) {
        stored.push(...(await loadChunk(redis, keys, testKeyring(), s.campaign.id, chunkId)));
        expect(await redis.exists(`${s.prefix}:deliver:${deliverJobId(s.campaign.id, chunkId)}`)).toBe(1);
      }
    }
    expect(stored.sort()).toEqual([...big, ...small].sort());
    expectNoPersonnummer(await dumpPrefix(redis, s.prefix));

    // The same command again: nothing new, and it says so.
    const again = await enqueue(s, args);
    expect(again.code, again.stderr).toBe(0);
    const r2 = jsonOf(again);
    expect(r2).toMatchObject({
      status: 'nothing-new',
      enqueued: 0,
      jobs: 3,
      alreadyEnqueued: 3,
      problems: [],
    });
    expect(r2.warnings.join('\n')).toMatch(/a\.txt: already enqueued for campaign .*; nothing new added/);
    expect(r2.warnings.join('\n')).toMatch(/b\.csv: already enqueued/);
    expect(await redis.hlen(keys.chunks(s.campaign.id))).toBe(3);

    // A directory (every .txt and .csv, in name order) with numbers of the first run among new ones.
    const dir = join(s.dir, 'lists');
    mkdirSync(dir);
    const fresh = numbers(5, 2000);
    const c = writeFile(dir, '2-second.txt', recipientText([...big.slice(10, 13), ...fresh, small[4]!]));
    const d = writeFile(dir, '1-first.csv', recipientText(numbers(2, 2100)));
    writeFile(dir, 'readme.md', 'not a recipient file\n');
    writeFile(dir, '.hidden.txt', 'x\n');
    const third = await enqueue(s, ['--campaign', s.campaignPath, '--json', dir]);
    expect(third.code, third.stderr).toBe(0);
    const r3 = jsonOf(third);
    expect(r3).toMatchObject({
      status: 'enqueued',
      recipients: { total: 11, valid: 7, invalid: 0, duplicates: 4 },
      jobs: 2,
      enqueued: 2,
      alreadyEnqueued: 0,
    });
    expect(r3.files.map((f) => f.name)).toEqual([d, c]);
    expect(r3.problems.map((p) => [p.file, p.line, p.code])).toEqual([
      [c, 1, 'DUPLICATE'],
      [c, 2, 'DUPLICATE'],
      [c, 3, 'DUPLICATE'],
      [c, 9, 'DUPLICATE'],
    ]);
    expect(r3.problems[0]!.value).toBe(`${big[10]!.slice(0, 8)}-****`);
    expect(await redis.hget(keys.campaign(s.campaign.id), 'duplicates')).toBe('4');
    expectNoPersonnummer(await dumpPrefix(redis, s.prefix));
  });

  it('an encrypted 7z archive with --password-env and --skip-invalid: read, enqueued, problems stored', async () => {
    const s = await scenario('archive');
    const one = numbers(250, 4000);
    const two = numbers(3, 4300);
    const archive = await makeArchive(
      s.dir,
      [
        { name: 'vc-1.txt', content: recipientText(one) },
        { name: 'del/vc-2.csv', content: `${two.join('\n')}\nfel\n191313131313\n` },
      ],
      { password: PASSWORD, encryptHeaders: true },
    );
    const result = await enqueue(
      s,
      ['--campaign', s.campaignPath, '--json', '--skip-invalid', '--password-env', 'ARCHIVE_PW', archive],
      { ARCHIVE_PW: PASSWORD },
    );
    expect(result.code, result.stderr).toBe(0);
    const r = jsonOf(result);
    expect(r).toMatchObject({
      status: 'enqueued',
      recipients: { total: 255, valid: 253, invalid: 2, duplicates: 0 },
      jobs: 2,
      enqueued: 2,
    });
    const member = `${archive}!del/vc-2.csv`;
    expect(r.files.map((f) => f.name).sort()).toEqual([member, `${archive}!vc-1.txt`]);
    const store = createCampaignStore(redis, createKeys(s.prefix));
    expect(await store.problems(s.campaign.id)).toEqual([
      { file: member, line: 4, code: 'FORMAT', value: '***' },
      { file: member, line: 5, code: 'DATE', value: '19131313-****' },
    ]);
    expect((await store.get(s.campaign.id))?.recipients).toEqual({
      total: 255,
      valid: 253,
      invalid: 2,
      duplicates: 0,
    });
    expect(`${result.stdout}${result.stderr}`).not.toContain(PASSWORD);
    const dump = await dumpPrefix(redis, s.prefix);
    expectNoPersonnummer(dump);
    expect(dump.join('\n')).not.toContain(PASSWORD);
  });

  it('a wrong archive password: exit 1, one clear line, nothing enqueued', async () => {
    const s = await scenario('wrong-password');
    const archive = await makeArchive(s.dir, [{ name: 'x.txt', content: recipientText(numbers(3, 4500)) }], {
      password: PASSWORD,
      encryptHeaders: true,
    });
    const result = await enqueue(s, ['--campaign', s.campaignPath, '--password-env', 'ARCHIVE_PW', archive], {
      ARCHIVE_PW: 'fel-lösen',
    });
    expect(result.code).toBe(1);
    const line = oneLine(result.stderr);
    expect(line).toMatch(/^enqueue: archive ".*recipients\.7z": the password is wrong/);
    expect(line).toContain('[WRONG_PASSWORD]');
    expect(line).not.toContain('fel-lösen');
    expect(line).not.toContain(PASSWORD);
    expect(result.stdout).toBe('');
    await expectOnlyUnitsHash(s.prefix);
  });

  it('--password-env naming a variable that is not set: exit 2', async () => {
    const s = await scenario('missing-password-env', { activate: false });
    const archive = await makeArchive(s.dir, [{ name: 'x.txt', content: 'personnummer\n' }], {
      password: PASSWORD,
    });
    const result = await enqueue(s, ['--campaign', s.campaignPath, '--password-env', 'NOT_SET_PW', archive]);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toBe(
      'enqueue: the environment variable named by --password-env is not set',
    );
    // Not echoed: what was typed might be a password by mistake.
    expect(result.stderr).not.toContain('NOT_SET_PW');
  });

  it('--password-env given what looks like a password instead of a name: exit 2, not echoed', async () => {
    const s = await scenario('password-on-argv', { activate: false });
    const file = writeFile(s.dir, 'a.txt', recipientText(numbers(2, 4600)));
    const result = await enqueue(s, ['--campaign', s.campaignPath, '--password-env', 'hemligt lösen!', file]);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toContain('--password-env takes the NAME of an environment variable');
    expect(result.stderr).not.toContain('hemligt');
  });

  it('invalid lines: exit 1, one JSON object listing masked problems, nothing written but the units hash', async () => {
    const s = await scenario('invalid');
    const good = numbers(4, 5000);
    const wrong = syntheticPnr(5100);
    const wrongCheck = `${wrong.slice(0, 11)}${(Number(wrong[11]) + 1) % 10}`;
    allNumbers.push(wrongCheck);
    const file = writeFile(
      s.dir,
      'lista.txt',
      [good[0], 'x', wrongCheck, '20991231-1231', good[1], '19121212-T123', good[0]].join('\n'),
    );
    const result = await enqueue(s, ['--campaign', s.campaignPath, '--json', file]);
    expect(result.code, result.stderr).toBe(1);
    const r = jsonOf(result);
    expect(r).toMatchObject({
      campaignId: s.campaign.id,
      status: 'rejected',
      recipients: { total: 7, valid: 2, invalid: 4, duplicates: 1 },
      enqueued: 0,
      alreadyEnqueued: 0,
    });
    expect(r.problems).toEqual([
      { file, line: 2, code: 'FORMAT', value: '*' },
      { file, line: 3, code: 'CHECKSUM', value: `${wrongCheck.slice(0, 8)}-****` },
      { file, line: 4, code: 'FUTURE_DATE', value: '20991231-****' },
      { file, line: 6, code: 'RESERVE_NUMBER', value: '19121212-****' },
      { file, line: 7, code: 'DUPLICATE', value: `${good[0]!.slice(0, 8)}-****` },
    ]);
    await expectOnlyUnitsHash(s.prefix);
  });

  it('--dry-run: reports what it would do, problems masked, and writes nothing', async () => {
    const s = await scenario('dry-run');
    const list = numbers(260, 7000);
    const file = writeFile(s.dir, 'lista.txt', [...list, '19121332-1212'].join('\n'));
    const result = await enqueue(s, ['--campaign', s.campaignPath, '--dry-run', '--skip-invalid', file]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`Dry run for campaign ${s.campaign.id}`);
    expect(result.stdout).toContain('260 valid, 1 invalid, 0 duplicates (of 261 lines)');
    expect(result.stdout).toContain('jobs: 2 (0 newly enqueued, 0 already enqueued)');
    expect(result.stdout).toContain('warning: ');
    expect(result.stdout).toContain(`${file}:261: DATE 19121332-****`);
    await expectOnlyUnitsHash(s.prefix);
  });

  it('a campaign without approval: exit 2 saying why, before touching Redis', async () => {
    const s = await scenario('approval', { activate: false });
    const file = writeFile(s.dir, 'a.txt', recipientText(numbers(2, 8000)));
    const { approval: _approval, ...unapproved } = s.campaign;
    const unapprovedPath = writeFile(s.dir, 'unapproved.json', JSON.stringify(unapproved));
    const result = await enqueue(s, ['--campaign', unapprovedPath, file]);
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toBe(
      `enqueue: ${unapprovedPath}: campaign ${s.campaign.id} cannot be sent: it is not approved (no approval block; run npm run approve -- <file> --by "<name>")`,
    );
    expect(await keysUnder(s.prefix)).toEqual([]);
  });

  it('no data key: exit 2 with a clear start-up error', async () => {
    const s = await scenario('data-key', { activate: false });
    const file = writeFile(s.dir, 'a.txt', recipientText(numbers(2, 8100)));
    const result = await enqueue(s, ['--campaign', s.campaignPath, file], { UTSKICK_DATA_KEY: undefined });
    expect(result.code).toBe(2);
    expect(oneLine(result.stderr)).toBe(
      'enqueue: UTSKICK_DATA_KEY or UTSKICK_DATA_KEY_FILE must be set (32 random bytes in base64: openssl rand -base64 32)',
    );
    expect(await keysUnder(s.prefix)).toEqual([]);
  });

  it('an inactive sending unit: exit 1 saying how to activate it', async () => {
    const s = await scenario('unit-inactive', { activate: false });
    const file = writeFile(s.dir, 'a.txt', recipientText(numbers(2, 8200)));
    const result = await enqueue(s, ['--campaign', s.campaignPath, file]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toBe(
      `enqueue: sending unit ${testUnit.hsaId} is not active; activate it first: npm run unit -- activate ${testUnit.hsaId} --name "<unit name>"`,
    );
    expect(await redis.exists(createKeys(s.prefix).campaign(s.campaign.id))).toBe(0);
  });

  it('a campaign that notifies, without INBOX_SOURCE_SYSTEM: exit 2 naming the setting, nothing written', async () => {
    const s = await scenario('no-source-system');
    const file = writeFile(s.dir, 'a.txt', recipientText(numbers(2, 8300)));
    const refused = await enqueue(s, ['--campaign', s.campaignPath, file], {
      INBOX_SOURCE_SYSTEM: undefined,
    });
    expect(refused.code).toBe(2);
    expect(oneLine(refused.stderr)).toMatch(
      /^enqueue: invalid configuration: INBOX_SOURCE_SYSTEM is not set, and campaign \S+ notifies residents/,
    );
    expect(await redis.exists(createKeys(s.prefix).campaign(s.campaign.id))).toBe(0);
    // A campaign that does not notify needs no source system.
    const quiet = makeCampaign({
      message: { subject: 'Provsvar', body: 'Ditt provsvar finns i 1177.', notify: false },
    });
    const q = await scenario('no-source-system-quiet', { campaign: quiet });
    const ok = await enqueue(q, ['--campaign', q.campaignPath, file], { INBOX_SOURCE_SYSTEM: undefined });
    expect(ok.code, ok.stderr).toBe(0);
  });
});

/** A raw control character a terminal may act on: C0 but the line feed, DEL, C1. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

function expectNoRawControl(result: CliResult): void {
  for (const [stream, text] of [
    ['stdout', result.stdout],
    ['stderr', result.stderr],
  ] as const) {
    const m = RAW_CONTROL.exec(text);
    if (m) {
      const at = text.slice(Math.max(0, m.index - 30), m.index + 10);
      throw new Error(
        `raw U+${m[0].charCodeAt(0).toString(16).padStart(4, '0')} on ${stream} near ${JSON.stringify(at)}`,
      );
    }
  }
}

describe.concurrent('enqueue CLI: hostile inputs', { timeout: 120_000 }, () => {
  it('a directory with a FIFO and a link to /dev/zero: exit 1 within seconds naming both, nothing written', async () => {
    const s = await scenario('fifo-zero', { activate: false });
    const dir = join(s.dir, 'leverans');
    mkdirSync(dir);
    writeFile(dir, 'b.txt', recipientText(numbers(3, 9000)));
    execFileSync('mkfifo', [join(dir, 'a.txt')]);
    symlinkSync('/dev/zero', join(dir, 'z.txt'));
    const secret = writeFile(s.dir, 'secret.txt', 'root:$6$hemligt:19000:0:99999:7:::\n');
    symlinkSync(secret, join(dir, 'shadow.csv'));
    // Before: blocked in the FIFO (SIGTERM did not help), or read /dev/zero until memory ran out.
    const result = await runScript('enqueue', ['--campaign', s.campaignPath, '--dry-run', dir], {
      env: s.env,
      timeoutMs: 20_000,
    });
    expect(result.code).toBe(1);
    const line = oneLine(result.stderr);
    expect(line).toContain(`${join(dir, 'a.txt')} is a FIFO`);
    expect(line).toContain(`${join(dir, 'z.txt')} is a symbolic link`);
    expect(line).toContain(`${join(dir, 'shadow.csv')} is a symbolic link`);
    expect(`${result.stdout}${result.stderr}`).not.toContain('hemligt');
    expect(await keysUnder(s.prefix)).toEqual([]);
  });

  it('MAX_RECIPIENT_FILE_BYTES: a larger file is refused naming file and limit; a bad value is exit 2', async () => {
    const s = await scenario('size-limit', { activate: false });
    const file = writeFile(s.dir, 'stor.txt', recipientText(numbers(10, 9100)));
    const tooBig = await enqueue(s, ['--campaign', s.campaignPath, '--dry-run', file], {
      MAX_RECIPIENT_FILE_BYTES: '100',
    });
    expect(tooBig.code).toBe(1);
    expect(oneLine(tooBig.stderr)).toBe(
      `enqueue: ${file}: 130 bytes, more than the limit of 100 bytes (MAX_RECIPIENT_FILE_BYTES)`,
    );
    const bad = await enqueue(s, ['--campaign', s.campaignPath, '--dry-run', file], {
      MAX_RECIPIENT_FILE_BYTES: '64MB',
    });
    expect(bad.code).toBe(2);
    expect(oneLine(bad.stderr)).toMatch(
      /^enqueue: invalid configuration: MAX_RECIPIENT_FILE_BYTES must be a whole number of bytes/,
    );
    expect(await keysUnder(s.prefix)).toEqual([]);
  });

  it('no raw control character from an input file reaches stdout or stderr; UTF-16 is one problem', async () => {
    const s = await scenario('control');
    const dir = join(s.dir, 'leverans');
    mkdirSync(dir);
    const good = numbers(4, 9200);
    const esc = writeFile(
      dir,
      'esc.txt',
      [
        good[0],
        '\u001b[2J\u001b[H\u001b[31mX',
        '\u001b]0;titel\u0007',
        `${good[1]!.slice(0, 8)}\u001b[8m-${good[1]!.slice(8)}`,
        '\u009b2Jabcdefgh',
        'abc\rdefghijk',
        'a\tb\u000bc\u000cdefghijk',
        '\u202eevil-text-here',
      ].join('\n'),
    );
    const red = writeFile(dir, '\u001b[31mröd.txt', `${good[2]}\nfel\n`);
    const nul = writeFile(dir, 'nul.txt', Buffer.concat([Buffer.from(`${good[3]}\n`), Buffer.alloc(64)]));
    const utf16 = writeFile(
      dir,
      'unicode.txt',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(recipientText(numbers(250, 9300)), 'utf16le')]),
    );
    const utf16NoBom = writeFile(
      dir,
      'unicode-2.csv',
      Buffer.from(recipientText(numbers(5, 9600)), 'utf16le'),
    );

    const human = await enqueue(s, ['--campaign', s.campaignPath, '--dry-run', dir]);
    expect(human.code, human.stderr).toBe(1);
    expectNoRawControl(human);
    expect(human.stdout).toContain(`${esc}:2: FORMAT \\x1b[2J\\x1b[H\\x1b****…\n`);
    expect(human.stdout).toContain(`${esc}:5: FORMAT \\x9b2Jabcd****\n`);
    expect(human.stdout).toContain(`${join(dir, '\\x1b[31mröd.txt')}:2: FORMAT`);
    expect(human.stdout).toContain(`${utf16}:1: FORMAT file is UTF-16; save it as UTF-8`);
    expect(human.stdout).toContain(`${utf16NoBom}:1: FORMAT file is UTF-16; save it as UTF-8`);
    expect(human.stdout).toContain(`${nul}:2: FORMAT file has NUL bytes; not a text file`);
    expect(human.stdout.match(/unicode\.txt:/g)).toHaveLength(1);

    const json = await enqueue(s, ['--campaign', s.campaignPath, '--dry-run', '--json', dir]);
    expect(json.code, json.stderr).toBe(1);
    expectNoRawControl(json);
    const r = jsonOf(json);
    expect(r.problems.filter((p) => p.file === utf16)).toEqual([
      { file: utf16, line: 1, code: 'FORMAT', value: 'file is UTF-16; save it as UTF-8' },
    ]);
    expect(r.problems.find((p) => p.file === esc && p.line === 2)?.value).toBe(
      '\u001b[2J\u001b[H\u001b****…',
    );
    expect(r.files.map((f) => f.name)).toContain(red);
    await expectOnlyUnitsHash(s.prefix);

    // An error naming a hostile entry name: escaped on stderr too.
    const links = join(s.dir, 'links');
    mkdirSync(links);
    symlinkSync('/dev/zero', join(links, '\u001b[2J.txt'));
    const refused = await enqueue(s, ['--campaign', s.campaignPath, '--dry-run', '--json', links]);
    expect(refused.code).toBe(1);
    expectNoRawControl(refused);
    expect(refused.stderr).toContain('\\x1b[2J.txt is a symbolic link');
  });
});
