import { writeFile } from 'node:fs/promises';
import { createSevenZip } from '../../src/recipients/seven-zip.js';

/**
 * Packs files into an AES-256 7-Zip archive with encrypted headers, as the
 * decision-support team delivers them. 7-Zip runs in this process (the
 * 7z-wasm package, as readArchive uses it): no 7z binary is needed, the
 * password is handed to it inside the process, and the plain files exist only
 * in its in-memory file system.
 */
export async function packEncrypted(
  archive: string,
  files: { name: string; content: string }[],
  password: string,
): Promise<void> {
  const sevenZip = await createSevenZip();
  const { fs } = sevenZip;
  fs.mkdir('/stage');
  for (const f of files) fs.writeFile(`/stage/${f.name}`, f.content);
  fs.chdir('/stage');
  const result = sevenZip.run(
    [
      'a',
      '-t7z',
      '-bd',
      '-bsp0',
      '-bso0',
      '-mhe=on',
      `-p${password}`,
      '/out/packed.7z',
      '--',
      ...files.map((f) => f.name),
    ],
    { deadlineMs: Date.now() + 600_000 },
  );
  if (result.outcome !== 'exited' || result.exitCode !== 0) {
    throw new Error(
      `7-Zip could not pack ${archive} (${result.outcome}, exit ${result.exitCode}): ${result.stderr.trim()}`,
    );
  }
  await writeFile(archive, fs.readFile('/out/packed.7z'));
}
