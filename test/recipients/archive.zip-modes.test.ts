/**
 * Zip entries as Python's zipfile (and other writers that set no mode) store
 * them: external_attr 0, no file-type bits. 7-Zip lists such a file as
 * `Attributes = V 01800000 0rw-------`; it is a plain file and must be read,
 * while links, FIFOs and devices (which always carry their type bits) stay refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError, readArchive } from '../../src/recipients/archive.js';
import { checkListing, parseListing } from '../../src/recipients/archive-listing.js';
import { makeStoredZip, makeTempDir, recipientText, removeDir } from '../helpers/archives.js';
import { syntheticList } from '../helpers/personnummer.js';

const text = recipientText(syntheticList(5, 600));
const other = recipientText(syntheticList(2, 700));

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('zip-modes');
});
afterAll(async () => {
  await removeDir(dir);
});

/** A zip as Python's zipfile writes one (made by Unix, stored): entries [name, external_attr, content]. */
function pythonZip(name: string, entries: ReadonlyArray<readonly [string, number, string]>): Promise<string> {
  return makeStoredZip(
    dir,
    name,
    entries.map(([entry, externalAttr, content]) => ({ name: entry, externalAttr, content })),
  );
}

async function refusal(promise: Promise<unknown>): Promise<ArchiveError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ArchiveError);
  return err as ArchiveError;
}

describe('zip entries without mode bits', () => {
  it('reads files stored as Python zipfile writes them, external_attr 0, folders included', async () => {
    const zip = await pythonZip('python.zip', [
      ['lista.txt', 0, text],
      ['del/', 0, ''],
      ['del/andra.csv', 0, other],
    ]);
    const entries = await readArchive(zip);
    expect(entries.map((e) => [e.name, e.data.toString('utf8')])).toEqual([
      ['lista.txt', text],
      ['del/andra.csv', other],
    ]);
  });

  it('still refuses a symbolic link, a FIFO and a device beside such entries', async () => {
    const link = await pythonZip('link.zip', [
      ['lista.txt', 0, text],
      ['passwd.txt', 0o120777 * 0x10000, '/etc/passwd'],
    ]);
    expect(await refusal(readArchive(link))).toMatchObject({ code: 'UNSAFE_ENTRY', entry: 'passwd.txt' });
    const fifo = await pythonZip('fifo.zip', [['p.txt', 0o010644 * 0x10000, '']]);
    expect(await refusal(readArchive(fifo))).toMatchObject({ code: 'UNSAFE_ENTRY', entry: 'p.txt' });
    const device = await pythonZip('device.zip', [['tty.txt', 0o020666 * 0x10000, '']]);
    expect(await refusal(readArchive(device))).toMatchObject({ code: 'UNSAFE_ENTRY', entry: 'tty.txt' });
  });

  it('in the listing: a type-less mode is a plain file, or a folder when 7-Zip marks it one', () => {
    const limits = { maxEntries: 10, maxEntryBytes: 100, maxTotalBytes: 150 };
    const listing =
      'Path = a.txt\nFolder = -\nSize = 13\nAttributes = V 01800000 0rw-------\nCRC = 8E92A361\n\n' +
      'Path = d\nFolder = +\nSize = 0\nAttributes = DV 01800000 0rw-------\nCRC = \n\n' +
      'Path = b.txt\nFolder = -\nSize = 1\nAttributes = V 0---------\nCRC = 8CDC1683\n\n';
    const parsed = parseListing(listing);
    if (!Array.isArray(parsed)) throw new Error(parsed.reason);
    expect(parsed.map((e) => [e.path, e.isDirectory])).toEqual([
      ['a.txt', false],
      ['d', true],
      ['b.txt', false],
    ]);
    expect(checkListing(parsed, limits, false)).toBeUndefined();
    for (const attributes of [' lrwxrwxrwx', ' prw-r--r--', 'A crw-rw-rw-', ' srwxr-xr-x', ' 3rw-r--r--']) {
      const one = parseListing(`Path = x\nSize = 1\nAttributes = ${attributes}\nCRC = 1\n\n`);
      if (!Array.isArray(one)) throw new Error(one.reason);
      expect(checkListing(one, limits, false), attributes).toMatchObject({
        code: 'UNSAFE_ENTRY',
        entry: 'x',
      });
    }
  });
});
